"""The propagation and the gate of `lineage.engine`, as PySpark DataFrame jobs over an export
(`lineage.export`): for corpora beyond one machine, on the engine a lab already runs.

Same answers as the store's gate (`engine.gate` with no witness paths): strict, precise (a
file version reaches an example only through a chunk whose line span overlaps lines the
restricted output wrote there, or a transcription; then along derived edges), incomplete
lineage (UNKNOWN) and waivers, with the same counts and listings.

Why the plan scales:

- The jobs are DataFrame operators only, no Python UDF: executors need pyspark, not lineage,
  and no row ever crosses into Python but the few listed in the report.
- The graph is read once, projected to (src, dst), hash-partitioned by `src` and persisted
  (memory, then disk): each level of a breadth-first walk joins the frontier, shuffled to the
  same partitioning, with it; the edges never move again. `edges/kind=derived/` is a
  partition of the export, so the precise walk reads only its files.
- Roots and waived nodes are few (a policy restricts thousands of outputs, not billions):
  they are broadcast to every executor, never shuffled.
- A lineage is as deep as its longest history (a file revised a thousand times is a thousand
  levels), and a plan that unions a thousand levels would grow without end: each level is
  checkpointed (`localCheckpoint`, or a reliable `checkpoint` when the session has a
  checkpoint directory, which survives a lost executor), so every level's plan is one join
  over materialized data.
- A level keeps one row per (node, root, waiver): taint reached for real is never walked
  twice, taint reached only behind a waiver is walked again when reached for real, as in
  `lineage.propagation`.

Example::

    spark = lineage.spark.session()               # local[*], or the cluster of spark-submit
    gate = SparkGate(spark, "lineage-export")     # `lineage export parquet lineage-export`
    report = gate.gate("code-pretrain@v1")        # an engine.GateReport
    gate.write_verdicts("code-pretrain@v1", "verdicts.parquet")
"""

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.errors import AnalysisException, PySparkRuntimeError
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lineage import engine, export, propagation
from lineage.engine import Mode, Status

NONE = propagation.NONE  # a row's waiver when its taint is real; a span without an end
FOREVER = 1 << 60  # the end of a span or interval "to the end of the file", past any line
# The rows seen so far are a union of the levels' checkpoints, itself checkpointed every few
# levels: a plan of at most this many scans, and no rewrite of every row at every level.
LEVELS_PER_CHECKPOINT = 8


def session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """The Spark session a gate runs in: `master` (``local[*]``, ``spark://host:7077``,
    ``yarn``...), else the one spark-submit was given, else ``local[*]``. In local mode
    shuffles use one partition per core unless configured (Spark's default, 200, is a
    cluster's)."""
    builder = SparkSession.builder.appName("lineage gate")
    if master:
        builder = builder.master(master)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except PySparkRuntimeError as exc:
        raise engine.EngineError(
            f"Spark did not start ({exc}): pyspark 4 runs on Java 17 or later; install it "
            "or point JAVA_HOME at it"
        ) from exc
    configured = "spark.sql.shuffle.partitions" in (conf or {}) or (
        spark.conf.get("spark.sql.shuffle.partitions") != "200"  # Spark's default
    )
    if is_local(spark) and not configured:
        cores = spark.sparkContext.defaultParallelism
        spark.conf.set("spark.sql.shuffle.partitions", str(max(cores, 1)))
    return spark


def is_local(spark: SparkSession) -> bool:
    """Whether `spark` runs on this machine alone (its master is local, local[N]...)."""
    return str(spark.sparkContext.master).startswith("local")


# The export's tables (lineage.export), for those without rows.
SCHEMAS = {
    "nodes": "id long, key string, repo string, defined boolean, example string, kind string",
    "edges": "src long, dst long, span_start long, span_end long, span_unit int, seq long, "
    "kind string",
    "roots": "id long, key string, tool string, model string",
    "intervals": "file_version long, output long, line_start long, line_end long",
    "waived": "id long, key string",
    "dataset_versions": "id long, dataset string, version string",
    "members": "id long, key string, example string, repo string, dataset_version long",
    "missing": "id long, key string, kind string, attrs string",
    "repos": "repo string",
    "commits": "repo string, commit string",
}


