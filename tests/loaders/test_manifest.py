import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lineage import engine
from lineage.facts import MAX_REASON
from lineage.loaders import manifest
from lineage.store import Store
from tests.conftest import EXAMPLES, FIXTURES, status

MANIFEST = EXAMPLES / "manifest.jsonl"


def ingest(store: Store, *paths: Path) -> list:
    return [store.ingest(b) for b in manifest.load(paths)]


def test_each_source_form_gates_as_its_lineage_says(scenario: Store) -> None:
    [rep] = ingest(scenario, MANIFEST)
    assert (rep.accepted, rep.rejected) == (9, 0)
    expected = {
        "sft-001": "TAINTED",  # named by commit: api.py lines 12-20 hold toolu_01B's lines
        "sft-002": "CLEAN",  # the same file version, lines 21-42
        "sft-003": "TAINTED",  # a byte range of retry.py (toolu_01A wrote most of it)
        "sft-004": "UNKNOWN",  # SWHID into a repository never ingested
        "sft-005": "CLEAN",  # The Stack row: README.md, whole file
        "sft-006": "TAINTED",  # derived from code-pretrain@v1:ex-002
        "sft-007": "CLEAN",  # derived from two clean examples
        "sft-008": "TAINTED",  # made from a Claude Code session
        "sft-009": "CLEAN",  # made from a Copilot output (not restricted)
    }
    got = {ex: status(scenario, f"code-sft@v1:{ex}", "precise") for ex in expected}
    assert got == expected


def test_swhid_qualifiers_in_any_order_and_stack_paths_normalize(scenario: Store) -> None:
    ingest(scenario, MANIFEST)
    swh = scenario.node("example:code-sft@v1:sft-004")
    stack = scenario.node("example:code-sft@v1:sft-005")
    assert swh is not None and stack is not None
    assert (swh.attrs["repo"], swh.attrs["path"]) == ("github.com/acme/legacy", "lib/parser.py")
    assert (stack.attrs["repo"], stack.attrs["path"]) == ("github.com/acme/widgets", "README.md")
    run = engine.propagate_taint(scenario)
    v = engine.verdict(scenario, run, swh, "precise")
    assert "github.com/acme/legacy" in v.reason


def test_bad_rows_are_rejected_with_row_and_reason_and_the_rest_loads(scenario: Store) -> None:
    [rep] = ingest(scenario, FIXTURES / "manifests" / "bad.jsonl")
    reasons = {r.line: r.reason for r in rep.rejections}
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 9, 10, 11, 12}
    assert reasons[2].startswith("no source")
    assert reasons[3].startswith("more than one source form")
    assert reasons[4].startswith("bad SWHID swh:1:cnt:xyz")
    assert reasons[5] == "bad range 20-12: need 1 <= first <= last"
    assert reasons[6] == "lines 40-50 are outside src/widgets/api.py, which has 42 lines"
    assert reasons[7] == "not valid JSON"
    assert "commit" in reasons[9] and "blob" in reasons[9]
    assert reasons[12].startswith("truncated last line")
    assert rep.accepted == 1 and scenario.node("example:code-sft@v2:b-001") is not None
    kept = scenario.rejected(limit=50)
    assert sum(1 for source, *_ in kept if source == "manifest") == 10


def test_reingest_is_a_no_op(scenario: Store) -> None:
    ingest(scenario, MANIFEST)
    before = [
        scenario.fetch_maybe_one(f"SELECT count(*) FROM {t}")[0]
        for t in ("events", "nodes", "edges", "batches")
    ]
    [rep] = ingest(scenario, MANIFEST)
    after = [
        scenario.fetch_maybe_one(f"SELECT count(*) FROM {t}")[0]
        for t in ("events", "nodes", "edges", "batches")
    ]
    assert (rep.accepted, rep.duplicate) == (0, 9) and before == after
    assert scenario.verify().ok


def test_manifest_rows_are_events_of_the_hash_chain(scenario: Store) -> None:
    ingest(scenario, MANIFEST)
    assert scenario.verify().ok
    scenario.execute(
        "UPDATE events SET payload = replace(payload, 'sft-002', 'sft-two') "
        "WHERE source = 'manifest'"
    )
    assert not scenario.verify().ok


