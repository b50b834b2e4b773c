import json
import subprocess
import sys
from pathlib import Path

from lineage.loaders import claude_code
from lineage.store import Store

PAYLOAD = {
    "session_id": "s1",
    "transcript_path": "/x.jsonl",
    "hook_event_name": "PostToolUse",
    "tool_name": "Write",
    "tool_use_id": "toolu_C1",
    "tool_input": {"file_path": "", "content": "print('captured line')\n"},
    "tool_response": {"type": "create", "content": "print('captured line')\n"},
}


def capture(stdin: str, spool: Path, cwd: Path) -> subprocess.CompletedProcess:
    code = "from lineage.entry import main; import sys; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, "capture", "claude-code", "--spool", str(spool)],
        input=stdin,
        text=True,
        capture_output=True,
        cwd=cwd,
        timeout=10,
    )


def test_capture_good_bad_and_empty_stdin(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "https://github.com/acme/widgets.git"],
        check=True,
    )
    spool = tmp_path / "spool" / "claude-code.jsonl"
    payload = dict(PAYLOAD, cwd=str(repo))
    payload["tool_input"] = dict(PAYLOAD["tool_input"], file_path=str(repo / "app.py"))
    assert capture(json.dumps(payload), spool, tmp_path).returncode == 0
    assert capture("{not json", spool, tmp_path).returncode == 0
    assert capture("", spool, tmp_path).returncode == 0
    lines = [json.loads(line) for line in spool.read_text().splitlines()]
    assert len(lines) == 2  # empty stdin spools nothing
    enrichment = lines[0]["_lineage"]
    assert enrichment["remote_url"] == "https://github.com/acme/widgets.git"
    assert enrichment["git_toplevel"] == str(repo.resolve()) and enrichment["captured_at"]
    assert lines[1]["_lineage"]["raw"] == "{not json"

    store = Store(":memory:")
    (batch,) = claude_code.load([spool])
    report = store.ingest(batch)
    assert (report.accepted, report.rejected) == (1, 1)
    assert "capture could not parse" in report.rejections[0].reason
    output = store.node("output:toolu_C1")
    assert output.attrs["repo"] == "github.com/acme/widgets" and output.attrs["path"] == "app.py"
    assert output.attrs["time_source"] == "capture"


def test_capture_never_fails_the_agent(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = capture(json.dumps(PAYLOAD), blocked / "spool.jsonl", tmp_path)  # unwritable
    assert result.returncode == 0 and "cannot write" in result.stderr
