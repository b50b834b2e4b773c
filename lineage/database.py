"""The public Python API: what the `lineage` CLI does, from a few lines of Python.

    >>> import lineage
    >>> db = lineage.open(":memory:")
    >>> db.ingest("events", lineage.EXAMPLES / "events.ndjson").accepted
    54
    >>> db.set_policy((lineage.EXAMPLES / "policy.toml").read_text()).version
    1
    >>> report = db.gate("code-pretrain@v1")
    >>> report.passed, report.counts.tainted
    (False, 6)
    >>> db.verdict("code-pretrain@v1:ex-002").status
    <Status.TAINTED: 'TAINTED'>

A `Database` holds one store file; its questions are answered as of the head of the log, or as
of any past point through `as_of`, which returns a `Snapshot` that answers under the policy in
force then. Errors are `lineage.StoreError`, `InputError`, `PolicyError`, `EngineError` (and its
`NoPolicyError`) and `UsageError`, each with a message that says how to fix it.
"""

import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from lineage import engine, export, membership, model
from lineage.blame import FileBlame, blame, blamed_file
from lineage.bulk_load import bulk_ingest
from lineage.engine import (
    DatasetCount,
    GateReport,
    ImpactReport,
    LineageWalk,
    Mode,
    RestrictedOutput,
    Status,
    Step,
    TaintedExample,
    TaintRun,
    ToolCount,
    UnknownExample,
    Verdict,
)
from lineage.eventlog import VerifyResult
from lineage.facts import Batch
from lineage.loaders import AGENT_SOURCES, LOADERS, SUFFIXES, load_bytes
from lineage.loaders import git as git_loader
from lineage.loaders.files import expand_paths
from lineage.policy import Policy, Restriction, lint_policy, parse_policy
from lineage.store import IngestReport, LoggedEvent, PolicyVersion, Store, StoredEdge, StoredNode

if TYPE_CHECKING:
    import networkx as nx


class UsageError(ValueError):
    """A request that does not apply as asked (an option of another source, say)."""


