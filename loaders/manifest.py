"""Loader `manifest`: dataset-build manifests, one row per training example (JSONL or Parquet).

The schema is schema/manifest.schema.json. Each row names its example (`example_id`,
`dataset`, `version`, optional `shard`) and exactly one source:

- ``source: {repo, commit|blob, path, lines: [a, b] | bytes: [a, b]}`` (lines 1-based and
  inclusive, bytes 0-based with the end exclusive: ``content[a:b]``; no range: whole file);
- ``source: {swhid: "swh:1:cnt:<blob>;origin=...;anchor=swh:1:rev:<commit>;path=/p;lines=9-15"}``;
- The Stack columns ``blob_id``, ``repo_name``, ``path``, ``revision_id`` (the whole file);
- ``parents: [{dataset, version, example_id}, ...]`` (a dedup, filter, mix or packing step);
- ``source: {session: ID}`` or ``source: {output: ID}`` (made directly from agent records).

Manifests hold millions of rows, so rows are never handled one by one in Python: DuckDB reads
the file (Parquet directly) into an in-memory table of its own and normalizes it column-wise
into `lineage.facts.EXAMPLE_COLUMNS`; the store ingests that set-based. This SQL only ever
reads the input file; the store's tables are written by the store alone.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lineage.facts import EXAMPLE_COLUMNS, Batch, Rejection
from lineage.loaders.fields import MAX_LINE
from lineage.loaders.files import InputError, expand_paths, read_lines
from lineage.repos import normalize_remote

SOURCE = "manifest"
SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet")

_SWHID = r"^swh:1:cnt:[0-9a-f]{40}(;[a-z_]+=[^;]*)*$"
_SHA = r"^[0-9a-f]{4,64}$"
_SOURCE_FORMS = (
    "`source` {repo, commit|blob, path}, `source.swhid`, `source.session`, "
    "`source.output`, `parents`, or The Stack columns `blob_id`, `repo_name`, "
    "`path`"
)


BATCH_ROWS = 500_000  # rows normalized and ingested at a time: a manifest of any size fits


def load(paths: Iterable[str | Path]) -> Iterator[Batch]:
    """One batch per manifest file, or per BATCH_ROWS rows of a longer one."""
    for path in expand_paths(paths, SUFFIXES):
        yield from read_manifest(path)


def read_manifest(path: Path) -> Iterator[Batch]:
    """The rows of one manifest, BATCH_ROWS at a time: accepted rows as an example table, the
    others rejected with their row number (the line number in JSONL) and reason."""
    chunks = _parquet_chunks(path) if path.suffix == ".parquet" else _jsonl_chunks(path)
    for chunk in chunks:
        yield _normalize(chunk, path)


def read_rows(groups: list[tuple[str, list[Any]]]) -> Batch:
    """Manifest rows given as parsed JSON values (the facets of OpenLineage events, an API
    body), as (origin, rows) groups: each group's rows are numbered from 1 under its origin,
    and all of them are normalized at once."""
    files: list[str | None] = [origin for origin, rows in groups for _ in rows]
    numbers = [n for _, rows in groups for n in range(1, len(rows) + 1)]
    raws = [json.dumps(v, ensure_ascii=False) for _, rows in groups for v in rows]
    return _normalize(_rows_in(numbers, raws, files=files), Path(groups[0][0] if groups else ""))


def _normalize(rows_in: pa.Table, path: Path) -> Batch:
    """One Batch from a rows_in table, normalized by _NORMALIZE_SQL in a DuckDB of its own."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # never on our stdout
    try:
        con.register("_rows_in", rows_in)
        con.execute("CREATE TABLE rows_in AS SELECT * FROM _rows_in")
        con.unregister("_rows_in")
        con.execute(_NORMALIZE_SQL)
        return _batch(con, path)
    finally:
        con.close()


def _rows_in(
    numbers: Iterable[int],
    raws: list[str],
    truncated: int = -1,
    files: list[str | None] | None = None,
    bad: list[str | None] | None = None,
) -> pa.Table:
    """rows_in(row, raw, truncated, file, bad): raw rows as JSON text with their numbers, the
    origin of each when rows come from several places, and the reason a row was unreadable
    before it reached SQL (not UTF-8, too long)."""
    numbers = list(numbers)
    return pa.table(
        {
            "row": pa.array(numbers, pa.int64()),
            "raw": pa.array(raws, pa.string()),
            "truncated": pa.array([n == truncated for n in numbers], pa.bool_()),
            "file": pa.array(files or [None] * len(numbers), pa.string()),
            "bad": pa.array(bad or [None] * len(numbers), pa.string()),
        }
    )


