"""Canonical JSON: the text the event log hashes and the store keeps, the same whichever
encoder writes it."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.eventlog import canonical_json


def standard(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


scalars = st.one_of(
    st.text(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), scalars, max_size=8))
def test_a_flat_object_is_written_as_the_standard_encoder_writes_it(value: dict) -> None:
    try:
        expected = standard(value)
        expected.encode()
    except UnicodeEncodeError:  # a lone surrogate: neither text can be stored
        return
    assert canonical_json(value) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
)
def test_any_value_is_written_as_the_standard_encoder_writes_it(value: object) -> None:
    assert canonical_json(value) == standard(value)


def test_floats_and_keys_that_are_not_strings_keep_the_standard_form() -> None:
    assert canonical_json({"ratio": 1e-07, "big": 1e16, "n": float("nan")}) == (
        '{"big":1e+16,"n":NaN,"ratio":1e-07}'
    )
    assert canonical_json({1: "a", 2: 2**64}) == '{"1":"a","2":18446744073709551616}'
    assert canonical_json({"path": "src/é.py", "tab": "a\tb\x00"}) == (
        '{"path":"src/é.py","tab":"a\\tb\\u0000"}'
    )
