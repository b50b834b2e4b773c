import json
from pathlib import Path

import duckdb

from lineage import engine
from lineage.eventlog import EVENT_HASH_SQL, GENESIS, batch_hash
from lineage.loaders import LOADERS, events
from lineage.policy import parse_policy
from lineage.store import Store
from tests.conftest import EXAMPLES, FIXTURES, load_events

TABLES = ("events", "batches", "nodes", "edges", "aliases", "attributions", "rejected")


def snapshot(store: Store) -> dict[str, list]:
    return {
        t: store.fetch_all(f"SELECT * EXCLUDE (received_at) FROM {t} ORDER BY ALL")
        if t in ("batches", "rejected")
        else store.fetch_all(f"SELECT * FROM {t} ORDER BY ALL")
        for t in TABLES
    }


def test_ingesting_the_same_input_twice_changes_nothing() -> None:
    store = Store(":memory:")
    load_events(store, EXAMPLES / "events.ndjson", FIXTURES / "events" / "one_bad_record.ndjson")
    before = snapshot(store)
    reports = [store.ingest(b) for b in events.load([EXAMPLES / "events.ndjson"])]
    assert [(r.accepted, r.duplicate) for r in reports] == [(0, 54)]
    load_events(store, FIXTURES / "events" / "one_bad_record.ndjson")
    assert snapshot(store) == before


def test_a_bad_record_is_rejected_with_its_line_and_the_rest_loads() -> None:
    store = Store(":memory:")
    (batch,) = events.load([FIXTURES / "events" / "one_bad_record.ndjson"])
    report = store.ingest(batch)
    assert (report.accepted, report.rejected) == (3, 4)
    rejected = {line: reason for _, _, line, reason in store.rejected()}
    assert "'output' is a required property" in rejected[2]
    assert "unknown event type 'telemetry'" in rejected[4]
    assert "exactly one of `source`, `parents` or `from`" in rejected[5]
    assert "truncated last line" in rejected[7]
    files = {f for _, f, _, _ in store.rejected()}
    assert files == {str(FIXTURES / "events" / "one_bad_record.ndjson")}
    raw = store.fetch_maybe_one("SELECT raw FROM rejected WHERE line = 4")[0]
    assert json.loads(raw)["value"] == 3  # the raw record is kept
    assert store.node("example:d@v1:1") is not None


def test_node_ids_are_dense_in_arrival_order() -> None:
    store = Store(":memory:")
    load_events(store, FIXTURES / "events" / "history.ndjson")
    ids = [r[0] for r in store.fetch_all("SELECT id FROM nodes ORDER BY id")]
    assert ids == list(range(1, len(ids) + 1))
    assert store.node("output:toolu_1").id == 1


def test_hash_chain_catches_an_edited_or_deleted_event(tmp_path: Path) -> None:
    db = tmp_path / "l.duckdb"
    with Store(db) as store:
        load_events(store, EXAMPLES / "events.ndjson")
        load_events(store, FIXTURES / "events" / "history.ndjson")
        assert store.verify().ok
        store.execute(
            "UPDATE events SET payload = replace(payload, 'claude-code', 'copilot') WHERE seq = 3"
        )
        result = store.verify()
        assert not result.ok
        assert any("event seq 3" in p for p in result.problems)
    with Store(db) as store:
        # Re-hashing the edited row is not enough: the batch digest still disagrees.
        store.execute(f"UPDATE events SET hash = {EVENT_HASH_SQL[2]} WHERE seq = 3")
        store.execute("DELETE FROM events WHERE seq = 56")
        problems = store.verify().problems
        assert any("batch 1" in p for p in problems)
        assert any("batch 2" in p for p in problems)


