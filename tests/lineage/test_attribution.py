import numpy as np
import pytest

from lineage.attribution import EOF, _Intervals, _LineMap, carry_span


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
    carried = _LineMap(None).carry(columns((7, 10, 12, 0, 3)), edge_seq=9, modified=1)
    assert [
        (
            int(carried.output[0]),
            int(carried.start[0]),
            int(carried.end[0]),
            int(carried.evidence[0]),
            int(carried.seq[0]),
        )
    ] == [(7, 1, EOF, 0, 9)]


def test_carrying_many_intervals_at_once_agrees_with_carry_span() -> None:
    import random

    rng = random.Random(3)
    for _ in range(500):
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
        starts = [rng.randint(1, 40) for _ in range(rng.randint(1, 5))]
        ends = [s + rng.randint(0, 15) for s in starts]
        n = len(starts)
        carried = (
            _LineMap(hunks)
            .carry(
                _Intervals(
                    np.arange(n, dtype=np.int64),
                    np.array(starts, np.int64),
                    np.array(ends, np.int64),
                    np.zeros(n, np.int64),
                    np.zeros(n, np.int64),
                ),
                0,
                1,
            )
            .normalized()
        )
        got = {
            (int(o), x)
            for o, a, b in zip(carried.output, carried.start, carried.end, strict=True)
            for x in range(int(a), int(b) + 1)
        }
        want = {
            (o, z)
            for o, (a, b) in enumerate(zip(starts, ends, strict=True))
            for x, y in carry_span(a, b, [tuple(h) for h in hunks])
            for z in range(x, y + 1)
        }
        assert got == want, hunks
