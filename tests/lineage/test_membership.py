"""A gate's counts come from the member counts the store keeps, and are what counting every
member as of the run's point gives, however the dataset version grew."""

import json
from pathlib import Path

import pytest

import lineage
from lineage import engine, membership, model
from lineage.loaders import events, manifest
from lineage.policy import parse_policy
from lineage.store import Store
from tests.conftest import EXAMPLES


def row(example: str, repo: str, shard: str | None = None, version: str = "v1") -> dict:
    blob = f"{sum(map(ord, example)):040x}"
    record = {
        "example_id": example,
        "dataset": "corpus",
        "version": version,
        "source": {"repo": repo, "blob": blob, "path": "a.py", "lines": [1, 2]},
    }
    if shard is not None:
        record["shard"] = shard
    return record


def ingest_rows(store: Store, rows: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for batch in manifest.load([path]):
        assert not store.ingest(batch).rejected


def counted(store: Store, run: engine.TaintRun) -> dict[str, int]:
    """Every member counted as of the run's point, per repository: the oracle."""
    dv = store.node(model.dataset_version_key("corpus", "v1"))
    assert dv is not None
    return {
        repo or "(no source repository)": n
        for repo, n in store.fetch_all(
            membership.members_sql("x.repo, count(*)") + " GROUP BY x.repo",
            {"dv": dv.id, "s": run.as_of.seq},
        )
    }


def gated(store: Store, run: engine.TaintRun) -> dict[str, int]:
    report = engine.gate(store, run, "corpus@v1", "precise", allow_unknown=True)
    by_repo = {r.repo: r.tainted + r.unknown + r.clean for r in report.by_repo}
    assert sum(by_repo.values()) == report.counts.examples
    return by_repo


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "s.duckdb")
    store.set_policy(parse_policy((EXAMPLES / "policy.toml").read_text()))
    for batch in events.load([EXAMPLES / "events.ndjson"]):
        store.ingest(batch)
    return store


def test_counts_grow_with_the_version_and_hold_as_of_earlier_points(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_rows(
        store,
        [row("a1", "github.com/o/a", "part-0"), row("a2", "github.com/o/a", "part-0")]
        + [row("b1", "github.com/o/b")],
        tmp_path / "first.jsonl",
    )
    first = engine.propagate_taint(store)
    assert (
        gated(store, first) == counted(store, first) == {"github.com/o/a": 2, "github.com/o/b": 1}
    )

    # a new shard, another example in an old one, rows seen before, another version
    ingest_rows(
        store,
        [row("a3", "github.com/o/a", "part-1"), row("b2", "github.com/o/b", "part-0")]
        + [row("a1", "github.com/o/a", "part-0"), row("b1", "github.com/o/b")]
        + [row("c1", "github.com/o/c", version="v2")],
        tmp_path / "second.jsonl",
    )
    recounts: list[int] = []
    original = membership._count
    monkeypatch.setattr(membership, "_count", lambda *a: recounts.append(a[2]) or original(*a))
    second = engine.propagate_taint(store)
    expected = {"github.com/o/a": 3, "github.com/o/b": 2}
    assert gated(store, second) == counted(store, second) == expected
    assert recounts == []  # grown from the kept counts, not counted again
    store.memo.clear()
    assert gated(store, first) == counted(store, first)  # an earlier point: counted
    assert gated(store, second) == expected  # and the kept counts stay the newer ones
    assert recounts == [first.as_of.seq]


def test_an_example_named_before_it_is_defined_joins_when_defined(
    store: Store, tmp_path: Path
) -> None:
    # a derived example names its parent before the parent's own row arrives
    derived = {k: v for k, v in row("d1", "github.com/o/a").items() if k != "source"}
    derived["parents"] = [{"dataset": "corpus", "version": "v1", "example_id": "late"}]
    ingest_rows(store, [derived], tmp_path / "first.jsonl")
    first = engine.propagate_taint(store)
    assert gated(store, first) == counted(store, first)
    ingest_rows(store, [row("late", "github.com/o/b")], tmp_path / "second.jsonl")
    second = engine.propagate_taint(store)
    assert gated(store, second) == counted(store, second)
    assert sum(gated(store, second).values()) == 2


def test_a_read_only_store_made_before_kept_counts_counts_each_time(
    store: Store, tmp_path: Path
) -> None:
    ingest_rows(
        store, [row("a1", "github.com/o/a"), row("b1", "github.com/o/b")], tmp_path / "m.jsonl"
    )
    engine.propagate_taint(store)
    store.execute("DROP TABLE member_counts")
    store.close()
    old = Store(tmp_path / "s.duckdb", read_only=True)
    run = engine.propagate_taint(old)
    assert gated(old, run) == {"github.com/o/a": 1, "github.com/o/b": 1}
    assert not old.fetch_one(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'member_counts'"
    )[0]


def test_a_bulk_ingest_counts_the_versions_it_grew_so_the_gate_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = lineage.open(tmp_path / "db.duckdb")
    db.set_policy((EXAMPLES / "policy.toml").read_text())
    db.ingest("events", EXAMPLES / "events.ndjson")
    rows = tmp_path / "m.jsonl"
    rows.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [row("a1", "github.com/o/a", "part-0"), row("b1", "github.com/o/b")]
        )
    )
    db.ingest("manifest", rows)
    monkeypatch.setattr(membership, "_count", lambda *a: pytest.fail("counted at the gate"))
    report = db.gate("corpus@v1", allow_unknown=True)
    assert report.counts.examples == 2
    assert {r.repo: r.unknown + r.clean + r.tainted for r in report.by_repo} == {
        "github.com/o/a": 1,
        "github.com/o/b": 1,
    }


def test_an_ingest_that_adds_nothing_counts_versions_left_uncounted(tmp_path: Path) -> None:
    # an ingest killed after its last batch and before counting, then run again
    rows = tmp_path / "m.jsonl"
    rows.write_text(json.dumps(row("a1", "github.com/o/a")) + "\n")
    store = Store(tmp_path / "db.duckdb")
    for batch in manifest.load([rows]):
        store.ingest(batch)
    store.close()
    db = lineage.open(tmp_path / "db.duckdb")
    assert db.ingest("manifest", rows).accepted == 0
    assert db.store.fetch_all("SELECT repos, counts FROM member_counts") == [
        (["github.com/o/a"], [1])
    ]
