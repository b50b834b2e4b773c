"""What propagation and the gate read, as of one point of the log, written as Parquet for an
engine beyond one machine (`lineage.spark`, `lineage gate --engine spark`).

The directory holds one folder per table (Parquet files; `nodes/` and `edges/` partitioned by
`kind=`, `members/` by `dataset_version=`, so a job that reads one kind of edge or one dataset
reads only its files) and `export.json`, which
says what the tables are as of: the seq and time, the policy version and hash in force, its
active waivers in policy order and the row count of each table.

==================  ===========================================================================
table               rows
==================  ===========================================================================
nodes/kind=K/       id, key, repo, defined (ingested by then, not only referenced), example
                    (the manifest id of an example)
edges/kind=K/       the derivation graph (`engine.DERIVATION_GRAPH_SQL`): src, dst, span_start,
                    span_end (-1: none, or to the end), span_unit (0 none, 1 line, 2 byte), seq
roots/              id, key, tool, model: the outputs and sessions the policy restricts
intervals/          file_version, output, line_start, line_end (-1: to the end): the lines
                    restricted outputs wrote, which decide a precise verdict
waived/             id, key: the nodes an active waiver names
dataset_versions/   id, dataset, version
members/dataset_version=V/
                    id, key, example, repo: the examples of a version or of one of its
                    shards (a gate reads only its version's files)
missing/            id, key, kind, attrs: nodes that derivation edges name but that were never
                    ingested (the roots of incomplete lineage)
repos/              repo: repositories with ingested file versions
commits/            repo, commit: commits read with their tree
==================  ===========================================================================

Example::

    summary = export_parquet(store, "lineage-export", as_of="2026-03-01")
    summary.rows["edges"], summary.policy_hash
"""

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from lineage import engine, propagation
from lineage.model import EdgeKind, NodeKind
from lineage.policy import Waiver
from lineage.store import PolicyVersion, Store

FORMAT = "lineage-export"
FORMAT_VERSION = 1
MANIFEST = "export.json"
TABLES = (
    "nodes",
    "edges",
    "roots",
    "intervals",
    "waived",
    "dataset_versions",
    "members",
    "missing",
    "repos",
    "commits",
)
PARTITIONED = {"nodes": "kind", "edges": "kind", "members": "dataset_version"}


class ExportError(engine.EngineError):
    """An export that cannot be written as asked (the directory is taken, unwritable...)."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: where, as of which seq and time, under which policy, how many
    rows per table."""

    directory: str
    as_of: int
    time: str
    policy_hash: str | None
    rows: dict[str, int]


def _kind_name(column: str) -> str:
    return f"list_extract({list(propagation.KINDS)!r}, {column} + 1)"


def _queries() -> dict[str, str]:
    """The SELECT of each table (parameter $s: the as-of seq); `roots`, `intervals` and
    `waived` read the registered id tables `_roots` and `_waived`, `edges` and `missing` the
    derivation graph computed once into `_graph`."""
    return {
        "nodes": """
            SELECT id, key, repo, defined_seq IS NOT NULL AND defined_seq <= $s AS defined,
                   CASE WHEN kind = 'example' THEN json_extract_string(attrs, '$.example') END
                       AS example, kind
            FROM nodes WHERE first_seq <= $s""",
        "edges": f"""
            SELECT src, dst, span_start, span_end, span_unit, seq, {_kind_name("kind")} AS kind
            FROM _graph""",
        "roots": """
            SELECT n.id, n.key, json_extract_string(n.attrs, '$.tool') AS tool,
                   json_extract_string(n.attrs, '$.model') AS model
            FROM nodes n JOIN _roots r ON r.id = n.id""",
        "intervals": """
            SELECT file_version, output, line_start, coalesce(line_end, -1) AS line_end
            FROM attributions WHERE seq <= $s AND output IN (SELECT id FROM _roots)""",
        "waived": "SELECT n.id, n.key FROM nodes n JOIN _waived w ON w.key = n.key",
        "dataset_versions": f"""
            SELECT id, json_extract_string(attrs, '$.dataset') AS dataset,
                   json_extract_string(attrs, '$.version') AS version
            FROM nodes WHERE kind = '{NodeKind.DATASET_VERSION}' AND defined_seq <= $s""",
        # As membership.members_sql, for every dataset version at once, with what a verdict
        # shows of each example (a gate then reads no other table of examples).
        "members": f"""
            WITH member AS (SELECT src, dst FROM edges
                            WHERE kind = '{EdgeKind.MEMBER}' AND seq <= $s),
            versions AS (SELECT id FROM nodes
                         WHERE kind = '{NodeKind.DATASET_VERSION}' AND defined_seq <= $s),
            direct AS (SELECT m.src AS id, m.dst AS dataset_version
                       FROM member m JOIN versions v ON v.id = m.dst
                       UNION
                       SELECT m.src, s.dst FROM member m
                       JOIN member s ON s.src = m.dst JOIN versions v ON v.id = s.dst)
            SELECT d.id, x.key, json_extract_string(x.attrs, '$.example') AS example, x.repo,
                   d.dataset_version
            FROM direct d JOIN nodes x ON x.id = d.id
            WHERE x.kind = '{NodeKind.EXAMPLE}' AND x.defined_seq <= $s""",
        "missing": """
            SELECT n.id, n.key, n.kind, n.attrs FROM nodes n
            WHERE (n.defined_seq IS NULL OR n.defined_seq > $s)
              AND n.id IN (SELECT src FROM _graph)""",
        "repos": f"""
            SELECT DISTINCT repo FROM nodes
            WHERE kind = '{NodeKind.FILE_VERSION}' AND repo IS NOT NULL
              AND defined_seq IS NOT NULL""",
        "commits": "SELECT DISTINCT repo, commit FROM commit_order",
    }


