import numpy as np

from lineage import propagation
from lineage.propagation import NONE, Graph

WROTE, REVISED, CHUNKED, DERIVED = (
    propagation.KINDS.index(k) for k in ("wrote", "revised", "chunked", "derived")
)


def graph(*edges: tuple[int, int, int, int, int, bool]) -> Graph:
    """Edges (src, dst, kind, span start, span end, in lines), asserted by seqs 1, 2, ..."""
    src, dst, kind, start, end, line = (np.array(c) for c in zip(*edges, strict=True))
    return Graph(
        src, dst, kind, start, end, np.where(line, propagation.LINE, 0), np.arange(1, len(src) + 1)
    )


def rows(r: propagation.Rows) -> set[tuple[int, int, int, int]]:
    return set(
        zip(r.node.tolist(), r.root.tolist(), r.pred.tolist(), r.blocked.tolist(), strict=True)
    )


def test_strict_precise_waivers_and_incomplete() -> None:
    g = graph(
        (1, 2, WROTE, 1, 3, True),  # output 1 wrote lines 1-3 of file version 2
        (2, 3, REVISED, NONE, NONE, False),  # 3 is the next version of 2
        (3, 4, CHUNKED, 1, 5, True),  # example 4: lines 1-5 of 3 (overlaps 2-3)
        (3, 5, CHUNKED, 10, 20, True),  # example 5: lines 10-20 (does not)
        (4, 6, DERIVED, NONE, NONE, False),  # example 6 derived from 4
        (3, 7, CHUNKED, NONE, NONE, False),  # example 7: the whole file, but waived
        (7, 8, DERIVED, NONE, NONE, False),
        (9, 10, CHUNKED, NONE, NONE, False),  # 9 was never ingested
    )
    waived = np.zeros(11, dtype=bool)
    waived[7] = True
    spans = (np.array([3]), np.array([1]), np.array([2]), np.array([3]))
    strict, precise, (inc_node, inc_missing) = propagation.propagate(
        g, 11, np.array([1]), waived, spans, np.array([9])
    )
    assert rows(strict) == {
        (1, 1, NONE, NONE),
        (2, 1, 1, NONE),
        (3, 1, 2, NONE),
        (4, 1, 3, NONE),
        (5, 1, 3, NONE),
        (6, 1, 4, NONE),
        (7, 1, 3, 7),
        (8, 1, 7, 7),
    }
    assert rows(precise) == {(4, 1, 3, NONE), (6, 1, 4, NONE), (7, 1, 3, 7), (8, 1, 7, 7)}
    # each row keeps the edge that reached it: example 4 through the chunk of lines 1-5
    i = precise.node.tolist().index(4)
    assert (precise.kind[i], precise.span_start[i], precise.span_end[i], precise.seq[i]) == (
        CHUNKED,
        1,
        5,
        3,
    )
    assert dict(zip(inc_node.tolist(), inc_missing.tolist(), strict=True)) == {9: 9, 10: 9}


def test_a_node_reached_behind_a_waiver_and_for_real_keeps_both_rows() -> None:
    g = graph(
        (1, 2, WROTE, NONE, NONE, False),
        (2, 4, DERIVED, NONE, NONE, False),
        (1, 3, WROTE, NONE, NONE, False),
        (3, 5, DERIVED, NONE, NONE, False),
        (5, 4, DERIVED, NONE, NONE, False),
    )
    waived = np.zeros(6, dtype=bool)
    waived[2] = True
    strict, _, _ = propagation.propagate(
        g,
        6,
        np.array([1]),
        waived,
        tuple(np.zeros(0, dtype=np.int64) for _ in range(4)),
        np.zeros(0, dtype=np.int64),
    )
    got = rows(strict)
    assert (4, 1, 2, 2) in got and (4, 1, 5, NONE) in got  # blocked via 2, real via 3 -> 5


def test_a_walk_deeper_than_the_scanned_levels_goes_on_through_the_csr() -> None:
    # output 0 wrote version 1; versions 1..40 revise each other; 40 is chunked into 41,
    # and 100 (never ingested) sits at the head of a chain as deep
    depth = 40
    chain = (
        [(0, 1, WROTE, 1, 3, True)]
        + [(v, v + 1, REVISED, NONE, NONE, False) for v in range(1, depth)]
        + [(depth, depth + 1, CHUNKED, NONE, NONE, False)]
        + [(v, v + 1, REVISED, NONE, NONE, False) for v in range(100, 100 + depth)]
    )
    size = 100 + depth + 1
    spans = (np.array([depth]), np.array([0]), np.array([1]), np.array([3]))  # carried to 40
    strict, precise, (inc_node, _) = propagation.propagate(
        graph(*chain), size, np.array([0]), np.zeros(size, dtype=bool), spans, np.array([100])
    )
    assert depth > propagation._Levels.SCANS
    got = dict(zip(strict.node.tolist(), strict.depth.tolist(), strict=True))
    assert got == {v: v for v in range(depth + 2)}
    assert precise.node.tolist() == [depth + 1]
    assert sorted(inc_node.tolist()) == list(range(100, 100 + depth + 1))
