"""Benchmark: `verdict` and `gate` latency over HTTP with concurrent clients.

    python benchmarks/api_latency.py --examples 1000000 --clients 16

Builds the store of benchmarks/run.py, serves it with uvicorn on a free loopback port, warms
the taint run, then has CLIENTS threads send `verdict` queries (random examples) and `gate`
queries; prints p50/p99 per query as `name: value` lines.
"""

import argparse
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import POLICY, generate_history, generate_manifest  # noqa: E402

import lineage  # noqa: E402
from lineage.api.app import create_app  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=800, help="verdict requests in all")
    args = parser.parse_args()
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        versions = generate_history(tmpdir / "h.ndjson", max(100, args.examples // 80), rng)
        generate_manifest(tmpdir / "m.parquet", versions, args.examples, np.random.default_rng(3))
        db = lineage.open(tmpdir / "api.duckdb")
        db.ingest("events", tmpdir / "h.ndjson")
        db.set_policy(POLICY)
        db.ingest("manifest", tmpdir / "m.parquet")
        db.as_of()  # the taint at the head, computed before the clock starts
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        local = threading.local()

        def ask(query: str, variables: dict) -> float:
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=60)
            start = time.perf_counter()
            r = local.client.post(f"{url}/graphql", json={"query": query, "variables": variables})
            assert r.status_code == 200 and "errors" not in r.json(), r.text
            return (time.perf_counter() - start) * 1000

        verdict = "query($e: String!) { verdict(example: $e) { status asOf } }"
        gate = '{ gate(dataset: "bench@v1") { passed counts { examples tainted } } }'
        names = [f"bench@v1:ex-{rng.randrange(args.examples)}" for _ in range(args.requests)]
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(lambda n: ask(verdict, {"e": n}), names[:32]))  # warm up
            verdict_ms = list(pool.map(lambda n: ask(verdict, {"e": n}), names))
            gate_ms = list(pool.map(lambda _: ask(gate, {}), range(args.clients * 2)))
        server.should_exit = True
        db.close()
    print(f"examples: {args.examples}")
    print(f"clients: {args.clients}")
    print(f"verdict_p50_ms: {statistics.median(verdict_ms):.1f}")
    print(f"verdict_p99_ms: {percentile(verdict_ms, 0.99):.1f}")
    print(f"gate_p50_ms: {statistics.median(gate_ms):.0f}")
    print(f"gate_p99_ms: {percentile(gate_ms, 0.99):.0f}")


if __name__ == "__main__":
    main()
