"""Cursor, Gemini CLI and Copilot CLI hook payloads: the documented and captured shapes
(tests/fixtures/*/README.md), and an agent's write followed through a real git commit to a
tainted training example."""

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import lineage
from lineage.loaders import copilot, cursor, gemini_cli
from tests.conftest import FIXTURES
from tests.loaders.helpers import nodes_of
from tests.loaders.test_git import HUMAN_HEAD, REPO, Repo

AI = ["def backoff(attempt):", "    return min(60, 2 ** attempt)  # capped", "", "RETRIES = 5"]


def batches(loader: object, *paths: Path) -> list:
    return list(loader.load(list(paths), local_git=False))  # type: ignore[attr-defined]


def test_cursor_documented_and_logged_payloads() -> None:
    [docs] = batches(cursor, FIXTURES / "cursor" / "docs-payloads.jsonl")
    assert not docs.rejections
    outputs = nodes_of([docs], "output")
    assert [o["call"] for o in outputs.values()] == ["afterFileEdit", "afterTabFileEdit"]
    first = next(iter(outputs.values()))
    assert first["tool"] == "cursor" and first["text"] == ["<replace>"]
    assert first["model"] == "string" and first["session"] == "string"
    assert first["time_source"] in ("file-mtime", "capture")  # Cursor sends no time
    assert list(nodes_of([docs], "session")) == ["session:string"]
    assert docs.ignored_kinds == {"postToolUse": 1}  # a Shell run that wrote no file
    [logged] = batches(cursor, FIXTURES / "cursor" / "ggshield-payloads.jsonl")
    assert not logged.records and logged.ignored_kinds == {"postToolUse": 1, "preToolUse": 1}


def test_gemini_documented_and_source_payloads() -> None:
    [docs] = batches(gemini_cli, FIXTURES / "gemini-cli" / "docs-payloads.jsonl")
    assert not docs.records and docs.ignored_kinds == {"BeforeTool": 1}
    [built] = batches(gemini_cli, FIXTURES / "gemini-cli" / "source-payloads.jsonl")
    outputs = list(nodes_of([built], "output").values())
    assert [(o["call"], o["lines"], o["text"]) for o in outputs] == [
        ("write_file", [[1, 1]], ["print('hello')"]),
        ("replace", [[1, 1]], ["print('hello world')"]),
    ]
    assert (
        outputs[0]["time"] == "2026-08-21T16:21:03.512Z" and outputs[0]["time_source"] == "record"
    )
    assert outputs[0]["session"] == "8f0c2a6e-3b0e-4b9c-9d1e-2a7f5c1d9e44"
    assert outputs[1]["instruction"] == "Change the greeting to world"
    [session] = nodes_of([built], "session").values()
    assert session["start_source"] == "startup"


def test_copilot_captured_and_documented_payloads(tmp_path: Path) -> None:
    [new] = batches(copilot, FIXTURES / "copilot" / "ai-tc-1.0.83.jsonl")
    assert [n["start_source"] for n in nodes_of([new], "session").values()] == ["new"]
    assert new.ignored_kinds == {"untyped": 1}  # bash `false`: wrote nothing
    [live] = batches(copilot, FIXTURES / "copilot" / "live-1.0.68.jsonl")
    assert not live.rejections
    outputs = list(nodes_of([live], "output").values())
    assert [(o["call"], o["path"], o["text"]) for o in outputs] == [
        ("create", "D:/Projects/akm-live-test/.env", ["<redacted>"]),
        ("edit", "D:/Projects/akm-live-test/AGENTS.md", ["<redacted>"]),
    ]
    assert outputs[0]["lines"] == [[1, 1]] and outputs[1].get("lines") is None
    assert outputs[0]["time"].startswith("2026-07-")  # Unix milliseconds
    # an object of Claude's names, as a PascalCase `Write` may carry it
    spool = tmp_path / "w.jsonl"
    claude_style = {
        "hook_event_name": "PostToolUse",
        "session_id": "s",
        "cwd": "/w",
        "tool_name": "Write",
        "tool_input": {"file_path": "/w/a.py", "content": "a = 1\nb = 2\n"},
        "tool_result": {"result_type": "success"},
    }
    spool.write_text(json.dumps(claude_style) + "\n")
    [written] = nodes_of(batches(copilot, spool), "output").values()
    assert written["text"] == ["a = 1", "b = 2"] and written["lines"] == [[1, 2]]
    [docs] = batches(copilot, FIXTURES / "copilot" / "docs-payloads.jsonl")
    [patched] = nodes_of([docs], "output").values()
    assert patched["call"] == "Edit" and patched["path"] == "/Users/a/project/jokes.csv"
    assert patched["text"] == [
        "2,Why did the developer go broke?,Because he used up all his cache."
    ]


