"""The GraphQL schema (strawberry, code first): verdicts, gate reports, lineage browsing, stats,
policy and the event log, plus the `ingest` and `setPolicy` mutations.

Resolvers never compute taint: they ask `lineage.engine` and `lineage.store`, off the event
loop, on the request's own cursor, within the request's time budget (`api.limits`). The
parents and children of a list of nodes go through a dataloader and a list of verdicts through
one batched query, so fifty cost one query, not fifty. An operation is measured before it runs
(`api.cost`) and refused when it would cost too much.

Errors: what a client got wrong (a denial, a bad argument, a question the engine cannot
answer such as a verdict without a policy, an operation over the limits, a spent time budget)
is answered as a GraphQL error with its message and logged without a traceback; anything else
is a fault: logged with its traceback, answered as "internal error".
"""

import json
import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import partial
from typing import Any, TypeVar, cast

import anyio.to_thread
import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext, Info

from lineage import engine
from lineage.api.auth import allows
from lineage.api.cost import MAX_DEPTH, MAX_PAGE, CostLimiter
from lineage.api.limits import (
    MAX_AS_OF_PER_REQUEST,
    REQUEST_SECONDS,
    OverBudget,
    over_budget,
    run_bounded,
)
from lineage.api.service import Service
from lineage.database import Database, Snapshot
from lineage.loaders import RECORD_SOURCES
from lineage.policy import PolicyError, Restriction
from lineage.store import PolicyVersion, StoredNode

MAX_LINEAGE_DEPTH = 20  # hops one `lineage` query walks
QUERY_CACHE = 256  # query texts whose parse and validation are kept
MAX_TOKENS = 4000  # tokens of one GraphQL document (checked while parsing)
MAX_ALIASES = 50  # aliased fields of one document
INTERNAL_ERROR = "internal error: the server log has the details"
T = TypeVar("T")
# a page of a gate's examples: tainted or unknown ones, keyed by their example key
E = TypeVar("E", engine.TaintedExample, engine.UnknownExample)
log = logging.getLogger("lineage.api")


class Denied(PermissionError):
    """The request's role is too low for this operation."""


@dataclass
class Context:
    """One GraphQL request: its role, its cursor, its deadline and the taint runs it holds."""

    service: Service
    db: Database  # this request's handle on the store
    role: str | None
    tokens: bool = True  # whether the server was given tokens (else everyone is a reader)
    budget: float = REQUEST_SECONDS
    deadline: float = math.inf  # time.monotonic() past which store work is stopped
    limiter: anyio.CapacityLimiter | None = None  # worker threads for store work
    runs: dict[str | None, Snapshot] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the cursor's, held by work
    guard: threading.Lock = field(default_factory=threading.Lock)  # `runs` and `released`
    released: bool = False
    hop_loaders: dict[tuple[str, int], DataLoader] = field(default_factory=dict)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run store work on a worker thread, one at a time on this request's cursor, and
        stop it at the request's deadline (OverBudget)."""

        def locked() -> T:
            with self.lock:
                return fn(*args)

        limiter = self.limiter or anyio.to_thread.current_default_thread_limiter()
        return await run_bounded(self.db, locked, self.deadline, self.budget, limiter)

    def snapshot(self, as_of: str | None) -> Snapshot:
        """The answers at `as_of`, computed once per request and pinned until `release`."""
        with self.guard:
            if as_of in self.runs:
                return self.runs[as_of]
            if len(self.runs) >= MAX_AS_OF_PER_REQUEST:
                raise ValueError(
                    f"one request may ask for at most {MAX_AS_OF_PER_REQUEST} "
                    "distinct asOf values; send several requests"
                )
        snapshot = self.service.snapshot(self.db, as_of, self.deadline, self.budget)
        with self.guard:
            if not self.released:
                self.runs[as_of] = snapshot
                return snapshot
        self.service.release([snapshot.run.run])  # the response went out meanwhile
        raise over_budget(self.budget)

    def release(self) -> None:
        """The response is sent: give back the runs this request held, and stop store work
        still under way for it (graphql-core does not wait for a field's siblings once a
        non-null error has decided the answer)."""
        with self.guard:
            self.released = True
            held = [snapshot.run.run for snapshot in self.runs.values()]
            self.runs.clear()
        self.service.release(held)
        self.deadline = -math.inf
        self.db.interrupt()

    def require(self, role: str) -> None:
        if allows(self.role, role):
            return
        if not self.tokens:
            raise Denied(
                f"this needs the {role} role, and this server runs without tokens, "
                "so every request is a reader: serve with LINEAGE_TOKENS or --tokens "
                "to give roles"
            )
        raise Denied(f"this needs the {role} role; your token has {self.role or 'no'} role")


