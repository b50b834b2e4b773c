"""The block form of line normalization agrees with the line-at-a-time definitions."""

from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.loaders.agent_outputs import (
    is_significant,
    line_hash,
    line_hashes,
    normalize_line,
    significant_lines,
)

# lines as a patch holds them: any text but a newline, rich in whitespace of every kind and
# in the brackets that make a line trivial
_LINE = st.text(
    alphabet=st.one_of(
        st.sampled_from(" \t\r\x0b\x0c\x1c\x1f\x85\xa0\u2028\u3000{}[]();,:"),
        st.characters(blacklist_characters="\n"),
    ),
    max_size=12,
)


@given(st.lists(_LINE, max_size=8), st.integers(0, 100))
@settings(max_examples=400, deadline=None)
def test_significant_lines_is_normalize_and_is_significant_line_by_line(
    texts: list[str], first: int
) -> None:
    expected = [
        (n, norm)
        for n, text in enumerate(texts, first)
        if is_significant(norm := normalize_line(text))
    ]
    assert significant_lines(texts, first) == expected


def test_line_hashes_are_line_hash_as_integers() -> None:
    lines = ["x = compute(1)", "return total", "déjà vu ✓"]
    assert [format(int(h), "016x") for h in line_hashes(lines)] == [line_hash(t) for t in lines]
    assert line_hashes([]).shape == (0,)
