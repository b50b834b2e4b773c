"""A git-ai note read from its bytes: the metadata's evidence is what the standard JSON parser
reads, whichever parser read the note."""

import json

from lineage.loaders.git_ai import read_note

ATTESTATION = b"src/a.py\n  s_c9883b05a2487d::t_9f8e7d6c5b4a32 1-3,7\n  h_31dce776f88375 4-6\n"


def note(meta: bytes) -> bytes:
    return ATTESTATION + b"---\n" + meta


def agents(extra: str = "") -> str:
    return (
        '{"schema_version": "authorship/3.0.0", "sessions": {"s_c9883b05a2487d": '
        '{"agent_id": {"tool": "claude", "model": "opus"' + extra + '}, "messages": '
        '[{"text": "a long transcript"}]}}}'
    )


def test_a_clean_note_names_its_agent_and_keeps_human_lines_apart() -> None:
    read = read_note(note(agents().encode()), "blob1")
    assert read.problem is None
    ai = [r for r in read.ranges if r.kind == "ai"]
    assert [(r.path, r.tool, r.model, r.ranges) for r in ai] == [
        ("src/a.py", "claude-code", "opus", ((1, 3), (7, 7)))
    ]
    assert [r.ranges for r in read.ranges if r.kind == "human"] == [((4, 6),)]
    assert read.evidence["agents"] == {"s_c9883b05a2487d": {"tool": "claude", "model": "opus"}}


def test_an_integer_past_64_bits_in_what_the_evidence_keeps_stays_exact() -> None:
    big = 123456789012345678901234567890
    read = read_note(note(agents(f', "pid": {big}').encode()))
    assert read.evidence["agents"]["s_c9883b05a2487d"]["pid"] == big
    assert isinstance(read.evidence["agents"]["s_c9883b05a2487d"]["pid"], int)


def test_metadata_orjson_refuses_is_read_by_the_standard_parser() -> None:
    nan = read_note(note(agents(', "temperature": NaN').encode()))
    assert nan.problem is None
    assert [r.tool for r in nan.ranges if r.kind == "ai"] == ["claude-code"]
    broken = read_note(note(agents(', "who": "D\xe9v"').encode("latin-1")))  # not UTF-8
    assert broken.problem is None
    assert broken.evidence["agents"]["s_c9883b05a2487d"]["who"] == "D\ufffdv"


def test_metadata_that_is_not_json_is_a_problem_named_not_an_error() -> None:
    read = read_note(note(b'{"sessions": '))
    assert read.problem is not None and read.problem.startswith("metadata is not JSON")
    assert [r.tool for r in read.ranges if r.kind == "ai"] == [None]  # AI lines, agent unknown
    json.dumps(read.evidence)  # the evidence stays storable
