"""Facts and rejections as loaders build them."""

from lineage.facts import MAX_REASON, Rejection


def test_a_reason_quoting_a_huge_value_is_bounded_and_the_row_still_named() -> None:
    huge = Rejection("m.jsonl", 7, "no file " + "x" * 3_000_000, "raw")
    assert len(huge.reason) <= MAX_REASON
    assert huge.reason.startswith("no file xxx") and huge.reason.endswith("more characters)")
    again = Rejection(huge.file, huge.line, huge.reason, huge.raw)  # as the wire rebuilds it
    assert again.reason == huge.reason
    assert str(huge).startswith("m.jsonl:7: no file")
    assert Rejection("m.jsonl", 1, "short", None).reason == "short"
