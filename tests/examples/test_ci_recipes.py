"""The CI recipes shipped in examples/ci run as written: their commands, taken from the files
and run by bash in a workspace holding a store and a build's manifest, gate the dataset and
fail the job or the commit when it is tainted."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

import lineage
from tests.conftest import EXAMPLES, ROOT

RECIPES = ROOT / "examples" / "ci"
BIN = Path(sys.executable).parent  # where the installed `lineage` command is


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout of a dataset build: its manifest under build/manifests/, and the lab's
    store (agent events and the policy) as LINEAGE_DB names it."""
    (tmp_path / "build" / "manifests").mkdir(parents=True)
    (tmp_path / "build" / "manifests" / "manifest.jsonl").write_text(
        (EXAMPLES / "manifest.jsonl").read_text()
    )
    with lineage.open(tmp_path / "lineage.duckdb") as db:
        db.ingest("events", EXAMPLES / "events.ndjson")
        db.set_policy((EXAMPLES / "policy.toml").read_text())
    return tmp_path


def bash(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", command],
        cwd=cwd,
        env=os.environ | {"PATH": f"{BIN}:{os.environ['PATH']}"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_github_actions_job_fails_on_a_tainted_build_with_a_junit_report(
    workspace: Path,
) -> None:
    workflow = yaml.safe_load((RECIPES / "github-actions-gate.yml").read_text())
    job = workflow["jobs"]["gate"]
    env = {k: str(v) for k, v in job["env"].items()}
    runs = [s for s in job["steps"] if "run" in s]
    # the install step is the one not run here: the package under test is installed
    assert runs[0]["name"] == "Install lineage" and "pip install" in runs[0]["run"]
    ingest, gate = runs[1:]
    done = bash(ingest["run"], workspace, env)
    assert done.returncode == 0, done.stderr
    done = bash(gate["run"], workspace, env)
    assert done.returncode == 1  # the gate fails the job: the build holds tainted examples
    report = ElementTree.parse(workspace / "gate-report.xml").getroot().find("testsuite")
    assert report is not None and int(report.get("failures", "0")) > 0
    assert report.get("name") == f"lineage gate {env['DATASET']}"


def test_the_pre_commit_hooks_ingest_the_manifest_and_refuse_a_tainted_build(
    workspace: Path,
) -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((RECIPES / "pre-commit-hooks.yaml").read_text())}
    env = {"LINEAGE_DB": "lineage.duckdb"}
    manifest = "build/manifests/manifest.jsonl"
    ingest = hooks["lineage-ingest-manifest"]
    assert ingest["language"] == "system"
    assert re.search(ingest["files"], manifest)
    # pre-commit runs the entry with the staged files that match `files` appended
    done = bash(f"{ingest['entry']} {shlex.quote(manifest)}", workspace, env)
    assert done.returncode == 0, done.stderr
    gate = hooks["lineage-gate"]
    assert gate["pass_filenames"] is False
    done = bash(gate["entry"], workspace, env)
    assert done.returncode == 1 and "FAILED" in done.stdout
