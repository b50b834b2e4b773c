"""Benchmark: a git history ingested through a running server (`lineage ingest --server URL git
CHECKOUT`: read here, sent as facts) next to the same ingest into a local store file (the
peer), both through the CLI, and whether the two stores hold the same rows.

    python benchmarks/server_git_ingest.py ~/src/some-checkout

The server is `lineage serve` in a process of its own over a real socket; the client shares
the machine's cores with it. Prints `name: value` lines; `same_rows: yes` when the nodes, events,
edges and attributions the two ingests wrote are the same rows, ids aside.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

TABLES = {  # table: its rows with the nodes they link named by key (ids are per store)
    "nodes": "SELECT key, kind, attrs, first_seq, defined_seq FROM nodes",
    "events": "SELECT seq, event_id, source, type, occurred_us, origin, payload FROM events",
    "edges": "SELECT s.key, d.key, e.kind, e.seq, e.span_start, e.span_end, e.span_unit, "
    "e.line_map FROM edges e JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst",
    "attributions": "SELECT f.key, o.key, a.line_start, a.line_end, a.evidence, a.seq, "
    "a.carried FROM attributions a JOIN nodes f ON f.id = a.file_version "
    "JOIN nodes o ON o.id = a.output",
}


def digest(path: Path) -> dict[str, tuple[int, int]]:
    """(rows, order-free hash of the compared columns) per table."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            table: con.execute(
                f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM ({query}) t"
            ).fetchone()
            for table, query in TABLES.items()
        }
    finally:
        con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lineage(*args: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lineage.cli", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", help="a local git repository")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lineage-bench-") as tmp:
        local, served = Path(tmp) / "local.duckdb", Path(tmp) / "served.duckdb"
        local_s = lineage("--db", str(local), "ingest", "git", args.checkout)
        port = free_port()
        env = os.environ | {"LINEAGE_TOKENS": "ingester:bench-ingest-token"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lineage.cli",
                "--db",
                str(served),
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            sent = [
                "ingest",
                "git",
                args.checkout,
                "--server",
                url,
                "--token",
                "bench-ingest-token",
            ]
            served_s = lineage(*sent)
            again_s = lineage(*sent)
        finally:
            server.terminate()
            server.wait(timeout=60)
        mine, peer = digest(served), digest(local)
        print(f"local_ingest_s: {local_s:.1f}")
        print(f"server_ingest_s: {served_s:.1f} ({served_s / local_s:.2f}x the local ingest)")
        print(f"server_ingest_again_s: {again_s:.1f} (nothing new to send)")
        for table, (rows, _) in peer.items():
            print(f"{table}_rows: {rows}")
        print(f"same_rows: {'yes' if mine == peer else 'NO: ' + repr((mine, peer))}")


if __name__ == "__main__":
    main()
