import pytest

from lineage.attribution import Interval, carry_interval, carry_span


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


def test_unknown_line_map_widens_to_the_whole_file() -> None:
    iv = Interval(output=7, start=10, end=12, evidence="structured-patch", seq=3)
    assert carry_interval(iv, None, edge_seq=9) == [
        Interval(7, 1, None, "structured-patch", 9)]
