"""A real ingest killed mid-batch leaves a store that opens, verifies, and after the same
ingest is run again equals a store that never saw the crash, table by table."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.conftest import EXAMPLES

FILES, ROWS = 4, 10_000


def _manifests(directory: Path) -> Path:
    directory.mkdir()
    for f in range(FILES):
        rows = (
            json.dumps(
                {
                    "example_id": f"f{f}-{i}",
                    "dataset": "big",
                    "version": "v1",
                    "source": {
                        "repo": "github.com/acme/widgets",
                        "commit": "c" * 40,
                        "path": f"src/m{i % 97}.py",
                        "lines": [1, 1 + i % 50],
                    },
                }
            )
            for i in range(ROWS)
        )
        (directory / f"part-{f}.jsonl").write_text("\n".join(rows) + "\n")
    return directory


def _lineage(db: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lineage.cli", "--db", str(db), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ingest_all(db: Path, manifests: Path) -> None:
    for argv in (
        ["ingest", "events", str(EXAMPLES / "events.ndjson")],
        ["ingest", "manifest", str(manifests)],
    ):
        process = _lineage(db, *argv)
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err


def _tables(db: Path) -> dict[str, list[tuple]]:
    """Every table's rows, without what depends on the wall clock (receive times, and the
    batch hashes that include them)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
            columns = [
                c
                for c, kind in con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?",
                    [table],
                ).fetchall()
                if not kind.startswith("TIMESTAMP")
                and not (table == "batches" and c in ("hash", "prev_hash"))
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            out[table] = con.execute(f'SELECT {listed} FROM "{table}" ORDER BY ALL').fetchall()
        return out
    finally:
        con.close()


def test_an_ingest_killed_mid_batch_then_rerun_equals_a_clean_store(tmp_path: Path) -> None:
    manifests = _manifests(tmp_path / "manifests")
    crashed, clean = tmp_path / "crashed.duckdb", tmp_path / "clean.duckdb"
    first = _lineage(crashed, "ingest", "events", str(EXAMPLES / "events.ndjson"))
    assert first.wait(timeout=120) == 0
    victim = _lineage(crashed, "ingest", "manifest", str(manifests))
    assert victim.stderr is not None
    line = victim.stderr.readline()  # the first file's batch is committed...
    assert "part-0.jsonl: 10000 accepted" in line, line
    victim.send_signal(signal.SIGKILL)  # ...and the second one is under way
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL

    check = _lineage(crashed, "verify")
    out, err = check.communicate(timeout=120)
    assert check.returncode == 0 and out.startswith("ok"), (out, err)
    _ingest_all(crashed, manifests)  # the re-run: the first file is already there
    _ingest_all(clean, manifests)
    assert _tables(crashed) == _tables(clean)