@dataclass(frozen=True)
class Snapshot:
    """The store's answers as of one point of its log, under the policy in force then."""

    store: Store
    run: TaintRun

    @property
    def seq(self) -> int:
        """The last event this snapshot sees."""
        return self.run.as_of.seq

    def gate(
        self,
        dataset: str,
        mode: Mode | str = Mode.PRECISE,
        *,
        allow_unknown: bool = False,
        max_paths: int = 20,
        max_listed: int = 1000,
    ) -> GateReport:
        """Check every example of `dataset` (NAME@VERSION, or NAME when it has one version):
        `passed` is False when any is TAINTED, or UNKNOWN unless `allow_unknown`. The report
        lists the first `max_listed` tainted and unknown examples and the witness paths of
        the first `max_paths` (page through the rest with `tainted_examples`)."""
        return engine.gate(
            self.store,
            self.run,
            dataset,
            str(mode),
            allow_unknown=allow_unknown,
            max_paths=max_paths,
            max_listed=max_listed,
        )

    def verdict(
        self, example: str, mode: Mode | str = Mode.PRECISE, *, max_paths: int = 3
    ) -> Verdict:
        """One example's status with its restricted sources, witness paths (up to
        `max_paths`) and their evidence (`example` is DATASET@VERSION:ID, or a bare ID when
        it is unique)."""
        node = engine.resolve_example(self.store, example)
        return engine.verdict(
            self.store,
            self.run,
            node,
            str(mode),
            max_paths=max_paths,
            evidence=engine.evidence_of_example(self.store, self.run, node.id)
            if max_paths
            else None,
        )

    def verdicts(self, examples: list[str], mode: Mode | str = Mode.PRECISE) -> list[Verdict]:
        """The verdicts of many examples in one query, without witness paths (ask
        `witness_path` for those one wants)."""
        nodes = [engine.resolve_example(self.store, e) for e in examples]
        found = engine.example_statuses(self.store, self.run, [n.id for n in nodes], str(mode))
        out = []
        for node in nodes:
            status = found[node.id]
            out.append(
                Verdict(
                    example=node.key,
                    status=status.status,
                    mode=Mode(mode),
                    policy_hash=self.run.policy_hash,
                    as_of=self.seq,
                    sources=status.sources,
                    reason=engine.unknown_reason(self.store, status.missing)
                    if status.status == Status.UNKNOWN
                    else None,
                    waivers=engine.waivers_named(self.store, self.run, status.blocked),
                )
            )
        return out

    def witness_path(
        self, example: str, source: str, mode: Mode | str = Mode.PRECISE
    ) -> list[Step] | None:
        """The path by which restricted output `source` (a node key) taints `example`, from
        the source down to the example; None when it does not."""
        node = engine.resolve_example(self.store, example)
        root = self.store.node(source)
        if root is None:
            return None
        steps = engine.witness_path(self.store, self.run, node.id, root.id, str(mode))
        return steps or None

    def tainted_examples(
        self,
        dataset: str,
        mode: Mode | str = Mode.PRECISE,
        *,
        first: int = 50,
        after: str | None = None,
    ) -> list[TaintedExample]:
        """Up to `first` tainted examples of `dataset` in key order after the key `after`
        (pages stay stable while the log grows), without paths."""
        rows = engine.example_page(
            self.store, self.run, dataset, str(mode), Status.TAINTED, after, first
        )
        return [TaintedExample(r.key, r.sources) for r in rows]

    def unknown_examples(
        self,
        dataset: str,
        mode: Mode | str = Mode.PRECISE,
        *,
        first: int = 50,
        after: str | None = None,
    ) -> list[UnknownExample]:
        """Up to `first` examples of `dataset` whose lineage is incomplete, in key order after
        `after`, each with what is missing."""
        rows = engine.example_page(
            self.store, self.run, dataset, str(mode), Status.UNKNOWN, after, first
        )
        return [UnknownExample(r.key, engine.unknown_reason(self.store, r.missing)) for r in rows]

    def tainted_by_tool(self, mode: Mode | str = Mode.PRECISE) -> list[ToolCount]:
        """Tainted examples of the whole store by the tool and model of their sources."""
        return engine.tainted_by_tool(self.store, self.run, str(mode))

    def impact(
        self,
        selection: Restriction | None = None,
        *,
        nodes: Sequence[str] = (),
        max_paths: int = 0,
        max_listed: int = 100_000,
        keep: int | None = None,
        grace: timedelta = engine.RUN_GRACE,
        held: Collection[int] = (),
    ) -> ImpactReport:
        """Every example that outputs matching `selection` (a tool, model, window and
        repositories, as a policy's restriction names them) and of `nodes` (outputs,
        sessions with their outputs, commits with the outputs their evidence names) reach,
        by dataset version, in both modes, as of this snapshot; waivers do not apply. The
        first `max_listed` examples of each list are given, the first `max_paths` with a
        witness path; the counts are exact. Its propagation is a taint run kept as `as_of`
        keeps runs (`keep`, `grace`, `held`)."""
        if selection is None and not nodes:
            raise UsageError("name the outputs: a selection (a tool...), nodes, or both")
        return engine.impact(
            self.store,
            selection or Restriction(reason="impact"),
            self.seq,
            max_paths=max_paths,
            max_listed=max_listed,
            named=nodes,
            keep=keep,
            grace=grace,
            held=held,
        )

    def restricted_outputs(self, mode: Mode | str = Mode.PRECISE) -> list[RestrictedOutput]:
        """The outputs and sessions the policy restricts, by tool, model, repository and
        time, each with whether a waiver lifts it and the examples it taints."""
        return engine.restricted_outputs(self.store, self.run, str(mode))

    def dataset_gates(self, mode: Mode | str = Mode.PRECISE) -> list[GateReport]:
        """The gate of every dataset version, counts only (no examples listed, no paths):
        what `lineage datasets` shows."""
        return [
            self.gate(d.dataset, mode, max_paths=0, max_listed=0)
            for d in self.tainted_by_dataset(mode)
        ]

    def tainted_by_dataset(self, mode: Mode | str = Mode.PRECISE) -> list[DatasetCount]:
        """Tainted examples of every dataset version."""
        return engine.tainted_by_dataset(self.store, self.run, str(mode))

    def write_verdicts(
        self, dataset: str, path: str | os.PathLike[str], mode: Mode | str = Mode.PRECISE
    ) -> int:
        """Write every example's verdict of `dataset` to `path` (.jsonl or .parquet), in
        ingest order; returns the number of rows."""
        return engine.write_example_verdicts(self.store, self.run, dataset, str(mode), str(path))


