"""The Spark gate (lineage.spark) against the store's: the same rows of propagation on random
graphs, the same report and verdicts on every dataset version of the test scenarios, the CLI
and spark-submit. Needs pyspark and Java 17 (`.ci/run` installs both and sets
LINEAGE_REQUIRE_SPARK=1, so in CI a missing Spark fails these tests instead of skipping)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lineage import engine, export, propagation
from lineage.cli import main
from lineage.loaders import manifest
from lineage.policy import parse_policy
from lineage.store import Store
from tests.conftest import EXAMPLES, ROOT, load_events

pytestmark = pytest.mark.spark

try:
    from lineage import spark as spark_gate
except ImportError as exc:  # pragma: no cover - the environment decides
    if os.environ.get("LINEAGE_REQUIRE_SPARK"):
        raise
    pytest.skip(f"pyspark is missing ({exc}): pip install -e '.[spark]'", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

if not shutil.which("java") and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    if os.environ.get("LINEAGE_REQUIRE_SPARK"):
        raise RuntimeError("Spark tests required but no Java: install openjdk-17")
    pytest.skip("no Java for Spark: install openjdk-17", allow_module_level=True)


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_gate.session("local[2]", {"spark.driver.memory": "2g"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# -- propagation on random graphs --------------------------------------------------------------


def random_graphs(rng: np.random.Generator, graphs: int, size: int) -> dict[str, Any]:
    """A disjoint union of random graphs (cycles, self-loops, repeated edges, every kind and
    span unit) with roots, waived nodes, intervals and never-ingested nodes."""
    parts: dict[str, list[np.ndarray]] = {}

    def add(name: str, values: np.ndarray) -> None:
        parts.setdefault(name, []).append(values)

    for g in range(graphs):
        base = g * size
        edges = int(rng.integers(size // 2, size * 2))
        add("src", base + rng.integers(0, size, edges))
        add("dst", base + rng.integers(0, size, edges))
        add("kind", rng.integers(0, len(propagation.KINDS), edges))
        start = np.where(rng.random(edges) < 0.2, -1, rng.integers(1, 30, edges))
        add("span_start", start)
        add("span_end", np.where(rng.random(edges) < 0.2, -1, start + rng.integers(0, 10, edges)))
        add("span_unit", rng.choice([0, 1, 1, 1, 2], edges))
        add("seq", rng.integers(1, 100, edges))
        roots = base + rng.choice(size, 3, replace=False)
        add("roots", roots)
        add("waived", base + rng.choice(size, 4, replace=False))
        add("missing", base + rng.choice(size, 2, replace=False))
        n = 12
        add("fv", base + rng.integers(0, size, n))
        add("output", rng.choice(roots, n))
        first = rng.integers(1, 30, n)
        add("line_start", first)
        add("line_end", np.where(rng.random(n) < 0.2, -1, first + rng.integers(0, 8, n)))
    return {k: np.concatenate(v).astype(np.int64) for k, v in parts.items()}


ROWS = {
    "edges": "src",
    "roots": "roots",
    "waived": "waived",
    "missing": "missing",
    "intervals": "fv",
}


def write_export(directory: Path, g: dict[str, Any]) -> None:
    """The tables of an export that propagation reads, from arrays."""
    edges = pa.table(
        {
            **{c: g[c] for c in ("src", "dst", "span_start", "span_end", "span_unit", "seq")},
            "kind": [propagation.KINDS[k] for k in g["kind"]],
        }
    )
    pq.write_to_dataset(edges, directory / "edges", partition_cols=["kind"])
    tables = {
        "roots": {"id": g["roots"], "key": [f"r{r}" for r in g["roots"]]},
        "waived": {"id": g["waived"], "key": [f"w{w}" for w in g["waived"]]},
        "missing": {"id": g["missing"]},
        "intervals": {
            "file_version": g["fv"],
            "output": g["output"],
            "line_start": g["line_start"],
            "line_end": g["line_end"],
        },
    }
    for name, columns in tables.items():
        (directory / name).mkdir()
        pq.write_table(pa.table(columns), directory / name / "part-0.parquet")
    meta = {
        "format": export.FORMAT,
        "format_version": export.FORMAT_VERSION,
        "as_of": {"seq": 100, "time": "2026-01-01T00:00:00+00:00"},
        "policy": {"version": 1, "hash": "h"},
        "waivers": [],
        "rows": {name: len(g[column]) for name, column in ROWS.items()},
    }
    (directory / export.MANIFEST).write_text(json.dumps(meta))


def triples(rows: propagation.Rows) -> set[tuple[int, int, int]]:
    return set(zip(rows.node.tolist(), rows.root.tolist(), rows.blocked.tolist(), strict=True))


def collected(frame: Any, *columns: str) -> set[tuple[int, ...]]:
    return {tuple(r[c] for c in columns) for r in frame.collect()}


def test_propagation_gives_the_rows_of_the_array_passes_on_random_graphs(
    spark: SparkSession, tmp_path: Path
) -> None:
    g = random_graphs(np.random.default_rng(19), graphs=40, size=25)
    size = 40 * 25
    write_export(tmp_path, g)
    waived = np.zeros(size, dtype=bool)
    waived[g["waived"]] = True
    graph = propagation.Graph(
        g["src"], g["dst"], g["kind"], g["span_start"], g["span_end"], g["span_unit"], g["seq"]
    )
    strict, precise, (inc_node, inc_missing) = propagation.propagate(
        graph,
        size,
        g["roots"],
        waived,
        (g["fv"], g["output"], g["line_start"], g["line_end"]),
        propagation.distinct(g["missing"]),
    )
    gate = spark_gate.SparkGate(spark, str(tmp_path))
    assert len(precise.node) > 50 and (precise.blocked != -1).any()  # the case is not trivial
    assert collected(gate.strict(), "node", "root", "blocked") == triples(strict)
    assert collected(gate.precise(), "node", "root", "blocked") == triples(precise)
    assert collected(gate.incomplete(), "node", "missing") == set(
        zip(inc_node.tolist(), inc_missing.tolist(), strict=True)
    )
    gate.close()


# -- the gate on the scenarios -----------------------------------------------------------------


def with_manifests(store: Store) -> None:
    for name in ("manifest.jsonl", "snapshot.jsonl"):
        for batch in manifest.load([EXAMPLES / name]):
            store.ingest(batch)


def waive_a_file_version(store: Store) -> None:
    store.set_policy(
        parse_policy(
            (EXAMPLES / "policy.toml").read_text()
            + '\n[[waive]]\nnode = "file:github.com/acme/widgets:src/widgets/api.py@a2a2a2a2"\n'
            'reason = "reviewed"\napprover = "cto@acme.com"\n'
        )
    )


def expire_the_waiver(store: Store) -> None:
    text = (EXAMPLES / "policy.toml").read_text()
    store.set_policy(parse_policy(text.replace("expires = 2027-06-30", "expires = 2026-01-01")))


def restrict_gpt4(store: Store) -> None:
    store.set_policy(parse_policy('[[restrict]]\nmodel = "gpt-4*"\nreason = "r"\n'))


SCENARIOS: dict[str, Callable[[Store], Any]] = {
    "waiver on a file version": waive_a_file_version,
    "expired waiver": expire_the_waiver,
    "a policy on another model": restrict_gpt4,
}


def scenario_store() -> Store:
    store = Store(":memory:")
    load_events(store, EXAMPLES / "events.ndjson")
    store.set_policy(parse_policy((EXAMPLES / "policy.toml").read_text()))
    with_manifests(store)
    return store


def verdict_rows(path: Path) -> list[dict[str, Any]]:
    files = sorted(path.glob("part-*")) if path.is_dir() else [path]
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def assert_same_gates(
    gate: spark_gate.SparkGate, store: Store, directory: Path, reports: set[str] | None = None
) -> int:
    """Every example of every dataset version, both modes: the Spark gate's verdicts (example,
    key, status, sources) are the store's, and so are its reports (of the versions named in
    `reports`; None: all). Returns how many verdicts were compared."""
    run = engine.propagate_taint(store, gate.as_of)
    compared = 0
    for name, version in store.dataset_versions(gate.as_of):
        dataset = f"{name}@{version}"
        for mode in engine.MODES:
            spark_out = directory / f"{name}-{mode}-spark.jsonl"
            store_out = directory / f"{name}-{mode}-store.jsonl"
            written = gate.write_verdicts(dataset, str(spark_out), mode)
            assert written == engine.write_example_verdicts(
                store, run, dataset, mode, str(store_out)
            )
            assert verdict_rows(spark_out) == verdict_rows(store_out), (dataset, mode)
            compared += written
            if reports is None or dataset in reports:
                ours = gate.gate(dataset, mode, max_listed=5)
                theirs = engine.gate(store, run, dataset, mode, max_paths=0, max_listed=5)
                assert ours.as_dict() == theirs.as_dict(), (dataset, mode)
                assert ours.passed == theirs.passed
    return compared


@pytest.fixture
def exported(spark: SparkSession, tmp_path: Path) -> Iterator[Callable[..., spark_gate.SparkGate]]:
    """Export a store (as of a point) and open the Spark gate on it; closed after the test."""
    opened: list[spark_gate.SparkGate] = []

    def open_gate(store: Store, as_of: int | None = None) -> spark_gate.SparkGate:
        directory = tmp_path / f"export-{len(opened)}"
        export.export_parquet(store, directory, as_of)
        opened.append(spark_gate.SparkGate(spark, str(directory)))
        return opened[-1]

    yield open_gate
    for gate in opened:
        gate.close()


def test_the_spark_gate_answers_as_the_store_on_every_example_of_the_bundled_scenario(
    exported: Callable[..., spark_gate.SparkGate], tmp_path: Path
) -> None:
    store = scenario_store()
    assert assert_same_gates(exported(store), store, tmp_path) > 100


@pytest.mark.parametrize("change", list(SCENARIOS))
def test_the_spark_gate_gives_every_example_the_store_gates_answer_when_the_policy_changes(
    exported: Callable[..., spark_gate.SparkGate], tmp_path: Path, change: str
) -> None:
    store = scenario_store()
    SCENARIOS[change](store)
    gate = exported(store)
    assert assert_same_gates(gate, store, tmp_path, reports={"code-pretrain@v1"}) > 100


def test_an_export_of_a_past_point_is_gated_as_the_store_gates_that_point(
    exported: Callable[..., spark_gate.SparkGate], tmp_path: Path
) -> None:
    store = Store(":memory:")
    load_events(store, EXAMPLES / "events.ndjson")
    store.set_policy(parse_policy((EXAMPLES / "policy.toml").read_text()))
    before_manifests = store.head_seq()
    with_manifests(store)
    restrict_gpt4(store)
    past = exported(store, before_manifests)
    assert assert_same_gates(past, store, tmp_path, reports={"code-pretrain-dedup@v1"}) > 30
    assert past.gate("code-pretrain@v1").counts.tainted == 6  # claude-code's, not gpt-4's
    with pytest.raises(engine.EngineError, match="unknown dataset 'code-sft@v1'"):
        past.gate("code-sft@v1")  # ingested later


def test_without_a_policy_there_is_no_answer(
    spark: SparkSession, exported: Callable[..., spark_gate.SparkGate], tmp_path: Path
) -> None:
    store = Store(":memory:")
    load_events(store, EXAMPLES / "events.ndjson")
    gate = exported(store)
    with pytest.raises(engine.NoPolicyError, match="lineage policy set"):
        gate.gate("code-pretrain@v1")
    with pytest.raises(export.ExportError, match="not a lineage export"):
        spark_gate.SparkGate(spark, str(tmp_path))


def test_an_export_without_rows_is_gated_as_the_store_gates_it(
    exported: Callable[..., spark_gate.SparkGate], tmp_path: Path
) -> None:
    store = Store(":memory:")
    store.set_policy(parse_policy('[[restrict]]\ntool = "claude-code"\nreason = "r"\n'))
    empty = exported(store)
    with pytest.raises(engine.EngineError, match="ingest a manifest first"):
        empty.gate("d@v1")
    assert empty.strict().count() == empty.incomplete().count() == 0
    # examples whose sources were never ingested: no derivation edge known, every one UNKNOWN
    examples = tmp_path / "examples.ndjson"
    examples.write_text(
        "".join(
            f'{{"id":"e{i}","type":"example","dataset":"d","version":"v1","example":"{i}",'
            f'"source":{{"repo":"github.com/acme/w","path":"a.py","blob":"beef0{i}"}}}}\n'
            for i in range(3)
        )
    )
    load_events(store, examples)
    gate = exported(store)
    assert assert_same_gates(gate, store, tmp_path) == 6
    assert gate.gate("d@v1").counts.unknown == 3


def test_a_real_git_history_is_gated_as_the_store_gates_it(
    exported: Callable[..., spark_gate.SparkGate], tmp_path: Path
) -> None:
    """A history built with git: AI trailers, an aider commit, a revert, a chmod, a path with
    a space; examples cut from files named at commits (one never ingested)."""
    from lineage.loaders import git
    from tests.loaders.test_git import AI_LINES, HUMAN_HEAD, POLICY, REPO, Repo

    repo = Repo(tmp_path / "demo")
    repo.write("src/a.py", HUMAN_HEAD)
    repo.write("docs/read me.py", ["print('hi')"])
    base = repo.commit("base")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    ai = repo.commit("retry\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>")
    repo.write("docs/read me.py", ["print('hi')", "x = compute()", "y = x * 2"])
    repo.commit("aider: compute", author="Dev (aider) <dev@example.com>")
    repo.git("revert", "--no-edit", ai)
    repo.git("checkout", ai, "--", "src/a.py")
    restored = repo.commit("restore retry")
    (repo.root / "src" / "a.py").chmod(0o755)
    head = repo.commit("chmod")
    store = Store(":memory:")
    for batch in git.load([repo.root]):
        store.ingest(batch)
    store.set_policy(parse_policy(POLICY))
    rows = [
        {"example_id": f"{commit[:7]}-{path}-{start}", "dataset": "d", "version": "1",
         "source": {"repo": REPO, "commit": commit, "path": path, "lines": [start, start + 2]}}
        for commit in (base, ai, restored, head, "f" * 40)
        for path in ("src/a.py", "docs/read me.py")
        for start in (1, 4, 7, 9)
    ]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    accepted = sum(store.ingest(b).accepted for b in manifest.load([tmp_path / "m.jsonl"]))
    assert accepted > 20  # the others name lines past the end of a file: rejected, and why
    gate = exported(store)
    assert assert_same_gates(gate, store, tmp_path) == 2 * accepted
    counts = gate.gate("d@1").counts
    assert counts.tainted and counts.unknown and counts.clean


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "l.duckdb")
    out = StringIO()
    assert main(["--db", path, "ingest", "events", str(EXAMPLES / "events.ndjson")], out) == 0
    assert main(["--db", path, "policy", "set", str(EXAMPLES / "policy.toml")], out) == 0
    return path


def cli(*argv: str) -> tuple[int, str]:
    out = StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_lineage_gate_engine_spark_answers_as_the_store_does(
    spark: SparkSession, db: str, tmp_path: Path
) -> None:
    code, ours = cli(
        "--db", db, "gate", "code-pretrain@v1", "--engine", "spark", "--format", "json",
        "--out", str(tmp_path / "spark.parquet"),
    )  # fmt: skip
    theirs_code, theirs = cli(
        "--db", db, "gate", "code-pretrain@v1", "--max-paths", "0", "--format", "json",
        "--out", str(tmp_path / "store.parquet"),
    )  # fmt: skip
    assert (code, json.loads(ours)) == (theirs_code, json.loads(theirs)) and code == 1
    spark_rows = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert spark_rows == pq.read_table(tmp_path / "store.parquet").to_pylist()
    assert {r["status"] for r in spark_rows} == {"TAINTED", "UNKNOWN", "CLEAN"}
    # the same export, named; allow-unknown decides the exit code as it does for the store
    assert cli("--db", db, "export", "parquet", str(tmp_path / "export"))[0] == 0
    assert cli("--db", db, "export", "parquet", str(tmp_path / "export"))[0] == 2  # not over it
    named = ["gate", "code-pretrain-dedup@v1", "--engine", "spark", "--export"]
    assert cli(*named, str(tmp_path / "export"), "--mode", "strict")[0] == 1
    assert cli(*named, str(tmp_path / "export"), "--as-of", "3")[0] == 2  # fixed by the export
    assert cli(*named, str(tmp_path), "--allow-unknown")[0] == 2  # not an export
    assert cli(*named, str(tmp_path / "export"), "--spark-conf", "nokey")[0] == 2


def spark_env() -> dict[str, str]:
    """The environment of Spark's scripts: this python, and the Spark pyspark ships (the
    scripts look for it with whichever `python3` is first on PATH otherwise)."""
    import pyspark

    return {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def test_spark_submit_runs_the_same_gate(db: str, tmp_path: Path) -> None:
    submit = Path(sys.executable).parent / "spark-submit"
    if not submit.exists():  # pragma: no cover - pyspark installs it beside python
        pytest.skip("spark-submit is not beside this python")
    assert cli("--db", db, "export", "parquet", str(tmp_path / "export"))[0] == 0
    env = spark_env()
    done = subprocess.run(
        [
            str(submit),
            "--master",
            "local[1]",
            str(ROOT / "lineage" / "__main__.py"),
            "gate",
            "code-pretrain@v1",
            "--engine",
            "spark",
            "--export",
            str(tmp_path / "export"),
            "--format",
            "json",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert json.loads(done.stdout)["counts"] == {
        "examples": 22,
        "tainted": 6,
        "unknown": 3,
        "clean": 13,
    }


# -- a real cluster ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark standalone cluster on this machine, a master and a worker of one core, each
    a process of its own over real sockets; its master URL."""
    spark_class = Path(sys.executable).parent / "spark-class"
    if not spark_class.exists():  # pragma: no cover - pyspark installs it beside python
        pytest.skip("spark-class is not beside this python")
    work = tmp_path_factory.mktemp("spark-cluster")
    port, ui = free_port(), free_port()
    env = {**spark_env(), "SPARK_LOCAL_IP": "127.0.0.1"}
    daemons = [
        ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(ui)],
        ["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--cores", "1",
         "--memory", "1g", "--webui-port", str(free_port()), "--work-dir", str(work)],
    ]  # fmt: skip
    logs = [(work / f"daemon-{i}.log").open("w") for i in range(len(daemons))]
    processes = [
        subprocess.Popen([str(spark_class), *d], stdout=log, stderr=subprocess.STDOUT, env=env)
        for d, log in zip(daemons, logs, strict=True)
    ]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as r:
                    if json.load(r).get("aliveworkers", 0) >= 1:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                logs_text = "\n".join(f.name + ":\n" + Path(f.name).read_text() for f in logs)
                pytest.fail(f"the standalone cluster did not start:\n{logs_text[-4000:]}")
            time.sleep(1)
        yield f"spark://127.0.0.1:{port}"
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                p.kill()
        for log in logs:
            log.close()


