"""Benchmark: GraphQL `verdict`, `verdicts` and `gate` over a real socket, concurrent clients.

    python benchmarks/api_latency.py --examples 1000000 --clients 16

Builds the store of benchmarks/run.py through `lineage.open`, computes its taint at the head,
closes it, and starts `lineage serve` on it in a process of its own on a free loopback port
(as a deployment runs it: the clients do not share the server's interpreter). Then CLIENTS
threads send `verdict` queries (one random example each), `verdicts` queries (100 random
examples each) and `gate` queries. Prints `name: value` lines: p50 and p99 latency of each
query and its throughput (answers per second over the whole run of that query), beside the
issue's targets.
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import POLICY, generate_history, generate_manifest  # noqa: E402

import lineage  # noqa: E402

VERDICT = "query($e: String!) { verdict(example: $e) { status asOf } }"
VERDICTS = "query($e: [String!]!) { verdicts(examples: $e) { example status } }"
GATE = '{ gate(dataset: "bench@v1") { passed counts { examples tainted } } }'


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def build(tmpdir: Path, examples: int, rng: random.Random) -> Path:
    versions = generate_history(tmpdir / "h.ndjson", max(100, examples // 80), rng)
    generate_manifest(tmpdir / "m.parquet", versions, examples, np.random.default_rng(3))
    path = tmpdir / "api.duckdb"
    with lineage.open(path) as db:
        db.ingest("events", tmpdir / "h.ndjson")
        db.set_policy(POLICY)
        db.ingest("manifest", tmpdir / "m.parquet")
        db.as_of()  # the taint at the head, stored before the server starts
    return path


def serve(path: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lineage_cli = Path(sys.executable).with_name("lineage")
    server = subprocess.Popen(
        [str(lineage_cli), "--db", str(path), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "LINEAGE_TOKENS"},
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(f"{url}/healthz")
            return server, url
        except httpx.TransportError:
            if server.poll() is not None:
                raise SystemExit("lineage serve exited before it answered") from None
            time.sleep(0.05)


def run_clients(clients: int, asks: list[Callable[[], float]]) -> tuple[list[float], float]:
    """Each ask's latency (ms), and the wall time (s) of all of them on `clients` threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(lambda ask: ask(), asks))
    return latencies, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=800, help="verdict requests in all")
    args = parser.parse_args()
    rng = random.Random(3)
    local = threading.local()

    def post(url: str, query: str, variables: dict[str, Any]) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
        start = time.perf_counter()
        r = local.client.post(f"{url}/graphql", json={"query": query, "variables": variables})
        assert r.status_code == 200 and "errors" not in r.json(), r.text
        return (time.perf_counter() - start) * 1000

    def name() -> str:
        return f"bench@v1:ex-{rng.randrange(args.examples)}"

    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp), args.examples, rng)
        server, url = serve(path)
        try:
            one = [name() for _ in range(args.requests)]
            many = [[name() for _ in range(100)] for _ in range(max(16, args.requests // 20))]

            def verdict(n: str) -> Callable[[], float]:
                return lambda: post(url, VERDICT, {"e": n})

            def verdicts(ns: list[str]) -> Callable[[], float]:
                return lambda: post(url, VERDICTS, {"e": ns})

            run_clients(args.clients, [verdict(n) for n in one[:32]])  # warm up
            verdict_ms, verdict_s = run_clients(args.clients, [verdict(n) for n in one])
            many_ms, many_s = run_clients(args.clients, [verdicts(ns) for ns in many])
            gate_asks = [lambda: post(url, GATE, {}) for _ in range(args.clients * 4)]
            gate_ms, gate_s = run_clients(args.clients, gate_asks)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"examples: {args.examples}")
    print(f"clients: {args.clients}")
    print(f"verdict_p50_ms: {statistics.median(verdict_ms):.1f}")
    print(f"verdict_p99_ms: {percentile(verdict_ms, 0.99):.1f}  (target <= 50 at 1M)")
    print(f"verdict_per_s: {len(verdict_ms) / verdict_s:.0f}  (target >= 500 at 1M)")
    print(f"verdicts100_p50_ms: {statistics.median(many_ms):.1f}")
    print(f"verdicts100_p99_ms: {percentile(many_ms, 0.99):.1f}")
    print(f"verdicts100_verdicts_per_s: {100 * len(many_ms) / many_s:.0f}")
    print(f"gate_p50_ms: {statistics.median(gate_ms):.1f}")
    print(f"gate_p99_ms: {percentile(gate_ms, 0.99):.1f}")
    print(f"gate_per_s: {len(gate_ms) / gate_s:.0f}")


if __name__ == "__main__":
    main()