class SparkGate:
    """The gate over one export: propagation is computed once per mode and shared by every
    dataset version gated."""

    def __init__(self, spark: SparkSession, directory: str) -> None:
        self.spark = spark
        self.directory = directory.rstrip("/")
        self.manifest = self._manifest()
        self._propagated: dict[str, DataFrame] = {}
        self._incomplete: DataFrame | None = None
        self._verdicts: dict[tuple[int, str], DataFrame] = {}
        self._reliable = bool(spark.sparkContext.getCheckpointDir())
        self._persisted: list[DataFrame] = []
        self._graphs: dict[tuple[str, ...], DataFrame] = {}
        self._versions: dict[tuple[str, str], int] | None = None
        self._tables: dict[str, DataFrame] = {}
        self.levels: dict[str, int] = {}  # levels each walk took (strict, precise, incomplete)

    def close(self) -> None:
        """Release what the gate keeps (its persisted graph and verdicts); the session
        stays, for the caller to stop."""
        for frame in self._persisted:
            frame.unpersist()
        self._persisted.clear()
        self._graphs.clear()
        self._propagated.clear()
        self._verdicts.clear()
        self._incomplete = None

    def _persist(self, frame: DataFrame) -> DataFrame:
        self._persisted.append(frame.persist(StorageLevel.MEMORY_AND_DISK))
        return frame

    # -- reading the export ---------------------------------------------------------------

    def _manifest(self) -> dict[str, Any]:
        path = f"{self.directory}/{export.MANIFEST}"
        try:  # through Spark: the export may be on HDFS or S3
            text = self.spark.read.text(path, wholetext=True).first()
        except AnalysisException as exc:
            raise export.not_an_export(self.directory) from exc
        return export.parse_manifest(text[0] if text else "", path)

    def table(self, name: str) -> DataFrame:
        """One table of the export (`export.TABLES`), read once."""
        if name not in self._tables:
            if self.manifest["rows"].get(name):
                self._tables[name] = self.spark.read.parquet(f"{self.directory}/{name}")
            else:  # a partitioned table without rows has no file to read its schema from
                columns = (c.split() for c in SCHEMAS[name].split(","))
                self._tables[name] = self.spark.range(0).select(
                    *(F.lit(None).cast(kind).alias(column) for column, kind in columns)
                )
        return self._tables[name]

    @property
    def as_of(self) -> int:
        return int(self.manifest["as_of"]["seq"])

    @property
    def policy_hash(self) -> str | None:
        policy = self.manifest["policy"]
        return None if policy is None else str(policy["hash"])

    def _edges(self, kinds: tuple[str, ...]) -> DataFrame:
        """(src, dst) of the edges of `kinds`, partitioned by src and kept (read once)."""
        if kinds not in self._graphs:
            edges = self.table("edges").filter(F.col("kind").isin(list(kinds)))
            self._graphs[kinds] = self._persist(edges.select("src", "dst").repartition("src"))
        return self._graphs[kinds]

    def _ids(self, name: str) -> DataFrame:
        """The ids of a small table (roots, waived), to broadcast."""
        return F.broadcast(self.table(name).select(F.col("id").alias("node")).distinct())

    def _materialize(self, frame: DataFrame) -> DataFrame:
        """`frame` computed and its plan cut (see the module's docstring)."""
        return frame.checkpoint() if self._reliable else frame.localCheckpoint()

    # -- propagation ----------------------------------------------------------------------

    def _blocked(self, rows: DataFrame) -> DataFrame:
        """(node, root, blocked) rows with `blocked` set to the node when the taint was real
        and the node is waived (the first waiver on the way stops it)."""
        waived = self._ids("waived").withColumn("waived", F.lit(True))
        joined = rows.join(waived, "node", "left")
        first = (F.col("blocked") == NONE) & F.col("waived").isNotNull()
        return joined.select(
            "node",
            "root",
            F.when(first, F.col("node")).otherwise(F.col("blocked")).alias("blocked"),
        ).distinct()

    def _walk(
        self, walk: str, seed: DataFrame, step: Callable[[DataFrame, DataFrame], DataFrame]
    ) -> DataFrame:
        """Breadth first from `seed`: `step(frontier, seen)` gives the next level's new rows,
        until there are none; every row seen. `walk` names it in `levels`."""
        frontier = self._materialize(seed)
        seen, levels = frontier, 0
        while not frontier.isEmpty():
            frontier = self._materialize(step(frontier, seen))
            seen, levels = seen.unionByName(frontier), levels + 1
            if levels % LEVELS_PER_CHECKPOINT == 0:
                seen = self._materialize(seen)
        self.levels[walk] = levels
        return self._materialize(seen)

    def _spread(self, walk: str, edges: DataFrame, seed: DataFrame) -> DataFrame:
        """Breadth first from `seed` (node, root, blocked) along `edges` (src, dst): every
        row reached, one per (node, root, blocked)."""

        def step(frontier: DataFrame, seen: DataFrame) -> DataFrame:
            reached = frontier.join(edges, frontier["node"] == edges["src"]).select(
                F.col("dst").alias("node"), "root", "blocked"
            )
            real = seen.filter(F.col("blocked") == NONE).select("node", "root")
            return (
                self._blocked(reached)
                .join(real, ["node", "root"], "left_anti")
                .join(seen, ["node", "root", "blocked"], "left_anti")
            )

        return self._walk(walk, seed, step)

    def strict(self) -> DataFrame:
        """(node, root, blocked) for every node a restricted root reaches along any
        derivation edge; `blocked` is the waived node that stopped it, or -1."""
        if "strict" not in self._propagated:
            roots = self.table("roots").select(F.col("id").alias("node"), F.col("id").alias("root"))
            seed = self._blocked(roots.withColumn("blocked", F.lit(NONE).cast("long")))
            self._propagated["strict"] = self._spread(
                "strict", self._edges(tuple(propagation.KINDS)), seed
            )
        return self._propagated["strict"]

    def precise(self) -> DataFrame:
        """The rows of precise mode: from a strict row of a file version through a chunk
        whose span overlaps an interval its root wrote there (or from a strict row through a
        transcription), then along derived edges."""
        if "precise" not in self._propagated:
            strict = self.strict()
            chunks = self.table("edges").filter(F.col("kind").isin("chunked", "transcribed"))
            reached = strict.join(chunks, strict["node"] == chunks["src"]).select(
                "src", "dst", "kind", "span_start", "span_end", "span_unit", "root", "blocked"
            )
            intervals = self.table("intervals")
            chunked = reached.filter(F.col("kind") == "chunked").join(
                intervals,
                (F.col("src") == intervals["file_version"])
                & (F.col("root") == intervals["output"]),
            )
            forever = F.lit(FOREVER)
            chunk_end = F.when(F.col("span_end") == NONE, forever).otherwise(F.col("span_end"))
            line_end = F.when(F.col("line_end") == NONE, forever).otherwise(F.col("line_end"))
            whole = (F.col("span_unit") != propagation.LINE) | (F.col("span_start") == NONE)
            overlaps = (F.col("line_start") <= chunk_end) & (line_end >= F.col("span_start"))
            seeds = (
                chunked.filter(whole | overlaps)
                .select("dst", "root", "blocked")
                .unionByName(
                    reached.filter(F.col("kind") == "transcribed").select("dst", "root", "blocked")
                )
                .withColumnRenamed("dst", "node")
            )
            self._propagated["precise"] = self._spread(
                "precise", self._edges(("derived",)), self._blocked(seeds)
            )
        return self._propagated["precise"]

    def rows(self, mode: str) -> DataFrame:
        """The (node, root, blocked) rows of `mode`."""
        return self.precise() if engine.check_mode(mode) == Mode.PRECISE else self.strict()

    def incomplete(self) -> DataFrame:
        """(node, missing): every node downstream of a never-ingested one, with the smallest
        missing ancestor of the first level that reached it."""
        if self._incomplete is None:
            edges = self._edges(tuple(propagation.KINDS))

            def step(frontier: DataFrame, seen: DataFrame) -> DataFrame:
                return (
                    frontier.join(edges, frontier["node"] == edges["src"])
                    .select(F.col("dst").alias("node"), "missing")
                    .join(seen, "node", "left_anti")
                    .groupBy("node")
                    .agg(F.min("missing").alias("missing"))
                )

            missing = self.table("missing").select(F.col("id").alias("node"))
            seed = missing.withColumn("missing", F.col("node"))
            self._incomplete = self._walk("incomplete", seed, step)
        return self._incomplete

    # -- the gate -------------------------------------------------------------------------

    def _require_policy(self) -> None:
        if self.manifest["policy"] is None:
            raise engine.no_policy(self.as_of)

    def dataset_version(self, spec: str) -> tuple[str, str, int]:
        """(name, version, node id) of the dataset version `spec` names, as the store's gate
        chooses it (engine.choose_dataset_version)."""
        if self._versions is None:
            self._versions = {
                (r["dataset"], r["version"]): r["id"]
                for r in self.table("dataset_versions").collect()
            }
        name, version = engine.choose_dataset_version(sorted(self._versions), spec)
        return name, version, self._versions[(name, version)]

    def verdicts(self, dv: int, mode: str) -> DataFrame:
        """(id, key, example, repo, status, sources, missing) of every example of the dataset
        version node `dv`: TAINTED with its restricted sources (sorted keys) when reached for
        real, else UNKNOWN when its lineage is incomplete, else CLEAN."""
        if (dv, mode) in self._verdicts:
            return self._verdicts[(dv, mode)]
        members = self.table("members").filter(F.col("dataset_version") == dv)
        roots = F.broadcast(self.table("roots").select(F.col("id").alias("root"), "key"))
        hits = (
            self.rows(mode)
            .filter(F.col("blocked") == NONE)
            .join(members.select(F.col("id").alias("node")), "node")
            .join(roots.withColumnRenamed("key", "source"), "root")
            .groupBy("node")
            .agg(F.array_sort(F.collect_set("source")).alias("sources"))
            .withColumnRenamed("node", "id")
        )
        incomplete = self.incomplete().withColumnRenamed("node", "id")
        status = (
            F.when(F.col("sources").isNotNull(), F.lit(str(Status.TAINTED)))
            .when(F.col("missing").isNotNull(), F.lit(str(Status.UNKNOWN)))
            .otherwise(F.lit(str(Status.CLEAN)))
        )
        found = (
            members.select("id", "key", "example", "repo")
            .join(hits, "id", "left")
            .join(incomplete, "id", "left")
            .select(
                "id",
                "key",
                "example",
                "repo",
                status.alias("status"),
                F.coalesce(F.col("sources"), F.array().cast("array<string>")).alias("sources"),
                "missing",
            )
        )
        self._verdicts[(dv, mode)] = self._persist(found)
        return self._verdicts[(dv, mode)]

    def gate(
        self,
        dataset: str,
        mode: str = Mode.PRECISE,
        *,
        allow_unknown: bool = False,
        max_listed: int = 1000,
    ) -> engine.GateReport:
        """Check every example of a dataset version: the store's gate (`engine.gate` with
        `max_paths=0`; a witness path is read from the store, `lineage explain`)."""
        engine.check_mode(mode)
        self._require_policy()
        name, version, dv = self.dataset_version(dataset)
        found = self.verdicts(dv, mode)

        def count(status: Status) -> Column:
            return F.count(F.when(F.col("status") == str(status), True))

        # One job per part of the report: by repository (whose sum is the counts), the
        # listed examples of both statuses, by tool, the waivers.
        by_repo = [
            engine.RepoCount(r["repo"], r["tainted"], r["unknown"], r["clean"])
            for r in found.groupBy(
                F.coalesce(F.col("repo"), F.lit("(no source repository)")).alias("repo")
            )
            .agg(
                count(Status.TAINTED).alias("tainted"),
                count(Status.UNKNOWN).alias("unknown"),
                count(Status.CLEAN).alias("clean"),
            )
            .orderBy("repo")
            .collect()
        ]
        first = Window.partitionBy("status").orderBy("key")
        listed = (
            found.filter(F.col("status").isin(str(Status.TAINTED), str(Status.UNKNOWN)))
            .withColumn("n", F.row_number().over(first))
            .filter(F.col("n") <= max_listed)
            .select("status", "key", "sources", "missing")
            .orderBy("key")
            .collect()
        )
        tainted = [
            engine.TaintedExample(r["key"], list(r["sources"]))
            for r in listed
            if r["status"] == Status.TAINTED
        ]
        unknown_rows = [r for r in listed if r["status"] == Status.UNKNOWN]
        reason = self._reasons([r["missing"] for r in unknown_rows])
        unknown = [engine.UnknownExample(r["key"], reason(r["missing"])) for r in unknown_rows]
        roots = self.table("roots").select(F.col("key").alias("source"), "tool", "model")
        by_tool = [
            engine.ToolCount(r["tool"], r["model"], r["examples"])
            for r in found.filter(F.col("status") == str(Status.TAINTED))
            .select("id", F.explode("sources").alias("source"))
            .join(F.broadcast(roots), "source")
            .groupBy("tool", "model")
            .agg(F.countDistinct("id").alias("examples"))
            .orderBy(F.desc("examples"), F.asc_nulls_last("tool"), F.asc_nulls_last("model"))
            .collect()
        ]
        counts = {
            str(Status.TAINTED): sum(r.tainted for r in by_repo),
            str(Status.UNKNOWN): sum(r.unknown for r in by_repo),
            str(Status.CLEAN): sum(r.clean for r in by_repo),
        }
        return engine.GateReport(
            dataset=f"{name}@{version}",
            mode=Mode(mode),
            policy_hash=self.policy_hash,
            as_of=self.as_of,
            allow_unknown=allow_unknown,
            counts=engine.Counts(
                examples=sum(counts.values()),
                tainted=counts.get(str(Status.TAINTED), 0),
                unknown=counts.get(str(Status.UNKNOWN), 0),
                clean=counts.get(str(Status.CLEAN), 0),
            ),
            tainted=tainted,
            unknown=unknown,
            by_tool=by_tool,
            by_repo=by_repo,
            waivers=self._waivers(found, mode),
        )

    def _waivers(self, found: DataFrame, mode: str) -> list[engine.WaiverUse]:
        """The active waivers that stopped taint on examples the gate did not find tainted,
        in the policy's order."""
        stopped = (
            self.rows(mode)
            .filter(F.col("blocked") != NONE)
            .join(
                found.filter(F.col("status") != str(Status.TAINTED)).select(
                    F.col("id").alias("node")
                ),
                "node",
            )
            .select(F.col("blocked").alias("id"))
            .distinct()
            .join(self.table("waived"), "id")
        )
        keys = {r["key"] for r in stopped.collect()}
        return [
            engine.WaiverUse(w["node"], w["reason"], w["approver"], w["expires"])
            for w in self.manifest["waivers"]
            if w["node"] in keys
        ]

    def _reasons(self, missing: list[int | None]) -> Callable[[int | None], str]:
        """Why each of the listed unknown examples is unknown (engine.missing_reason), from
        the export's missing nodes, repositories and commits."""
        wanted = sorted({m for m in missing if m is not None})
        if not wanted:
            return lambda _: engine.missing_reason(None, None, {}, _never, _never)
        nodes = {
            r["id"]: (r["kind"], r["key"], json.loads(r["attrs"]))
            for r in self.table("missing").filter(F.col("id").isin(wanted)).collect()
        }
        repos_needed = sorted(
            {a["repo"] for _, _, a in nodes.values() if isinstance(a.get("repo"), str)}
        )
        repos = {
            r["repo"]
            for r in self.table("repos").filter(F.col("repo").isin(repos_needed)).collect()
        }
        commits: dict[str, list[str]] = {}
        for r in self.table("commits").filter(F.col("repo").isin(repos_needed)).collect():
            commits.setdefault(r["repo"], []).append(r["commit"])

        def commit_ingested(repo: str, commit: str) -> bool:
            return any(c.startswith(commit) for c in commits.get(repo, ()))

        def reason(missing_id: int | None) -> str:
            kind, key, attrs = (
                nodes.get(missing_id, (None, None, {}))
                if missing_id
                else (
                    None,
                    None,
                    {},
                )
            )
            return engine.missing_reason(kind, key, attrs, repos.__contains__, commit_ingested)

        return reason

    def write_verdicts(self, dataset: str, path: str, mode: str = Mode.PRECISE) -> int:
        """Write every example's verdict (example, key, status, sources) under `path`, a
        directory of Parquet or JSON-lines files (by its suffix, as `engine.VERDICT_FILE_FORMATS`)
        in the order the examples were ingested; returns the number written. A file or an
        earlier Spark output at a local `path` is replaced; anything else there is an error."""
        fmt = next(
            (f for suffix, f in engine.VERDICT_FILE_FORMATS.items() if path.endswith(suffix)),
            None,
        )
        if fmt is None:
            raise engine.EngineError(f"verdicts {path}: name a .jsonl, .ndjson or .parquet path")
        engine.check_mode(mode)
        self._require_policy()
        _, _, dv = self.dataset_version(dataset)
        found = self.verdicts(dv, mode)
        _clear_output(path)
        rows = found.orderBy("id").select("example", "key", "status", "sources")
        try:
            if fmt == "json":
                rows.write.option("ignoreNullFields", "false").json(path)
            else:
                rows.write.parquet(path)
        except AnalysisException as exc:
            raise engine.EngineError(f"verdicts {path}: cannot write: {exc}") from exc
        return found.count()


def _never(*_: str) -> bool:
    return False


def _clear_output(path: str) -> None:
    """Make room for verdicts at a local `path`: a file (what the store's gate writes) or an
    earlier Spark output (a directory with _SUCCESS) goes; any other directory is refused."""
    if "://" in path and not path.startswith("file://"):
        return  # remote storage: Spark refuses to write over what is there
    local = Path(path.removeprefix("file://"))
    if local.is_file():
        local.unlink()
    elif local.is_dir():
        if not (local / "_SUCCESS").exists() and any(local.iterdir()):
            raise engine.EngineError(
                f"verdicts {path}: a directory that is not an earlier verdicts output is "
                "there: name another path"
            )
        shutil.rmtree(local)
    os.makedirs(local.parent, exist_ok=True)
