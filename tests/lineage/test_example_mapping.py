"""An example becomes the same nodes and edges whether it arrives as a canonical `example`
event or as a manifest row: both are rows of `lineage.facts.EXAMPLE_COLUMNS`, mapped by the
store's one set-based SQL. This test holds every shape of example to that, from both sources,
so a loader that projects its records differently is caught."""

import json
from pathlib import Path
from typing import Any

import pytest

import lineage
from tests.conftest import EXAMPLES

# Every shape an example takes: shard or not; source by blob or commit, with lines, bytes
# or the whole file; parents; made from a session or an output.
SHAPES: list[dict[str, Any]] = [
    {"shard": "s-0", "source": {"blob": "a3a3a3a3", "lines": [12, 20]}},
    {"source": {"blob": "a3a3a3a3", "lines": [1, 11]}},
    {"shard": "s-1", "source": {"blob": "a3a3a3a3", "bytes": [0, 40]}},
    {"source": {"blob": "a3a3a3a3"}},
    {"shard": "s-0", "source": {"commit": "c4c4c4c4", "lines": [12, 20]}},
    {"source": {"commit": "c4c4c4c4"}},
    {"shard": "s-2", "parents": [0, 1]},
    {"parents": [4]},
    {"shard": "s-0", "from": {"session": "sess-mapping"}},
    {"from": {"output": "toolu_01B"}},
]


def _records() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The SHAPES as example events and as manifest rows of the same examples."""
    events, rows = [], []
    for n, shape in enumerate(SHAPES):
        base = {"dataset": "mapped", "version": "v1"}
        event: dict[str, Any] = {"id": f"ex-mapped-{n}", "type": "example", **base}
        event["example"] = f"ex-{n}"
        row: dict[str, Any] = {"example_id": f"ex-{n}", **base}
        if "shard" in shape:
            event["shard"] = row["shard"] = shape["shard"]
        if "source" in shape:
            source = {"repo": "github.com/acme/widgets", "path": "src/widgets/api.py"}
            source |= shape["source"]
            event["source"] = row["source"] = source
        if "parents" in shape:
            event["parents"] = [base | {"example": f"ex-{p}"} for p in shape["parents"]]
            row["parents"] = [base | {"example_id": f"ex-{p}"} for p in shape["parents"]]
        if "from" in shape:
            event["from"] = shape["from"]
            row["source"] = dict(shape["from"])
        events.append(event)
        rows.append(row)
    return events, rows


def _graph(db: lineage.Database) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The nodes (key, kind, attributes, defined) and edges (src, dst, kind, span) that the
    examples of `mapped@v1` made, and everything they touch."""
    nodes = db.store.fetch_all(
        """
        SELECT key, kind, attrs, defined_seq IS NOT NULL FROM nodes
        WHERE key LIKE '%mapped%' OR id IN (
            SELECT e.src FROM edges e JOIN nodes x ON x.id = e.dst WHERE x.key LIKE '%mapped%')"""
    )
    edges = db.store.fetch_all(
        """
        SELECT s.key, d.key, e.kind, e.span_start, e.span_end, e.span_unit
        FROM edges e JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst
        WHERE s.key LIKE '%mapped%' OR d.key LIKE '%mapped%'"""
    )
    canonical = {(k, kind, json.dumps(json.loads(a), sort_keys=True), d) for k, kind, a, d in nodes}
    return canonical, set(edges)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """The example scenario's history (every record but its examples)."""
    kept = [
        line
        for line in (EXAMPLES / "events.ndjson").read_text().splitlines()
        if json.loads(line)["type"] != "example"
    ]
    path = tmp_path / "history.ndjson"
    path.write_text("\n".join(kept) + "\n")
    return path


def test_an_example_event_and_a_manifest_row_make_the_same_graph(
    tmp_path: Path, history: Path
) -> None:
    events, rows = _records()
    (tmp_path / "examples.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    graphs = []
    for source, path in (("events", "examples.ndjson"), ("manifest", "manifest.jsonl")):
        with lineage.open(":memory:") as db:
            db.ingest("events", history)
            report = db.ingest(source, tmp_path / path)
            assert (report.accepted, report.rejected) == (len(SHAPES), 0), report.rejections
            graphs.append(_graph(db))
    (event_nodes, event_edges), (row_nodes, row_edges) = graphs
    assert len(event_nodes) > len(SHAPES) and len(event_edges) > len(SHAPES)
    assert event_nodes - row_nodes == set() and row_nodes - event_nodes == set()
    assert event_edges - row_edges == set() and row_edges - event_edges == set()