def _ctx(info: Info) -> Context:
    return info.context["lineage"]


def _page(first: int) -> int:
    if first < 0 or first > MAX_PAGE:
        raise ValueError(f"first must be between 0 and {MAX_PAGE}, not {first}")
    return first


@strawberry.enum
class Mode(Enum):
    PRECISE = "precise"
    STRICT = "strict"


@strawberry.enum
class Direction(Enum):
    UPSTREAM = "up"
    DOWNSTREAM = "down"


@strawberry.enum
class Status(Enum):
    TAINTED = "TAINTED"
    UNKNOWN = "UNKNOWN"
    CLEAN = "CLEAN"


@strawberry.type
class Span:
    start: int
    end: int | None
    unit: str


@strawberry.type
class NodeRef:
    key: str
    kind: str


@strawberry.type
class Evidence:
    """The event that asserted a step: where it came from, as logged."""

    seq: int | None
    source: str | None
    id: str | None
    origin: str | None


@strawberry.type
class Step:
    node: NodeRef
    edge: str | None
    span: Span | None
    evidence: Evidence | None
    lines: JSON | None


@strawberry.type
class WitnessPath:
    steps: list[Step]


def _span(raw: dict[str, Any] | None) -> Span | None:
    return (
        Span(start=raw["start"], end=raw.get("end"), unit=raw.get("unit", "line")) if raw else None
    )


def _path(steps: list[engine.Step]) -> WitnessPath:
    return WitnessPath(
        steps=[
            Step(
                node=NodeRef(key=s.node, kind=s.kind),
                edge=s.edge,
                span=_span(s.span),
                evidence=Evidence(
                    seq=s.event.get("seq"),
                    source=s.event.get("source"),
                    id=s.event.get("id"),
                    origin=s.event.get("origin"),
                )
                if s.event
                else None,
                lines=cast(JSON, s.lines),
            )
            for s in steps
        ]
    )


@strawberry.type
class Waiver:
    node: str
    reason: str | None
    approver: str | None
    expires: str | None


def _waiver(w: engine.WaiverUse) -> Waiver:
    return Waiver(node=w.node, reason=w.reason, approver=w.approver, expires=w.expires)


@strawberry.type
class Verdict:
    example: str
    status: Status
    mode: Mode
    policy_hash: str | None
    as_of: int = strawberry.field(description="The event seq the verdict was computed at.")
    sources: list[str]
    reason: str | None
    waivers: list[Waiver]
    _as_of_arg: strawberry.Private[str | None]

    @strawberry.field(description="Witness paths from each restricted source (up to 3).")
    async def paths(self, info: Info, first: int = 3) -> list[WitnessPath]:
        if self.status != Status.TAINTED:
            return []
        ctx = _ctx(info)
        sources = self.sources[: _page(first)]

        def walk() -> list[WitnessPath]:
            snapshot = ctx.snapshot(self._as_of_arg)
            found = (snapshot.witness_path(self.example, s, self.mode.value) for s in sources)
            return [_path(steps) for steps in found if steps]

        return await ctx.run(walk)