def _parquet(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in MANIFEST.read_text().splitlines()]
    stack = [r for r in rows if "blob_id" in r]
    nested = [r for r in rows if "blob_id" not in r]
    path = tmp_path / "data"
    path.mkdir()
    for name, part in (("nested", nested), ("stack", stack)):
        columns = sorted({k for r in part for k in r})  # absent keys become null columns
        pq.write_table(
            pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in part]),
            path / f"{name}.parquet",
        )
    return path


def test_parquet_manifests_load_like_jsonl(scenario: Store, tmp_path: Path) -> None:
    reports = ingest(scenario, _parquet(tmp_path))
    assert sum(r.accepted for r in reports) == 9
    assert status(scenario, "code-sft@v1:sft-001", "precise") == "TAINTED"
    assert status(scenario, "code-sft@v1:sft-005", "precise") == "CLEAN"
    assert status(scenario, "code-sft@v1:sft-006", "precise") == "TAINTED"


def test_parquet_with_no_source_column_rejects_each_row(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(
        pa.table({"example_id": ["a", "b"], "dataset": ["d", "d"], "version": ["1", "1"]}), path
    )
    [batch] = manifest.read_manifest(path)
    assert [(r.line, r.reason[:9]) for r in batch.rejections] == [
        (1, "no source"),
        (2, "no source"),
    ]


def test_a_file_that_is_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    path.write_text("nope")
    with pytest.raises(manifest.InputError, match="not a readable Parquet file"):
        list(manifest.read_manifest(path))


def test_the_documented_schema_agrees_with_the_loader() -> None:
    import jsonschema

    from lineage.schema import json_schema

    validator = jsonschema.Draft202012Validator(json_schema("manifest"))
    for line in MANIFEST.read_text().splitlines():
        validator.validate(json.loads(line))
    bad = FIXTURES / "manifests" / "bad.jsonl"
    rejected_by_loader = {r.line for b in manifest.read_manifest(bad) for r in b.rejections}
    for n, line in enumerate(bad.read_text().split("\n"), 1):
        if n in rejected_by_loader and n not in (5, 7, 12):
            # 5's reversed range is beyond JSON Schema; 7 and 12 are not JSON
            assert not validator.is_valid(json.loads(line)), f"line {n} should be invalid"


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_long_manifest_is_read_in_batches_with_file_row_numbers(
    scenario: Store, tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [r for r in map(json.loads, MANIFEST.read_text().splitlines()) if "blob_id" not in r]
    rows.insert(4, {"example_id": "no-source", "dataset": "code-sft", "version": "v1"})
    path = tmp_path / f"m{suffix}"
    if suffix == ".parquet":
        columns = sorted({k for r in rows for k in r})
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in rows]), path)
    else:
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setattr(manifest, "BATCH_ROWS", 3)
    batches = list(manifest.read_manifest(path))
    assert len(batches) == 3
    assert [(r.line, r.reason[:9]) for b in batches for r in b.rejections] == [(5, "no source")]
    reports = [scenario.ingest(b) for b in batches]
    assert (sum(r.accepted for r in reports), sum(r.rejected for r in reports)) == (8, 1)
    assert status(scenario, "code-sft@v1:sft-006", "precise") == "TAINTED"
    assert status(scenario, "code-sft@v1:sft-004", "precise") == "UNKNOWN"


def test_a_row_naming_a_huge_absent_path_is_rejected_in_bounded_words(
    scenario: Store, tmp_path: Path
) -> None:
    huge = "src/" + "x" * 3_000_000 + ".py"
    rows = [json.loads(line) for line in (EXAMPLES / "snapshot.jsonl").read_text().splitlines()]
    bad = {**rows[0], "example_id": "snap-huge", "source": {**rows[0]["source"], "path": huge}}
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [rows[0], bad, rows[1]]))
    [rep] = ingest(scenario, path)
    assert rep.accepted == 2
    [rejected] = rep.rejections
    assert rejected.line == 2 and len(rejected.reason) <= MAX_REASON
    assert rejected.reason.startswith("src/xxx") and rejected.reason.endswith("more characters)")
    assert "is not in the tree of commit" not in rejected.reason  # cut inside the path
    assert len(str(rejected)) < MAX_REASON + len(str(path)) + 10