def test_carried_attribution_does_not_depend_on_arrival_order(tmp_path: Path) -> None:
    lines = (FIXTURES / "events" / "history.ndjson").read_text().splitlines()
    shuffled = tmp_path / "reversed.ndjson"
    shuffled.write_text("\n".join(reversed(lines)) + "\n")

    def intervals(path: Path, one_by_one: bool) -> dict[str, list]:
        store = Store(":memory:")
        if one_by_one:
            for n, line in enumerate(path.read_text().splitlines()):
                single = tmp_path / f"{path.stem}-{n}.ndjson"
                single.write_text(line + "\n")
                load_events(store, single)
        else:
            load_events(store, path)
        return {
            key: [row[:4] for row in store.attributions_of(store.node(key).id)]
            for key in (
                "file:github.com/acme/w:a.py@aaaa01",
                "file:github.com/acme/w:a.py@aaaa02",
                "file:github.com/acme/w:b.py@bbbb03",
            )
        }

    expected = {
        "file:github.com/acme/w:a.py@aaaa01": [("output:toolu_1", 3, 5, "structured-patch")],
        "file:github.com/acme/w:a.py@aaaa02": [("output:toolu_1", 5, 7, "structured-patch")],
        # line 5 deleted; 6-7 shift up to 5-6 in the renamed file
        "file:github.com/acme/w:b.py@bbbb03": [("output:toolu_1", 5, 6, "structured-patch")],
    }
    assert intervals(FIXTURES / "events" / "history.ndjson", one_by_one=False) == expected
    assert intervals(shuffled, one_by_one=True) == expected


def test_memory_limit_is_set_on_the_database() -> None:
    store = Store(":memory:", memory_limit="300MB")
    assert store.fetch_maybe_one("SELECT current_setting('memory_limit')")[0] in (
        "286.1 MiB",
        "300.0 MB",
    )