def export_parquet(
    store: Store, directory: str | os.PathLike[str], as_of: str | int | None = None
) -> ExportSummary:
    """Write the export of `store` as of `as_of` (a seq, an RFC 3339 time or date; None: the
    head) into `directory`, which must not exist or be empty. Written beside it first and
    renamed when complete, so a reader never sees half an export."""
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(
            f"export directory {target} is not empty: name a new directory (an export is "
            "never written over another)"
        )
    point = engine.resolve_as_of(store, as_of)
    policy = store.policy_at(point.seq)
    waivers = policy.policy.active_waivers(point.time) if policy else []
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
        rows = _write_tables(store, partial, point, policy, waivers)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "as_of": {"seq": point.seq, "time": point.time.isoformat()},
            "policy": {"version": policy.version, "hash": policy.hash} if policy else None,
            "waivers": [
                {"node": w.node, "reason": w.reason, "approver": w.approver, "expires": w.expires}
                for w in waivers
            ],
            "rows": rows,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            target.rmdir()
        partial.rename(target)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ExportError(f"export directory {target}: cannot write: {exc}") from exc
    return ExportSummary(
        str(target), point.seq, point.time.isoformat(), policy.hash if policy else None, rows
    )


def _write_tables(
    store: Store,
    directory: Path,
    point: engine.AsOf,
    policy: PolicyVersion | None,
    waivers: list[Waiver],
) -> dict[str, int]:
    roots = engine.restricted_roots(store, point.seq, policy.policy if policy else None)
    store.register("_roots", pa.table({"id": roots}))
    store.register("_waived", pa.table({"key": pa.array([w.node for w in waivers], pa.string())}))
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE _graph AS {engine.DERIVATION_GRAPH_SQL}", {"s": point.seq}
    )
    rows: dict[str, int] = {}
    try:
        for table, select in _queries().items():
            out = directory / table
            if table in PARTITIONED:
                path, options = out, f", PARTITION_BY ({PARTITIONED[table]})"
            else:
                out.mkdir()
                path, options = out / "part-0.parquet", ""
            quoted = str(path).replace("'", "''")
            rows[table] = store.fetch_one(
                f"COPY ({select}) TO '{quoted}' (FORMAT parquet{options})",
                {"s": point.seq} if "$s" in select else None,
            )[0]
            out.mkdir(exist_ok=True)  # an empty partitioned table writes no folder
    finally:
        store.execute("DROP TABLE IF EXISTS _graph")
        store.unregister("_roots")
        store.unregister("_waived")
    return rows


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The `export.json` of an export directory; ExportError when it is not one."""
    path = Path(directory) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise not_an_export(str(directory)) from exc
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc}") from exc
    return parse_manifest(text, str(path))


def not_an_export(directory: str) -> ExportError:
    return ExportError(
        f"{directory} is not a lineage export (no {MANIFEST}): write one with "
        "`lineage export parquet DIR`"
    )


def parse_manifest(text: str, where: str) -> dict[str, Any]:
    """The manifest in `text` (read from `where`), checked to be one this version reads."""
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise ExportError(f"{where}: not JSON: {exc}") from exc
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or manifest.get("format_version") != FORMAT_VERSION
    ):
        raise ExportError(
            f"{where}: not a {FORMAT} version {FORMAT_VERSION} export; write it again with "
            "this version of lineage"
        )
    return manifest
