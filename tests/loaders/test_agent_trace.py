import json
import shutil
from pathlib import Path

import pytest

from lineage.loaders import agent_trace
from lineage.store import Store
from tests.conftest import FIXTURES
from tests.loaders.helpers import nodes_of

SAMPLES = Path(__file__).parents[3] / "shared" / "samples" / "agent-trace"


def test_both_shapes_load_and_only_ai_ranges_become_outputs(tmp_path: Path) -> None:
    # Outside any git checkout, so the workspace is resolved by --repo.
    workspace = tmp_path / "widgets"
    shutil.copytree(FIXTURES / "agent-trace", workspace)
    (batch,) = agent_trace.load([workspace], repo="github.com/acme/widgets")
    outputs = nodes_of([batch], "output")
    first = outputs["output:agent-trace:t-1:0:0:0"]
    assert first["lines"] == [[1, 20]] and first["tool"] == "cursor"
    assert (first["model"], first["provider"]) == ("claude-opus-4-8", "anthropic")
    assert first["path"] == "src/components/view.tsx"  # Windows separators normalized
    assert first["anchor_revision"] == "1a0c18c75bc19149cec8a0bc4c91115bf9a44469"
    assert outputs["output:agent-trace:t-1:0:0:1"]["lines"] == [[30, 31]]
    assert not any(":0:1:" in k for k in outputs)  # the human conversation
    assert not any(k.startswith("output:agent-trace:t-1:1:") for k in outputs)  # .shell-history
    mixed = outputs["output:agent-trace:t-2:0:0:0"]
    assert mixed["contributor"] == "mixed" and mixed["model"] == "gpt-5"
    flat = outputs["output:agent-trace:toolu_01N7Y9GEuqdizmDjhp8pLGZ1:155-158"]
    assert flat["tool"] == "claude-code" and flat["lines"] == [[155, 158]]
    (rejection,) = batch.rejections
    assert rejection.line == 3 and "end_line` must be an integer" in rejection.reason


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared samples not present")
def test_real_traces_load() -> None:
    batches = list(agent_trace.load([SAMPLES]))
    assert not [r for b in batches for r in b.rejections]
    outputs = nodes_of(batches, "output")
    assert len([k for k in outputs if "toolu_" in k]) == 34
    cursor = [a for a in outputs.values() if a["tool"] == "cursor"]
    assert cursor and all("\\" not in a["path"] for a in cursor)


def test_a_huge_range_is_one_range_and_an_impossible_one_is_rejected(tmp_path: Path) -> None:
    """Ranges are kept as ranges: a 5-million-line range costs what a short one does."""
    path = tmp_path / "traces.jsonl"
    flat = {
        "schema": "agent-trace/v0.1.0",
        "session_id": "s",
        "file_path": "src/a.py",
        "start_line": 1,
        "end_line": 5_000_000,
        "tool": "Edit",
        "tool_use_id": "toolu_X",
        "timestamp": "2026-03-02T09:00:00Z",
    }
    path.write_text(
        "\n".join(
            json.dumps(flat | change)
            for change in ({}, {"end_line": 2**63}, {"start_line": 0}, {"end_line": [5]})
        )
        + "\n"
    )
    (batch,) = agent_trace.load([path], repo="github.com/acme/widgets")
    (output,) = nodes_of([batch], "output").values()
    assert output["lines"] == [[1, 5_000_000]] and output["positioned"] is True
    assert [r.reason for r in batch.rejections] == [
        f"`end_line` is {2**63}, outside 1..2147483647",
        "`start_line` is 0, outside 1..2147483647",
        "`end_line` must be an integer, not a list",
    ]
    store = Store(":memory:")
    assert store.ingest(batch).accepted == 1
