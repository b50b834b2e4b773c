import shutil
from pathlib import Path

import pytest

from loaders import agent_trace
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
    assert rejection.line == 3 and "must be integers" in rejection.reason


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared samples not present")
def test_real_traces_load() -> None:
    batches = list(agent_trace.load([SAMPLES]))
    assert not [r for b in batches for r in b.rejections]
    outputs = nodes_of(batches, "output")
    assert len([k for k in outputs if "toolu_" in k]) == 34
    cursor = [a for a in outputs.values() if a["tool"] == "cursor"]
    assert cursor and all("\\" not in a["path"] for a in cursor)
