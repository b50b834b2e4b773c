import json
import subprocess
from pathlib import Path

import pytest

from lineage.loaders import claude_code, load_bytes
from lineage.store import Store
from tests.conftest import FIXTURES
from tests.loaders.helpers import nodes_of

SAMPLES = Path(__file__).parents[3] / "shared" / "samples" / "claude"


def test_transcript_outputs_carry_exactly_the_lines_written() -> None:
    (batch,) = claude_code.load(
        [FIXTURES / "claude" / "transcript.jsonl"], repo="github.com/acme/widgets"
    )
    outputs = nodes_of([batch], "output")
    write = outputs["output:toolu_W1"]
    assert write["lines"] == [[1, 10]] and write["call"] == "Write"
    assert write["text"][3] == "def retry(fn, attempts=3):"
    assert write["model"] == "claude-opus-4-5-20251101" and write["tool_version"] == "2.0.69"
    assert write["session"] == "5f1c0e2a-1111-4c3b-9d2e-abcdef012345"
    assert (write["repo"], write["path"]) == ("github.com/acme/widgets", "src/retry.py")
    assert write["time"] == "2026-03-02T09:01:01Z" and write["time_source"] == "transcript"
    edit = outputs["output:toolu_E1"]  # from structuredPatch
    assert edit["lines"] == [[2, 3]] and edit["user_modified"] is True
    assert edit["text"] == ["    print('starting widgets service')", "    serve_forever()"]
    located = outputs["output:toolu_E2"]  # no structuredPatch: old_string found in the file
    assert located["lines"] == [[3, 3]] and located["text"] == ["    serve_forever(port=8080)"]
    assert "logical_parent" not in located  # its own record is not the compaction marker
    multi = outputs["output:toolu_M1"]
    assert multi["lines"] == [[2, 3]]
    assert multi["text"] == ["DEBUG = False", "PORT = int(os.environ.get('PORT', '8080'))"]
    bash = outputs["output:toolu_B1:scripts/deploy.sh"]
    assert bash["text"] == ["#!/bin/sh", "kubectl apply -f deploy/widgets.yaml"]
    assert "lines" not in bash and bash["positioned"] is False
    assert "output:toolu_E3" not in outputs  # the failed edit wrote nothing
    assert not any("toolu_R1" in k for k in outputs)  # reads are not outputs
    assert [r.reason for r in batch.rejections] == [
        "truncated last line (the writer was interrupted)"
    ]
    assert batch.ignored >= 3  # summary, snapshot, unknown record type...


def test_trivial_lines_have_no_hash_but_significant_ones_do() -> None:
    (batch,) = claude_code.load([FIXTURES / "claude" / "transcript.jsonl"])
    write = nodes_of([batch], "output")["output:toolu_W1"]
    assert len(write["hashes"]) == 7  # 10 lines minus 2 blank and a bare "try:"
    assert write["repo_resolution"] == "unresolved"
    assert any("no known repository" in n for n in batch.notes)


def test_hook_payloads_use_capture_enrichment_and_skip_non_edits() -> None:
    (batch,) = claude_code.load([FIXTURES / "claude" / "hooks.jsonl"])
    outputs = nodes_of([batch], "output")
    edit = outputs["output:toolu_H1"]
    assert edit["lines"] == [[2, 2]] and edit["text"] == ["x = 2"]
    assert (edit["repo"], edit["path"], edit["repo_resolution"]) == (
        "github.com/acme/widgets",
        "src/a.py",
        "capture",
    )
    assert edit["time"] == "2026-03-02T09:05:00+00:00" and edit["time_source"] == "capture"
    assert edit["model"] == "claude-sonnet-4-5-20250929"  # from the session's SessionStart
    windows = outputs["output:toolu_H3"]
    assert windows["path"] == "C:/Users/dev/widgets/src/win.py"
    assert windows["repo_resolution"] == "unresolved"
    assert windows["time_source"] == "file-mtime"
    no_cwd = outputs["output:toolu_H4"]
    assert no_cwd["repo_resolution"] == "unresolved"
    assert set(outputs) == {"output:toolu_H1", "output:toolu_H3", "output:toolu_H4"}
    sessions = nodes_of([batch], "session")
    assert sessions["session:5f1c0e2a-1111-4c3b-9d2e-abcdef012345"]["model"] == (
        "claude-sonnet-4-5-20250929"
    )
    assert batch.ignored == 2  # PreToolUse and PostToolUseFailure


