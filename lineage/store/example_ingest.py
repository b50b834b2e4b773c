"""Examples ingested column-wise: the one mapping of an example to its events, nodes and
edges, for every source (millions of manifest rows, OpenLineage facet rows, `example` events),
as rows of `lineage.facts.EXAMPLE_COLUMNS` in a few set-based statements, never row by row in
Python.

Each row's file version is resolved once (snapshot, alias or the node named); rows naming a
path absent from an ingested commit's tree, or a span outside a file of known length, are
rejected with their row number; byte spans become the lines they touch where the file's line
ends are known, and later, when they become known (`map_late_byte_spans`). The store calls
these inside its ingest transaction.
"""

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lineage import eventlog, model
from lineage.facts import Rejection
from lineage.model import EdgeKind, NodeKind
from lineage.rows import one
from lineage.store import snapshots

if TYPE_CHECKING:
    import duckdb

    from lineage.store.ingest import Ingest, IngestReport

# Each alias's target (a file named at a commit -> the version it is).
ALIAS_TARGETS = "SELECT alias, min(target) AS target FROM aliases GROUP BY alias"


class ExamplesRejected(Exception):
    """Rows given seqs of their own turned out to be rejected (their seqs would leave holes
    in the log): the caller rolls back and plans the seqs again without `rows`."""

    def __init__(self, rows: set[int]) -> None:
        super().__init__(f"rows {sorted(rows)[:5]} rejected after their seqs were planned")
        self.rows = rows