def test_the_same_command_gates_on_a_standalone_cluster(
    standalone_cluster: str, db: str, tmp_path: Path
) -> None:
    assert cli("--db", db, "export", "parquet", str(tmp_path / "export"))[0] == 0
    on_cluster = [
        "gate", "code-pretrain@v1", "--engine", "spark",
        "--spark-master", standalone_cluster, "--spark-conf", "spark.executor.memory=512m",
        "--format", "json",
    ]  # fmt: skip
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lineage",
            *on_cluster,
            "--export",
            str(tmp_path / "export"),
            "--out",
            str(tmp_path / "v.jsonl"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    store_code, store_report = cli(
        "--db", db, "gate", "code-pretrain@v1", "--max-paths", "0", "--format", "json",
        "--out", str(tmp_path / "store.jsonl"),
    )  # fmt: skip
    assert json.loads(done.stdout) == json.loads(store_report) and store_code == 1
    assert verdict_rows(tmp_path / "v.jsonl") == verdict_rows(tmp_path / "store.jsonl")
    # the executors cannot read the driver's temporary directory: an export must be named
    unnamed = subprocess.run(
        [sys.executable, "-m", "lineage", "--db", db, *on_cluster],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert unnamed.returncode == 2 and "--export DIR" in unnamed.stderr
