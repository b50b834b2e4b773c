import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from lineage import engine, export
from lineage.loaders import manifest
from lineage.policy import parse_policy
from lineage.store import Store
from tests.conftest import EXAMPLES


def table(directory: Path, name: str) -> list[dict[str, object]]:
    partitioning = "hive" if name in export.PARTITIONED else None
    return (
        ds.dataset(directory / name, format="parquet", partitioning=partitioning)
        .to_table()
        .to_pylist()
    )


def test_an_export_holds_what_the_gate_reads_as_of_its_point(
    scenario: Store, tmp_path: Path
) -> None:
    for batch in manifest.load([EXAMPLES / "manifest.jsonl"]):
        scenario.ingest(batch)
    out = tmp_path / "export"
    summary = export.export_parquet(scenario, out)
    meta = json.loads((out / export.MANIFEST).read_text())
    policy = scenario.policy_at(None)
    assert policy is not None
    assert meta["policy"] == {"version": policy.version, "hash": policy.hash}
    assert meta["as_of"]["seq"] == summary.as_of == scenario.head_seq()
    assert [w["node"] for w in meta["waivers"]] == ["output:toolu_01W"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*export.TABLES, export.MANIFEST])
    for name in export.TABLES:
        assert len(table(out, name)) == meta["rows"][name] == summary.rows[name], name
    roots = table(out, "roots")
    expected = engine.restricted_roots(scenario, summary.as_of, policy.policy)
    assert sorted(r["id"] for r in roots) == expected.tolist()
    assert {r["tool"] for r in roots} == {"claude-code"}  # no codex outputs in the events
    # edges are the derivation graph, partitioned by kind, with spans
    edges = table(out, "edges")
    assert {e["kind"] for e in edges} <= set(engine.propagation.KINDS)
    assert (out / "edges" / "kind=chunked").is_dir()
    chunk = next(e for e in edges if e["kind"] == "chunked" and e["span_unit"] == 1)
    assert chunk["span_start"] >= 1
    # every example of each dataset version, as the store's gate counts them
    run = engine.propagate_taint(scenario)
    versions = {r["id"]: f"{r['dataset']}@{r['version']}" for r in table(out, "dataset_versions")}
    members = table(out, "members")
    for dv, name in versions.items():
        count = engine.gate(scenario, run, name, "precise", max_paths=0).counts.examples
        assert sum(1 for m in members if m["dataset_version"] == dv) == count, name
    missing = {m["key"] for m in table(out, "missing")}
    assert missing and all(not n["defined"] for n in table(out, "nodes") if n["key"] in missing)


def test_an_export_as_of_a_past_point_and_without_a_policy(scenario: Store, tmp_path: Path) -> None:
    policy = scenario.policy_at(None)
    assert policy is not None
    before = export.export_parquet(scenario, tmp_path / "before", as_of=policy.seq - 1)
    assert before.policy_hash is None and before.rows["roots"] == 0
    assert json.loads((tmp_path / "before" / export.MANIFEST).read_text())["policy"] is None
    scenario.set_policy(parse_policy('[[restrict]]\nmodel = "gpt-4*"\nreason = "r"\n'))
    later = export.export_parquet(scenario, tmp_path / "later")
    assert later.rows["waived"] == 0 and later.rows["roots"] >= 1
    assert {r["model"] for r in table(tmp_path / "later", "roots")} == {"gpt-4.1"}
    at_first = export.export_parquet(scenario, tmp_path / "first", as_of=policy.seq)
    assert at_first.policy_hash == policy.hash and at_first.rows["waived"] == 1


def test_an_export_is_never_written_over_another_nor_left_half_written(
    scenario: Store, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export.export_parquet(scenario, out)
    with pytest.raises(export.ExportError, match="not empty"):
        export.export_parquet(scenario, out)
    (tmp_path / "empty").mkdir()
    export.export_parquet(scenario, tmp_path / "empty")  # an empty directory is fine
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(export.ExportError, match="not empty"):
        export.export_parquet(scenario, blocked)
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    with pytest.raises(export.ExportError, match="not a lineage export"):
        export.read_manifest(tmp_path)
    assert export.read_manifest(out)["format"] == export.FORMAT