def test_windows_paths_resolve_with_repo_given() -> None:
    (batch,) = claude_code.load(
        [FIXTURES / "claude" / "hooks.jsonl"], repo="https://github.com/acme/widgets.git"
    )
    windows = nodes_of([batch], "output")["output:toolu_H3"]
    assert (windows["repo"], windows["path"]) == ("github.com/acme/widgets", "src/win.py")


def test_reingest_is_a_no_op() -> None:
    store = Store(":memory:")
    first = [store.ingest(b) for b in claude_code.load([FIXTURES / "claude"])]
    again = [store.ingest(b) for b in claude_code.load([FIXTURES / "claude"])]
    assert sum(r.accepted for r in first) > 0
    assert sum(r.accepted for r in again) == 0
    assert sum(r.duplicate for r in again) == sum(r.accepted for r in first)


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared samples not present")
def test_real_claude_records_load() -> None:
    batches = list(claude_code.load([SAMPLES]))
    assert not [r for b in batches for r in b.rejections]
    outputs = nodes_of(batches, "output")
    assert outputs["output:toolu_013JnBoRSqxCShSX71epQz9K"]["lines"] == [[21, 21]]
    assert outputs["output:toolu_01F3Ro7STSqrLt9kMqMwtkZK"]["text"] == ["- [ ] item one (edited)"]
    multi = outputs["output:toolu_01WjJZBWBwRe4EMgwU4AWMLh"]
    assert multi["call"] == "MultiEdit" and multi["model"] == "claude-sonnet-4-20250514"


def _hook(**changes: object) -> dict:
    lines = (FIXTURES / "claude" / "hooks.jsonl").read_text().splitlines()
    value = json.loads(
        next(line for line in lines if '"toolu_H1"' in line and "PostToolUse" in line)
    )
    value.update(changes)
    return value


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tool_input": "src/a.py"}, "`tool_input` must be an object, not a string"),
        ({"session_id": ["s"]}, "`session_id` must be a string, not a list"),
        ({"cwd": 7}, "`cwd` must be a string, not a number"),
        ({"_lineage": "yes"}, "`_lineage` must be an object, not a string"),
    ],
)
def test_a_retyped_field_rejects_its_record_naming_the_field(
    tmp_path: Path, change: dict, reason: str
) -> None:
    path = tmp_path / "spool.jsonl"
    path.write_text(json.dumps(_hook(**change)) + "\n" + json.dumps(_hook()) + "\n")
    (batch,) = claude_code.load([path])
    assert [(r.line, r.reason) for r in batch.rejections] == [(1, reason)]
    assert [r.origin for r in batch.records] == [f"{path}:2"]


def test_received_records_never_resolve_paths_on_this_machine(tmp_path: Path) -> None:
    """A payload posted to the server names its producer's paths: no git runs here."""
    checkout = tmp_path / "here"
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    payload = _hook(
        cwd=str(checkout),
        tool_input={"file_path": str(checkout / "a.py"), "old_string": "x", "new_string": "y"},
    )
    payload["_lineage"] = {"captured_at": "2026-03-02T09:05:00+00:00"}
    data = (json.dumps(payload) + "\n").encode()
    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(data)
    (local,) = claude_code.load([spool])  # ingested on the machine that ran the agent
    assert nodes_of([local], "output")["output:toolu_H1"]["repo_resolution"] == "local-git"
    (received,) = load_bytes("claude-code", data, "POST /events")
    output = nodes_of([received], "output")["output:toolu_H1"]
    assert output["repo_resolution"] == "unresolved"
    (note,) = received.notes  # names the input as received, not the server's temporary file
    assert note.startswith("POST /events: 1 file(s) in no known repository")