def _parquet_chunks(path: Path) -> Iterator[pa.Table]:
    """rows_in tables of BATCH_ROWS rows each, read by pyarrow a few row groups at a time;
    each row becomes the JSON text of its columns (the event payload)."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        first = 1
        for part in parquet.iter_batches(batch_size=BATCH_ROWS):
            con.register("_part", pa.Table.from_batches([part]))
            raw = con.sql(
                "SELECT to_json(struct_pack(*COLUMNS(*)))::VARCHAR AS raw FROM _part"
            ).to_arrow_table()["raw"]
            con.unregister("_part")
            yield pa.table(
                {
                    "row": pa.array(range(first, first + len(raw)), pa.int64()),
                    "raw": raw,
                    "truncated": pa.repeat(False, len(raw)),
                    "file": pa.nulls(len(raw), pa.string()),
                    "bad": pa.nulls(len(raw), pa.string()),
                }
            )
            first += len(raw)
        if first == 1:
            yield _rows_in([], [])
    finally:
        con.close()


def _jsonl_chunks(path: Path) -> Iterator[pa.Table]:
    """rows_in tables of BATCH_ROWS non-blank lines each, streamed from the file."""
    numbers: list[int] = []
    raws: list[str] = []
    bad: list[str | None] = []
    last, parts = -1, 0
    for line in read_lines(path):
        if not line.complete:
            last = line.number
        numbers.append(line.number)
        raws.append(line.text if line.text is not None else line.raw or "")
        bad.append(line.reason)
        if len(numbers) == BATCH_ROWS:
            yield _rows_in(numbers, raws, last, bad=bad)
            numbers, raws, bad, parts = [], [], [], parts + 1
    if numbers or not parts:
        yield _rows_in(numbers, raws, last, bad=bad)


_STRING = "VARCHAR"
_ROW = json.dumps(
    {
        k: _STRING
        for k in (
            "dataset",
            "version",
            "example_id",
            "example",
            "shard",
            "blob_id",
            "repo_name",
            "path",
            "revision_id",
        )
    }
    | {"source": "JSON", "parents": "JSON"}
)
_SRC = json.dumps(
    {k: _STRING for k in ("swhid", "session", "output", "repo", "path", "commit", "blob")}
    | {"lines": "JSON", "bytes": "JSON"}
)

# rows_in(row, raw, truncated) -> rows(row, raw, error, and the EXAMPLE_COLUMNS fields).
_NORMALIZE_SQL = rf"""
CREATE TABLE rows AS
WITH parsed AS (
    SELECT row, raw, truncated, file, bad, valid,
           valid AND starts_with(ltrim(raw), '{{') AS is_object,
           CASE WHEN valid AND starts_with(ltrim(raw), '{{') THEN from_json(raw, '{_ROW}') END AS r
    FROM (SELECT *, json_valid(raw) AS valid FROM rows_in)
), fields AS (
    SELECT row, raw, truncated, file, bad, valid, is_object,
           r.dataset, r.version, coalesce(r.example_id, r.example) AS example, r.shard,
           r.source AS src, r.parents AS parents_j,
           r.blob_id AS stack_blob, r.repo_name AS stack_repo, r.path AS stack_path,
           r.revision_id AS stack_rev,
           CASE WHEN starts_with(r.source::VARCHAR, '{{') THEN from_json(r.source, '{_SRC}') END
             AS s
    FROM parsed
), forms AS (
    SELECT *,
           s.swhid, s.session AS from_session, s.output AS from_output,
           s.repo AS src_repo, s.path AS src_path, s.commit AS src_commit, s.blob AS src_blob,
           s.lines AS lines_j, s.bytes AS bytes_j,
           (src IS NOT NULL)::INT + (parents_j IS NOT NULL)::INT
             + (stack_blob IS NOT NULL OR stack_repo IS NOT NULL)::INT AS n_forms
    FROM fields
), source_forms AS (
    SELECT *,
           (swhid IS NOT NULL)::INT + (from_session IS NOT NULL)::INT
             + (from_output IS NOT NULL)::INT
             + (src_repo IS NOT NULL OR src_path IS NOT NULL)::INT AS n_source_forms,
           coalesce(lines_j, bytes_j) AS range_j,
           CASE WHEN lines_j IS NOT NULL THEN 'line' WHEN bytes_j IS NOT NULL THEN 'byte'
                END AS range_unit,
           try(from_json(parents_j, '[{{"dataset": "VARCHAR", "version": "VARCHAR",
                                       "example_id": "VARCHAR", "example": "VARCHAR"}}]'))
             AS parent_list,
           regexp_extract(swhid, '^swh:1:cnt:([0-9a-f]{{40}})', 1) AS swh_blob,
           regexp_extract(swhid, ';origin=([^;]+)', 1) AS swh_origin,
           regexp_extract(swhid, ';anchor=swh:1:rev:([0-9a-f]{{40}})', 1) AS swh_commit,
           url_decode(regexp_extract(swhid, ';path=([^;]+)', 1)) AS swh_path,
           regexp_extract(swhid, ';lines=([^;]*)', 1) AS swh_lines
    FROM forms
), spans AS (
    SELECT *,
           CASE WHEN swhid IS NOT NULL AND swh_lines <> ''
                THEN TRY_CAST(split_part(swh_lines, '-', 1) AS BIGINT)
                WHEN range_j IS NOT NULL THEN TRY_CAST(range_j->>'$[0]' AS BIGINT) END
             AS span_start,
           CASE WHEN swhid IS NOT NULL AND swh_lines <> ''
                THEN TRY_CAST(CASE WHEN contains(swh_lines, '-')
                                   THEN split_part(swh_lines, '-', 2)
                                   ELSE swh_lines END AS BIGINT)
                WHEN range_j IS NOT NULL THEN TRY_CAST(range_j->>'$[1]' AS BIGINT) END
             AS span_end,
           CASE WHEN swhid IS NOT NULL AND swh_lines <> '' THEN 'line' ELSE range_unit END
             AS span_unit
    FROM source_forms
)
SELECT row, raw, file,
  CASE
    WHEN bad IS NOT NULL THEN bad
    WHEN NOT valid AND truncated THEN 'truncated last line (the writer was interrupted)'
    WHEN NOT valid THEN 'not valid JSON'
    WHEN NOT is_object THEN 'a manifest row must be a JSON object'
    WHEN example IS NULL THEN 'missing `example_id`'
    WHEN dataset IS NULL THEN 'missing `dataset`'
    WHEN version IS NULL THEN 'missing `version`'
    WHEN n_forms = 0 THEN 'no source: give one of {_SOURCE_FORMS}'
    WHEN n_forms > 1 THEN 'more than one source form (`source`, `parents`, The Stack columns): '
                          || 'give exactly one'
    WHEN src IS NOT NULL AND s IS NULL THEN '`source` must be an object'
    WHEN src IS NOT NULL AND n_source_forms <> 1
      THEN '`source` needs exactly one of {{repo, path, commit|blob}}, swhid, session, output'
    WHEN swhid IS NOT NULL AND (NOT regexp_full_match(swhid, '{_SWHID}') OR swh_origin = ''
                                OR swh_path = '')
      THEN 'bad SWHID ' || swhid || ': expected swh:1:cnt:<40 hex>;origin=<url>;path=/<path>'
           || ' with optional ;anchor=swh:1:rev:<40 hex> and ;lines=N[-M]'
    WHEN swhid IS NOT NULL AND swh_lines <> ''
         AND NOT regexp_full_match(swh_lines, '[0-9]+(-[0-9]+)?')
      THEN 'bad SWHID lines qualifier ' || swh_lines || ': expected lines=N or lines=N-M'
    WHEN src_repo IS NOT NULL AND src_path IS NULL THEN '`source` needs `path`'
    WHEN src_path IS NOT NULL AND src_repo IS NULL THEN '`source` needs `repo`'
    WHEN src_path IS NOT NULL AND src_commit IS NULL AND src_blob IS NULL
      THEN '`source` needs `commit` or `blob` (which version of the file?)'
    WHEN src_commit IS NOT NULL AND NOT regexp_full_match(src_commit, '{_SHA}')
      THEN '`source.commit` is not a git object id: ' || src_commit
    WHEN src_blob IS NOT NULL AND NOT regexp_full_match(src_blob, '{_SHA}')
      THEN '`source.blob` is not a git object id: ' || src_blob
    WHEN lines_j IS NOT NULL AND bytes_j IS NOT NULL THEN 'give `lines` or `bytes`, not both'
    WHEN range_j IS NOT NULL AND (json_type(range_j) <> 'ARRAY'
                                  OR json_array_length(range_j) <> 2)
      THEN '`' || range_unit || 's` must be [first, last]'
    WHEN span_start IS NOT NULL OR span_end IS NOT NULL OR range_j IS NOT NULL THEN
      CASE WHEN span_start IS NULL OR span_end IS NULL
             THEN 'range must be two integers [first, last]'
           WHEN span_unit = 'byte' AND (span_start < 0 OR span_end <= span_start)
             THEN 'bad byte range [' || span_start || ', ' || span_end || '): bytes are 0-based '
                  || 'offsets with the end exclusive (content[start:end]): need 0 <= start < end'
           WHEN span_unit = 'line' AND span_end > {MAX_LINE}
             THEN 'line ' || span_end || ' is past the largest line number, {MAX_LINE}'
           WHEN span_unit = 'line' AND (span_start < 1 OR span_end < span_start)
             THEN 'bad range ' || span_start || '-' || span_end || ': need 1 <= first <= last'
      END
    WHEN parents_j IS NOT NULL AND (json_type(parents_j) <> 'ARRAY'
                                    OR json_array_length(parents_j) = 0
                                    OR parent_list IS NULL
                                    OR NOT list_bool_and(list_transform(parent_list, lambda p:
                                         p.dataset IS NOT NULL AND p.version IS NOT NULL
                                         AND coalesce(p.example_id, p.example) IS NOT NULL)))
      THEN '`parents` must be a non-empty list of {{dataset, version, example_id}}'
    WHEN (stack_blob IS NOT NULL OR stack_repo IS NOT NULL)
         AND (stack_blob IS NULL OR stack_repo IS NULL OR stack_path IS NULL)
      THEN 'The Stack rows need `blob_id`, `repo_name` and `path`'
    WHEN stack_blob IS NOT NULL AND NOT regexp_full_match(stack_blob, '{_SHA}')
      THEN '`blob_id` is not a git object id: ' || stack_blob
  END AS error,
  dataset, version, example, shard,
  coalesce(src_repo, swh_origin, CASE WHEN stack_repo IS NOT NULL
                                      THEN CASE WHEN regexp_full_match(stack_repo, '[^/.:]+/[^/]+')
                                                THEN 'github.com/' || stack_repo
                                                ELSE stack_repo END END) AS repo_raw,
  ltrim(replace(coalesce(src_path, swh_path, stack_path), '\', '/'), '/') AS path,
  coalesce(src_blob, nullif(swh_blob, ''), stack_blob) AS blob,
  coalesce(src_commit, nullif(swh_commit, ''), stack_rev) AS commit,
  span_start, span_end, span_unit,
  CASE WHEN parents_j IS NOT NULL THEN list_transform(parent_list, lambda p: {{
      'dataset': p.dataset, 'version': p.version,
      'example': coalesce(p.example_id, p.example)}}) END AS parents,
  CASE WHEN from_output IS NOT NULL THEN 'output'
       WHEN from_session IS NOT NULL THEN 'session' END AS from_kind,
  coalesce(from_output, from_session) AS from_name
FROM spans
"""


def _batch(con: duckdb.DuckDBPyConnection, path: Path) -> Batch:
    batch = Batch(SOURCE, input=str(path))
    for row, raw, error, file in con.execute(
        "SELECT row, raw, error, file FROM rows WHERE error IS NOT NULL ORDER BY row"
    ).fetchall():
        batch.rejections.append(Rejection(file or str(path), row, error, raw[:10_000]))
    columns = ", ".join(
        f"{f.name}::{_sql_type(f.type)} AS {f.name}"
        for f in EXAMPLE_COLUMNS
        if f.name not in _DERIVED
    )
    # `rows` keeps the file's order (DuckDB preserves insertion order), so no sort is needed.
    table = con.sql(
        f"""
        SELECT {columns}, repo_raw,
               'manifest:' || sha256(raw) AS event_id, coalesce(file, ?) || ':' || row AS origin,
               raw AS payload, NULL::BIGINT AS occurred_us
        FROM (SELECT *, NULL AS repo FROM rows WHERE error IS NULL)""",
        params=[str(path)],
    ).to_arrow_table()
    raw_repos = pc.unique(table["repo_raw"]).drop_null()
    spelled = pa.array([normalize_remote(r) for r in raw_repos.to_pylist()], pa.string())
    repo = pc.take(spelled, pc.index_in(table["repo_raw"], value_set=raw_repos))
    table = table.set_column(table.schema.get_field_index("repo"), "repo", repo)
    batch.examples = table.select(EXAMPLE_COLUMNS.names).cast(EXAMPLE_COLUMNS)
    return batch


_DERIVED = {"event_id", "origin", "payload", "occurred_us"}


def _sql_type(arrow_type: pa.DataType) -> str:
    if arrow_type == pa.int64():
        return "BIGINT"
    if arrow_type == pa.string():
        return "VARCHAR"
    return "STRUCT(dataset VARCHAR, version VARCHAR, example VARCHAR)[]"