def _verdict(v: engine.Verdict, as_of: str | None) -> Verdict:
    return Verdict(
        example=v.example,
        status=Status(v.status),
        mode=Mode(v.mode),
        policy_hash=v.policy_hash,
        as_of=v.as_of,
        sources=v.sources,
        reason=v.reason,
        waivers=[_waiver(w) for w in v.waivers],
        _as_of_arg=as_of,
    )


@strawberry.type
class Counts:
    examples: int
    tainted: int
    unknown: int
    clean: int


@strawberry.type
class ToolCount:
    tool: str | None
    model: str | None
    examples: int


@strawberry.type
class RepoCount:
    repo: str
    tainted: int
    unknown: int
    clean: int


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class TaintedExample:
    example: str
    sources: list[str]
    _mode: strawberry.Private[str]
    _as_of: strawberry.Private[str | None]

    @strawberry.field(description="One witness path, from the first source.")
    async def path(self, info: Info) -> WitnessPath | None:
        ctx = _ctx(info)

        def walk() -> WitnessPath | None:
            snapshot = ctx.snapshot(self._as_of)
            steps = snapshot.witness_path(self.example, self.sources[0], self._mode)
            return _path(steps) if steps else None

        return await ctx.run(walk)


@strawberry.type
class TaintedConnection:
    nodes: list[TaintedExample]
    page_info: PageInfo


@strawberry.type
class UnknownExample:
    example: str
    reason: str


@strawberry.type
class UnknownConnection:
    nodes: list[UnknownExample]
    page_info: PageInfo