def test_malformed_payloads_are_rejected_with_their_line_and_the_rest_loads(
    tmp_path: Path,
) -> None:
    spool = tmp_path / "copilot.jsonl"
    good = {
        "sessionId": "s1",
        "timestamp": 1788547866546,
        "cwd": "/w",
        "toolName": "create",
        "toolArgs": {"path": "/w/a.py", "file_text": "x = 1\n"},
        "toolResult": {"resultType": "success"},
    }
    spool.write_text(
        "\n".join(
            json.dumps(v)
            for v in (
                good,
                good | {"toolArgs": 7},
                good | {"toolArgs": {"file_text": "x"}},
                good | {"toolName": "apply_patch", "toolArgs": "*** Begin Patch\n*** Nonsense"},
                good | {"toolResult": {"resultType": "denied"}},
            )
        )
        + "\n{not json\n"
    )
    [batch] = batches(copilot, spool)
    assert len(batch.records) == 1 and batch.ignored == 1
    assert sorted((r.line, r.reason.split(":")[0]) for r in batch.rejections) == [
        (2, "toolArgs must be an object or a JSON string, not int"),
        (3, "create call without a path"),
        (4, "apply_patch patch does not parse"),
        (6, "not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
    ]


def payload(tool: str, path: Path, root: Path) -> dict:
    """What each agent sends when it writes AI into `path` (whole file)."""
    text = "\n".join(HUMAN_HEAD + AI) + "\n"
    if tool == "cursor":
        return {
            "conversation_id": "c-1",
            "generation_id": "g-1",
            "model": "gpt-5",
            "hook_event_name": "afterFileEdit",
            "workspace_roots": [str(root)],
            "file_path": str(path),
            "edits": [{"old_string": "", "new_string": text}],
        }
    if tool == "gemini-cli":
        return {
            "session_id": "g-s",
            "cwd": str(root),
            "hook_event_name": "AfterTool",
            "timestamp": datetime.now(UTC).isoformat(),
            "tool_name": "write_file",
            "tool_input": {"file_path": str(path), "content": text},
            "tool_response": {"llmContent": "ok", "returnDisplay": "Created file"},
        }
    return {
        "sessionId": "cp-1",
        "timestamp": int(time.time() * 1000),
        "cwd": str(root),
        "toolName": "create",
        "toolArgs": json.dumps({"path": str(path), "file_text": text}),
        "toolResult": {"resultType": "success", "textResultForLlm": "Created file"},
    }


@pytest.mark.parametrize("tool", ["cursor", "gemini-cli", "copilot"])
def test_an_agents_write_captured_committed_and_cut_into_an_example_is_tainted(
    tool: str, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "demo")
    target = repo.root / "src" / "retry.py"
    hook = subprocess.run(
        [sys.executable, "-m", "lineage.cli", "capture", tool, "--spool", str(tmp_path / "s.jsonl")]
        + (["--event", "postToolUse"] if tool == "copilot" else []),
        input=json.dumps(payload(tool, target, repo.root)).encode("utf-16")
        if tool == "cursor"  # as Cursor on Windows writes it
        else json.dumps(payload(tool, target, repo.root)).encode(),
        capture_output=True,
        timeout=60,
        cwd=repo.root,
    )
    assert hook.returncode == 0, hook.stderr
    spooled = json.loads((tmp_path / "s.jsonl").read_text())
    assert spooled["_lineage"]["tool"] == tool and spooled["_lineage"]["git_toplevel"]
    repo.clock = int(time.time()) + 3600  # committed after the agent wrote it
    repo.write("src/retry.py", HUMAN_HEAD + AI)
    commit = repo.commit("retry with backoff")  # by a person: no trailer names the agent
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps(
            {
                "example_id": "e1",
                "dataset": "d",
                "version": "1",
                "source": {"repo": REPO, "commit": commit, "path": "src/retry.py", "lines": [6, 9]},
            }
        )
        + "\n"
    )
    with lineage.open(tmp_path / "l.duckdb") as db:
        first = db.ingest(tool, tmp_path / "s.jsonl")
        assert first.accepted == 1 and not first.rejections
        assert db.ingest(tool, tmp_path / "s.jsonl").duplicate == 1  # twice changes nothing
        db.ingest("git", repo.root)
        db.ingest("manifest", manifest)
        db.set_policy(f'[[restrict]]\ntool = "{tool}"\nreason = "rival tool"\n')
        verdict = db.verdict("d@1:e1")
        assert verdict.status == "TAINTED", verdict
        [source] = verdict.sources
        output = db.node(source)
        assert output is not None and output.attrs["tool"] == tool
        assert output.attrs["repo"] == REPO and output.attrs["path"] == "src/retry.py"
        assert db.gate("d@1").passed is False


def test_ingest_reports_the_kinds_it_ignored(tmp_path: Path) -> None:
    spool = tmp_path / "cursor.jsonl"
    spool.write_text(
        "\n".join(
            json.dumps({"conversation_id": "c", "hook_event_name": e, "workspace_roots": ["/w"]})
            for e in ("beforeSubmitPrompt", "stop", "stop")
        )
        + "\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lineage.cli",
            "--db",
            str(tmp_path / "l.duckdb"),
            "ingest",
            "cursor",
            str(spool),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert out.stdout.startswith(
        "0 accepted, 0 duplicate, 0 rejected, 3 ignored (stop: 2, beforeSubmitPrompt: 1)"
    )


def test_another_agents_spool_read_as_claude_codes_is_refused_not_misattributed(
    tmp_path: Path,
) -> None:
    from lineage.loaders import claude_code

    spool = tmp_path / "gemini.jsonl"
    line = payload("gemini-cli", tmp_path / "a.py", tmp_path) | {"_lineage": {"tool": "gemini-cli"}}
    spool.write_text(json.dumps(line) + "\n")
    [batch] = batches(claude_code, spool)
    assert not batch.records
    assert "ingest it with `lineage ingest gemini-cli`" in batch.rejections[0].reason
    [right] = batches(gemini_cli, spool)
    assert len(right.records) == 1
