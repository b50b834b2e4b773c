import contextlib
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

import lineage
from tests.conftest import EXAMPLES, ROOT


def _readme_examples() -> list[tuple[str, str]]:
    """Each ```python block of the README with the output block that follows it."""
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, re.S)


def test_the_readme_python_block_runs_as_written_and_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = _readme_examples()
    assert blocks
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for code, printed in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README
        assert out.getvalue() == printed


def test_a_database_answers_what_the_cli_does(tmp_path: Path) -> None:
    with lineage.open(tmp_path / "l.duckdb") as db:
        report = db.ingest("events", EXAMPLES / "events.ndjson")
        assert (report.accepted, report.rejected) == (54, 0)
        with pytest.raises(lineage.NoPolicyError, match="no policy in force"):
            db.gate("code-pretrain@v1")
        db.set_policy((EXAMPLES / "policy.toml").read_text())
        gate = db.gate("code-pretrain@v1", lineage.Mode.STRICT)
        assert gate.counts == lineage.Counts(examples=22, tainted=10, unknown=3, clean=9)
        verdict = db.verdict("code-pretrain@v1:ex-016")
        assert verdict.status is lineage.Status.UNKNOWN and "never ingested" in verdict.reason
        out = tmp_path / "verdicts.jsonl"
        assert db.as_of().write_verdicts("code-pretrain@v1", out) == 22
        graph = db.lineage("example:code-pretrain@v1:ex-002")
        assert isinstance(graph, nx.DiGraph)
        assert nx.has_path(graph, "output:toolu_01B", "example:code-pretrain@v1:ex-002")
        assert (
            graph.edges[
                "output:toolu_01B", "file:github.com/acme/widgets:src/widgets/api.py@a2a2a2a2"
            ]["kind"]
            == "wrote"
        )
        assert db.verify().ok
        with pytest.raises(lineage.UsageError, match="a rev applies to git"):
            db.ingest("events", EXAMPLES / "events.ndjson", rev="HEAD")
    with pytest.raises(lineage.StoreError, match="no lineage store"):
        lineage.open(tmp_path / "missing.duckdb", create=False)
    assert not (tmp_path / "missing.duckdb").exists()


def test_the_package_exports_exactly_its_documented_names() -> None:
    assert set(dir(lineage)) == set(lineage.__all__)
    for name in lineage.__all__:
        assert getattr(lineage, name) is not None
    with pytest.raises(AttributeError):
        lineage.nothing_here  # noqa: B018


def test_importing_lineage_stays_light() -> None:
    """`lineage capture` runs inside every agent tool call: the package must not pull in
    DuckDB or Arrow until a name that needs them is used."""
    code = "import sys, lineage; print('duckdb' in sys.modules, 'pyarrow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_a_store_opened_read_only_answers_without_writing(tmp_path: Path) -> None:
    """A store another process built (the demo's, a CI artifact) opened read-only: the
    engine's tables are there, so nothing is created, and every answer comes."""
    path = tmp_path / "built.duckdb"
    with lineage.open(path) as db:
        db.set_policy((EXAMPLES / "policy.toml").read_text())
        db.ingest("events", EXAMPLES / "events.ndjson")
        before = db.as_of().gate("code-pretrain@v1").counts
    with lineage.open(path, read_only=True) as db:
        assert db.as_of().gate("code-pretrain@v1").counts == before
        assert [d.dataset for d in db.as_of().tainted_by_dataset()]