def ingest_example_table(
    store: "Ingest",
    source: str,
    table: pa.Table,
    batch_no: int,
    report: "IngestReport",
    received_at: datetime,
    seqs: pa.Array | None = None,
) -> None:
    """Ingest rows of `facts.EXAMPLE_COLUMNS` set-based: one event per new row (skipping
    event ids already logged), their nodes and edges, all in SQL. A row whose line span
    lies outside a file version of known length is rejected with its row number.

    Rows get the seqs after the log's end in row order, or `seqs` when given (rows among
    other events of the same file, null for a row already logged or repeated); a rejected
    row that was given a seq raises ExamplesRejected."""
    con = store._con
    if seqs is not None:
        table = table.append_column("planned_seq", seqs)
    fv = model.file_version_key.sql("repo", "path", "blob")
    fc = model.file_at_commit_key.sql("repo", "path", "commit")
    store.register("_rows", table.append_column("pos", pa.array(range(table.num_rows), pa.int64())))
    file_key = f"CASE WHEN repo IS NULL THEN NULL WHEN blob IS NOT NULL THEN {fv} ELSE {fc} END"
    # Files named at a commit that did not change them (a snapshot) resolve through the
    # repository's trees when that commit was ingested.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _snap AS {
        snapshots.resolve_sql(
            "SELECT DISTINCT NULL::BIGINT AS id, repo, path, commit FROM _rows "
            "WHERE blob IS NULL AND commit IS NOT NULL AND repo IS NOT NULL"
        )
    }""")
    # Each row's file version, resolved once: by snapshot, by alias, or the node named, looked
    # up among file-version nodes only (zone maps skip the examples' row groups).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _target AS
        SELECT r.pos, coalesce(sn.target, al.target, n.id) AS target,
               coalesce(sn.complete AND sn.target IS NULL, false) AS absent
        FROM (SELECT *, {file_key} AS file FROM _rows) r
        LEFT JOIN (SELECT id, key FROM nodes WHERE kind = '{NodeKind.FILE_VERSION}') n
          ON n.key = r.file
        LEFT JOIN ({ALIAS_TARGETS}) al ON al.alias = n.id
        LEFT JOIN _snap sn ON r.blob IS NULL AND sn.repo = r.repo
          AND sn.path = r.path AND sn.commit = r.commit""")
    table, beyond = map_byte_spans(store, table)
    bad = (
        beyond
        + con.execute("""
        SELECT x.row, x.origin, x.payload,
               CASE WHEN x.absent THEN x.path || ' is not in the tree of commit '
                         || x.commit || ' of ' || x.repo || ' (that commit was ingested; '
                         || 'paths are relative to the repository root)'
                    ELSE 'lines ' || x.span_start || '-' || coalesce(x.span_end::VARCHAR, '')
                         || ' are outside ' || x.path || ', which has ' || x.lc || ' lines'
               END AS reason
        FROM (SELECT r.*, g.absent, t.lc
              FROM _rows r JOIN _target g USING (pos)
              LEFT JOIN (SELECT id, TRY_CAST(json_extract_string(attrs, '$.line_count')
                                             AS BIGINT) AS lc
                         FROM nodes WHERE id IN (SELECT DISTINCT target FROM _target)) t
                ON t.id = g.target) x
        WHERE x.absent OR (x.span_unit = 'line' AND x.lc IS NOT NULL
                           AND coalesce(x.span_end, x.span_start) > x.lc)
        ORDER BY x.row""").fetchall()
    )
    bad.sort(key=lambda row: row[0])
    if seqs is not None:
        planned = {r[0] for r in bad} & set(
            table.filter(pc.is_valid(table["planned_seq"]))["row"].to_pylist()
        )
        if planned:
            raise ExamplesRejected(planned)
    rejections = [
        Rejection(origin.rsplit(":", 1)[0], int(origin.rsplit(":", 1)[1]), reason, payload)
        for _, origin, payload, reason in bad
    ]
    outside = bad
    store.insert_rejections(source, rejections, received_at)
    report.rejected += len(rejections)
    report.rejections += rejections
    if seqs is not None:
        # Seqs planned among the file's other events (null: a row logged or repeated).
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _x AS
                        SELECT planned_seq AS seq, * EXCLUDE (pos, planned_seq),
                               {file_key} AS file
                        FROM _rows WHERE planned_seq IS NOT NULL""")
    else:
        _number_rows(con, store.log_end(), file_key, [r[0] for r in outside])
    con.unregister("_rows")
    accepted = one(con, "SELECT count(*) FROM _x")[0]
    report.accepted += accepted
    report.duplicate += table.num_rows - accepted - len(outside)
    con.execute(
        f"""
        INSERT INTO events
        SELECT seq, event_id, ?, source, type, occurred_us, origin, payload,
               {eventlog.EVENT_HASH_SQL[store.hash_scheme]}
        FROM (SELECT seq, event_id, ? AS source, 'example' AS type,
                     occurred_us, origin, payload FROM _x)""",
        [batch_no, source],
    )
    dv = model.dataset_version_key.sql("dataset", "version")
    shard = model.shard_key.sql("dataset", "version", "shard")
    example = model.example_key.sql("dataset", "version", "example")
    parent = model.example_key.sql("p.dataset", "p.version", "p.example")
    origin = (
        f"CASE from_kind WHEN 'output' THEN {model.output_key.sql('from_name')} "
        f"ELSE {model.session_key.sql('from_name')} END"
    )
    # An example's attributes: no key for what it lacks.
    ex_attrs = """CASE
        WHEN shard IS NULL AND repo IS NULL
          THEN json_object('dataset', dataset, 'example', example, 'version', version)
        WHEN shard IS NULL
          THEN json_object('dataset', dataset, 'example', example, 'path', path,
                           'repo', repo, 'version', version)
        WHEN repo IS NULL
          THEN json_object('dataset', dataset, 'example', example, 'shard', shard,
                           'version', version)
        ELSE json_object('dataset', dataset, 'example', example, 'path', path,
                         'repo', repo, 'shard', shard, 'version', version) END"""
    file_attrs = (
        "CASE WHEN blob IS NOT NULL THEN json_object('blob', blob, 'path', path, "
        "'repo', repo) ELSE json_object('commit', commit, 'path', path, "
        "'repo', repo) END"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _nf AS
        SELECT {dv} AS key, '{NodeKind.DATASET_VERSION}' AS kind,
               json_object('dataset', dataset, 'version', version)::VARCHAR AS attrs,
               true AS defines, min(seq) AS seq, min(seq) * 1000 AS ord
        FROM _x GROUP BY dataset, version
        UNION ALL
        SELECT {shard}, '{NodeKind.SHARD}', json_object('dataset', dataset, 'shard', shard,
               'version', version)::VARCHAR, true, min(seq), min(seq) * 1000 + 1
        FROM _x WHERE shard IS NOT NULL GROUP BY dataset, version, shard
        UNION ALL
        SELECT {example}, '{NodeKind.EXAMPLE}', {ex_attrs}::VARCHAR, true, seq,
               seq * 1000 + 2 FROM _x
        UNION ALL
        SELECT file, '{NodeKind.FILE_VERSION}', {file_attrs}::VARCHAR, false, min(seq),
               min(seq) * 1000 + 3
        FROM _x WHERE file IS NOT NULL GROUP BY file, repo, path, blob, commit
        UNION ALL
        SELECT {origin}, from_kind, json_object(from_kind, from_name)::VARCHAR, false,
               min(seq), min(seq) * 1000 + 3
        FROM _x WHERE from_kind IS NOT NULL GROUP BY from_kind, from_name
        UNION ALL
        SELECT {parent}, '{NodeKind.EXAMPLE}', json_object('dataset', p.dataset,
               'example', p.example, 'version', p.version)::VARCHAR, false, seq,
               seq * 1000 + 3 + i
        FROM (SELECT seq, unnest(parents) AS p, generate_subscripts(parents, 1) AS i
              FROM _x WHERE parents IS NOT NULL)""")
    store.merge_nodes("_nf")
    # The batch's shards known before it (perhaps members already): the edges are read by
    # their few ids, never joined whole with the nodes.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _shards AS
        SELECT id, key FROM _node_ids WHERE NOT new
          AND key IN (SELECT DISTINCT {shard} FROM _x WHERE shard IS NOT NULL)""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ef AS
        SELECT {example} AS src, CASE WHEN shard IS NULL THEN {dv} ELSE {shard} END AS dst,
               '{EdgeKind.MEMBER}' AS kind, seq, NULL::BIGINT AS span_start,
               NULL::BIGINT AS span_end, NULL AS span_unit, NULL AS line_map FROM _x
        UNION ALL
        SELECT s.src, s.dst, '{EdgeKind.MEMBER}', s.seq, NULL, NULL, NULL, NULL
        FROM (SELECT {shard} AS src, {dv} AS dst, min(seq) AS seq FROM _x
              WHERE shard IS NOT NULL GROUP BY ALL) s
        WHERE s.src NOT IN (SELECT a.key FROM _shards a JOIN edges e ON e.src = a.id
                            WHERE e.kind = '{EdgeKind.MEMBER}')
        UNION ALL
        SELECT file, {example}, '{EdgeKind.CHUNKED}', seq, span_start, span_end, span_unit,
               NULL FROM _x WHERE file IS NOT NULL
        UNION ALL
        SELECT {origin}, {example}, '{EdgeKind.TRANSCRIBED}', seq, NULL, NULL, NULL, NULL
        FROM _x WHERE from_kind IS NOT NULL
        UNION ALL
        SELECT {parent}, {model.example_key.sql("dataset", "version", "example")},
               '{EdgeKind.DERIVED}', seq, NULL, NULL, NULL, NULL
        FROM (SELECT seq, dataset, version, example, unnest(parents) AS p
              FROM _x WHERE parents IS NOT NULL)""")
    store.merge_edges("_ef", ids="_node_ids")
    con.execute(f"""
        INSERT INTO aliases
        SELECT n.id, any_value(sn.target), min(x.seq)
        FROM _x x JOIN _snap sn ON x.blob IS NULL AND sn.repo = x.repo
          AND sn.path = x.path AND sn.commit = x.commit
        JOIN nodes n ON n.key = x.file
        WHERE sn.target IS NOT NULL AND n.kind = '{NodeKind.FILE_VERSION}'
          AND NOT EXISTS (SELECT 1 FROM aliases a WHERE a.alias = n.id)
        GROUP BY n.id""")
    for name in ("_x", "_nf", "_ef", "_shards", "_snap", "_target", "_node_ids"):
        con.execute(f"DROP TABLE {name}")


def map_byte_spans(
    store: "Ingest", table: pa.Table
) -> tuple[pa.Table, list[tuple[int, str, str, str]]]:
    """Byte spans of rows whose file version's line ends are known become the line spans
    they touch (`_rows` is registered again with them); a span past the file's end is
    returned as (row, origin, payload, reason). A byte span of a version whose content
    is unknown stays a byte span: the whole file, failing closed."""
    con = store._con
    found = con.execute("""
        SELECT r.pos, g.target, r.span_start, coalesce(r.span_end, -1) AS span_end
        FROM _rows r JOIN _target g USING (pos)
        WHERE r.span_unit = 'byte' AND g.target IN (SELECT file_version FROM line_ends)
        ORDER BY g.target""").fetchnumpy()
    if not len(found["pos"]):
        return table, []
    targets = np.asarray(found["target"], dtype=np.int64)
    pos = np.asarray(found["pos"], dtype=np.int64)
    start = np.asarray(found["span_start"], dtype=np.int64)
    end = np.asarray(found["span_end"], dtype=np.int64)
    first, last, length = lines_of_bytes(store, targets, start, end)
    stop = np.where(end < 0, length, end)
    outside = stop > length
    beyond = []
    if outside.any():
        origins = table["origin"].take(pa.array(pos[outside])).to_pylist()
        payloads = table["payload"].take(pa.array(pos[outside])).to_pylist()
        paths = table["path"].take(pa.array(pos[outside])).to_pylist()
        rows = table["row"].take(pa.array(pos[outside])).to_pylist()
        beyond = [
            (
                row,
                origin,
                payload,
                f"bytes [{a}, {b}) are outside {path}, which has "
                f"{n} bytes (byte spans are 0-based, end exclusive)",
            )
            for row, origin, payload, path, a, b, n in zip(
                rows,
                origins,
                payloads,
                paths,
                start[outside],
                stop[outside],
                length[outside],
                strict=True,
            )
        ]
    keep = ~outside

    def filled(name: str) -> tuple[np.ndarray, np.ndarray]:
        column = table[name].combine_chunks()
        return (
            pc.fill_null(column, -1).to_numpy(zero_copy_only=False).copy(),
            column.is_null().to_numpy(zero_copy_only=False).copy(),
        )

    new_start, start_null = filled("span_start")
    new_end, end_null = filled("span_end")
    units = np.asarray(table["span_unit"].to_pylist(), dtype=object)
    new_start[pos[keep]] = first[keep]
    new_end[pos[keep]] = last[keep]
    start_null[pos[keep]] = end_null[pos[keep]] = False
    units[pos[keep]] = "line"
    starts = pa.array(new_start, pa.int64(), mask=start_null)
    ends_col = pa.array(new_end, pa.int64(), mask=end_null)
    for name, column in (
        ("span_start", starts),
        ("span_end", ends_col),
        ("span_unit", pa.array(list(units), pa.string())),
    ):
        table = table.set_column(table.schema.get_field_index(name), name, column)
    con.unregister("_rows")
    store.register("_rows", table.append_column("pos", pa.array(range(table.num_rows), pa.int64())))
    return table, beyond


def map_late_byte_spans(store: "Ingest", seq: int) -> None:
    """Byte spans of examples ingested before their file's content was seen: now that it
    is, record the lines they touch (the engine reads them as of `seq`)."""
    con = store._con
    found = con.execute(f"""
        SELECT e.src, e.dst, e.span_start, coalesce(e.span_end, -1) AS span_end,
               coalesce(al.target, e.src) AS target
        FROM edges e
        LEFT JOIN ({ALIAS_TARGETS}) al ON al.alias = e.src
        WHERE e.kind = 'chunked' AND e.span_unit = 'byte'
          AND coalesce(al.target, e.src) IN (SELECT file_version FROM line_ends)
          AND NOT EXISTS (SELECT 1 FROM byte_lines b WHERE b.src = e.src
                          AND b.dst = e.dst AND b.byte_start = e.span_start)
        ORDER BY target""").fetchnumpy()
    if not len(found["src"]):
        return
    first, last, _length = lines_of_bytes(
        store,
        np.asarray(found["target"], np.int64),
        np.asarray(found["span_start"], np.int64),
        np.asarray(found["span_end"], np.int64),
    )
    store.register(
        "_mapped",
        pa.table(
            {
                "src": np.asarray(found["src"], np.int64),
                "dst": np.asarray(found["dst"], np.int64),
                "byte_start": np.asarray(found["span_start"], np.int64),
                "line_start": first,
                "line_end": last,
            }
        ),
    )
    con.execute(
        "INSERT INTO byte_lines SELECT src, dst, byte_start, line_start, line_end, ? FROM _mapped",
        [seq],
    )
    con.unregister("_mapped")


def lines_of_bytes(
    store: "Ingest", targets: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first line, last line, file length) of byte spans [start, end) (end -1: to the
    end of the file) of file versions `targets`, which have line ends; a span past the
    end is clipped to the last line."""
    ends_of = {
        int(fv): np.frombuffer(blob, dtype="<u4").astype(np.int64)
        for fv, blob in store._con.execute(
            "SELECT file_version, ends FROM line_ends WHERE file_version IN "
            "(SELECT unnest(?::BIGINT[]))",
            [np.unique(targets).tolist()],
        ).fetchall()
    }
    first = np.zeros(len(targets), dtype=np.int64)
    last = np.zeros(len(targets), dtype=np.int64)
    length = np.zeros(len(targets), dtype=np.int64)
    for target in np.unique(targets):
        pick = targets == target
        ends = ends_of[int(target)]
        size = int(ends[-1]) if len(ends) else 0
        stop = np.minimum(np.where(end[pick] < 0, size, end[pick]), max(size, 1))
        first[pick] = np.minimum(
            np.searchsorted(ends, start[pick], side="right") + 1, max(len(ends), 1)
        )
        last[pick] = np.maximum(np.searchsorted(ends, stop - 1, side="right") + 1, first[pick])
        length[pick] = size
    return first, last, length


def _number_rows(
    con: "duckdb.DuckDBPyConnection", head: int, file_key: str, outside: list[int]
) -> None:
    """`_x`: the rows of `_rows` to log, with the seqs after `head` in row order, leaving
    out rows already logged, repeated or `outside` (rejected)."""
    known, repeated = one(
        con,
        """
        SELECT (SELECT count(*) FROM _rows r JOIN events e USING (event_id)),
               (SELECT count(*) - count(DISTINCT event_id) FROM _rows)""",
    )
    if not (known or repeated or outside):
        # The common case, a fresh manifest: seqs follow the table's row order.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _x AS
                        SELECT ? + pos AS seq, * EXCLUDE (pos), {file_key} AS file
                        FROM _rows""",
            [head + 1],
        )
    else:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _x AS
            SELECT ? + row_number() OVER (ORDER BY row) AS seq, * EXCLUDE (pos),
                   {file_key} AS file
            FROM (SELECT * FROM _rows r
                  WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.event_id)
                    AND row NOT IN (SELECT unnest(?::BIGINT[]))
                  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY row) = 1)""",
            [head, outside],
        )