def check_source(source: str, repo: str | None = None, rev: str | None = None) -> None:
    """UsageError unless `source` is a loader and `repo` and `rev` apply to it."""
    if source not in LOADERS:
        raise UsageError(f"unknown source {source!r}; expected one of {', '.join(sorted(LOADERS))}")
    if repo and source not in AGENT_SOURCES | {"git"}:
        raise UsageError(f"a repo applies to agent sources and git, not {source}")
    if rev and source != "git":
        raise UsageError(f"a rev applies to git, not {source}")


class Database:
    """A lineage store file and the questions it answers. Opening a path that does not exist
    creates the store unless `create` is False (then it is a StoreError)."""

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        create: bool = True,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> None:
        self.store = Store(path, read_only=read_only, memory_limit=memory_limit, create=create)
        if not read_only:
            engine.prepare(self.store)

    @classmethod
    def _on(cls, store: Store) -> "Database":
        db = cls.__new__(cls)
        db.store = store
        return db

    def cursor(self) -> "Database":
        """Another handle on the same store for another thread (a server request): it sees
        committed data and has its own transactions. Close it when done."""
        return Database._on(self.store.cursor())

    def interrupt(self) -> None:
        """Stop the query running on this handle (from another thread); it raises there."""
        self.store.interrupt()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest --------------------------------------------------------------------------------

    def read(
        self,
        source: str,
        *paths: str | os.PathLike[str],
        repo: str | None = None,
        rev: str | None = None,
    ) -> Iterator[Batch]:
        """The batches the `source` loader reads from `paths` (files, or directories walked;
        for `git`, checkouts whose commits already in the store are not read again)."""
        check_source(source, repo, rev)
        for batches in self._readers(source, paths, repo, rev):
            yield from batches

    def _readers(
        self,
        source: str,
        paths: tuple[str | os.PathLike[str], ...],
        repo: str | None,
        rev: str | None,
    ) -> Iterator[Iterator[Batch]]:
        """The loaders' batch streams that `read` chains, each made when the previous one is
        spent: a git checkout's known commits are asked of the store then, in the caller's
        thread, never while a stream is read."""
        if source == "git":
            for path in map(Path, paths):
                known = self.store.commits_of(git_loader.repo_id(path, repo))
                yield git_loader.load([path], rev=rev, repo=repo, exclude=known)
            return
        options = {"repo": repo} if source in AGENT_SOURCES else {}
        yield LOADERS[source](expand_paths(map(str, paths), SUFFIXES[source]), **options)

    def ingest(
        self,
        source: str,
        *paths: str | os.PathLike[str],
        repo: str | None = None,
        rev: str | None = None,
        on_batch: Callable[[Batch, IngestReport], None] | None = None,
    ) -> IngestReport:
        """Load records of `source` from `paths`, one transaction per batch; returns the
        totals. `on_batch` is told of each batch once it is stored (progress, per-file
        lines). Bad records are rejected with file, line and reason; the rest loads. The
        next batch is read while this one is stored."""
        check_source(source, repo, rev)
        total = IngestReport(source)
        before = self.store.log_end()
        with self.store.deferring_snapshots():
            for batch, report in bulk_ingest(
                self._readers(source, paths, repo, rev), self.store.ingest
            ):
                total.add(report)
                if on_batch is not None:
                    on_batch(batch, report)
        # the next gate of a grown dataset version reads its counts, not its members
        engine.prepare(self.store)
        membership.count_grown_versions(self.store, before)
        return total

    def ingest_batch(self, batch: Batch) -> IngestReport:
        """Store one batch a loader made elsewhere (a client that read a git history and sent
        it, `lineage.wire`), in one transaction."""
        return self.store.ingest(batch)

    def known_commits(self, repo: str) -> set[str]:
        """The commits of `repo` already read completely: what a git ingest skips."""
        return self.store.commits_of(repo)

    def ingest_bytes(
        self,
        source: str,
        data: bytes,
        label: str,
        *,
        suffix: str = ".jsonl",
        repo: str | None = None,
    ) -> IngestReport:
        """Load records received in memory (an HTTP body) as if read from a file named
        `label`; paths they name are never resolved against this machine's files."""
        total = IngestReport(source)
        for batch in load_bytes(source, data, label, suffix=suffix, repo=repo):
            total.add(self.store.ingest(batch))
        return total

    # -- policy --------------------------------------------------------------------------------

    def set_policy(
        self, toml: str, source: str = "<policy>", *, strict: bool = False
    ) -> PolicyVersion:
        """Parse, check and store a new policy version (TOML text). With `strict`, a policy
        with anything that can match nothing (see `policy_warnings`) is refused."""
        policy = parse_policy(toml, source)
        if strict and (warnings := self.policy_warnings(policy)):
            raise UsageError(f"{source}: " + "; ".join(warnings) + " (policy not set)")
        return self.store.set_policy(policy)

    def policy_warnings(self, policy: Policy) -> list[str]:
        """What in a policy can match nothing: a tool or model glob that matches no known tool
        and no output in this store, a waiver of a node the store does not hold."""
        return lint_policy(policy, self.store.output_tools()) + [
            f"waiver names {w.node!r}, which is not in the store (yet)"
            for w in policy.waive
            if self.store.node(w.node) is None
        ]

    def policy(self, as_of: str | int | None = None) -> PolicyVersion | None:
        """The policy version in force at `as_of` (default: now), or None."""
        return self.store.policy_at(engine.resolve_as_of(self.store, as_of).seq)

    # -- questions -----------------------------------------------------------------------------

    def as_of(
        self,
        point: str | int | None = None,
        *,
        keep: int | None = None,
        grace: timedelta = engine.RUN_GRACE,
        held: Collection[int] = (),
    ) -> Snapshot:
        """The answers as of event seq `point` or an RFC 3339 time (default: the head of the
        log), under the policy then in force; NoPolicyError when there was none.

        The taint computed for a point is kept in the store and reused; `keep` bounds how
        many such runs stay (besides the runs in `held` and those younger than `grace`), for
        a long-lived process such as the server."""
        engine.policy_in_force(self.store, point)
        run = engine.propagate_taint(self.store, point, keep=keep, grace=grace, held=held)
        return Snapshot(self.store, run)

    def export_parquet(
        self, directory: str | os.PathLike[str], as_of: str | int | None = None
    ) -> export.ExportSummary:
        """Write what propagation and the gate read as of `as_of` (default: the head) as
        partitioned Parquet in `directory` (new or empty), for `lineage.spark` on a cluster;
        `lineage.export` documents the tables."""
        return export.export_parquet(self.store, directory, as_of)

    def gate(
        self,
        dataset: str,
        mode: Mode | str = Mode.PRECISE,
        *,
        allow_unknown: bool = False,
        max_paths: int = 20,
        as_of: str | int | None = None,
    ) -> GateReport:
        """`Snapshot.gate` as of `as_of` (default: now)."""
        return self.as_of(as_of).gate(
            dataset, mode, allow_unknown=allow_unknown, max_paths=max_paths
        )

    def verdict(
        self, example: str, mode: Mode | str = Mode.PRECISE, *, as_of: str | int | None = None
    ) -> Verdict:
        """`Snapshot.verdict` as of `as_of` (default: now)."""
        return self.as_of(as_of).verdict(example, mode)

    def walk(
        self,
        key: str,
        direction: str = "up",
        depth: int = 5,
        kinds: list[str] | None = None,
        first: int = 200,
    ) -> LineageWalk:
        """The nodes and edges within `depth` hops of node `key` (see `lineage`)."""
        return engine.walk_lineage(self.store, key, direction, depth, kinds, first)

    def lineage(
        self,
        key: str,
        direction: str = "up",
        depth: int = 5,
        kinds: list[str] | None = None,
        first: int = 200,
    ) -> "nx.DiGraph":
        """The graph within `depth` hops of node `key`, `up` (what it descends from) or
        `down` (what descends from it), as a networkx DiGraph: nodes keyed by node key with
        `kind` and `attrs`, edges with `kind`, `seq` and `span`; `graph.graph["truncated"]`
        says whether a page cut the walk short."""
        import networkx as nx  # 0.1 s to import: only this method needs it

        walk = self.walk(key, direction, depth, kinds, first)
        graph = nx.DiGraph(root=walk.root.key, truncated=walk.truncated, as_of=walk.as_of)
        for node in walk.nodes:
            graph.add_node(node.key, kind=node.kind, attrs=node.attrs)
        for src, dst, edge in walk.edges:
            span = (
                None
                if edge.span_start is None
                else (edge.span_start, edge.span_end, edge.span_unit)
            )
            graph.add_edge(src.key, dst.key, kind=edge.kind, seq=edge.seq, span=span)
        return graph

    def blame(self, checkout: str | os.PathLike[str], path: str, rev: str = "HEAD") -> FileBlame:
        """Like git blame: every line of `path` at `rev` of the local `checkout`, with the
        tool, model, output and evidence of each attribution (its history must be ingested:
        `ingest("git", checkout)`)."""
        repo, name, blob, text = blamed_file(checkout, path, rev)
        return self.blame_file(repo, name, rev, blob, text, checkout=str(checkout))

    def blame_file(
        self,
        repo: str,
        path: str,
        rev: str,
        blob: str,
        text: list[str] | None,
        *,
        checkout: str | None = None,
    ) -> FileBlame:
        """`blame` of the file version `blob` at `path` of `repo`, whose lines are `text`
        (read from a checkout elsewhere: a client's, for a server that has none)."""
        node = self.store.node(model.file_version_key(repo, path, blob))
        if node is None:
            where = checkout or "the checkout"
            raise UsageError(
                f"{repo}:{path}@{blob[:12]} is not in the store: ingest the "
                f"history of {where} first (`lineage ingest git {where}`)"
            )
        return FileBlame(repo, path, rev, blob, blame(self.store, node, text))

    # -- the store's contents -------------------------------------------------------------------

    def node(self, key: str) -> StoredNode | None:
        """The node with `key` (e.g. "output:toolu_01B"), or None."""
        return self.store.node(key)

    def neighbors(
        self, ids: list[int], direction: str, first: int
    ) -> dict[int, list[tuple[StoredNode, StoredEdge]]]:
        """Up to `first` nodes one hop `up` or `down` from each node id, with the edge."""
        return self.store.neighbors(ids, direction, first)

    def head_seq(self) -> int:
        """The seq of the last event logged (0 for an empty store)."""
        return self.store.head_seq()

    def head_time(self) -> datetime | None:
        """When the last batch was logged (None for an empty store)."""
        return self.store.head_time()

    def counts_by_kind(self) -> dict[str, int]:
        """How many nodes of each kind the store holds."""
        return self.store.counts_by_kind()

    def events(
        self, source: str | None = None, after: int = 0, first: int = 100
    ) -> list[LoggedEvent]:
        """Up to `first` logged events after seq `after`, oldest first (of one `source`)."""
        return self.store.events_page(source, after, first)

    def policy_versions(self) -> list[PolicyVersion]:
        """Every policy version set, oldest first."""
        return self.store.policy_versions()

    def verify(self) -> VerifyResult:
        """Recompute every event's hash and the batch chain (`ok`, and each problem)."""
        return self.store.verify()


def open(
    path: str | os.PathLike[str] = ":memory:",
    *,
    create: bool = True,  # noqa: A001
    read_only: bool = False,
    memory_limit: str | None = None,
) -> Database:
    """Open the store at `path` (created unless `create` is False or `read_only`), e.g.
    ``lineage.open("lineage.duckdb")``; `memory_limit` ("2GB") makes big work spill to disk."""
    return Database(path, create=create, read_only=read_only, memory_limit=memory_limit)