def test_a_store_made_before_nodes_kept_their_repo_gets_it_filled_once(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        load_events(store, EXAMPLES / "events.ndjson")
        store.execute("ALTER TABLE nodes DROP COLUMN repo")
        store.execute("DROP TABLE store_meta")  # made before versions were recorded
    with Store(path) as store:
        filled, differ = store.fetch_maybe_one("""
            SELECT count(*) FILTER (WHERE repo IS NOT NULL),
                   count(*) FILTER (WHERE repo IS DISTINCT FROM
                                    json_extract_string(attrs, '$.repo'))
            FROM nodes""")
    assert filled > 10 and differ == 0


def test_moving_bytes_from_one_field_to_the_next_is_caught(tmp_path: Path) -> None:
    """Under `|`-joined hashes, event id 'gen|events' from source 'events' hashed like event id
    'gen' from source 'events|events'; length-prefixed fields tell them apart."""
    records = tmp_path / "e.ndjson"
    records.write_text(
        json.dumps({"type": "output", "id": "gen|events", "output": "o", "tool": "codex"}) + "\n"
    )
    with Store(tmp_path / "l.duckdb") as store:
        load_events(store, records)
        old_hash = f"SELECT {EVENT_HASH_SQL[1]} FROM events"
        before = store.fetch_maybe_one(old_hash)
        store.execute("UPDATE events SET event_id = 'gen', source = 'events|events'")
        assert store.fetch_maybe_one(old_hash) == before  # the old scheme is blind
        assert any("event seq 1" in p for p in store.verify().problems)


def _as_scheme_1(path: Path) -> None:
    """Turn a store into one made before hash schemes were recorded: `|`-joined hashes."""
    with Store(path) as store:
        store.execute(f"UPDATE events SET hash = {EVENT_HASH_SQL[1]}")
        prev = GENESIS
        for batch, source, received, first, last, count, digest in store.fetch_all(
            "SELECT b.batch, b.source, epoch_us(b.received_at), b.first_seq, b.last_seq, "
            "b.events, (SELECT sha256(string_agg(hash, '' ORDER BY seq)) FROM events e "
            "WHERE e.batch = b.batch) FROM batches b ORDER BY batch"
        ):
            chained = batch_hash(prev, batch, source, received, first, last, count, digest, 1)
            store.execute(
                "UPDATE batches SET events_hash = ?, prev_hash = ?, hash = ? WHERE batch = ?",
                [digest, prev, chained, batch],
            )
            prev = chained
        store.execute("DROP TABLE store_meta")


def test_a_store_hashed_the_old_way_is_verified_then_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        load_events(store, EXAMPLES / "events.ndjson")
        new_hashes = store.fetch_all("SELECT hash FROM events ORDER BY seq")
    _as_scheme_1(path)
    with Store(path, read_only=True) as old:
        assert old.hash_scheme == 1 and old.verify().ok
    with Store(path) as store:
        assert store.hash_scheme == 2 and store.verify().ok
        assert store.fetch_all("SELECT hash FROM events ORDER BY seq") == new_hashes
        load_events(store, FIXTURES / "events" / "history.ndjson")
        assert store.verify().ok


def test_a_tampered_old_store_is_never_rehashed_into_a_valid_one(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        load_events(store, EXAMPLES / "events.ndjson")
    _as_scheme_1(path)
    con = duckdb.connect(str(path))  # tampered under the old scheme, before any migration
    con.execute(
        "UPDATE events SET payload = replace(payload, 'claude-code', 'copilot') WHERE seq = 3"
    )
    con.close()
    with Store(path) as store:
        assert store.hash_scheme == 1
        assert any("event seq 3" in p for p in store.verify().problems)


def test_an_example_has_the_same_attributes_from_a_manifest_as_from_an_event(
    tmp_path: Path,
) -> None:
    """One shape whichever loader read it: no `"shard": null` for a manifest row."""
    event = {
        "type": "example",
        "id": "e1",
        "dataset": "d",
        "version": "v1",
        "example": "x",
        "source": {"repo": "github.com/acme/w", "path": "a.py", "blob": "ab12"},
    }
    row = {
        "dataset": "d",
        "version": "v1",
        "example_id": "x",
        "source": {"repo": "github.com/acme/w", "path": "a.py", "blob": "ab12"},
    }
    (tmp_path / "e.ndjson").write_text(json.dumps(event) + "\n")
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n")
    attrs = []
    for source, name in (("events", "e.ndjson"), ("manifest", "m.jsonl")):
        with Store(":memory:") as store:
            for batch in LOADERS[source]([tmp_path / name]):
                store.ingest(batch)
            node = store.node("example:d@v1:x")
            assert node is not None
            attrs.append(node.attrs)
    assert (
        attrs[0]
        == attrs[1]
        == {
            "dataset": "d",
            "version": "v1",
            "example": "x",
            "repo": "github.com/acme/w",
            "path": "a.py",
        }
    )


def test_records_and_example_rows_of_one_file_are_logged_in_its_order(tmp_path: Path) -> None:
    """An events file is logged in its line order, examples among the other events."""
    lines = [
        {"type": "output", "id": "o1", "output": "o1", "tool": "codex"},
        {
            "type": "example",
            "id": "x1",
            "dataset": "d",
            "version": "v1",
            "example": "1",
            "from": {"output": "o1"},
        },
        {"type": "output", "id": "o2", "output": "o2", "tool": "codex"},
        {
            "type": "example",
            "id": "x2",
            "dataset": "d",
            "version": "v1",
            "example": "2",
            "from": {"output": "o2"},
        },
    ]
    path = tmp_path / "mixed.ndjson"
    path.write_text("".join(json.dumps(v) + "\n" for v in lines))
    with Store(":memory:") as store:
        load_events(store, path)
        logged = store.fetch_all("SELECT event_id FROM events ORDER BY seq")
        assert [r[0] for r in logged] == ["o1", "x1", "o2", "x2"]
        assert store.verify().ok


def _example(n: int, **source: object) -> dict:
    event = {"type": "example", "id": f"x{n}", "dataset": "d", "version": "v1", "example": str(n)}
    return event | ({"source": {"repo": "github.com/a/b", "path": "a.py", **source}})


FILE_A = {
    "type": "file_version",
    "id": "f-a",
    "repo": "github.com/a/b",
    "path": "a.py",
    "blob": "a" * 40,
    "line_count": 10,
}


def _ingest_lines(tmp_path: Path, lines: list[dict]) -> tuple[Store, list]:
    path = tmp_path / "mixed.ndjson"
    path.write_text("".join(json.dumps(v) + "\n" for v in lines))
    store = Store(":memory:")
    reports = [store.ingest(b) for b in events.load([path])]
    return store, reports


def test_an_example_event_is_checked_against_the_records_before_it_not_after(
    tmp_path: Path,
) -> None:
    """An example event is a manifest row of its file: it is checked against what came before
    it (a file version's length), never against a record after it, which cannot cost it."""
    output = {"type": "output", "id": "o1", "output": "o1", "tool": "codex"}
    store, (report,) = _ingest_lines(
        tmp_path, [_example(1, blob="a" * 40, lines=[12, 20]), FILE_A, output]
    )
    assert (report.accepted, report.rejected) == (3, 0), report.rejections
    logged = store.fetch_all("SELECT event_id FROM events ORDER BY seq")
    assert [r[0] for r in logged] == ["x1", "f-a", "o1"]
    assert store.verify().ok


def test_a_rejected_example_among_other_events_leaves_no_hole_in_the_log(tmp_path: Path) -> None:
    """Example rows interleaved with other events get seqs in line order; one found outside
    its file is rejected with its line, and the log stays gapless and in order."""
    lines = [
        FILE_A,
        {"type": "output", "id": "o1", "output": "o1", "tool": "codex"},
        _example(1, blob="a" * 40, lines=[12, 20]),  # a.py has 10 lines
        {"type": "output", "id": "o2", "output": "o2", "tool": "codex"},
        _example(2, blob="a" * 40, lines=[1, 5]),
        {"type": "output", "id": "o3", "output": "o3", "tool": "codex"},
    ]
    store, (report,) = _ingest_lines(tmp_path, lines)
    assert (report.accepted, report.rejected) == (5, 1)
    assert report.rejections[0].line == 3
    assert "outside a.py, which has 10 lines" in report.rejections[0].reason
    logged = store.fetch_all("SELECT seq, event_id FROM events ORDER BY seq")
    assert logged == [(1, "f-a"), (2, "o1"), (3, "o2"), (4, "x2"), (5, "o3")]
    assert store.verify().ok


RULES = [
    'tool = "claude-code"\nsince = 2026-03-03',
    'tool = "claude-code"\nuntil = 2026-03-02',
    'tool = "claude-*"\nrepos = ["github.com/acme/*"]',
    'model = "CLAUDE-OPUS-*"',
    'model = "gpt-4*"',
    'tool = "copilot"\nmodel = "gpt-5*"',  # Copilot's hooks name no model: fails closed
]


def test_a_store_made_before_the_rule_columns_selects_the_same_restricted_outputs(
    tmp_path: Path,
) -> None:
    """Outputs' tool, model and time are columns of `nodes`; a store made before them
    selects the same outputs read-only (from the JSON), and is filled on its first
    read-write open."""
    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        load_events(store, EXAMPLES / "events.ndjson")
        seq = store.head_seq()
        expected = [
            engine.restricted_roots(store, seq, parse_policy(f'[[restrict]]\n{r}\nreason = "r"'))
            for r in RULES
        ]
        filled = store.fetch_one(
            "SELECT count(*) FROM nodes WHERE kind = 'output' AND tool IS NOT NULL"
        )[0]
    assert filled and all(len(e) for e in expected[1:5]) and not len(expected[0])
    con = duckdb.connect(str(path))
    for column in ("tool", "model", "occurred_at"):
        con.execute(f"ALTER TABLE nodes DROP COLUMN {column}")
    con.execute("UPDATE store_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()

    def roots(store: Store) -> list[list[int]]:
        return [
            list(
                engine.restricted_roots(
                    store, seq, parse_policy(f'[[restrict]]\n{r}\nreason = "r"')
                )
            )
            for r in RULES
        ]

    with Store(path, read_only=True) as old:
        assert roots(old) == [list(e) for e in expected]
    with Store(path) as store:
        assert (
            store.fetch_one(
                "SELECT count(*) FROM nodes WHERE kind = 'output' AND tool IS NOT NULL"
            )[0]
            == filled
        )
        assert roots(store) == [list(e) for e in expected]
