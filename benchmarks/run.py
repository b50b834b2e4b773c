"""Benchmark: a generated history and dataset, loaded through the real ingest path.

    python benchmarks/run.py --examples 1000000

Generates canonical events for a history (tool outputs, file versions chained per path with
line maps and attributed intervals; 1% of the outputs from a restricted tool), writes a
Parquet manifest of N examples with line spans over those versions plus a derived dataset
(parents), ingests both with the loaders, then propagates, gates and explains; appends 10,000
examples and propagates again; and computes the same tainted sets the way a user would
otherwise (networkx, a recursive CTE: benchmarks/peers.py), checking they agree. Prints one
`name: value` line per figure. Speedups compare propagate + gate (without witness paths,
which the peers do not compute) with each peer.
"""

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lineage import engine  # noqa: E402
from lineage.policy import parse_policy  # noqa: E402
from lineage.store import Store  # noqa: E402
from loaders import events, manifest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

POLICY = """
[[restrict]]
tool = "claude-code"
reason = "Anthropic terms: no training on Claude outputs"
"""
LINES = 200
VERSIONS = 4


def generate_history(path: Path, files: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """Write canonical events for `files` paths with VERSIONS versions each; return the
    (repo, path, blob) of every file version."""
    versions: list[tuple[str, str, str]] = []
    with path.open("w") as out:
        for f in range(files):
            repo = f"github.com/org{f % 50}/repo{f % 500}"
            file_path = f"src/pkg{f % 97}/mod{f}.py"
            parent = None
            for v in range(VERSIONS):
                blob = f"{f:08x}{v:08x}"
                out_id = f"out-{f}-{v}"
                tool = "claude-code" if rng.random() < 0.01 else "copilot"
                start = rng.randint(1, LINES - 20)
                out.write(json.dumps({"type": "output", "output": out_id, "tool": tool,
                                      "model": "m", "repo": repo, "path": file_path}) + "\n")
                event = {"type": "file_version", "repo": repo, "path": file_path, "blob": blob,
                         "line_count": LINES,
                         "attributions": [{"output": out_id, "lines": [start, start + 9]}]}
                if parent:
                    event["parents"] = [{"path": file_path, "blob": parent,
                                         "hunks": [[start, 10, start, 10]]}]
                out.write(json.dumps(event) + "\n")
                versions.append((repo, file_path, blob))
                parent = blob
    return versions


def generate_manifest(path: Path, versions: list[tuple[str, str, str]], n: int,
                      rng: random.Random) -> None:
    """A Parquet manifest of `n` examples, each a 20-line chunk of a random file version."""
    picks = [versions[rng.randrange(len(versions))] for _ in range(n)]
    starts = [rng.randint(1, LINES - 19) for _ in range(n)]
    source = pa.array([{"repo": r, "path": p, "blob": b, "lines": [s, s + 19]}
                       for (r, p, b), s in zip(picks, starts, strict=True)])
    pq.write_table(pa.table({
        "example_id": [f"ex-{i}" for i in range(n)],
        "dataset": ["bench"] * n, "version": ["v1"] * n,
        "shard": [f"shard-{i // 10_000:05d}" for i in range(n)],
        "source": source}), path)


def generate_increment(path: Path, versions: list[tuple[str, str, str]], n: int,
                       rng: random.Random) -> None:
    """`n` more examples in a new dataset version: `n` new chunked edges appended to the log."""
    picks = [versions[rng.randrange(len(versions))] for _ in range(n)]
    starts = [rng.randint(1, LINES - 19) for _ in range(n)]
    pq.write_table(pa.table({
        "example_id": [f"more-{i}" for i in range(n)], "dataset": ["bench"] * n,
        "version": ["v2"] * n,
        "source": pa.array([{"repo": r, "path": p, "blob": b, "lines": [s, s + 19]}
                            for (r, p, b), s in zip(picks, starts, strict=True)])}), path)


def generate_derived(path: Path, n: int, rng: random.Random) -> None:
    m = max(1, n // 10)
    parents = pa.array([[{"dataset": "bench", "version": "v1",
                          "example_id": f"ex-{rng.randrange(n)}"}] for _ in range(m)])
    pq.write_table(pa.table({"example_id": [f"dd-{i}" for i in range(m)],
                             "dataset": ["bench-dedup"] * m, "version": ["v1"] * m,
                             "parents": parents}), path)


def timed(fn):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    n = args.examples
    files = max(100, n // 80)
    figures: dict[str, str] = {"examples": str(n), "file_versions": str(files * VERSIONS)}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        versions = generate_history(tmpdir / "history.ndjson", files, rng)
        generate_manifest(tmpdir / "manifest.parquet", versions, n, rng)
        generate_derived(tmpdir / "derived.parquet", n, rng)
        store = Store(tmpdir / "bench.duckdb")
        history_s, _ = timed(lambda: [store.ingest(b) for b in
                                      events.load([tmpdir / "history.ndjson"])])
        store.set_policy(parse_policy(POLICY))
        read_s, batch = timed(lambda: manifest.read_manifest(tmpdir / "manifest.parquet"))
        write_s, rep = timed(lambda: store.ingest(batch))
        assert rep.accepted == n, rep.as_dict()
        for b in manifest.load([tmpdir / "derived.parquet"]):
            store.ingest(b)
        propagate_s, run = timed(lambda: engine.propagate_taint(store))
        gate_s, report = timed(lambda: engine.gate(store, run, "bench@v1", "precise"))
        sets_s, _ = timed(lambda: engine.gate(store, run, "bench@v1", "precise", max_paths=0))
        strict_s, strict = timed(lambda: engine.gate(store, run, "bench@v1", "strict"))
        out_s, _ = timed(lambda: engine.write_example_verdicts(
            store, run, "bench@v1", "precise", str(tmpdir / "verdicts.parquet")))
        ours = {mode: {r[0] for r in store.con.execute(
            "SELECT DISTINCT t.node FROM taint t JOIN nodes n ON n.id = t.node "
            "WHERE t.run = ? AND t.mode = ? AND n.kind = 'example' AND t.blocked_by IS NULL",
            [run.run, mode]).fetchall()} for mode in ("precise", "strict")}
        root_ids = peers.roots(store, run.run)
        networkx_s, by_networkx = timed(lambda: peers.networkx_tainted(store, root_ids))
        cte_s, by_cte = timed(lambda: peers.cte_tainted(store, root_ids))
        agree = by_networkx == by_cte == (ours["precise"], ours["strict"])
        generate_increment(tmpdir / "more.parquet", versions, 10_000, rng)
        for b in manifest.load([tmpdir / "more.parquet"]):
            store.ingest(b)
        incremental_s, _ = timed(lambda: engine.propagate_taint(store))
        samples = [t["example"] for t in report.tainted[:200]] or ["example:bench@v1:ex-0"]
        latencies = []
        for key in samples:
            start = time.perf_counter()
            engine.verdict(store, run, engine.resolve_example(store, key), "precise")
            latencies.append((time.perf_counter() - start) * 1000)
        store.close()
    ingest_s = read_s + write_s
    figures |= {
        "history_ingest_s": f"{history_s:.2f}",
        "manifest_read_s": f"{read_s:.2f}",
        "manifest_store_s": f"{write_s:.2f}",
        "ingest_s": f"{ingest_s:.2f}",
        "ingest_rows_per_s": f"{n / ingest_s:,.0f}",
        "propagate_s": f"{propagate_s:.2f}",
        "gate_s": f"{gate_s:.2f}",
        "gate_strict_s": f"{strict_s:.2f}",
        "gate_no_paths_s": f"{sets_s:.2f}",
        "gate_out_parquet_s": f"{out_s:.2f}",
        "tainted_precise": str(report.counts["tainted"]),
        "tainted_strict": str(strict.counts["tainted"]),
        "explain_p50_ms": f"{statistics.median(latencies):.1f}",
        "explain_p99_ms": f"{sorted(latencies)[int(len(latencies) * 0.99)]:.1f}",
        "incremental_10k_s": f"{incremental_s:.2f}",
        "peak_rss_mb": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
        "networkx_s": f"{networkx_s:.2f}",
        "recursive_cte_s": f"{cte_s:.2f}",
        "peers_agree": "yes" if agree else "NO",
        "speedup_vs_networkx": f"{networkx_s / (propagate_s + sets_s):.1f}",
        "speedup_vs_cte": f"{cte_s / (propagate_s + sets_s):.1f}",
    }
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
