"""Benchmark: a generated history and dataset, loaded through the real ingest path.

    python benchmarks/run.py --examples 1000000
    python benchmarks/run.py --examples 10000000 --no-peers
    python benchmarks/run.py --examples 1000000 --engine spark --no-peers

Generates canonical events for a history (tool outputs, file versions chained per path with
line maps and attributed intervals; 1% of the outputs from a restricted tool), writes a
Parquet manifest of N examples with line spans over those versions plus a derived dataset
(parents), ingests both with the loaders, then propagates, gates and explains (the first
explanation builds the run's in-memory evidence, `explain_cold_ms`; p50/p99 are the others);
ingests, propagates and gates a dataset of N examples named at a release commit (snapshot
names: repo, commit, path, resolved through the history's trees; `snapshot_*`);
appends 10,000 examples and propagates again (`incremental_10k_s`). Unless --no-peers, it then
computes the same tainted sets the way a user would otherwise (networkx, a recursive CTE:
benchmarks/peers.py) on that graph and checks they agree with the incremental run. Prints one
`name: value` line per figure. Speedups compare propagate + gate (without witness paths, which
the peers do not compute) with each peer. `peak_rss_mb` is taken before the peers run.

With --engine spark it exports the store as of the last run (`lineage export parquet`) and
gates `bench@v1` and `bench-snapshot@v1` in both modes on Spark in local mode (`spark_*`,
beside `duckdb_propagate_and_gate_s`), and checks that the Spark gate's reports and every
example's verdict are the store's (`spark_agrees`). `spark_levels` is how many levels each walk
took: on a cluster a level costs a join of its frontier with the edges, which stay partitioned
where they were read, so the time grows with the levels and the frontier, not the graph.
"""

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lineage import engine, membership  # noqa: E402
from lineage.bulk_load import bulk_ingest  # noqa: E402
from lineage.loaders import events, manifest  # noqa: E402
from lineage.model import DERIVATION  # noqa: E402
from lineage.policy import parse_policy  # noqa: E402
from lineage.store import IngestReport, Store  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import floors  # noqa: E402
import peers  # noqa: E402

POLICY = """
[[restrict]]
tool = "claude-code"
reason = "Anthropic terms: no training on Claude outputs"
"""
LINES = 200
VERSIONS = 4


def generate_history(path: Path, files: int, rng: random.Random) -> pa.Table:
    """Write canonical events for `files` paths with VERSIONS versions each; return the
    repo, path and blob of every file version."""
    versions: list[tuple[str, str, str]] = []
    with path.open("w") as out:
        # Each repo's history: one commit per version round, then a release commit that
        # changes nothing (a snapshot, as builds name files).
        for r in range(min(files, 500)):
            repo = f"github.com/org{r % 50}/repo{r}"
            for v in range(VERSIONS + 1):
                out.write(
                    json.dumps(
                        {
                            "type": "commit",
                            "repo": repo,
                            "commit": commit_sha(r, v),
                            "parents": [commit_sha(r, v - 1)] if v else [],
                        }
                    )
                    + "\n"
                )
        for f in range(files):
            repo = f"github.com/org{f % 50}/repo{f % 500}"
            file_path = f"src/pkg{f % 97}/mod{f}.py"
            parent = None
            for v in range(VERSIONS):
                blob = f"{f:08x}{v:08x}"
                out_id = f"out-{f}-{v}"
                tool = "claude-code" if rng.random() < 0.01 else "copilot"
                start = rng.randint(1, LINES - 20)
                out.write(
                    json.dumps(
                        {
                            "type": "output",
                            "output": out_id,
                            "tool": tool,
                            "model": "m",
                            "repo": repo,
                            "path": file_path,
                        }
                    )
                    + "\n"
                )
                event = {
                    "type": "file_version",
                    "repo": repo,
                    "path": file_path,
                    "blob": blob,
                    "commit": commit_sha(f % 500, v),
                    "line_count": LINES,
                    "attributions": [{"output": out_id, "lines": [start, start + 9]}],
                }
                if parent:
                    event["parents"] = [
                        {"path": file_path, "blob": parent, "hunks": [[start, 10, start, 10]]}
                    ]
                out.write(json.dumps(event) + "\n")
                versions.append((repo, file_path, blob))
                parent = blob
    return pa.table({c: [v[i] for v in versions] for i, c in enumerate(("repo", "path", "blob"))})


