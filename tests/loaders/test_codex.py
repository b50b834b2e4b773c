from pathlib import Path

import pytest

from lineage.loaders import codex
from tests.conftest import FIXTURES
from tests.loaders.helpers import nodes_of

SAMPLES = Path(__file__).parents[3] / "shared" / "samples" / "codex"
NEW = FIXTURES / "codex" / "rollout-2026-03-04T11-19-59-019c9c21-2a46-77c0-87d8-7cf3716a28e6.jsonl"
OLD = FIXTURES / "codex" / "rollout-2025-06-10T15-45-01-5973b6c0-94b8-487b-a530-2aeb6098ae0e.jsonl"


def test_rollout_edit_shapes_become_outputs_with_their_lines() -> None:
    (batch,) = codex.load([NEW])
    outputs = nodes_of([batch], "output")
    added = outputs["output:codex:call_1:src/greet.py"]
    assert added["lines"] == [[1, 2]]
    assert added["text"] == ["def greet(name):", "    return f'hello, {name}'"]
    assert (added["repo"], added["path"]) == ("github.com/acme/widgets", "src/greet.py")
    assert added["model"] == "gpt-5-codex" and added["tool_version"] == "0.105.0"
    assert added["session"] == "019c9c21-2a46-77c0-87d8-7cf3716a28e6"
    moved = outputs["output:codex:call_1:src/new_name.py"]
    assert moved["text"] == ["    return compute_answer()"] and "lines" not in moved
    assert not any("dead.py" in k for k in outputs)  # a deletion writes nothing
    updated = outputs["output:codex:call_2:src/app.py"]  # numbered by patch_apply_end
    assert updated["lines"] == [[2, 2]] and updated["positions_from"] == "patch_apply_end"
    shell_patch = outputs["output:codex:call_3:docs/USAGE.md"]
    assert shell_patch["text"] == ["Run `widgets serve` to start."]
    heredoc = outputs["output:codex:call_4:Makefile"]
    assert heredoc["text"] == ["test:", "\tpytest -q tests/"] and heredoc["call"] == "shell"
    (rejection,) = batch.rejections
    assert rejection.line == 8 and "apply_patch input does not parse" in rejection.reason
    assert "End Patch" in rejection.reason
    assert batch.ignored == 5  # turn_context, patch_apply_end, token_count, compacted, unknown
    session = nodes_of([batch], "session")["session:019c9c21-2a46-77c0-87d8-7cf3716a28e6"]
    assert session["repo"] == "github.com/acme/widgets" and session["tool"] == "codex"


def test_old_pre_envelope_rollout() -> None:
    (batch,) = codex.load([OLD])
    outputs = nodes_of([batch], "output")
    (key,) = outputs
    assert key == "output:codex:call_old_1:LICENSE_HEADER.txt"
    assert outputs[key]["text"] == ["Copyright 2025 Acme Corp. All rights reserved."]
    assert "session:5973b6c0-94b8-487b-a530-2aeb6098ae0e" in nodes_of([batch], "session")


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared samples not present")
def test_real_codex_records_load() -> None:
    batches = list(codex.load([SAMPLES]))
    sessions = nodes_of(batches, "session")
    meta = sessions["session:019c8a53-a0dd-7130-bcd7-95445d84846a"]
    assert meta["originator"] == "Codex Desktop" and meta["client"] == "vscode"
    # the owner redacted the patch bodies: each is rejected with a reason, nothing crashes
    reasons = {r.reason for b in batches for r in b.rejections}
    assert reasons == {"apply_patch input does not parse: no '*** Begin Patch' line"}
    outputs = nodes_of(batches, "output")
    assert outputs["output:codex:__ID__:app.py"]["lines"] == [[1, 3]]
    hook = [a for k, a in outputs.items() if k.startswith("output:exec-")]
    assert hook and hook[0]["tool"] == "codex" and hook[0]["model"] == "gpt-5.6-sol"
