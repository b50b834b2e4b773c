import random

import numpy as np
import pytest

from lineage.attribution import EOF, _Intervals, _LineMaps, carry_span


@pytest.mark.parametrize(
    ("start", "end", "hunks", "expected"),
    [
        (5, 9, [], [(5, 9)]),  # no change
        (5, 9, [(1, 0, 1, 2)], [(7, 11)]),  # two lines inserted at the top shift it
        (5, 9, [(20, 3, 20, 0)], [(5, 9)]),  # a change below does not touch it
        (5, 9, [(6, 2, 6, 0)], [(5, 7)]),  # lines 6-7 deleted: 5, 8, 9 survive, contiguous
        (5, 9, [(7, 1, 7, 1)], [(5, 6), (8, 9)]),  # line 7 rewritten: the attribution drops it
        (5, 9, [(5, 5, 5, 2)], []),  # all rewritten
        (5, 9, [(4, 0, 5, 3)], [(8, 12)]),  # inserted after line 4
        (1, None, [(3, 2, 3, 0)], [(1, None)]),  # whole file keeps running to its end
        (3, 4, [(3, 2, 2, 0)], []),
    ],
)
def test_carry_span(start: int, end: int | None, hunks: list, expected: list) -> None:
    assert carry_span(start, end, hunks) == expected


def columns(*rows: tuple[int, int, int, int, int]) -> _Intervals:
    """(output, start, end, evidence code, seq) rows as columns."""
    return _Intervals(*(np.array(c, dtype=np.int64) for c in zip(*rows, strict=True)))


def test_unknown_line_map_widens_to_the_whole_file() -> None:
    carried, _ = _LineMaps([None]).carry(
        columns((7, 10, 12, 0, 3)), np.zeros(1, np.int64), np.array([9]), modified=1
    )
    assert [
        (
            int(carried.output[0]),
            int(carried.start[0]),
            int(carried.end[0]),
            int(carried.evidence[0]),
            int(carried.seq[0]),
        )
    ] == [(7, 1, EOF, 0, 9)]


def random_hunks(rng: random.Random) -> list[list[int]]:
    """A -U0 diff's hunks: insertions, deletions and rewrites in order, with gaps."""
    hunks, old, new = [], 1, 1
    for _ in range(rng.randint(0, 6)):
        gap = rng.randint(0, 8)
        old, new = old + gap, new + gap
        removed, added = rng.randint(0, 4), rng.randint(0, 4)
        if removed == 0:  # an insertion after line `old`
            added = added or 1
            hunks.append([old, 0, new + 1, added])
            old, new = old + 1, new + added + 1
        else:
            hunks.append([old, removed, new if added else new - 1, added])
            old, new = old + removed, new + added
    return hunks


def random_intervals(rng: random.Random, n: int, eof: float = 0.0) -> _Intervals:
    """`n` intervals of lines 1 to 55, a share `eof` of them open to the end of the file."""
    starts = [rng.randint(1, 40) for _ in range(n)]
    return _Intervals(
        np.arange(n, dtype=np.int64),
        np.array(starts, np.int64),
        np.array([EOF if rng.random() < eof else s + rng.randint(0, 15) for s in starts]),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
    )


def lines_of(iv: _Intervals, edge: np.ndarray) -> set[tuple[int, int, int]]:
    """(revision, output, line) for every line the rows cover (EOF rows up to line 80)."""
    return {
        (int(e), int(o), x)
        for e, o, a, b in zip(edge, iv.output, iv.start, iv.end, strict=True)
        for x in range(int(a), min(int(b), 80) + 1)
    }


def test_carrying_many_intervals_at_once_agrees_with_carry_span() -> None:
    rng = random.Random(3)
    for _ in range(500):
        hunks = random_hunks(rng)
        iv = random_intervals(rng, rng.randint(1, 5))
        carried, edge = _LineMaps([hunks]).carry(
            iv, np.zeros(len(iv), np.int64), np.zeros(1, np.int64), 1
        )
        want = {
            (0, o, z)
            for o, (a, b) in enumerate(zip(iv.start.tolist(), iv.end.tolist(), strict=True))
            for x, y in carry_span(a, b, [tuple(h) for h in hunks])
            for z in range(x, (y or 0) + 1)
        }
        assert lines_of(carried, edge) == want, hunks


def test_carrying_through_many_revisions_at_once_is_carrying_through_each() -> None:
    rng = random.Random(5)
    for _ in range(200):
        maps = [random_hunks(rng) if rng.random() < 0.9 else None for _ in range(6)]
        seqs = np.array([rng.randint(0, 50) for _ in maps], np.int64)
        ivs = [random_intervals(rng, rng.randint(0, 4), eof=0.2) for _ in maps]
        for iv in ivs:
            iv.seq = np.array([rng.randint(0, 50) for _ in range(len(iv))], np.int64)
        edge = np.repeat(np.arange(len(maps)), [len(iv) for iv in ivs])
        together, edges = _LineMaps(maps).carry(_Intervals.concat(ivs), edge, seqs, 1)
        want: set[tuple[int, int, int]] = set()
        for e, (line_map, iv) in enumerate(zip(maps, ivs, strict=True)):
            alone, _ = _LineMaps([line_map]).carry(
                iv, np.zeros(len(iv), np.int64), seqs[e : e + 1], 1
            )
            want |= lines_of(alone, np.full(len(alone), e))
            assert (alone.seq >= seqs[e]).all()
        assert lines_of(together, edges) == want