def commit_sha(repo: int, round_: int) -> str:
    """The commit of version round `round_` of repo number `repo` (VERSIONS: the release)."""
    return f"{repo:08x}{round_:08x}".ljust(40, "0")


CHUNK = 1_000_000  # rows generated and written at a time, so 10M examples fit in memory


def _line_spans(starts: np.ndarray, length: int) -> pa.ListArray:
    values = np.empty(2 * len(starts), dtype=np.int64)
    values[0::2], values[1::2] = starts, starts + length - 1
    return pa.ListArray.from_arrays(
        pa.array(np.arange(0, len(values) + 1, 2, dtype=np.int32)), pa.array(values)
    )


def _write_chunked(path: Path, n: int, chunk_of) -> None:  # noqa: ANN001
    """Write `n` rows made by `chunk_of(first, count)` a chunk at a time."""
    writer = None
    for first in range(0, n, CHUNK):
        table = chunk_of(first, min(CHUNK, n - first))
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def _sources(versions: pa.Table, count: int, rng: np.random.Generator) -> pa.StructArray:
    """`count` 20-line chunks of random file versions, as manifest `source` structs."""
    picked = versions.take(pa.array(rng.integers(0, len(versions), count)))
    return pa.StructArray.from_arrays(
        [
            picked["repo"].combine_chunks(),
            picked["path"].combine_chunks(),
            picked["blob"].combine_chunks(),
            _line_spans(rng.integers(1, LINES - 18, count), 20),
        ],
        names=["repo", "path", "blob", "lines"],
    )


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def generate_manifest(path: Path, versions: pa.Table, n: int, rng: np.random.Generator) -> None:
    """A Parquet manifest of `n` examples, each a 20-line chunk of a random file version."""

    def chunk(first: int, count: int) -> pa.Table:
        shards = pc.binary_join_element_wise(
            "shard-",
            pc.utf8_lpad(
                pa.array(np.arange(first, first + count) // 10_000).cast(pa.string()), 5, "0"
            ),
            "",
        )
        return pa.table(
            {
                "example_id": _ids("ex-", np.arange(first, first + count)),
                "dataset": pa.repeat("bench", count),
                "version": pa.repeat("v1", count),
                "shard": shards,
                "source": _sources(versions, count, rng),
            }
        )

    _write_chunked(path, n, chunk)


def generate_snapshot(path: Path, versions: pa.Table, n: int, rng: np.random.Generator) -> None:
    """`n` examples named the way a build names them: (repo, release commit, path), the
    commit a snapshot that changed none of the files."""

    def chunk(first: int, count: int) -> pa.Table:
        picked = versions.take(pa.array(rng.integers(0, len(versions), count)))
        repos = picked["repo"].combine_chunks()
        numbers = pc.cast(pc.replace_substring_regex(repos, r".*/repo", ""), pa.int64())
        commits = pa.array([commit_sha(int(x), VERSIONS) for x in numbers.to_numpy()])
        source = pa.StructArray.from_arrays(
            [
                repos,
                picked["path"].combine_chunks(),
                commits,
                _line_spans(rng.integers(1, LINES - 18, count), 20),
            ],
            names=["repo", "path", "commit", "lines"],
        )
        return pa.table(
            {
                "example_id": _ids("snap-", np.arange(first, first + count)),
                "dataset": pa.repeat("bench-snapshot", count),
                "version": pa.repeat("v1", count),
                "source": source,
            }
        )

    _write_chunked(path, n, chunk)


def generate_increment(path: Path, versions: pa.Table, n: int, rng: np.random.Generator) -> None:
    """`n` more examples in a new dataset version: `n` new chunked edges appended to the log."""
    pq.write_table(
        pa.table(
            {
                "example_id": _ids("more-", np.arange(n)),
                "dataset": pa.repeat("bench", n),
                "version": pa.repeat("v2", n),
                "source": _sources(versions, n, rng),
            }
        ),
        path,
    )


def generate_derived(path: Path, n: int, rng: np.random.Generator) -> None:
    """A deduplicated dataset of n/10 examples, each derived from one of the first dataset."""

    def chunk(first: int, count: int) -> pa.Table:
        parents = pa.StructArray.from_arrays(
            [
                pa.repeat("bench", count),
                pa.repeat("v1", count),
                _ids("ex-", rng.integers(0, n, count)),
            ],
            names=["dataset", "version", "example_id"],
        )
        return pa.table(
            {
                "example_id": _ids("dd-", np.arange(first, first + count)),
                "dataset": pa.repeat("bench-dedup", count),
                "version": pa.repeat("v1", count),
                "parents": pa.ListArray.from_arrays(
                    pa.array(np.arange(count + 1, dtype=np.int32)), parents
                ),
            }
        )

    _write_chunked(path, max(1, n // 10), chunk)


def timed(fn):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def timed_ingest(store: Store, batches) -> tuple[float, float, IngestReport]:  # noqa: ANN001
    """Ingest a loader's batches as `Database.ingest` does (the next batch read while this
    one is stored, then the dataset versions it grew counted); (seconds waiting for the
    loader, seconds storing, the summed report)."""
    write_s = 0.0
    total = IngestReport("benchmark")
    before = store.log_end()

    def store_batch(batch):  # noqa: ANN001, ANN202
        nonlocal write_s
        took, report = timed(lambda: store.ingest(batch))
        write_s += took
        return report

    start = time.perf_counter()
    with store.deferring_snapshots():
        for _, report in bulk_ingest([batches], store_batch):
            total.add(report)
        read_s = time.perf_counter() - start - write_s
        end = time.perf_counter()
    write_s += time.perf_counter() - end  # the snapshot index, rebuilt as the block ends
    engine.prepare(store)
    write_s += timed(lambda: membership.count_grown_versions(store, before))[0]
    return read_s, write_s, total


def rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def spark_figures(
    store: Store, run: engine.TaintRun, tmpdir: Path, driver_memory: str
) -> dict[str, str]:
    """Export the store and gate it on Spark in local mode; the same verdicts as the store's
    run for every example of each dataset gated, in both modes (`spark_agrees`)."""
    from lineage import export, spark

    export_s, summary = timed(
        lambda: export.export_parquet(store, tmpdir / "export", run.as_of.seq)
    )
    start_s, session = timed(lambda: spark.session(conf={"spark.driver.memory": driver_memory}))
    session.sparkContext.setLogLevel("ERROR")
    gate = spark.SparkGate(session, str(tmpdir / "export"))
    times: dict[str, float] = {}
    compared, disagreements = 0, []
    for dataset in ("bench@v1", "bench-snapshot@v1"):
        for mode in ("precise", "strict"):
            took, report = timed(lambda: gate.gate(dataset, mode))  # noqa: B023
            times[f"{dataset} {mode}"] = took
            theirs = engine.gate(store, run, dataset, mode, max_paths=0)
            if report.as_dict() != theirs.as_dict():
                disagreements.append(f"{dataset} {mode}: the reports differ")
            name = f"{dataset}-{mode}".replace("@", "-")
            took, _ = timed(
                lambda: gate.write_verdicts(dataset, str(tmpdir / f"{name}-spark.parquet"), mode)  # noqa: B023
            )
            times[f"{dataset} {mode} out"] = took
            engine.write_example_verdicts(
                store, run, dataset, mode, str(tmpdir / f"{name}-duckdb.parquet")
            )
            ours, duckdb_rows = (
                pq.read_table(tmpdir / f"{name}-{e}.parquet").sort_by("key")
                for e in ("spark", "duckdb")
            )
            differ = [
                column
                for column in duckdb_rows.column_names
                if ours[column].to_pylist() != duckdb_rows[column].to_pylist()
            ]
            if differ:
                disagreements.append(f"{dataset} {mode}: the verdicts differ in {differ}")
            compared += duckdb_rows.num_rows
    session.stop()
    return {
        "spark_master": "local[*]",
        "spark_export_s": f"{export_s:.2f}",
        "spark_export_rows": json.dumps(summary.rows),
        "spark_session_s": f"{start_s:.2f}",
        "spark_propagate_and_gate_s": f"{times['bench@v1 precise']:.2f}",
        "spark_gate_strict_s": f"{times['bench@v1 strict']:.2f}",
        "spark_gate_out_parquet_s": f"{times['bench@v1 precise out']:.2f}",
        "spark_snapshot_gate_s": f"{times['bench-snapshot@v1 precise']:.2f}",
        "spark_levels": json.dumps(gate.levels),
        "spark_verdicts_compared": str(compared),
        "spark_agrees": "yes" if not disagreements else "NO: " + "; ".join(disagreements),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-peers",
        action="store_true",
        help="skip networkx and the recursive CTE (networkx needs minutes and several GiB at 10M)",
    )
    parser.add_argument(
        "--memory-limit",
        default="2GB",
        help="the store's memory cap (lineage --memory-limit; default 2GB)",
    )
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="spark: also export the store and gate it on Spark (local[*]), with its figures "
        "beside DuckDB's and a check that every example gets the same verdict",
    )
    parser.add_argument(
        "--spark-driver-memory",
        default="8g",
        help="spark.driver.memory for --engine spark (local mode: the whole Spark heap)",
    )
    args = parser.parse_args()
    n = args.examples
    rng = np.random.default_rng(args.seed)
    files = max(100, n // 80)
    figures: dict[str, str] = {
        "examples": str(n),
        "file_versions": str(files * VERSIONS),
        "memory_limit": args.memory_limit,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        versions = generate_history(tmpdir / "history.ndjson", files, random.Random(args.seed))
        generate_manifest(tmpdir / "manifest.parquet", versions, n, rng)
        generate_derived(tmpdir / "derived.parquet", n, rng)
        generate_increment(tmpdir / "more.parquet", versions, 10_000, rng)
        generate_snapshot(tmpdir / "snapshot.parquet", versions, n, rng)
        store = Store(tmpdir / "bench.duckdb", memory_limit=args.memory_limit)
        history_s, _ = timed(
            lambda: [store.ingest(b) for b in events.load([tmpdir / "history.ndjson"])]
        )
        store.set_policy(parse_policy(POLICY))
        read_s, write_s, loaded = timed_ingest(
            store, manifest.read_manifest(tmpdir / "manifest.parquet")
        )
        assert loaded.accepted == n, loaded.accepted
        copy_s = floors.copy_floor(
            tmpdir / "manifest.parquet", tmpdir / "floor.duckdb", args.memory_limit
        )
        (tmpdir / "floor.duckdb").unlink()
        for b in manifest.load([tmpdir / "derived.parquet"]):
            store.ingest(b)
        figures |= dict(
            zip(
                ("edges", "derivation_edges"),
                map(
                    str,
                    store.fetch_maybe_one(
                        "SELECT count(*), count(*) FILTER "
                        "(WHERE kind IN (SELECT unnest(?))) FROM edges",
                        [sorted(DERIVATION)],
                    ),
                ),
                strict=True,
            )
        )
        propagate_s, run = timed(lambda: engine.propagate_taint(store))
        gate_s, report = timed(lambda: engine.gate(store, run, "bench@v1", "precise"))
        sets_s, _ = timed(lambda: engine.gate(store, run, "bench@v1", "precise", max_paths=0))
        strict_s, strict = timed(lambda: engine.gate(store, run, "bench@v1", "strict"))
        # the same gate in a store that kept no member counts (made before them, read-only)
        store.execute("CREATE TEMP TABLE _kept_counts AS SELECT * FROM member_counts")
        store.execute("DELETE FROM member_counts")
        store.memo.clear()
        counting_s, _ = timed(lambda: engine.gate(store, run, "bench@v1", "precise", max_paths=0))
        store.execute("DELETE FROM member_counts")
        store.execute("INSERT INTO member_counts SELECT * FROM _kept_counts")
        store.execute("DROP TABLE _kept_counts")
        intervals = floors.restricted_intervals(store, run.run)
        floor_s, floor_tainted = floors.span_join_floor(intervals, tmpdir / "manifest.parquet")
        out_s, _ = timed(
            lambda: engine.write_example_verdicts(
                store, run, "bench@v1", "precise", str(tmpdir / "verdicts.parquet")
            )
        )
        # explain in process: the first builds the run's evidence (the gate's paths did; it is
        # forgotten here), the others read it
        store.memo.clear()
        samples = [t.example for t in report.tainted[:201]] or ["example:bench@v1:ex-0"]
        latencies = []
        for key in samples:
            start = time.perf_counter()
            engine.verdict(store, run, engine.resolve_example(store, key), "precise")
            latencies.append((time.perf_counter() - start) * 1000)
        cold_ms, warm = latencies[0], sorted(latencies[1:] or latencies)
        snap_read_s, snap_write_s, snapped = timed_ingest(
            store, manifest.load([tmpdir / "snapshot.parquet"])
        )
        snap_s = snap_read_s + snap_write_s
        assert snapped.accepted == n
        snap_prop_s, snap_run = timed(lambda: engine.propagate_taint(store))
        snap_gate_s, snap_report = timed(
            lambda: engine.gate(store, snap_run, "bench-snapshot@v1", "precise", max_paths=0)
        )
        for b in manifest.load([tmpdir / "more.parquet"]):
            store.ingest(b)
        incremental_s, later = timed(lambda: engine.propagate_taint(store))
        figures |= {
            "history_ingest_s": f"{history_s:.2f}",
            "manifest_read_s": f"{read_s:.2f}",
            "manifest_store_s": f"{write_s:.2f}",
            "ingest_s": f"{read_s + write_s:.2f}",
            "ingest_rows_per_s": f"{n / (read_s + write_s):,.0f}",
            "ingest_floor_copy_s": f"{copy_s:.2f}",
            "ingest_floor_rows_per_s": f"{n / copy_s:,.0f}",
            "propagate_s": f"{propagate_s:.2f}",
            "gate_s": f"{gate_s:.2f}",
            "gate_strict_s": f"{strict_s:.2f}",
            "gate_no_paths_s": f"{sets_s:.2f}",
            "gate_no_paths_counting_members_s": f"{counting_s:.2f}",
            "gate_out_parquet_s": f"{out_s:.2f}",
            "gate_floor_span_join_s": f"{floor_s:.3f}",
            "gate_vs_floor": f"{sets_s / floor_s:.1f}x",
            "floor_agrees": "yes"
            if floor_tainted == report.counts.tainted
            else f"NO: the bare join finds {floor_tainted}",
            "tainted_precise": str(report.counts.tainted),
            "tainted_strict": str(strict.counts.tainted),
            "explain_cold_ms": f"{cold_ms:.1f}",
            "explain_p50_ms": f"{statistics.median(warm):.2f}",
            "explain_p99_ms": f"{warm[int(len(warm) * 0.99)]:.2f}",
            "snapshot_ingest_s": f"{snap_s:.2f}",
            "snapshot_ingest_rows_per_s": f"{n / snap_s:,.0f}",
            "snapshot_propagate_s": f"{snap_prop_s:.2f}",
            "snapshot_gate_s": f"{snap_gate_s:.2f}",
            "snapshot_counts": json.dumps(asdict(snap_report.counts)),
            "incremental_10k_s": f"{incremental_s:.2f}",
            "peak_rss_mb": str(rss_mb()),
        }
        if args.engine == "spark":
            figures["duckdb_propagate_and_gate_s"] = f"{propagate_s + sets_s:.2f}"
            figures |= spark_figures(store, later, tmpdir, args.spark_driver_memory)
        if not args.no_peers:
            # on the graph as it is now, with the 10,000 appended examples (1% more)
            ours = {
                mode: {
                    r[0]
                    for r in store.fetch_all(
                        "SELECT DISTINCT t.node FROM taint t JOIN nodes n ON n.id = t.node "
                        f"WHERE t.run {engine.PARTS_OF} "
                        "AND t.mode = ? AND n.kind = 'example' "
                        "AND t.blocked_by IS NULL",
                        [later.run, mode],
                    )
                }
                for mode in ("precise", "strict")
            }
            root_ids = peers.roots(store, later.run)
            networkx_s, by_networkx = timed(lambda: peers.networkx_tainted(store, root_ids))
            cte_s, by_cte = timed(lambda: peers.cte_tainted(store, root_ids))
            figures |= {
                "networkx_s": f"{networkx_s:.2f}",
                "recursive_cte_s": f"{cte_s:.2f}",
                "peers_agree": "yes"
                if by_networkx == by_cte == (ours["precise"], ours["strict"])
                else "NO",
                "speedup_vs_networkx": f"{networkx_s / (propagate_s + sets_s):.1f}",
                "speedup_vs_cte": f"{cte_s / (propagate_s + sets_s):.1f}",
                "peak_rss_with_peers_mb": str(rss_mb()),
            }
        process_floor_s = floors.process_join_floor(
            intervals, tmpdir / "manifest.parquet", tmpdir / "floor_join.duckdb"
        )
        store.close()
        cli_s = cli_gate(tmpdir / "bench.duckdb", "bench-snapshot@v1", args.memory_limit)
        figures["cli_snapshot_gate_s"] = f"{cli_s:.2f}"
        figures["cli_snapshot_gate_vs_floor"] = f"{cli_s / floor_s:.0f}x"
        figures["cli_floor_process_join_s"] = f"{process_floor_s:.2f}"
        figures["cli_snapshot_gate_vs_process_floor"] = f"{cli_s / process_floor_s:.1f}x"
    for name, value in figures.items():
        print(f"{name}: {value}")
    for line in targets(figures, n):
        print(line)


def cli_gate(database: Path, dataset: str, memory_limit: str) -> float:
    """Seconds of `lineage gate DATASET` as a user runs it: a process of its own (its modules
    compiled once before, as an install leaves them), the store opened read-only, the run of
    the head read (it was stored by the benchmark), exit code 1 for a dataset that fails."""
    lineage_cli = Path(sys.executable).with_name("lineage")
    command = [str(lineage_cli), "--db", str(database), "--memory-limit", memory_limit]
    env = floors.cli_env()
    subprocess.run([str(lineage_cli), "--help"], capture_output=True, check=True, env=env)
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "gate", dataset, "--format", "json"], capture_output=True, check=False, env=env
    )
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"lineage gate failed: {done.stderr.decode()}")
    return took


def targets(figures: dict[str, str], n: int) -> list[str]:
    """Issue 15's targets beside the figures of this run (those this run measured)."""

    def number(name: str) -> float:
        return float(figures[name].rstrip("x").replace(",", ""))

    def at(size: int) -> str:
        aim = f"at {size // 1_000_000}M"
        return aim if n == size else f"{aim}; this run has {n:,} examples"

    rows = [
        ("ingest_rows_per_s", ">=", 500_000, at(10_000_000)),
        ("propagate_s", "<=", 1.0, at(10_000_000)),
        ("gate_no_paths_s", "<=", 1.0, at(10_000_000)),
        ("gate_vs_floor", "<=", 5.0, at(1_000_000)),
        ("cli_snapshot_gate_vs_floor", "<=", 5.0, at(1_000_000)),
        ("incremental_10k_s", "<=", 0.1, at(10_000_000)),
        ("speedup_vs_cte", ">=", 2.0, ""),
        ("speedup_vs_networkx", ">=", 20.0, ""),
    ]
    lines = []
    for name, op, aim, where in rows:
        if name not in figures:
            continue
        value = number(name)
        met = value >= aim if op == ">=" else value <= aim
        lines.append(
            f"target {name}: {figures[name]} (aim {op} {aim:,g}{' ' + where if where else ''}): "
            + ("met" if met else "not met")
        )
    return lines


if __name__ == "__main__":
    main()
