"""Propagation from appended events only gives the same taint as a full pass."""

from datetime import timedelta
from pathlib import Path

import pytest

from lineage import engine
from lineage.loaders import events, manifest
from lineage.policy import parse_policy
from lineage.store import Store
from tests.conftest import EXAMPLES


def snapshot(store: Store, run: engine.TaintRun) -> tuple[set, set]:
    taint = set(
        store.fetch_all(
            """
        SELECT t.mode, n.key, r.key, b.key FROM taint t JOIN nodes n ON n.id = t.node
        JOIN nodes r ON r.id = t.root LEFT JOIN nodes b ON b.id = t.blocked_by
        WHERE t.run IN (SELECT part FROM taint_parts WHERE run = ?)""",
            [run.run],
        )
    )
    incomplete = set(
        store.fetch_all(
            """
        SELECT n.key, m.key FROM incomplete i JOIN nodes n ON n.id = i.node
        JOIN nodes m ON m.id = i.missing
        WHERE i.run IN (SELECT part FROM taint_parts WHERE run = ?)""",
            [run.run],
        )
    )
    return taint, incomplete


def load_lines(store: Store, lines: list[str], tmp: Path, name: str) -> None:
    path = tmp / name
    path.write_text("\n".join(lines) + "\n")
    for batch in events.load([path]):
        store.ingest(batch)


