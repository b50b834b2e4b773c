"""The floors lineage's figures are printed beside: what DuckDB alone takes for the same
data without lineage's model (no log, no hash chain, no graph), measured in the same run.

- `copy_floor`: a DuckDB `COPY` of the manifest into a plain table of a fresh database file,
  committed (the floor of a manifest ingest);
- `span_join_floor`: a bare DuckDB scan of the manifest joined with the restricted outputs'
  line intervals on (repo, path, blob) and overlapping lines (the floor of a gate): the
  examples a restricted output wrote into directly. Its count is comparable with the gate's
  precise count for a dataset whose examples are all chunks of file versions.
- `process_join_floor`: the same join as a command runs it, in a Python process of its own
  that imports DuckDB and opens a database file (the floor of `lineage gate` at a prompt).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from lineage import engine
from lineage.store import Store


def copy_floor(manifest: Path, database: Path, memory_limit: str) -> float:
    """Seconds for DuckDB to COPY `manifest` (Parquet) into a plain table of a new database
    file at `database`, with the store's memory limit."""
    con = duckdb.connect(str(database))
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        start = time.perf_counter()
        con.execute(f"CREATE TABLE manifest AS SELECT * FROM read_parquet('{manifest}') LIMIT 0")
        con.execute(f"COPY manifest FROM '{manifest}' (FORMAT parquet)")
        con.execute("CHECKPOINT")
        return time.perf_counter() - start
    finally:
        con.close()


def restricted_intervals(store: Store, run: int) -> pa.Table:
    """(repo, path, blob, line_start, line_end) of every line interval the restricted outputs
    of `run` wrote, read out of the store."""
    rows = store.fetch_all(
        f"""
        SELECT json_extract_string(f.attrs, '$.repo') AS repo,
               json_extract_string(f.attrs, '$.path') AS path,
               json_extract_string(f.attrs, '$.blob') AS blob,
               a.line_start, coalesce(a.line_end, 2147483647) AS line_end
        FROM attributions a JOIN nodes f ON f.id = a.file_version
        WHERE a.output IN (SELECT DISTINCT node FROM taint
                           WHERE run {engine.PARTS_OF}
                           AND mode = 'strict'
                           AND depth = 0 AND blocked_by IS NULL)""",
        [run],
    )
    schema = pa.schema(
        [(name, pa.string()) for name in ("repo", "path", "blob")]
        + [(name, pa.int64()) for name in ("line_start", "line_end")]
    )
    return pa.table(
        {field.name: [r[i] for r in rows] for i, field in enumerate(schema)}, schema=schema
    )


def _join_sql(manifest: Path) -> str:
    return f"""
        SELECT count(DISTINCT m.example_id)
        FROM read_parquet('{manifest}') m JOIN i
          ON i.repo = m.source.repo AND i.path = m.source.path AND i.blob = m.source.blob
         AND m.source.lines[1] <= i.line_end AND m.source.lines[2] >= i.line_start"""


def span_join_floor(intervals: pa.Table, manifest: Path) -> tuple[float, int]:
    """(seconds, examples) of a bare DuckDB scan-and-join of `manifest` (rows with a
    `source` struct of repo, path, blob and [first, last] lines) with the line intervals of
    the restricted outputs (`restricted_intervals`, read out of the store beforehand)."""
    con = duckdb.connect()
    try:
        con.register("intervals", intervals)
        con.execute("CREATE TABLE i AS SELECT * FROM intervals")
        start = time.perf_counter()
        (tainted,) = con.execute(_join_sql(manifest)).fetchone() or (0,)
        return time.perf_counter() - start, int(tainted)
    finally:
        con.close()


def process_join_floor(intervals: pa.Table, manifest: Path, database: Path) -> float:
    """Seconds of `span_join_floor`'s join in a Python process of its own, from its start to
    its exit: it imports DuckDB, opens `database` (written beforehand with the intervals)
    read-only and prints the count."""
    con = duckdb.connect(str(database))
    try:
        con.register("intervals", intervals)
        con.execute("CREATE TABLE i AS SELECT * FROM intervals")
    finally:
        con.close()
    code = (
        "import sys, duckdb\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        f"print(con.execute({_join_sql(manifest)!r}).fetchone()[0])\n"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, str(database)], check=True, capture_output=True, env=cli_env()
    )
    return time.perf_counter() - start


def cli_env() -> dict[str, str]:
    """The environment a command is timed in: as a user's, with compiled modules cached
    (a sandbox may set PYTHONDONTWRITEBYTECODE, and compiling lineage's sources at every
    start costs 0.2 s)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