@strawberry.type
class GateReport:
    dataset: str
    mode: Mode
    policy_hash: str | None
    as_of: int
    passed: bool
    counts: Counts
    by_tool: list[ToolCount]
    by_repo: list[RepoCount]
    waivers: list[Waiver]
    _as_of_arg: strawberry.Private[str | None]

    def _more(self, rows: list[E], n: int) -> tuple[list[E], PageInfo]:
        """The first `n` of `rows` (asked for n + 1) and whether there were more."""
        more = len(rows) > n
        rows = rows[:n]
        return rows, PageInfo(has_next_page=more, end_cursor=rows[-1].example if rows else None)

    @strawberry.field
    async def tainted(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> TaintedConnection:
        ctx = _ctx(info)
        n = _page(first)

        def fetch() -> list[engine.TaintedExample]:
            snapshot = ctx.snapshot(self._as_of_arg)
            return snapshot.tainted_examples(
                self.dataset, self.mode.value, first=n + 1, after=after
            )

        rows, page = self._more(await ctx.run(fetch), n)
        return TaintedConnection(
            nodes=[
                TaintedExample(
                    example=r.example,
                    sources=r.sources,
                    _mode=self.mode.value,
                    _as_of=self._as_of_arg,
                )
                for r in rows
            ],
            page_info=page,
        )

    @strawberry.field
    async def unknown(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> UnknownConnection:
        ctx = _ctx(info)
        n = _page(first)

        def fetch() -> list[engine.UnknownExample]:
            snapshot = ctx.snapshot(self._as_of_arg)
            return snapshot.unknown_examples(
                self.dataset, self.mode.value, first=n + 1, after=after
            )

        rows, page = self._more(await ctx.run(fetch), n)
        return UnknownConnection(
            nodes=[UnknownExample(example=r.example, reason=r.reason) for r in rows],
            page_info=page,
        )


@strawberry.type
class LineageEdge:
    src: str
    dst: str
    kind: str
    seq: int
    span: Span | None


def _edge_span(start: int | None, end: int | None, unit: str | None) -> Span | None:
    return Span(start=start, end=end, unit=unit or "line") if start is not None else None


@strawberry.type
class Neighbor:
    node: "Node"
    edge: str
    seq: int
    span: Span | None


@strawberry.type
class Node:
    key: str
    kind: str
    attributes: JSON
    first_seq: int
    defined: bool = strawberry.field(
        description="False while only referenced: its lineage is unknown until a record defines it."
    )
    _id: strawberry.Private[int]

    async def _hop(self, info: Info, direction: str, first: int) -> list[Neighbor]:
        ctx = _ctx(info)
        n = _page(first)
        loader = ctx.hop_loaders.setdefault(
            (direction, n), DataLoader(load_fn=lambda ids: _neighbors(ctx, list(ids), direction, n))
        )
        return await loader.load(self._id)

    @strawberry.field(description="Nodes this one derives from or belongs under (one hop).")
    async def parents(self, info: Info, first: int = 50) -> list[Neighbor]:
        return await self._hop(info, "up", first)

    @strawberry.field(description="Nodes derived from or belonging to this one (one hop).")
    async def children(self, info: Info, first: int = 50) -> list[Neighbor]:
        return await self._hop(info, "down", first)


def _node(n: StoredNode) -> Node:
    return Node(
        key=n.key,
        kind=n.kind,
        attributes=cast(JSON, n.attrs),
        first_seq=n.first_seq,
        defined=n.defined_seq is not None,
        _id=n.id,
    )


async def _neighbors(
    ctx: Context, ids: list[int], direction: str, first: int
) -> list[list[Neighbor]]:
    found = await ctx.run(ctx.db.neighbors, ids, direction, first)
    return [
        [
            Neighbor(
                node=_node(n),
                edge=e.kind,
                seq=e.seq,
                span=_edge_span(e.span_start, e.span_end, e.span_unit),
            )
            for n, e in found[i]
        ]
        for i in ids
    ]


@strawberry.type
class Lineage:
    root: Node
    nodes: list[Node]
    edges: list[LineageEdge]
    truncated: bool
    as_of: int


@strawberry.type
class KindCount:
    kind: str
    count: int


@strawberry.type
class DatasetCount:
    dataset: str
    tainted: int
    examples: int


@strawberry.type
class Stats:
    head_seq: int
    head_time: datetime | None
    nodes_by_kind: list[KindCount]
    tainted_by_tool: list[ToolCount]
    tainted_by_dataset: list[DatasetCount]
    policy_hash: str | None
    as_of: int


@strawberry.type
class PolicyWaiver:
    node: str
    reason: str
    approver: str
    expires: str | None
    expired: bool = strawberry.field(description="The waiver's expiry has passed (now).")


@strawberry.type
class Policy:
    version: int
    hash: str
    seq: int
    set_at: datetime
    toml: str
    waivers: list[PolicyWaiver]


def _policy(p: PolicyVersion) -> Policy:
    now = datetime.now(UTC)
    return Policy(
        version=p.version,
        hash=p.hash,
        seq=p.seq,
        set_at=p.set_at,
        toml=p.policy.toml,
        waivers=[
            PolicyWaiver(
                node=w.node,
                reason=w.reason,
                approver=w.approver,
                expires=w.expires,
                expired=not w.active_at(now),
            )
            for w in p.policy.waive
        ],
    )


@strawberry.type
class Event:
    seq: int
    id: str
    source: str
    type: str
    origin: str | None
    payload: JSON
    received_at: datetime


@strawberry.type
class EventPage:
    events: list[Event]
    page_info: PageInfo
    head_seq: int


@strawberry.type
class IngestResult:
    source: str
    accepted: int
    duplicate: int
    rejected: int
    ignored: int
    rejections: list[str]
    head_seq: int


@strawberry.type(description="An example an impact reaches, and the outputs it descends from.")
class ImpactExample:
    example: str
    sources: list[str]


@strawberry.type
class ImpactCounts:
    precise: int
    strict: int


@strawberry.type(description="The examples of one dataset version an impact reaches.")
class DatasetImpact:
    dataset: str
    counts: ImpactCounts = strawberry.field(description="Exact, however many are listed.")
    precise: list[ImpactExample] = strawberry.field(
        description="Examples restricted lines reach (the first `first`)."
    )
    strict: list[ImpactExample] = strawberry.field(
        description="Examples with a selected ancestor (the first `first`)."
    )


@strawberry.type(description="Every example the selected outputs reach, by dataset version.")
class Impact:
    selection: JSON
    as_of: int
    datasets: list[DatasetImpact]


def _impact(found: engine.ImpactReport) -> Impact:
    return Impact(
        selection=cast(JSON, found.selection),
        as_of=found.as_of,
        datasets=[
            DatasetImpact(
                dataset=d.dataset,
                counts=ImpactCounts(precise=d.precise_count, strict=d.strict_count),
                precise=[ImpactExample(example=t.example, sources=t.sources) for t in d.precise],
                strict=[ImpactExample(example=t.example, sources=t.sources) for t in d.strict],
            )
            for d in found.datasets
        ],
    )


def _verdicts(ctx: Context, examples: list[str], mode: Mode, as_of: str | None) -> list[Verdict]:
    """Many verdicts: the examples resolved, then their statuses in one query."""
    return [_verdict(v, as_of) for v in ctx.snapshot(as_of).verdicts(examples, mode.value)]


@strawberry.type
class Query:
    @strawberry.field(
        description="The verdict of one example (DATASET@VERSION:ID, its key, "
        "or a bare id when unique), with witness paths and waivers."
    )
    async def verdict(
        self, info: Info, example: str, mode: Mode = Mode.PRECISE, as_of: str | None = None
    ) -> Verdict:
        ctx = _ctx(info)

        def compute() -> Verdict:
            snapshot = ctx.snapshot(as_of)
            return _verdict(snapshot.verdict(example, mode.value, max_paths=0), as_of)

        return await ctx.run(compute)

    @strawberry.field(description="Verdicts of many examples in one round trip (one query).")
    async def verdicts(
        self, info: Info, examples: list[str], mode: Mode = Mode.PRECISE, as_of: str | None = None
    ) -> list[Verdict]:
        _page(len(examples))
        ctx = _ctx(info)
        return await ctx.run(_verdicts, ctx, examples, mode, as_of)

    @strawberry.field(
        description="Gate a dataset version (NAME@VERSION, or NAME for its "
        "latest): counts, breakdowns and paginated tainted/unknown examples."
    )
    async def gate(
        self,
        info: Info,
        dataset: str,
        mode: Mode = Mode.PRECISE,
        as_of: str | None = None,
        allow_unknown: bool = False,
    ) -> GateReport:
        ctx = _ctx(info)

        def compute() -> engine.GateReport:
            return ctx.snapshot(as_of).gate(
                dataset,
                mode.value,
                allow_unknown=allow_unknown,
                max_paths=0,
                max_listed=0,
            )

        r = await ctx.run(compute)
        return GateReport(
            dataset=r.dataset,
            mode=mode,
            policy_hash=r.policy_hash,
            as_of=r.as_of,
            passed=r.passed,
            counts=Counts(
                examples=r.counts.examples,
                tainted=r.counts.tainted,
                unknown=r.counts.unknown,
                clean=r.counts.clean,
            ),
            by_tool=[ToolCount(tool=t.tool, model=t.model, examples=t.examples) for t in r.by_tool],
            by_repo=[
                RepoCount(repo=x.repo, tainted=x.tainted, unknown=x.unknown, clean=x.clean)
                for x in r.by_repo
            ],
            waivers=[_waiver(w) for w in r.waivers],
            _as_of_arg=as_of,
        )

    @strawberry.field(
        description="The reverse of a gate (as `lineage impact`): every example, by dataset "
        "version, that outputs reach in precise and strict modes, from named nodes (outputs, "
        "sessions with their outputs, commits with the outputs their evidence names), or "
        "outputs of a tool (model, window, repositories), or both; exact counts, the first "
        "`first` examples of each list; waivers do not apply."
    )
    async def impact(
        self,
        info: Info,
        nodes: list[str] | None = None,
        tool: str | None = None,
        model: str | None = None,
        since: str | None = None,
        until: str | None = None,
        repos: list[str] | None = None,
        as_of: str | None = None,
        first: int = 50,
    ) -> Impact:
        ctx = _ctx(info)
        n = _page(first)
        _page(len(nodes or []))
        if not (nodes or tool):
            raise ValueError(
                "name what to trace: nodes (output:ID, session:ID, commit:REPO@SHA) or a tool"
            )
        if not tool and (model or since or until or repos):
            raise ValueError("model, since, until and repos select outputs of a tool")
        selection = (
            Restriction(
                reason="impact",
                tool=tool,
                model=model,
                since=since,
                until=until,
                repos=tuple(repos or ()),
            )
            if tool
            else None
        )

        def compute() -> Impact:
            return _impact(
                ctx.service.impact(
                    ctx.db, selection, list(nodes or []), as_of, n, ctx.deadline, ctx.budget
                )
            )

        return await ctx.run(compute)

    @strawberry.field(description="One node by key, to browse lineage a hop at a time.")
    async def node(self, info: Info, key: str) -> Node | None:
        ctx = _ctx(info)
        found = await ctx.run(ctx.db.node, key)
        return _node(found) if found else None

    @strawberry.field(
        description="The lineage around a node, breadth first, up to `depth` "
        "hops and `first` nodes; `truncated` says whether more was left out."
    )
    async def lineage(
        self,
        info: Info,
        key: str,
        direction: Direction,
        depth: int = 5,
        kinds: list[str] | None = None,
        first: int = 200,
    ) -> Lineage:
        ctx = _ctx(info)
        if not 1 <= depth <= MAX_LINEAGE_DEPTH:
            raise ValueError(f"depth must be between 1 and {MAX_LINEAGE_DEPTH}")
        limit = _page(first)

        def walk() -> Lineage:
            found = ctx.db.walk(key, direction.value, depth, kinds, limit)
            return Lineage(
                root=_node(found.root),
                nodes=[_node(n) for n in found.nodes],
                edges=[
                    LineageEdge(
                        src=src.key,
                        dst=dst.key,
                        kind=e.kind,
                        seq=e.seq,
                        span=_edge_span(e.span_start, e.span_end, e.span_unit),
                    )
                    for src, dst, e in found.edges
                ],
                truncated=found.truncated,
                as_of=found.as_of,
            )

        return await ctx.run(walk)

    @strawberry.field(description="Counts for dashboards, and how far ingestion has got.")
    async def stats(self, info: Info, mode: Mode = Mode.PRECISE) -> Stats:
        ctx = _ctx(info)

        def compute() -> Stats:
            head, head_time = ctx.db.head_seq(), ctx.db.head_time()
            try:
                snapshot: Snapshot | None = ctx.snapshot(None)
            except engine.NoPolicyError:  # counts still answer; taint needs a policy
                snapshot = None
            return Stats(
                head_seq=head,
                head_time=head_time,
                nodes_by_kind=[
                    KindCount(kind=k, count=c) for k, c in ctx.db.counts_by_kind().items()
                ],
                tainted_by_tool=[
                    ToolCount(tool=t.tool, model=t.model, examples=t.examples)
                    for t in snapshot.tainted_by_tool(mode.value)
                ]
                if snapshot
                else [],
                tainted_by_dataset=[
                    DatasetCount(dataset=d.dataset, tainted=d.tainted, examples=d.examples)
                    for d in snapshot.tainted_by_dataset(mode.value)
                ]
                if snapshot
                else [],
                policy_hash=snapshot.run.policy_hash if snapshot else None,
                as_of=snapshot.seq if snapshot else head,
            )

        return await ctx.run(compute)

    @strawberry.field(description="A policy version (default: the one in force).")
    async def policy(self, info: Info, version: int | None = None) -> Policy | None:
        ctx = _ctx(info)

        def find() -> Policy | None:
            versions = ctx.db.policy_versions()
            chosen = [p for p in versions if version is None or p.version == version]
            if not chosen:
                return None
            return _policy(chosen[-1])

        return await ctx.run(find)

    @strawberry.field(description="Every policy version set, oldest first.")
    async def policies(self, info: Info) -> list[Policy]:
        ctx = _ctx(info)
        return await ctx.run(lambda: [_policy(p) for p in ctx.db.policy_versions()])

    @strawberry.field(description="The event log after seq `after`, oldest first.")
    async def events(
        self, info: Info, source: str | None = None, after: int = 0, first: int = 100
    ) -> EventPage:
        ctx = _ctx(info)
        n = _page(first)

        def fetch() -> EventPage:
            rows = ctx.db.events(source, after, n + 1)
            page = [
                Event(
                    seq=r.seq,
                    id=r.id,
                    source=r.source,
                    type=r.type,
                    origin=r.origin,
                    payload=json.loads(r.payload),
                    received_at=r.received_at,
                )
                for r in rows[:n]
            ]
            return EventPage(
                events=page,
                page_info=PageInfo(
                    has_next_page=len(rows) > n, end_cursor=str(page[-1].seq) if page else None
                ),
                head_seq=ctx.db.head_seq(),
            )

        return await ctx.run(fetch)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Ingest records of one loader source (needs ingester).")
    async def ingest(self, info: Info, source: str, records: list[JSON]) -> IngestResult:
        ctx = _ctx(info)
        ctx.require("ingester")
        if source not in RECORD_SOURCES:
            raise ValueError(
                f"cannot take {source!r} records here; expected one of {', '.join(RECORD_SOURCES)}"
            )
        body = "".join(json.dumps(r) + "\n" for r in records).encode()
        rep = await anyio.to_thread.run_sync(
            partial(ctx.service.ingest, source, body, "graphql ingest")
        )
        return IngestResult(
            source=source,
            accepted=rep.accepted,
            duplicate=rep.duplicate,
            rejected=rep.rejected,
            ignored=rep.ignored,
            rejections=[str(r) for r in rep.rejections],
            head_seq=await ctx.run(ctx.db.head_seq),
        )

    @strawberry.mutation(description="Store a new policy version from TOML (needs admin).")
    async def set_policy(self, info: Info, toml: str) -> Policy:
        ctx = _ctx(info)
        ctx.require("admin")
        try:
            p = await anyio.to_thread.run_sync(ctx.service.set_policy, toml)
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc
        return _policy(p)


def expected(error: GraphQLError) -> bool:
    """Whether `error` is the client's (a GraphQL error of its own, a denial, a bad argument,
    an unanswerable question, a spent budget) rather than a fault of the server."""
    original = error.original_error
    return original is None or isinstance(original, Denied | ValueError | OverBudget)


class CachedValidation(ValidationCache):
    """strawberry's validation cache, for documents that their cost did not refuse already
    (its own hook would replace that refusal by the validation's verdict)."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
            return
        yield from super().on_validate()


# The depth and alias limits as validation rules, made once: strawberry's limiters make a new
# rule class for each instance, that is for each request, and the validation cache, keyed by
# the rules, then missed every time (4 ms of validation per request).
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


class LineageSchema(strawberry.Schema):
    """The schema, logging a traceback only for real faults."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        faults = [e for e in errors if not expected(e)]
        for error in errors:
            if expected(error):
                log.debug("graphql: %s", error.message)
        if faults:
            super().process_errors(faults, execution_context)


schema = LineageSchema(
    query=Query,
    mutation=Mutation,
    extensions=[
        # A query text is parsed and validated once (the rules do not depend on variables);
        # its cost, which does, is measured for every request, before validation (whose
        # rules expand fragments).
        lambda: ParserCache(maxsize=QUERY_CACHE),
        CostLimiter,
        lambda: CachedValidation(maxsize=QUERY_CACHE),
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: MaskErrors(
            should_mask_error=lambda e: not expected(e), error_message=INTERNAL_ERROR
        ),
    ],
)