@pytest.mark.parametrize("cut", [12, 20, 30, 40, 47])
def test_appending_after_a_run_extends_it_to_what_a_full_pass_gives(
    tmp_path: Path, cut: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = (EXAMPLES / "events.ndjson").read_text().splitlines()
    policy = parse_policy((EXAMPLES / "policy.toml").read_text())
    full = Store(":memory:")
    full.set_policy(policy)
    load_lines(full, lines, tmp_path, "all.ndjson")
    expected_events = snapshot(full, engine.propagate_taint(full))
    for batch in manifest.load([EXAMPLES / "manifest.jsonl"]):
        full.ingest(batch)
    expected = snapshot(full, engine.propagate_taint(full))

    grown = Store(":memory:")
    grown.set_policy(policy)
    load_lines(grown, lines[:cut], tmp_path, "head.ndjson")
    engine.propagate_taint(grown)
    full_passes = []
    original = engine._materialize
    monkeypatch.setattr(engine, "_materialize", lambda *a: full_passes.append(a) or original(*a))
    load_lines(grown, lines[cut:], tmp_path, "tail.ndjson")
    # a full pass only if the tail defined a missing node
    assert snapshot(grown, engine.propagate_taint(grown)) == expected_events
    full_passes.clear()
    for batch in manifest.load([EXAMPLES / "manifest.jsonl"]):
        grown.ingest(batch)
    assert snapshot(grown, engine.propagate_taint(grown)) == expected
    assert full_passes == []  # appended examples are propagated from their own edges


def test_an_append_beyond_the_share_an_extension_may_add_takes_a_full_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = (EXAMPLES / "events.ndjson").read_text().splitlines()
    policy = parse_policy((EXAMPLES / "policy.toml").read_text())
    expected = Store(":memory:")
    expected.set_policy(policy)
    load_lines(expected, lines, tmp_path, "all.ndjson")
    for batch in manifest.load([EXAMPLES / "manifest.jsonl"]):
        expected.ingest(batch)
    store = Store(":memory:")
    store.set_policy(policy)
    load_lines(store, lines, tmp_path, "all.ndjson")
    engine.propagate_taint(store)
    full_passes = []
    original = engine._materialize
    monkeypatch.setattr(engine, "_materialize", lambda *a: full_passes.append(a) or original(*a))
    # as if the graph were big and the manifest more than the share an extension may add
    monkeypatch.setattr(engine, "EXTEND_ALWAYS_UP_TO", 0)
    monkeypatch.setattr(engine, "EXTEND_AT_MOST", 0.0)
    appended = 0
    for batch in manifest.load([EXAMPLES / "manifest.jsonl"]):
        appended += store.ingest(batch).accepted
    assert appended > 0
    after = engine.propagate_taint(store)
    assert len(full_passes) == 1
    assert snapshot(store, after) == snapshot(expected, engine.propagate_taint(expected))
    full_passes.clear()
    load_lines(store, ['{"type": "tool", "tool": "vim"}'], tmp_path, "one.ndjson")
    engine.propagate_taint(store)
    assert full_passes == []  # one event more, no edge: extended


def test_defining_a_missing_node_falls_back_to_a_full_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = (EXAMPLES / "events.ndjson").read_text().splitlines()
    examples = [line for line in lines if '"type": "example"' in line]
    others = [line for line in lines if '"type": "example"' not in line]
    store = Store(":memory:")
    store.set_policy(parse_policy((EXAMPLES / "policy.toml").read_text()))
    load_lines(store, examples, tmp_path, "examples.ndjson")  # every source still unknown
    before = engine.propagate_taint(store)
    unknown = store.fetch_maybe_one(
        "SELECT count(*) FROM incomplete WHERE run IN (SELECT part FROM taint_parts WHERE run = ?)",
        [before.run],
    )[0]
    assert unknown > 0
    full_passes = []
    original = engine._materialize
    monkeypatch.setattr(engine, "_materialize", lambda *a: full_passes.append(a) or original(*a))
    load_lines(store, others, tmp_path, "sources.ndjson")
    after = engine.propagate_taint(store)
    assert len(full_passes) == 1
    counts = engine.gate(store, after, "code-pretrain@v1", "precise").counts
    assert counts == engine.Counts(examples=22, tainted=6, unknown=3, clean=13)


def test_old_runs_are_dropped_but_never_the_newest_or_a_recent_one(scenario: Store) -> None:
    head = engine.propagate_taint(scenario)  # under the policy, at the head
    past = [engine.propagate_taint(scenario, as_of=seq).run for seq in range(10, 56, 4)]
    kept = {r[0] for r in scenario.fetch_all("SELECT run FROM taint_runs")}
    assert kept == {head.run, *past}  # all recent: none dropped
    scenario.execute("UPDATE taint_runs SET computed_at = computed_at - INTERVAL 1 DAY")
    engine.propagate_taint(scenario, as_of=7)
    kept = {r[0] for r in scenario.fetch_all("SELECT run FROM taint_runs")}
    assert head.run in kept and len(kept) == engine.KEEP_RUNS + 1  # newest 8 + the head
    assert engine.propagate_taint(scenario).run == head.run
    assert (
        scenario.fetch_maybe_one(
            "SELECT count(*) FROM taint WHERE run IN (SELECT part FROM taint_parts WHERE run = ?)",
            [head.run],
        )[0]
        > 0
    )


def test_a_run_kept_under_an_earlier_reading_of_the_rules_is_never_reused(
    scenario: Store,
) -> None:
    first = engine.propagate_taint(scenario)
    assert engine.propagate_taint(scenario).run == first.run  # the same reading: reused
    assert first.policy is not None
    # a store written before the rules' reading changed keeps its runs under the bare hash
    scenario.execute("UPDATE taint_runs SET policy_hash = ?", [first.policy.hash])
    again = engine.propagate_taint(scenario)
    assert again.run != first.run
    assert snapshot(scenario, again) == snapshot(scenario, first)  # same rules, same answers


def test_runs_extended_many_times_read_their_bases_rows_and_stay_within_max_parts(
    tmp_path: Path,
) -> None:
    """Each appended row extends the last run, which reads its base's rows rather than copying
    them; past MAX_PARTS the rows are copied into one part; every run answers as a full pass."""
    lines = (EXAMPLES / "events.ndjson").read_text().splitlines()
    rows = (EXAMPLES / "manifest.jsonl").read_text().splitlines()
    policy = parse_policy((EXAMPLES / "policy.toml").read_text())
    grown = Store(":memory:")
    grown.set_policy(policy)
    load_lines(grown, lines, tmp_path, "all.ndjson")
    engine.propagate_taint(grown)
    for n, row in enumerate(rows, 1):
        (tmp_path / f"row{n}.jsonl").write_text(row + "\n")
        for batch in manifest.load([tmp_path / f"row{n}.jsonl"]):
            grown.ingest(batch)
        run = engine.propagate_taint(grown)
        parts = grown.fetch_one("SELECT count(*) FROM taint_parts WHERE run = ?", [run.run])[0]
        own = grown.fetch_one("SELECT count(*) FROM taint WHERE run = ?", [run.run])[0]
        whole = snapshot(grown, run)
        assert 1 <= parts <= engine.MAX_PARTS
        assert own < len(whole[0]) or parts == 1  # inherited, not copied, until copied whole

        full = Store(":memory:")
        full.set_policy(policy)
        load_lines(full, lines, tmp_path, "all.ndjson")
        (tmp_path / "prefix.jsonl").write_text("\n".join(rows[:n]) + "\n")
        for batch in manifest.load([tmp_path / "prefix.jsonl"]):
            full.ingest(batch)
        assert whole == snapshot(full, engine.propagate_taint(full)), n
        assert (
            engine.gate(grown, run, "code-sft@v1", "precise").counts
            == engine.gate(full, engine.propagate_taint(full), "code-sft@v1", "precise").counts
        )
    assert len(rows) > engine.MAX_PARTS  # the copy was taken


def test_a_forgotten_run_keeps_the_rows_a_kept_run_inherits_and_no_more(
    tmp_path: Path,
) -> None:
    lines = (EXAMPLES / "events.ndjson").read_text().splitlines()
    rows = (EXAMPLES / "manifest.jsonl").read_text().splitlines()
    store = Store(":memory:")
    store.set_policy(parse_policy((EXAMPLES / "policy.toml").read_text()))
    load_lines(store, lines, tmp_path, "all.ndjson")
    base = engine.propagate_taint(store)

    def append(n: int) -> None:
        (tmp_path / f"rows{n}.jsonl").write_text("\n".join(rows[n * 3 : n * 3 + 3]) + "\n")
        for batch in manifest.load([tmp_path / f"rows{n}.jsonl"]):
            store.ingest(batch)

    append(0)
    head = engine.propagate_taint(store, keep=1, grace=timedelta(0))
    # the base run is forgotten (keep=1); its rows are the head's too
    assert store.fetch_all("SELECT run FROM taint_runs") == [(head.run,)]
    assert store.fetch_one("SELECT count(*) FROM taint WHERE run = ?", [base.run])[0] > 0
    before = snapshot(store, head)
    past = engine.propagate_taint(store, as_of=base.as_of.seq - 5)  # nobody extends it
    assert store.fetch_one("SELECT count(*) FROM taint WHERE run = ?", [past.run])[0] > 0
    append(1)
    later = engine.propagate_taint(store, keep=1, grace=timedelta(0))
    assert store.fetch_all("SELECT run FROM taint_runs") == [(later.run,)]
    assert store.fetch_one("SELECT count(*) FROM taint WHERE run = ?", [past.run])[0] == 0
    left = {r[0] for r in store.fetch_all("SELECT DISTINCT run FROM taint")}
    assert left == {r[0] for r in store.fetch_all("SELECT part FROM taint_parts")}
    assert left == {base.run, head.run, later.run}
    assert before[0] <= snapshot(store, later)[0]  # taint only grows on append


@pytest.mark.parametrize("made_before", ["DROP TABLE taint_parts", "DELETE FROM taint_parts"])
def test_runs_of_a_store_made_before_runs_had_parts_keep_their_rows(
    scenario: Store, made_before: str
) -> None:
    run = engine.propagate_taint(scenario)
    expected = engine.gate(scenario, run, "code-pretrain@v1", "precise").counts
    assert expected.tainted > 0
    scenario.execute(made_before)  # a store written before runs had parts
    scenario.memo.clear()  # a new process
    again = engine.propagate_taint(scenario)
    assert again.run == run.run  # the stored run, reused
    assert engine.gate(scenario, again, "code-pretrain@v1", "precise").counts == expected
