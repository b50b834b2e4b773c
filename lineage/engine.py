"""The taint engine: which nodes descend from a restricted tool output, and the evidence why.

`propagate_taint` runs one set-based, multi-source pass from every restricted output (and
session) along derivation edges only, and materializes (node, root, pred, depth) rows per policy
hash and as-of point. Membership edges are never followed, so a shard with one tainted example
does not taint the others. `verdict` and `gate` read that table; explaining an example is a walk
up `pred`.

Modes:
- strict: an example is TAINTED when any restricted output is an ancestor (entity level);
- precise: the restricted lines must survive into the example's span: a file version passes
  taint to an example only where an attributed interval of that root overlaps the example's
  span; an example derived from a tainted example, or built directly from a restricted output or
  session, is tainted in both modes.
UNKNOWN: not tainted, and an ancestor was referenced but never ingested. CLEAN: neither.
"""

import shutil
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lineage import membership, model, propagation, schema, witness
from lineage.eventlog import canonical_json
from lineage.model import DERIVATION, EdgeKind, NodeKind
from lineage.policy import Policy, Restriction, Waiver, glob_regex, parse_moment
from lineage.run_cache import RunCache
from lineage.store import PolicyVersion, Store, StoredEdge, StoredNode, facets


class Mode(StrEnum):
    """How a verdict reads taint: `precise`, restricted lines must reach the example's span;
    `strict`, any restricted ancestor."""

    PRECISE = "precise"
    STRICT = "strict"


class Status(StrEnum):
    """An example's verdict. UNKNOWN (lineage incomplete) fails a gate unless allowed."""

    TAINTED = "TAINTED"
    UNKNOWN = "UNKNOWN"
    CLEAN = "CLEAN"


MODES = tuple(m.value for m in Mode)
TAINTED, UNKNOWN, CLEAN = Status.TAINTED, Status.UNKNOWN, Status.CLEAN
_FOREVER = 2**62
_DERIVATION_SQL = ", ".join(f"'{k}'" for k in sorted(DERIVATION))


class EngineError(ValueError):
    """A question the engine cannot answer as asked (unknown example, bad as-of...)."""


class NoPolicyError(EngineError):
    """No policy is in force at the as-of point: a verdict or a gate would judge against
    nothing, so there is no answer (never a silent pass)."""


@dataclass(frozen=True)
class AsOf:
    seq: int
    time: datetime


@dataclass(frozen=True)
class TaintRun:
    """One materialized propagation: a policy version, the waivers active, an as-of point."""

    run: int
    as_of: AsOf
    policy: PolicyVersion | None
    waivers: tuple[Waiver, ...]

    @property
    def policy_hash(self) -> str | None:
        return self.policy.hash if self.policy else None


@dataclass
class Step:
    """One node of a witness path and the edge that led into it."""

    node: str
    kind: str
    edge: str | None
    span: dict[str, Any] | None
    event: dict[str, Any] | None
    lines: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "node": self.node,
            "kind": self.kind,
            "edge": self.edge,
            "span": self.span,
            "event": self.event,
        }
        if self.lines is not None:
            out["lines"] = self.lines
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Step":
        """The step `as_dict` wrote (a server's answer read back)."""
        return cls(
            raw["node"], raw["kind"], raw["edge"], raw["span"], raw["event"], raw.get("lines")
        )


@dataclass(frozen=True)
class WaiverUse:
    """A waiver of the policy that stopped taint: the node waived, why, who approved it and
    when it expires (None: never)."""

    node: str
    reason: str | None
    approver: str | None
    expires: str | None


@dataclass
class Verdict:
    """One example's answer: its status, the restricted sources it descends from and witness
    paths to them (TAINTED), why its lineage is incomplete (UNKNOWN), the waivers that
    stopped taint on the way."""

    example: str
    status: Status
    mode: Mode
    policy_hash: str | None
    as_of: int
    sources: list[str] = field(default_factory=list)
    paths: list[list[Step]] = field(default_factory=list)
    reason: str | None = None
    waivers: list[WaiverUse] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "example": self.example,
            "status": self.status,
            "mode": self.mode,
            "policy_hash": self.policy_hash,
            "as_of": self.as_of,
            "sources": self.sources,
            "reason": self.reason,
            "waivers": [asdict(w) for w in self.waivers],
            "paths": [[s.as_dict() for s in p] for p in self.paths],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Verdict":
        """The verdict `as_dict` wrote (a server's answer read back)."""
        return cls(
            example=raw["example"],
            status=Status(raw["status"]),
            mode=Mode(raw["mode"]),
            policy_hash=raw["policy_hash"],
            as_of=raw["as_of"],
            sources=raw["sources"],
            paths=[[Step.from_dict(s) for s in p] for p in raw["paths"]],
            reason=raw["reason"],
            waivers=[WaiverUse(**w) for w in raw["waivers"]],
        )


# -- as-of ------------------------------------------------------------------------------------


def resolve_as_of(store: Store, as_of: str | int | None) -> AsOf:
    """An as-of point from a seq (``"120"``), an RFC 3339 time or date, or None for the head."""
    head = store.head_seq()
    if as_of is None or as_of == "":
        return AsOf(head, datetime.now(UTC))
    text = str(as_of).strip()
    if text.isdigit():
        seq = int(text)
        if seq > head:
            raise EngineError(f"as-of point {seq} is past the head of the log (seq {head})")
        return AsOf(seq, store.time_of_seq(seq) or datetime.now(UTC))
    try:
        moment = parse_moment(text, end_of_day=False)
    except ValueError as exc:
        raise EngineError(
            f"as-of point {text!r}: give an event seq (e.g. 120) or a time "
            "(e.g. 2026-03-01 or 2026-03-01T12:00:00Z)"
        ) from exc
    return AsOf(store.seq_at_time(moment), moment)


# -- propagation ------------------------------------------------------------------------------


def _restriction_sql(rule: Restriction) -> tuple[str, list[Any]]:
    """SQL that is true for an output/session node the rule restricts. An unknown time or repo
    counts as inside the rule's window and scope, an unknown model as the rule's model when the
    rule names the tool (fail closed; a rule of a model alone restricts the outputs known to be
    of that model)."""
    conds: list[str] = []
    params: list[Any] = []
    for attr, pattern in (("tool", rule.tool), ("model", rule.model)):
        if pattern is not None:
            value = f"n.{attr}"
            match = f"regexp_full_match(lower({value}), {_literal(glob_regex(pattern.lower()))})"
            if attr == "model" and rule.tool is not None:
                # an output of the rule's tool whose record names no model (Copilot's hooks
                # never do, Cursor's Auto says `default`) may be of the model: fail closed
                match = f"({value} IS NULL OR {match})"
            conds.append(f"coalesce({match}, false)")
    time = "n.occurred_at"
    if rule.since:
        conds.append(f"({time} IS NULL OR {time} >= ?)")
        params.append(parse_moment(rule.since, end_of_day=False))
    if rule.until:
        conds.append(f"({time} IS NULL OR {time} < ?)")
        params.append(parse_moment(rule.until, end_of_day=True))
    if rule.repos:
        repo = "lower(n.repo)"
        ors = " OR ".join(
            f"regexp_full_match({repo}, {_literal(glob_regex(p.lower()))})" for p in rule.repos
        )
        conds.append(f"({repo} IS NULL OR {ors})")
    if rule.nodes:
        conds.append(f"n.key IN ({', '.join('?' for _ in rule.nodes)})")
        params += list(rule.nodes)
    return "(" + " AND ".join(conds or ["true"]) + ")", params


def _literal(pattern: str) -> str:
    """A regex as a SQL string constant: DuckDB compiles a constant pattern once, a bound
    parameter once per row."""
    return "'" + pattern.replace("'", "''") + "'"


KEEP_RUNS = 8  # older materializations are dropped; an as-of query recomputes its own
RUN_GRACE = timedelta(minutes=10)  # a run a request may still be reading is never dropped


def prepare(store: Store) -> None:
    """Create the engine's tables (taint runs, taint rows, incomplete lineage) in the store's
    file if they are not there yet (schema/engine.sql; the store never touches them). Once per
    database in this process; a read-write open by `lineage.open` does it before any reader
    thread starts."""
    if store.memo.get("engine_tables"):
        return
    present = {
        r[0]
        for r in store.fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name IN ('taint_runs', 'taint', 'incomplete', 'taint_parts', "
            "'member_counts')"
        )
    }
    if len(present - {"member_counts"}) < 4:  # a read-only store lacking them fails here
        store.execute(schema.ddl("engine"))
    if "member_counts" not in present and not store.read_only:
        # counts are a shortcut: a read-only store goes without (the engine's whole DDL
        # again took 2.3 s on a store of 20M examples: only this table is made)
        store.execute(schema.ddl("membership"))
    # Runs of a store made before runs had parts are each their own: a run without parts
    # would read no rows, every example CLEAN (a read-only store fails here instead).
    if store.fetch_one(
        "SELECT count(*) FROM taint_runs WHERE run NOT IN (SELECT run FROM taint_parts)"
    )[0]:
        store.execute(
            "INSERT INTO taint_parts SELECT run, run FROM taint_runs "
            "WHERE run NOT IN (SELECT run FROM taint_parts)"
        )
    store.memo["engine_tables"] = True


def propagate_taint(
    store: Store,
    as_of: str | int | None = None,
    *,
    keep: int | None = None,
    grace: timedelta = RUN_GRACE,
    held: Collection[int] = (),
) -> TaintRun:
    """Materialize taint for the policy in force at `as_of` (default: the head of the log).

    Reuses an earlier run with the same policy, active waivers and as-of seq. A new run
    drops old ones (see `_forget_old_runs`): beyond the newest `keep` (default KEEP_RUNS),
    except runs younger than `grace` and the runs in `held`. A process that knows every run
    its readers hold (the server) passes `grace=timedelta(0)` and `held`, which bounds the
    runs kept whatever as-of points readers ask for.
    """
    prepare(store)
    if not store.read_only:
        # names an ingest killed before its end left unresolved are resolved at the log's
        # end: before any run there is computed, which would otherwise be kept without them
        store.refresh_snapshots()
    point = resolve_as_of(store, as_of)
    policy = store.policy_at(point.seq)
    waivers = tuple(policy.policy.active_waivers(point.time)) if policy else ()
    return _run_for(store, point, policy, waivers, keep, grace, held)


def _run_for(
    store: Store,
    point: AsOf,
    policy: PolicyVersion | None,
    waivers: tuple[Waiver, ...],
    keep: int | None = None,
    grace: timedelta = RUN_GRACE,
    held: Collection[int] = (),
) -> TaintRun:
    """The run of `policy` with `waivers` at `point`: found, extended from an earlier one, or
    materialized."""
    waiver_key = canonical_json(sorted(w.node for w in waivers))
    policy_key = _run_key(policy)
    found = store.fetch_maybe_one(
        "SELECT run FROM taint_runs WHERE policy_hash = ? AND waivers = ? AND as_of = ?",
        [policy_key, waiver_key, point.seq],
    )
    if found:
        return TaintRun(found[0], point, policy, waivers)
    base = store.fetch_maybe_one(
        "SELECT run, as_of FROM taint_runs WHERE policy_hash = ? AND waivers = ? AND as_of < ? "
        "ORDER BY as_of DESC LIMIT 1",
        [policy_key, waiver_key, point.seq],
    )
    with store.transaction():
        run = store.fetch_one(
            "SELECT greatest((SELECT coalesce(max(run), 0) FROM taint_runs), "
            "(SELECT coalesce(max(part), 0) FROM taint_parts)) + 1"
        )[0]
        rules = policy.policy if policy else None
        kept = (policy_key, waiver_key)
        if base is None or not _extend(
            store, run, base[0], base[1], point.seq, rules, waivers, kept
        ):
            _materialize(store, run, point.seq, rules, waivers, kept)
        store.execute(
            "INSERT INTO taint_runs VALUES (?, ?, ?, ?, ?)",
            [run, policy_key, waiver_key, point.seq, datetime.now(UTC)],
        )
        store.execute("INSERT INTO taint_parts VALUES (?, ?)", [run, run])
        _forget_old_runs(store, KEEP_RUNS if keep is None else keep, grace, held)
    return TaintRun(run, point, policy, waivers)


# The runs whose `taint` and `incomplete` rows make up the run a query names (by `?`, or by
# `$run`): itself and the runs it extended, whose rows it inherits (`_inherit`). Every read of
# those tables filters `run` by it.
PARTS_OF = "IN (SELECT part FROM taint_parts WHERE run = ?)"
PARTS_OF_RUN = PARTS_OF.replace("?", "$run")


# How a policy's rules select the restricted outputs: part of the key a run is kept under, so
# that a run computed under an earlier reading is never reused once the reading changes.
# 2: an output of a rule's tool that names no model counts as of the rule's model.
RULES_READING = 2


def _run_key(policy: PolicyVersion | None) -> str:
    """What a run of `policy` is kept under: its hash and the rules' reading ("" for none)."""
    return f"{policy.hash}/r{RULES_READING}" if policy else ""


def _forget_old_runs(
    store: Store, keep: int, grace: timedelta = RUN_GRACE, held: Collection[int] = ()
) -> None:
    """Drop runs beyond the newest `keep`, except the newest of each policy and waiver set,
    those computed within `grace` (a reader in another process may hold them) and `held`."""
    old = [
        r[0]
        for r in store.fetch_all(
            """
        SELECT run FROM taint_runs
        WHERE computed_at < ?
          AND run NOT IN (SELECT run FROM taint_runs ORDER BY run DESC LIMIT ?)
          AND run NOT IN (SELECT arg_max(run, as_of) FROM taint_runs
                          GROUP BY policy_hash, waivers)
          AND run NOT IN (SELECT unnest(?::BIGINT[]))""",
            [datetime.now(UTC) - grace, max(keep, 1), sorted(held)],
        )
    ]
    if not old:
        return
    # Rows of a forgotten run stay while a kept run inherits them (`_inherit`).
    parts = [
        r[0]
        for r in store.fetch_all(
            "SELECT DISTINCT part FROM taint_parts WHERE run IN (SELECT unnest(?::BIGINT[]))",
            [old],
        )
    ]
    for table in ("taint_runs", "taint_parts"):
        store.execute(f"DELETE FROM {table} WHERE run IN (SELECT unnest(?::BIGINT[]))", [old])
    unused = [
        r[0]
        for r in store.fetch_all(
            "SELECT unnest(?::BIGINT[]) AS part EXCEPT SELECT part FROM taint_parts", [parts]
        )
    ]
    for table in ("taint", "incomplete"):
        store.execute(f"DELETE FROM {table} WHERE run IN (SELECT unnest(?::BIGINT[]))", [unused])


def _waived(store: Store, waivers: tuple[Waiver, ...]) -> tuple[int, np.ndarray]:
    """(bound on node ids, which nodes a waiver names) for the array propagation."""
    # the top row rather than max(id): DuckDB skips row groups for it, where a max over a
    # table just appended to scanned every id (20 ms of an increment at 10M examples)
    size = store.fetch_one(
        "SELECT coalesce((SELECT id FROM nodes ORDER BY id DESC LIMIT 1), 0) + 1"
    )[0]
    waived = np.zeros(size, dtype=bool)
    waived[list(store.node_ids(w.node for w in waivers).values())] = True
    return size, waived


def _kind_code(column: str) -> str:
    return (
        f"CASE {column} "
        + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(propagation.KINDS))
        + " END"
    )


def restricted_roots(store: Store, seq: int, policy: Policy | None, after: int = 0) -> np.ndarray:
    """The outputs and sessions the policy restricts, defined after `after` and by `seq`."""
    rules = [_restriction_sql(r) for r in (policy.restrict if policy else ())]
    where = " OR ".join(sql for sql, _ in rules) or "false"
    # A store made before the columns, opened read-only, reads them from the JSON; then the
    # CTE is materialized first, else DuckDB evaluates the JSON on every node, not on outputs.
    columns = ", ".join(
        c if _has_rule_facets(store) else f"{facets.from_attrs(c, 'nodes')} AS {c}"
        for c in facets.COLUMNS
    )
    return np.asarray(
        store.fetch_numpy(
            f"""
        WITH n AS MATERIALIZED (
            SELECT id, key, {columns} FROM nodes
            WHERE kind IN ({facets.RULE_KINDS_SQL}) AND defined_seq > ? AND defined_seq <= ?)
        SELECT n.id FROM n WHERE ({where}) ORDER BY n.id""",
            [after, seq] + [p for _, ps in rules for p in ps],
        )["id"],
        dtype=np.int64,
    )


def _has_rule_facets(store: Store) -> bool:
    """Whether `nodes` has the rule columns (`lineage.store.facets`): a store made before
    them, opened read-only, has not been migrated."""
    if not store.read_only:
        return True
    found = store.memo.get("rule_facets")
    if found is None:
        found = store.memo["rule_facets"] = bool(
            store.fetch_one(
                "SELECT count(*) FROM duckdb_columns() "
                "WHERE table_name = 'nodes' AND column_name = 'occurred_at'"
            )[0]
        )
    return bool(found)


def restricted_intervals(
    store: Store, seq: int, roots: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The intervals restricted outputs (`roots`) wrote, as of `seq`: only theirs decide a
    precise verdict."""
    store.register("_roots", pa.table({"id": roots.astype(np.int64)}))
    try:
        spans = store.fetch_numpy(
            """
            SELECT file_version, output, line_start, coalesce(line_end, -1) AS line_end
            FROM attributions WHERE seq <= ? AND output IN (SELECT id FROM _roots)""",
            [seq],
        )
    finally:
        store.unregister("_roots")
    fv, output, start, end = (
        np.asarray(spans[c], dtype=np.int64)
        for c in ("file_version", "output", "line_start", "line_end")
    )
    return fv, output, start, end


def _graph(columns: dict[str, Any]) -> propagation.Graph:
    return propagation.Graph(
        *(np.asarray(columns[c], dtype=np.int64) for c in ("src", "dst") + propagation.EDGE)
    )


_EDGE_COLUMNS = f"""{_kind_code("e.kind")} AS kind,
    coalesce(b.line_start, e.span_start, -1) AS span_start,
    coalesce(b.line_end, e.span_end, -1) AS span_end,
    CASE WHEN b.line_start IS NOT NULL THEN 1
         ELSE CASE e.span_unit WHEN 'line' THEN 1 WHEN 'byte' THEN 2 ELSE 0 END END AS span_unit,
    e.seq"""
# A byte span named before its file's content was seen, mapped to lines later (as of $s).
_BYTE_LINES = """LEFT JOIN byte_lines b ON e.span_unit = 'byte' AND b.src = e.src AND b.dst = e.dst
    AND b.byte_start = e.span_start AND b.seq <= $s"""
# The derivation graph as of $s, as propagation reads it: files named at a commit resolved to
# their version (a repeated assertion of an edge is harmless: each level of the propagation
# keeps one row per node and root), kind and span unit as codes (propagation.KINDS, UNITS).
DERIVATION_GRAPH_SQL = f"""
    SELECT coalesce(a.target, e.src) AS src, e.dst, {_EDGE_COLUMNS}
    FROM edges e {_BYTE_LINES}
    LEFT JOIN (SELECT alias, min(target) AS target FROM aliases WHERE seq <= $s
               GROUP BY alias) a ON a.alias = e.src
    WHERE e.seq <= $s AND e.kind IN ({_DERIVATION_SQL})"""


def _edges_out_of(store: Store, seq: int, kinds: Sequence[str]) -> Any:
    """A fetch of the edges out of given nodes, as a propagation.Graph: derivation edges of
    `kinds` as of `seq` whose source is the node or a name of it (a file at a commit)."""
    kind_list = ", ".join(f"'{k}'" for k in kinds)

    def fetch(nodes: np.ndarray) -> Any:
        # a registered table, not a list parameter: DuckDB then knows how few they are
        store.register("_from", pa.table({"id": np.asarray(nodes, dtype=np.int64)}))
        try:
            found = store.fetch_numpy(
                f"""
                WITH names AS (SELECT id AS node, id AS name FROM _from
                               UNION ALL
                               SELECT al.target, al.alias FROM aliases al
                               JOIN _from f ON al.target = f.id WHERE al.seq <= $s)
                SELECT n.node AS src, e.dst, {_EDGE_COLUMNS}
                FROM edges e JOIN names n ON e.src = n.name {_BYTE_LINES}
                WHERE e.seq <= $s AND e.kind IN ({kind_list})""",
                {"s": seq},
            )
        finally:
            store.unregister("_from")
        return _graph(found)

    return fetch


# The share of the edges that appended derivation edges may be for a run to be extended rather
# than computed whole: extending costs about four times as much per appended edge as a full
# pass per edge (5M derivation edges appended to 5M, with 10M memberships: 6.4 s to extend,
# 3.4 s whole), and memberships are often half the edges.
EXTEND_AT_MOST = 0.125
EXTEND_ALWAYS_UP_TO = 100_000  # appended derivation edges: extending them takes a tenth of a second


def _extend(
    store: Store,
    run: int,
    base: int,
    old: int,
    seq: int,
    policy: Policy | None,
    waivers: tuple[Waiver, ...],
    kept: tuple[str, str] = ("", ""),
) -> bool:
    """Materialize `run` at `seq` from `base`, computed at `old` with the same policy and
    waivers (`kept`: the keys both runs are kept under): its rows plus what the events after
    `old` add. Returns False, having written nothing, when the appended events defined a
    node the base was missing (lineage that was incomplete may now be complete: only a full
    pass can tell)."""
    if store.fetch_one(
        f"""
            SELECT count(*) FROM incomplete i JOIN nodes n ON n.id = i.missing
            WHERE i.run {PARTS_OF}
              AND n.defined_seq > ? AND n.defined_seq <= ?""",
        [base, old, seq],
    )[0]:
        return False
    if store.fetch_one("SELECT count(*) FROM byte_lines WHERE seq > ? AND seq <= ?", [old, seq])[0]:
        return False  # an old byte span now maps to fewer lines: taint may shrink
    # (both counts come from zone maps: the appended rows are the last row groups)
    appended, edges = store.fetch_one(
        f"""SELECT (SELECT count(*) FROM edges WHERE seq > ? AND seq <= ?
                    AND kind IN ({_DERIVATION_SQL})),
                   (SELECT count(*) FROM edges WHERE seq <= ?)""",
        [old, seq, seq],
    )
    if appended > max(EXTEND_ALWAYS_UP_TO, edges * EXTEND_AT_MOST):
        return False  # a full pass is quicker (a second dataset as big as the first, say)
    # The appended edges, and older ones whose source got its first name since (a file at a
    # commit resolved to its version); the seq filters let DuckDB skip old row groups.
    renamed = store.fetch_one(
        "SELECT count(*) > 0 FROM aliases WHERE seq > ? AND seq <= ?", [old, seq]
    )[0]
    # The names of the appended edges' sources only, and of nodes first named since `old`:
    # grouping every alias cost more than the rest of an increment at 10M examples, and
    # DuckDB joins a registered table of the sources from its side (a subquery's estimate
    # made it hash the aliases).
    sources = store.fetch_numpy(
        "SELECT DISTINCT src FROM edges WHERE seq > ? AND seq <= ? "
        f"AND kind IN ({_DERIVATION_SQL})",
        [old, seq],
    )["src"]
    store.register("_sources", pa.table({"id": np.asarray(sources, dtype=np.int64)}))
    try:
        delta = _graph(
            store.fetch_numpy(
                f"""
            WITH names AS (
                SELECT alias, min(target) AS target, min(seq) AS seq FROM aliases
                WHERE seq <= $s AND (alias IN (SELECT id FROM _sources) OR ($renamed
                      AND alias IN (SELECT alias FROM aliases WHERE seq > $old AND seq <= $s)))
                GROUP BY alias)
            SELECT coalesce(a.target, e.src) AS src, e.dst, {_EDGE_COLUMNS}
            FROM edges e LEFT JOIN names a ON a.alias = e.src {_BYTE_LINES}
            WHERE e.seq > $old AND e.seq <= $s AND e.kind IN ({_DERIVATION_SQL})
            UNION ALL
            SELECT a.target, e.dst, {_EDGE_COLUMNS}
            FROM edges e JOIN names a ON a.alias = e.src {_BYTE_LINES}
            WHERE $renamed AND a.seq > $old AND e.seq <= $old
              AND e.kind IN ({_DERIVATION_SQL})""",
                {"s": seq, "old": old, "renamed": renamed},
            )
        )
    finally:
        store.unregister("_sources")
    size, waived = _waived(store, waivers)

    base_rows = _kept_rows(store, (base, old, *kept)) or _read_rows(store, base)
    attributed = store.fetch_numpy(
        "SELECT DISTINCT file_version FROM attributions WHERE seq > ? AND seq <= ?", [old, seq]
    )["file_version"]
    store.register("_sources", pa.table({"id": propagation.distinct(delta.src)}))
    try:
        undefined = store.fetch_numpy(
            "SELECT n.id FROM nodes n SEMI JOIN _sources s ON s.id = n.id "
            "WHERE n.defined_seq IS NULL OR n.defined_seq > ?",
            [seq],
        )["id"]
    finally:
        store.unregister("_sources")
    all_kinds = sorted(DERIVATION)
    strict_base, precise_base, inc_base = base_rows
    new_roots = restricted_roots(store, seq, policy, after=old)
    roots = np.union1d(strict_base.root, new_roots)  # every root has its own depth-0 row
    strict, precise, (inc_node, inc_missing) = propagation.extend(
        base_rows,
        propagation.Appended(
            delta,
            new_roots,
            np.asarray(attributed, dtype=np.int64),
            np.asarray(undefined, dtype=np.int64),
        ),
        propagation.EdgeReaders(
            propagation.FetchedEdges(_edges_out_of(store, seq, all_kinds)),
            propagation.FetchedEdges(_edges_out_of(store, seq, [EdgeKind.DERIVED])),
            _edges_out_of(store, seq, [EdgeKind.CHUNKED, EdgeKind.TRANSCRIBED]),
        ),
        size=size,
        roots=roots,
        waived=waived,
        attributions=restricted_intervals(store, seq, roots),
    )
    _inherit(store, run, base)
    _store_rows(store, run, strict, precise, inc_node, inc_missing)
    _keep_rows(
        store,
        (run, seq, *kept),
        (
            _known(strict_base, strict),
            _known(precise_base, precise),
            (np.concatenate([inc_base[0], inc_node]), np.concatenate([inc_base[1], inc_missing])),
        ),
    )
    return True


# The most runs whose rows one run reads as its own (`taint_parts`): an extension of a run
# made of this many copies their rows into one part instead of inheriting them, so a reader's
# filter stays short however many increments a store has seen.
MAX_PARTS = 8


def _inherit(store: Store, run: int, base: int) -> None:
    """Make `run` (an extension of `base`) read `base`'s rows as its own: the parts of `base`
    become parts of `run`, their rows never copied (an increment of 10,000 examples to the
    20M of benchmarks/run.py at 10M copied 802,000), unless `base` has MAX_PARTS parts
    already: then its rows are copied into `run`'s, in node order, as a run computed whole
    stores them."""
    parts = store.fetch_one("SELECT count(*) FROM taint_parts WHERE run = ?", [base])[0]
    if parts < MAX_PARTS:
        store.execute(
            "INSERT INTO taint_parts SELECT ?, part FROM taint_parts WHERE run = ?", [run, base]
        )
        return
    store.execute(
        "INSERT INTO taint SELECT ? AS run, * EXCLUDE (run) FROM taint "
        f"WHERE run {PARTS_OF} ORDER BY node",
        [run, base],
    )
    store.execute(
        "INSERT INTO incomplete SELECT ?, node, missing FROM incomplete "
        f"WHERE run {PARTS_OF} ORDER BY node",
        [run, base],
    )


RunRows = tuple[propagation.Rows, propagation.Rows, tuple[np.ndarray, np.ndarray]]
_KNOWN_FIELDS = ("node", "root", "pred", "depth", "blocked")


def _kept_rows(store: Store, key: tuple[Any, ...]) -> RunRows | None:
    """The rows of the run this process stored last, when `key` (run, as-of seq, policy and
    waiver keys) is that run's: extending it then reads nothing back."""
    kept = store.memo.get("run_rows")
    return kept[1] if kept is not None and kept[0] == key else None


def _keep_rows(store: Store, key: tuple[Any, ...], rows: RunRows) -> None:
    store.memo["run_rows"] = (key, rows)


def _known(*parts: propagation.Rows) -> propagation.Rows:
    """Rows as an extension knows a base run's: node, root, pred, depth and blocked."""
    node, root, pred, depth, blocked = (
        np.concatenate([getattr(p, f) for p in parts]) for f in _KNOWN_FIELDS
    )
    return propagation.make_rows(node, root, pred, depth, blocked)


def _read_rows(store: Store, run: int) -> RunRows:
    """The rows of a stored run, as `_known` holds them, and its incomplete lineage."""

    def part(mode: str) -> propagation.Rows:
        rows = store.fetch_numpy(
            f"""
            SELECT node, root, coalesce(pred, -1) AS pred, depth::BIGINT AS depth,
                   coalesce(blocked_by, -1) AS blocked FROM taint
            WHERE run {PARTS_OF} AND mode = ?""",
            [run, mode],
        )
        node, root, pred, depth, blocked = (
            np.asarray(rows[c], dtype=np.int64) for c in _KNOWN_FIELDS
        )
        return propagation.make_rows(node, root, pred, depth, blocked)

    inc = store.fetch_numpy(
        f"SELECT node, missing FROM incomplete WHERE run {PARTS_OF}",
        [run],
    )
    node, missing = (np.asarray(inc[c], dtype=np.int64) for c in ("node", "missing"))
    return part("strict"), part("precise"), (node, missing)


def _store_rows(
    store: Store,
    run: int,
    strict: propagation.Rows,
    precise: propagation.Rows,
    inc_node: np.ndarray,
    inc_missing: np.ndarray,
) -> None:
    """Write rows of `run` in node order: DuckDB's min/max zone maps then find one node's
    rows (a verdict, a witness path) without scanning the table."""
    kinds = np.array([None, *propagation.KINDS], dtype=object)
    units = np.array(propagation.UNITS + (None,), dtype=object)

    def nullable(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=values == propagation.NONE)

    for mode, rows in (("strict", strict), ("precise", precise)):
        store.register(
            "_rows",
            pa.table(
                {
                    "node": rows.node,
                    "root": rows.root,
                    "pred": nullable(rows.pred),
                    "depth": rows.depth.astype(np.int32),
                    "blocked": nullable(rows.blocked),
                    "edge_kind": pa.array(kinds[rows.kind + 1], pa.string()),
                    "span_start": nullable(rows.span_start),
                    "span_end": nullable(rows.span_end),
                    "span_unit": pa.array(units[rows.span_unit], pa.string()),
                    "edge_seq": nullable(rows.seq),
                }
            ),
        )
        store.execute(
            "INSERT INTO taint SELECT ?, ?, node, root, pred, depth, blocked, "
            "edge_kind, span_start, span_end, span_unit, edge_seq "
            "FROM _rows ORDER BY node",
            [run, mode],
        )
        store.unregister("_rows")
    store.register("_rows", pa.table({"node": inc_node, "missing": inc_missing}))
    store.execute("INSERT INTO incomplete SELECT ?, node, missing FROM _rows ORDER BY node", [run])
    store.unregister("_rows")


def _materialize(
    store: Store,
    run: int,
    seq: int,
    policy: Policy | None,
    waivers: tuple[Waiver, ...],
    kept: tuple[str, str] = ("", ""),
) -> None:
    """Load the derivation graph as of `seq` into arrays, propagate (lineage.propagation),
    and store the rows of `run` (kept under policy and waiver keys `kept`)."""
    graph = _graph(store.fetch_numpy(DERIVATION_GRAPH_SQL, {"s": seq}))
    size, waived = _waived(store, waivers)
    undefined = np.zeros(size, dtype=bool)
    undefined[
        store.fetch_numpy(
            "SELECT id FROM nodes WHERE defined_seq IS NULL OR defined_seq > ?", [seq]
        )["id"]
    ] = True
    roots = restricted_roots(store, seq, policy)
    strict, precise, (inc_node, inc_missing) = propagation.propagate(
        graph,
        size,
        roots,
        waived,
        restricted_intervals(store, seq, roots),
        propagation.distinct(graph.src[undefined[graph.src]]),
    )
    _store_rows(store, run, strict, precise, inc_node, inc_missing)
    _keep_rows(store, (run, seq, *kept), (_known(strict), _known(precise), (inc_node, inc_missing)))


# -- verdicts ---------------------------------------------------------------------------------


def no_policy(seq: int) -> NoPolicyError:
    """The error of a question asked where no policy is in force (at event `seq`)."""
    return NoPolicyError(
        f"no policy in force as of event {seq}: run `lineage policy set FILE.toml` first"
    )


def require_policy(run: TaintRun) -> PolicyVersion:
    """The policy `run` judges by; NoPolicyError when none was in force at its as-of point.
    Every verdict, gate and example listing asks this first: no policy is no answer."""
    if run.policy is None:
        raise no_policy(run.as_of.seq)
    return run.policy


def policy_in_force(store: Store, as_of: str | int | None = None) -> PolicyVersion:
    """The policy in force at `as_of` (as `propagate_taint` resolves it), or NoPolicyError
    with the message `require_policy` gives: asked before propagating, it spares a run
    that no verdict could use."""
    point = resolve_as_of(store, as_of)
    policy = store.policy_at(point.seq)
    if policy is None:
        raise no_policy(point.seq)
    return policy


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise EngineError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def resolve_example(store: Store, name: str) -> StoredNode:
    """An example given as its key, as ``DATASET@VERSION:ID``, or as a bare id when unique."""
    # DATASET@VERSION:ID, the usual form, costs one lookup
    keys = (name,) if name.startswith("example:") else (f"example:{name}", name)
    for key in keys:
        node = store.node(key)
        if node is not None and node.kind == NodeKind.EXAMPLE:
            return node
    matches = store.find_examples(name)
    found = store.node(matches[0]) if len(matches) == 1 else None
    if found is not None:
        return found
    if matches:
        shown = ", ".join(m.removeprefix("example:") for m in matches[:5])
        raise EngineError(
            f"example {name!r} is in several datasets ({shown}); name it as DATASET@VERSION:ID"
        )
    raise EngineError(
        f"no example {name!r} in the store; name it as DATASET@VERSION:ID "
        "(`lineage gate DATASET --format json` lists them)"
    )


def verdict(
    store: Store,
    run: TaintRun,
    example: StoredNode,
    mode: str,
    max_paths: int = 3,
    evidence: witness.RunEvidence | None = None,
) -> Verdict:
    """The verdict of one example, with up to `max_paths` witness paths (one per source),
    read from `evidence`: by default the run's, which a process explaining many examples reads
    once; `evidence_of_example` suits one explanation."""
    check_mode(mode)
    require_policy(run)
    evidence = evidence or run_evidence(store, run)
    rows = evidence.rows_of(example.id, mode)
    real = sorted(
        {
            (_node_row(evidence, r[witness.ROOT])[1], r[witness.ROOT])
            for r in rows
            if r[witness.BLOCKED] is None
        }
    )
    out = Verdict(example.key, CLEAN, Mode(mode), run.policy_hash, run.as_of.seq)
    if real:
        out.status = TAINTED
        out.sources = [key for key, _ in real]
        out.paths = [
            witness_path(store, run, example.id, root, mode, evidence)
            for _, root in real[:max_paths]
        ]
    else:
        missing = (
            store.fetch_maybe_one(
                f"SELECT node, missing FROM incomplete WHERE node = ? AND run {PARTS_OF}",
                [example.id, run.run],
            )
            if evidence.incomplete is None
            else evidence.incomplete.one(example.id)
        )
        if missing:
            out.status = UNKNOWN
            out.reason = unknown_reason(store, missing[1])
    blocked = sorted({b for r in rows if (b := r[witness.BLOCKED]) is not None})
    out.waivers = waivers_named(store, run, blocked)
    return out


def waivers_named(store: Store, run: TaintRun, ids: list[int]) -> list[WaiverUse]:
    """The policy's waivers on the nodes `ids`."""
    keys = {n.key for n in store.nodes_by_ids(ids)} if ids else set()
    return [
        WaiverUse(w.node, w.reason, w.approver, w.expires) for w in run.waivers if w.node in keys
    ]


def run_evidence(store: Store, run: TaintRun) -> witness.RunEvidence:
    """The run's taint rows in memory with the nodes, events and intervals its witness paths
    show, built on first use (four batched reads) and kept for the newest runs of this
    database: a verdict then costs no query."""
    found = _evidence_cache(store).get(run.run)
    if found is None:
        found = _read_evidence(store, run)
        _evidence_cache(store).put(run.run, found)
    return found


def _evidence_cache(store: Store) -> witness.EvidenceCache:
    return store.memo.setdefault("evidence", witness.EvidenceCache())


def evidence_of_example(store: Store, run: TaintRun, example_id: int) -> witness.RunEvidence:
    """Enough evidence to explain one example: the run's, when this process has it, else the
    rows of the roots that reach the example (a one-shot `lineage explain` at 10M examples
    would otherwise read a quarter of a million rows for one answer)."""
    roots = [
        r[0]
        for r in store.fetch_all(
            f"SELECT DISTINCT root FROM taint WHERE node = ? AND run {PARTS_OF}",
            [example_id, run.run],
        )
    ]
    return _evidence_of_roots(store, run, roots)


def _evidence_of_roots(store: Store, run: TaintRun, roots: list[int]) -> witness.RunEvidence:
    """Enough evidence for the witness paths of `roots`: the run's, when this process has it,
    else the rows those roots reach (a gate shows a few paths; reading them all would cost
    more than its whole check)."""
    cached = _evidence_cache(store).get(run.run)
    return cached if cached is not None else _read_evidence(store, run, roots)


def _read_evidence(
    store: Store, run: TaintRun, roots: list[int] | None = None
) -> witness.RunEvidence:
    """The RunEvidence of every root of the run, or only of `roots`."""
    store.register("_only", pa.table({"id": pa.array(roots or [], pa.int64())}))
    try:
        rows = store.arrow(
            f"""
            SELECT node, mode = 'precise', root, pred, depth, blocked_by, edge_kind,
                   span_start, span_end, span_unit, edge_seq
            FROM taint WHERE run {PARTS_OF_RUN} {
                "" if roots is None else "AND root IN (SELECT id FROM _only)"
            }
            ORDER BY node""",
            {"run": run.run},
        )
    finally:
        store.unregister("_only")

    def distinct(*columns: pa.ChunkedArray) -> pa.Table:
        return pa.table(
            {
                "id": propagation.distinct(
                    np.concatenate([c.drop_null().to_numpy().astype(np.int64) for c in columns])
                )
            }
        )

    store.register("_named", distinct(rows["node"], rows["root"], rows["blocked_by"]))
    store.register("_roots", distinct(rows["root"]))
    try:
        nodes = store.arrow(
            "SELECT id, key, kind, defined_seq FROM nodes SEMI JOIN _named USING (id) ORDER BY id"
        )
        # the intervals a witness path shows: those its root wrote in the versions it crossed
        lines = store.arrow(
            """
            SELECT a.file_version, o.key, a.line_start, a.line_end, a.evidence, a.seq
            FROM attributions a JOIN nodes o ON o.id = a.output
            WHERE a.seq <= $s AND a.output IN (SELECT id FROM _roots)
              AND a.file_version IN (SELECT id FROM _named)
            ORDER BY a.file_version, a.line_start, o.key""",
            {"s": run.as_of.seq},
        )
    finally:
        store.unregister("_named")
        store.unregister("_roots")
    seqs = distinct(rows["edge_seq"], nodes["defined_seq"])["id"]
    store.register("_seqs", pa.table({"seq": seqs}))
    try:
        events = store.arrow(
            """
            SELECT seq, event_id, source, origin FROM events
            WHERE seq BETWEEN $lo AND $hi AND seq IN (SELECT seq FROM _seqs) ORDER BY seq""",
            {"lo": pc.min(seqs).as_py() or 0, "hi": pc.max(seqs).as_py() or 0},
        )
    finally:
        store.unregister("_seqs")
    incomplete = None
    if roots is None:
        incomplete = witness.Lookup(
            store.arrow(
                f"SELECT node, missing FROM incomplete WHERE run {PARTS_OF_RUN} ORDER BY node",
                {"run": run.run},
            )
        )
    return witness.RunEvidence(
        witness.Lookup(rows),
        witness.Lookup(nodes),
        witness.Lookup(events),
        witness.Lookup(lines),
        incomplete,
    )


def unknown_reason(store: Store, missing_id: int | None) -> str:
    """Why a node's lineage is incomplete, and what to ingest to complete it."""
    node = store.node_by_id(missing_id) if missing_id is not None else None
    if node is None:
        return missing_reason(None, None, {}, store.repo_known, store.commit_ingested)
    return missing_reason(node.kind, node.key, node.attrs, store.repo_known, store.commit_ingested)


def missing_reason(
    kind: str | None,
    key: str | None,
    attrs: dict[str, Any],
    repo_known: Callable[[str], bool],
    commit_ingested: Callable[[str, str], bool],
) -> str:
    """Why the lineage through the never-ingested node (`kind`, `key`, `attrs`; None: not
    known) is incomplete, and what to ingest; `repo_known` and `commit_ingested` say what the
    store holds (one definition for the store's gate and the Spark gate's export)."""
    if kind is None or key is None:
        return "lineage incomplete: an ancestor was named but never ingested"
    if isinstance(attrs.get("missing"), str):
        return str(attrs["missing"])  # the loader knew what the clone lacked
    repo = attrs.get("repo")
    if kind == NodeKind.FILE_VERSION and repo:
        if not repo_known(repo):
            return (
                f"repository {repo} was never ingested (needed for {key}): "
                "`lineage ingest git CHECKOUT` where it is checked out"
            )
        if "commit" in attrs and "blob" not in attrs:
            path, commit = attrs.get("path"), attrs["commit"]
            if commit_ingested(repo, commit):
                return (
                    f"{path} is not in the tree of commit {commit} of {repo} (that "
                    "commit was ingested): the path is wrong or names a submodule"
                )
            return (
                f"{path} at commit {commit} of {repo} is unknown: that commit was never "
                "ingested; ingest the history that holds it (`lineage ingest git "
                f"CHECKOUT --rev {commit}`, after `git fetch` if the checkout lacks it)"
            )
        return (
            f"file version {key} was never ingested: ingest the history of {repo} "
            "that holds it (`lineage ingest git CHECKOUT`)"
        )
    if kind == NodeKind.EXAMPLE:
        return f"parent example {key} was never ingested"
    return f"{kind} {key} was never ingested"


def _node_row(evidence: witness.RunEvidence, node_id: int) -> tuple[Any, ...]:
    """(id, key, kind, defined_seq) of a node the run's evidence must hold."""
    row = evidence.nodes.one(node_id)
    if row is None:
        raise EngineError(
            f"node {node_id} is missing from the run's evidence (a store "
            "changed under a running query?)"
        )
    return row


def witness_path(
    store: Store,
    run: TaintRun,
    node_id: int,
    root_id: int,
    mode: str,
    evidence: witness.RunEvidence | None = None,
) -> list[Step]:
    """The path from `root_id` to `node_id` that propagation recorded, as steps from the
    restricted output to the example, each with its edge, span and asserting event (read
    from `evidence`, by default the run's)."""
    evidence = evidence or run_evidence(store, run)
    root = evidence.nodes.one(root_id)
    root_key = root[1] if root else None
    steps: list[Step] = []
    for i, row in enumerate(evidence.path(node_id, root_id, mode)):
        _, key, kind, defined_seq = _node_row(evidence, row[witness.NODE])
        step = Step(key, kind, None, None, None)
        seq = defined_seq if i == 0 else row[witness.SEQ]
        if i:
            step.edge = row[witness.KIND]
            if row[witness.SPAN_START] is not None:
                step.span = {
                    "unit": row[witness.SPAN_UNIT],
                    "start": row[witness.SPAN_START],
                    "end": row[witness.SPAN_END],
                }
        event = evidence.events.one(seq) if seq is not None else None
        if event is not None:
            step.event = {"seq": seq, "id": event[1], "source": event[2], "origin": event[3]}
        if kind == NodeKind.FILE_VERSION:
            step.lines = [
                {"start": s, "end": e, "evidence": ev, "seq": sq}
                for _, out, s, e, ev, sq in evidence.lines.rows(row[witness.NODE])
                if out == root_key
            ]
        steps.append(step)
    return steps


# -- the gate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """How many examples of a dataset version have each status."""

    examples: int
    tainted: int
    unknown: int
    clean: int


@dataclass(frozen=True)
class ToolCount:
    """Tainted examples that descend from outputs of one tool and model."""

    tool: str | None
    model: str | None
    examples: int


@dataclass(frozen=True)
class RepoCount:
    """Examples cut from one source repository, by status."""

    repo: str
    tainted: int
    unknown: int
    clean: int


@dataclass
class TaintedExample:
    """A tainted example of a gate, its restricted sources and (for the first few) the
    witness path from the first source."""

    example: str
    sources: list[str]
    path: list[Step] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "example": self.example,
            "sources": self.sources,
            "path": None if self.path is None else [s.as_dict() for s in self.path],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "TaintedExample":
        path = raw["path"]
        return cls(
            raw["example"],
            raw["sources"],
            None if path is None else [Step.from_dict(s) for s in path],
        )


@dataclass(frozen=True)
class UnknownExample:
    """An example whose lineage is incomplete, and what is missing."""

    example: str
    reason: str


@dataclass
class GateReport:
    """A dataset version checked: `passed` is False when any example is TAINTED, or UNKNOWN
    unless `allow_unknown`."""

    dataset: str
    mode: Mode
    policy_hash: str | None
    as_of: int
    allow_unknown: bool
    counts: Counts
    tainted: list[TaintedExample]
    unknown: list[UnknownExample]
    by_tool: list[ToolCount]
    by_repo: list[RepoCount]
    waivers: list[WaiverUse]

    @property
    def passed(self) -> bool:
        return self.counts.tainted == 0 and (self.allow_unknown or self.counts.unknown == 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "policy_hash": self.policy_hash,
            "as_of": self.as_of,
            "passed": self.passed,
            "allow_unknown": self.allow_unknown,
            "counts": asdict(self.counts),
            "tainted": [t.as_dict() for t in self.tainted],
            "unknown": [asdict(u) for u in self.unknown],
            "by_tool": [asdict(t) for t in self.by_tool],
            "by_repo": [asdict(r) for r in self.by_repo],
            "waivers": [asdict(w) for w in self.waivers],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "GateReport":
        """The report `as_dict` wrote (a server's answer read back): the same text, Markdown,
        JUnit and JSON renderings, the same `passed`."""
        return cls(
            dataset=raw["dataset"],
            mode=Mode(raw["mode"]),
            policy_hash=raw["policy_hash"],
            as_of=raw["as_of"],
            allow_unknown=raw["allow_unknown"],
            counts=Counts(**raw["counts"]),
            tainted=[TaintedExample.from_dict(t) for t in raw["tainted"]],
            unknown=[UnknownExample(**u) for u in raw["unknown"]],
            by_tool=[ToolCount(**t) for t in raw["by_tool"]],
            by_repo=[RepoCount(**r) for r in raw["by_repo"]],
            waivers=[WaiverUse(**w) for w in raw["waivers"]],
        )


def resolve_dataset(store: Store, spec: str, as_of: int) -> tuple[str, str]:
    """``NAME@VERSION``, or ``NAME`` when it has exactly one version (never a silent choice:
    a stray row once created a newer version that then passed in place of the real one)."""
    return choose_dataset_version(store.dataset_versions(as_of), spec)


def choose_dataset_version(known: Sequence[tuple[str, str]], spec: str) -> tuple[str, str]:
    """The (name, version) of `known` that `spec` names, as `resolve_dataset` chooses."""
    name, _, version = spec.partition("@")
    versions = [v for d, v in known if d == name]
    if version and version in versions:
        return name, version
    if not version and len(versions) == 1:
        return name, versions[0]
    if not version and versions:
        raise EngineError(
            f"dataset {name!r} has {len(versions)} versions; name one: "
            + ", ".join(f"{name}@{v}" for v in versions)
        )
    listing = ", ".join(f"{d}@{v}" for d, v in known) or "none (ingest a manifest first)"
    raise EngineError(f"unknown dataset {spec!r}; known dataset versions: {listing}")


def _statuses_sql(members: str | None = None, *, flagged_only: bool = True) -> str:
    """SQL for (id, repo, status, sources JSON, missing) of every example of one dataset
    version, without keys (a gate lists few): parameters $run, $mode, $s (as-of seq) and $dv
    (dataset version node id). With `members`, a relation of some of those examples (id,
    repo) computed already, and parameters $run and $mode only: the statuses of those, or
    with `flagged_only` of those that are not CLEAN (the gate counts the clean ones from
    the member counts, without a row for each of ten million examples)."""
    hits = f"""
        SELECT t.node, list(DISTINCT r.key ORDER BY r.key) AS sources
        FROM taint t JOIN members m ON m.id = t.node JOIN nodes r ON r.id = t.root
        WHERE t.run {PARTS_OF_RUN} AND t.mode = $mode
          AND t.blocked_by IS NULL
        GROUP BY t.node"""
    status = f"""CASE WHEN h.node IS NOT NULL THEN '{TAINTED}'
                    WHEN i.node IS NOT NULL THEN '{UNKNOWN}' ELSE '{CLEAN}' END AS status,
               coalesce(h.sources, []) AS sources, i.missing"""

    def statuses(only: str = "") -> str:
        return f"""
        SELECT m.id, m.repo, {status}
        FROM members m {only}
        LEFT JOIN hits h ON h.node = m.id
        LEFT JOIN (SELECT node, missing FROM incomplete
                   WHERE run {PARTS_OF_RUN}) i
          ON i.node = m.id"""

    if members is None:
        return f"WITH members AS ({membership.members_sql()}), hits AS ({hits}){statuses()}"
    if not flagged_only:
        return f"WITH members AS (SELECT id, repo FROM {members}), hits AS ({hits}){statuses()}"
    return f"""
        WITH members AS (SELECT id, repo FROM {members}), hits AS ({hits}),
        flagged AS (SELECT node AS id FROM hits
                    UNION SELECT i.node FROM incomplete i JOIN members m ON m.id = i.node
                    WHERE i.run {PARTS_OF_RUN})
        {statuses("JOIN flagged f ON f.id = m.id")}"""


def example_statuses_sql(members: str | None = None) -> str:
    """SQL for (id, key, example id, status, sources JSON, missing) of every example of one
    dataset version, or of those of relation `members` (id, repo); the parameters of
    `_statuses_sql`."""
    statuses = _statuses_sql() if members is None else _statuses_sql(members, flagged_only=False)
    return f"""
        SELECT g.id, x.key, json_extract_string(x.attrs, '$.example') AS example, g.status,
               g.sources, g.missing
        FROM ({statuses}) g JOIN nodes x ON x.id = g.id"""


def gate(
    store: Store,
    run: TaintRun,
    dataset: str,
    mode: str,
    *,
    allow_unknown: bool = False,
    max_paths: int = 20,
    max_listed: int = 1000,
) -> GateReport:
    """Check every example of a dataset version. Lists the first `max_listed` tainted and
    unknown examples and the witness paths of the first `max_paths` tainted ones.

    A run is never rewritten, so a report is computed once per run and question in this
    process and shared by the store's cursors (the server's requests): callers must not
    modify it."""
    check_mode(mode)
    require_policy(run)
    cache: RunCache[tuple[Any, ...], GateReport] = store.memo.setdefault("gates", RunCache(size=64))
    question = (run.run, dataset, mode, allow_unknown, max_paths, max_listed)
    return cache.answer(
        question, lambda: _gate(store, run, dataset, mode, allow_unknown, max_paths, max_listed)
    )


def _gate(
    store: Store,
    run: TaintRun,
    dataset: str,
    mode: str,
    allow_unknown: bool,
    max_paths: int,
    max_listed: int,
) -> GateReport:
    name, version = resolve_dataset(store, dataset, run.as_of.seq)
    dv = store.node(model.dataset_version_key(name, version))
    assert dv is not None
    # Statuses only for the members that are not clean (few, in a gate that passes or
    # nearly): the members among the run's taint and incomplete rows. The clean ones are
    # counted from the version's member counts less those, without a row for each of ten
    # million examples.
    params = {"run": run.run, "mode": mode, "s": run.as_of.seq, "dv": dv.id}
    candidates = f"""(
        SELECT node FROM taint WHERE run {PARTS_OF_RUN} AND mode = $mode
        UNION ALL SELECT node FROM incomplete WHERE run {PARTS_OF_RUN})"""
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _flagged_members AS "
        + membership.members_among_sql(candidates),
        params,
    )
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE _gate AS {_statuses_sql('_flagged_members')}",
        {"run": run.run, "mode": mode},
    )
    counts = dict(store.fetch_all("SELECT status, count(*) FROM _gate GROUP BY status"))
    member_counts = membership.member_counts(store, dv.id, run.as_of.seq)
    flagged = store.fetch_one("SELECT count(DISTINCT id) FROM _gate")[0]
    counts[CLEAN] = member_counts.total - flagged
    total = sum(counts.values())

    def listed(status: str) -> list[tuple[Any, ...]]:
        return store.fetch_all(
            """
            SELECT g.id, x.key, g.sources, g.missing FROM _gate g JOIN nodes x ON x.id = g.id
            WHERE g.status = ? ORDER BY x.key LIMIT ?""",
            [status, max_listed],
        )

    tainted_rows = listed(TAINTED)
    shown = tainted_rows[:max_paths]
    root_of = store.node_ids(sources[0] for _, _, sources, _ in shown)
    evidence = _evidence_of_roots(store, run, sorted(set(root_of.values()))) if shown else None
    tainted = [
        TaintedExample(
            key,
            sources,
            witness_path(store, run, nid, root_of[sources[0]], mode, evidence)
            if n < max_paths
            else None,
        )
        for n, (nid, key, sources, _) in enumerate(tainted_rows)
    ]
    unknown = [
        UnknownExample(key, unknown_reason(store, missing))
        for _, key, _, missing in listed(UNKNOWN)
    ]
    by_tool = [
        ToolCount(t, m, c)
        for t, m, c in store.fetch_all(
            f"""
        SELECT json_extract_string(r.attrs, '$.tool'), json_extract_string(r.attrs, '$.model'),
               count(DISTINCT g.id)
        FROM (SELECT DISTINCT g.id, t.root FROM _gate g JOIN taint t ON t.node = g.id
              WHERE g.status = $tainted AND t.run {PARTS_OF_RUN} AND t.mode = $mode
                AND t.blocked_by IS NULL) g
        JOIN nodes r ON r.id = g.root
        WHERE r.kind IN ($output, $session) GROUP BY ALL ORDER BY 3 DESC, 1, 2""",
            {
                "run": run.run,
                "mode": mode,
                "tainted": TAINTED,
                "output": NodeKind.OUTPUT,
                "session": NodeKind.SESSION,
            },
        )
    ]
    repos = list(member_counts.by_repo)
    store.register(
        "_member_counts",
        pa.table(
            {
                "repo": pa.array(repos, pa.string()),
                "n": pa.array([member_counts.by_repo[r] for r in repos], pa.int64()),
            }
        ),
    )
    by_repo = [
        RepoCount(r, t, u, c)
        for r, t, u, c in store.fetch_all(
            f"""
        SELECT coalesce(m.repo, '(no source repository)') AS repo,
               sum(coalesce(g.tainted, 0))::BIGINT, sum(coalesce(g.unknown, 0))::BIGINT,
               sum(m.n - coalesce(g.distinct_ids, 0))::BIGINT
        FROM _member_counts m
        LEFT JOIN (SELECT repo, count(*) FILTER (WHERE status = '{TAINTED}') AS tainted,
                          count(*) FILTER (WHERE status = '{UNKNOWN}') AS unknown,
                          count(DISTINCT id) AS distinct_ids
                   FROM _gate GROUP BY repo) g ON g.repo IS NOT DISTINCT FROM m.repo
        GROUP BY 1 ORDER BY 1"""
        )
    ]
    store.unregister("_member_counts")
    waived_ids = [
        r[0]
        for r in store.fetch_all(
            f"""
        SELECT DISTINCT t.blocked_by FROM taint t JOIN _flagged_members m ON m.id = t.node
        WHERE t.run {PARTS_OF} AND t.mode = ?
          AND t.blocked_by IS NOT NULL
          AND t.node NOT IN (SELECT id FROM _gate WHERE status = '{TAINTED}')""",
            [run.run, mode],
        )
    ]
    store.execute("DROP TABLE _gate")
    store.execute("DROP TABLE _flagged_members")
    return GateReport(
        dataset=f"{name}@{version}",
        mode=Mode(mode),
        policy_hash=run.policy_hash,
        as_of=run.as_of.seq,
        allow_unknown=allow_unknown,
        counts=Counts(
            examples=total,
            tainted=counts.get(TAINTED, 0),
            unknown=counts.get(UNKNOWN, 0),
            clean=counts.get(CLEAN, 0),
        ),
        tainted=tainted,
        unknown=unknown,
        by_tool=by_tool,
        by_repo=by_repo,
        waivers=waivers_named(store, run, waived_ids),
    )


VERDICT_FILE_FORMATS = {".jsonl": "json", ".ndjson": "json", ".parquet": "parquet"}


VERDICT_CHUNK = 1_000_000  # examples per query of a verdicts file: each sorts no more


def write_example_verdicts(store: Store, run: TaintRun, dataset: str, mode: str, path: str) -> int:
    """Write every example's verdict (example, key, status, sources) to `path`, JSONL or
    Parquet by its suffix, in the order the examples were ingested (a manifest's row order);
    returns the number of examples written.

    The examples are read a range of ids at a time (`VERDICT_CHUNK`), each range sorted on
    its own and appended, so memory stays bounded by the store's limit at any size: one sort
    of ten million rows, keys and all, ran out of a 2 GB limit in a process that had just
    ingested them."""
    fmt = next((f for suffix, f in VERDICT_FILE_FORMATS.items() if path.endswith(suffix)), None)
    if fmt is None:
        raise EngineError(f"verdicts file {path}: name a .jsonl, .ndjson or .parquet file")
    params = _statuses_params(store, run, dataset, mode)
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE _verdict_members AS {membership.members_sql('x.id')}",
        {"s": params["s"], "dv": params["dv"]},
    )
    try:
        low, high, total = store.fetch_one(
            "SELECT coalesce(min(id), 0), coalesce(max(id), -1), count(*) FROM _verdict_members"
        )
        chunk = f"""
            SELECT example, key, status, sources FROM ({
            example_statuses_sql(
                "(SELECT id, NULL::VARCHAR AS repo FROM _verdict_members "
                "WHERE id >= $low AND id < $high)"
            )
        }) ORDER BY id"""
        ranges = [(at, at + VERDICT_CHUNK) for at in range(low, high + 1, VERDICT_CHUNK)]
        _write_verdict_chunks(
            store,
            chunk,
            [{"run": run.run, "mode": mode, "low": a, "high": b} for a, b in ranges or [(0, 0)]],
            fmt,
            path,
        )
    finally:
        store.execute("DROP TABLE IF EXISTS _verdict_members")
    return int(total)


def _write_verdict_chunks(
    store: Store, sql: str, chunks: list[dict[str, Any]], fmt: str, path: str
) -> None:
    """The rows of `sql` for each of `chunks`' parameters, one after the other, into one
    file: Parquet through one writer, JSON lines by DuckDB chunk by chunk, appended."""
    try:
        if fmt == "parquet":
            writer: pq.ParquetWriter | None = None
            try:
                for params in chunks:
                    table = store.arrow(sql, params)
                    if writer is None:
                        writer = pq.ParquetWriter(path, table.schema)
                    writer.write_table(table)
            finally:
                if writer is not None:
                    writer.close()
            return
        with open(path, "wb") as out:
            part = f"{path}.part"
            quoted = part.replace("'", "''")
            try:
                for params in chunks:
                    store.execute(f"COPY ({sql}) TO '{quoted}' (FORMAT json)", params)
                    with open(part, "rb") as written:
                        shutil.copyfileobj(written, out)
            finally:
                Path(part).unlink(missing_ok=True)
    except (duckdb.IOException, OSError) as exc:
        raise EngineError(f"verdicts file {path}: cannot write: {exc}") from exc


def _statuses_params(store: Store, run: TaintRun, dataset: str, mode: str) -> dict[str, Any]:
    check_mode(mode)
    require_policy(run)
    name, version = resolve_dataset(store, dataset, run.as_of.seq)
    dv = store.node(model.dataset_version_key(name, version))
    assert dv is not None
    return {"run": run.run, "mode": mode, "s": run.as_of.seq, "dv": dv.id}


# -- batched and paginated reads (the API's dataloaders and connections) -----------------------


@dataclass(frozen=True)
class ExampleStatus:
    id: int
    key: str
    status: Status
    sources: list[str]
    missing: int | None
    blocked: list[int] = field(default_factory=list)  # waivers that stopped some taint

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))


def example_statuses(
    store: Store, run: TaintRun, ids: list[int], mode: str
) -> dict[int, ExampleStatus]:
    """Status and sources of many examples in one query (paths are walked only on demand)."""
    check_mode(mode)
    require_policy(run)
    store.register("_ask", pa.table({"id": pa.array(ids, pa.int64())}))
    try:
        rows = store.fetch_all(
            f"""
            SELECT x.id, n.key,
                   CASE WHEN h.node IS NOT NULL THEN '{TAINTED}'
                        WHEN i.node IS NOT NULL THEN '{UNKNOWN}' ELSE '{CLEAN}' END,
                   coalesce(h.sources, []), i.missing, coalesce(w.blocked, [])
            FROM (SELECT DISTINCT id FROM _ask) x JOIN nodes n ON n.id = x.id
            LEFT JOIN (SELECT t.node, list(DISTINCT r.key ORDER BY r.key) AS sources
                       FROM taint t JOIN _ask a ON a.id = t.node JOIN nodes r ON r.id = t.root
                       WHERE t.run {PARTS_OF_RUN}
                         AND t.mode = $mode AND t.blocked_by IS NULL
                       GROUP BY t.node) h ON h.node = x.id
            LEFT JOIN (SELECT t.node, list(DISTINCT t.blocked_by ORDER BY t.blocked_by) AS blocked
                       FROM taint t JOIN _ask a ON a.id = t.node
                       WHERE t.run {PARTS_OF_RUN}
                         AND t.mode = $mode AND t.blocked_by IS NOT NULL
                       GROUP BY t.node) w ON w.node = x.id
            LEFT JOIN (SELECT node, min(missing) AS missing FROM incomplete
                       WHERE run {PARTS_OF_RUN}
                       GROUP BY node) i ON i.node = x.id""",
            {"run": run.run, "mode": mode},
        )
    finally:
        store.unregister("_ask")
    return {r[0]: ExampleStatus(*r) for r in rows}


def example_page(
    store: Store, run: TaintRun, dataset: str, mode: str, status: str, after: str | None, first: int
) -> list[ExampleStatus]:
    """Up to `first` examples of a dataset version with `status`, in key order after the key
    `after` (keyset pagination: stable while the log grows)."""
    params = _statuses_params(store, run, dataset, mode)
    rows = store.fetch_all(
        f"""
        SELECT id, key, status, sources, missing FROM ({example_statuses_sql()})
        WHERE status = $status AND key > $after ORDER BY key LIMIT $first""",
        params | {"status": status, "after": after or "", "first": first},
    )
    return [ExampleStatus(*r) for r in rows]


@dataclass(frozen=True)
class DatasetCount:
    """Tainted examples of one dataset version (NAME@VERSION), out of all its examples."""

    dataset: str
    tainted: int
    examples: int


def tainted_by_dataset(store: Store, run: TaintRun, mode: str) -> list[DatasetCount]:
    """How many examples of every dataset version are tainted."""
    rows = store.fetch_all(
        f"""
        WITH member AS (
            SELECT DISTINCT x.id, coalesce(m2.dst, m1.dst) AS dv
            FROM nodes x JOIN edges m1 ON m1.src = x.id AND m1.kind = '{EdgeKind.MEMBER}'
            LEFT JOIN edges m2 ON m2.src = m1.dst AND m2.kind = '{EdgeKind.MEMBER}'
            WHERE x.kind = '{NodeKind.EXAMPLE}' AND x.defined_seq <= $s AND m1.seq <= $s)
        SELECT d.key, count(DISTINCT t.node), count(DISTINCT m.id)
        FROM member m JOIN nodes d ON d.id = m.dv
        LEFT JOIN (SELECT node FROM taint
                   WHERE run {PARTS_OF_RUN}
                     AND mode = $mode AND blocked_by IS NULL) t ON t.node = m.id
        GROUP BY d.key ORDER BY d.key""",
        {"run": run.run, "mode": mode, "s": run.as_of.seq},
    )
    return [DatasetCount(d.removeprefix("dataset:"), t, n) for d, t, n in rows]


def tainted_by_tool(store: Store, run: TaintRun, mode: str) -> list[ToolCount]:
    """Tainted examples by the tool and model of their sources, over the whole store."""
    rows = store.fetch_all(
        f"""
        SELECT json_extract_string(r.attrs, '$.tool'), json_extract_string(r.attrs, '$.model'),
               count(DISTINCT t.node)
        FROM taint t JOIN nodes x ON x.id = t.node AND x.kind = '{NodeKind.EXAMPLE}'
        JOIN nodes r ON r.id = t.root
        WHERE t.run {PARTS_OF} AND t.mode = ?
          AND t.blocked_by IS NULL
        GROUP BY ALL ORDER BY 3 DESC, 1, 2""",
        [run.run, mode],
    )
    return [ToolCount(t, m, c) for t, m, c in rows]


@dataclass(frozen=True)
class DatasetImpact:
    """The examples of one dataset version that outputs of the selection reach: how many in
    each mode (exact), and the examples themselves (the first `max_listed` of each)."""

    dataset: str
    precise_count: int
    strict_count: int
    precise: list[TaintedExample]
    strict: list[TaintedExample]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "counts": {"precise": self.precise_count, "strict": self.strict_count},
            "precise": [t.as_dict() for t in self.precise],
            "strict": [t.as_dict() for t in self.strict],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "DatasetImpact":
        return cls(
            raw["dataset"],
            raw["counts"]["precise"],
            raw["counts"]["strict"],
            [TaintedExample.from_dict(t) for t in raw["precise"]],
            [TaintedExample.from_dict(t) for t in raw["strict"]],
        )


@dataclass(frozen=True)
class ImpactReport:
    """What outputs of a tool (a model, a time window, a repository) reach: every example,
    by dataset version, in both modes, as of `as_of`. Waivers do not apply: an incident asks
    what the outputs reach, not what a policy forgives."""

    selection: dict[str, Any]
    as_of: int
    datasets: list[DatasetImpact]

    def as_dict(self) -> dict[str, Any]:
        return {
            "selection": self.selection,
            "as_of": self.as_of,
            "datasets": [d.as_dict() for d in self.datasets],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ImpactReport":
        """The report `as_dict` wrote (a server's answer read back)."""
        return cls(
            raw["selection"], raw["as_of"], [DatasetImpact.from_dict(d) for d in raw["datasets"]]
        )


def impact_roots(store: Store, names: list[str], as_of: str | int | None = None) -> list[str]:
    """The outputs and sessions an impact starts from, for nodes named by key (or an output's
    or session's bare name): an output or a session itself, with a session's outputs, and a
    commit's outputs (what its trailers, author identity or git-ai note attribute to a tool).
    EngineError for a name the store does not hold or a node of another kind, or a commit
    with no AI evidence (nothing of it would be traced: say so, never an empty answer)."""
    seq = resolve_as_of(store, as_of).seq
    roots: list[str] = []
    for name in names:
        node = next(
            (
                found
                for key in (name, model.output_key(name), model.session_key(name))
                if (found := store.node(key)) is not None and found.first_seq <= seq
            ),
            None,
        )
        if node is None:
            raise EngineError(
                f"no node {name!r} in the store as of event {seq}: name an output, a session "
                "or a commit by its key (output:ID, session:ID, commit:REPO@SHA; "
                "`lineage outputs` lists restricted ones)"
            )
        if node.kind == NodeKind.OUTPUT:
            roots.append(node.key)
        elif node.kind == NodeKind.SESSION:
            roots.append(node.key)
            roots += [
                r[0]
                for r in store.fetch_all(
                    f"""SELECT n.key FROM edges e JOIN nodes n ON n.id = e.dst
                    WHERE e.src = ? AND e.kind = '{EdgeKind.GENERATED}' AND e.seq <= ?
                    ORDER BY n.key""",
                    [node.id, seq],
                )
            ]
        elif node.kind == NodeKind.COMMIT:
            repo_sha = node.key.removeprefix("commit:")
            repo, _, sha = repo_sha.rpartition("@")
            prefixes = [
                model.output_key(model.commit_output(repo, sha, "")),
                model.output_key(model.note_output(repo, sha, "", "")).removesuffix(":"),
            ]
            traced = [
                r[0]
                for r in store.fetch_all(
                    f"""SELECT key FROM nodes WHERE kind = '{NodeKind.OUTPUT}'
                    AND (starts_with(key, ?) OR starts_with(key, ?)) AND first_seq <= ?
                    ORDER BY key""",
                    [*prefixes, seq],
                )
            ]
            if not traced:
                raise EngineError(
                    f"{node.key} has no AI evidence (no AI trailer, author or git-ai note): "
                    "nothing of it is traced to a tool. Name the outputs or the session that "
                    "wrote it, or select them with --tool"
                )
            roots += traced
        else:
            raise EngineError(
                f"{node.key} is a node of kind {node.kind}: an impact starts from outputs, "
                "sessions or commits"
            )
    return list(dict.fromkeys(roots))


def impact(
    store: Store,
    selection: Restriction,
    as_of: str | int | None = None,
    *,
    max_paths: int = 0,
    max_listed: int = 100_000,
    named: Sequence[str] = (),
    keep: int | None = None,
    grace: timedelta = RUN_GRACE,
    held: Collection[int] = (),
) -> ImpactReport:
    """Every example that outputs matching `selection` reach (its tool, model, since, until
    and repos match as a policy's restriction does; with `named`, of the outputs and
    sessions `impact_roots` finds for those nodes only), by dataset version, precise and
    strict: the same propagation as a gate's, from those outputs only, exact and without a
    depth cap. The first `max_paths` examples of each list carry a witness path. The
    propagation is a taint run of its own, kept as `propagate_taint` keeps runs (`keep`,
    `grace`, `held`)."""
    prepare(store)
    point = resolve_as_of(store, as_of)
    if named:
        selection = replace(selection, nodes=tuple(impact_roots(store, list(named), point.seq)))
    rules = Policy(restrict=(selection,), name="impact")
    version = PolicyVersion(0, "impact-" + rules.hash, point.seq, point.time, rules)
    run = _run_for(store, point, version, (), keep, grace, held)
    datasets = []
    for d in tainted_by_dataset(store, run, "strict"):
        if not d.tainted:
            continue
        modes = {
            mode: gate(store, run, d.dataset, mode, max_paths=max_paths, max_listed=max_listed)
            for mode in ("precise", "strict")
        }
        precise, strict = modes["precise"], modes["strict"]
        datasets.append(
            DatasetImpact(
                d.dataset,
                precise.counts.tainted,
                strict.counts.tainted,
                precise.tainted,
                strict.tainted,
            )
        )
    chosen = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in asdict(selection).items()
        if v not in (None, (), "")
    }
    chosen.pop("reason", None)
    if named:
        chosen["named"] = list(named)
    return ImpactReport(chosen, point.seq, datasets)


@dataclass(frozen=True)
class RestrictedOutput:
    """An output or session the policy in force restricts: its tool, model, repository and
    time as recorded (None where the record did not say), whether a waiver lifts it, and
    how many examples of any dataset it taints in the run's `mode`."""

    node: str
    kind: str
    tool: str | None
    model: str | None
    repo: str | None
    time: str | None
    waived: bool
    tainted_examples: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RestrictedOutput":
        return cls(**raw)


def restricted_outputs(store: Store, run: TaintRun, mode: str) -> list[RestrictedOutput]:
    """The outputs and sessions the run's policy restricts as of its point, by tool, model,
    repository and time, with the examples each taints."""
    policy = run.policy.policy if run.policy else None
    roots = restricted_roots(store, run.as_of.seq, policy)
    waived = {w.node for w in run.waivers}
    store.register("_restricted", pa.table({"id": roots.astype(np.int64)}))
    try:
        rows = store.fetch_all(
            f"""
            SELECT r.key, r.kind, json_extract_string(r.attrs, '$.tool'),
                   json_extract_string(r.attrs, '$.model'), json_extract_string(r.attrs, '$.repo'),
                   json_extract_string(r.attrs, '$.time'),
                   (SELECT count(DISTINCT t.node) FROM taint t
                    JOIN nodes x ON x.id = t.node AND x.kind = '{NodeKind.EXAMPLE}'
                    WHERE t.run {PARTS_OF} AND t.mode = ?
                      AND t.root = r.id AND t.blocked_by IS NULL)
            FROM _restricted q JOIN nodes r ON r.id = q.id
            ORDER BY 3 NULLS LAST, 4 NULLS LAST, 5 NULLS LAST, 6 NULLS LAST, 1""",
            [run.run, mode],
        )
    finally:
        store.unregister("_restricted")
    return [
        RestrictedOutput(key, kind, tool, model, repo, time, key in waived, n)
        for key, kind, tool, model, repo, time, n in rows
    ]


# -- lineage ----------------------------------------------------------------------------------


@dataclass
class LineageWalk:
    """The nodes and edges within `depth` hops of `root`, up (ancestors) or down
    (descendants); `truncated` when a page or the node budget cut the walk short."""

    root: StoredNode
    nodes: list[StoredNode]
    edges: list[tuple[StoredNode, StoredNode, StoredEdge]]  # (src, dst, edge)
    truncated: bool
    as_of: int


def walk_lineage(
    store: Store,
    key: str,
    direction: str = "up",
    depth: int = 5,
    kinds: list[str] | None = None,
    first: int = 200,
) -> LineageWalk:
    """Walk the graph from node `key` breadth first, at most `first` neighbors per node and
    `first` nodes in all, following only edges of `kinds` when given."""
    if direction not in ("up", "down"):
        raise EngineError(f"direction must be 'up' or 'down', not {direction!r}")
    root = store.node(key)
    if root is None:
        raise EngineError(f"no node {key!r}")
    seen = {root.id: root}
    edges: list[tuple[StoredNode, StoredNode, StoredEdge]] = []
    frontier, truncated = [root.id], False
    for _ in range(depth):
        if not frontier:
            break
        hops = store.neighbors(frontier, direction, first + 1, kinds)
        reached = []
        for anchor in frontier:
            found = hops[anchor]
            truncated |= len(found) > first
            for node, edge in found[:first]:
                if node.id not in seen:
                    if len(seen) > first:
                        truncated = True
                        continue
                    seen[node.id] = node
                    reached.append(node.id)
                src, dst = (node, seen[anchor]) if direction == "up" else (seen[anchor], node)
                edges.append((src, dst, edge))
        frontier = reached
    truncated |= bool(frontier) and any(store.neighbors(frontier, direction, 1, kinds).values())
    return LineageWalk(root, list(seen.values()), edges, truncated, store.head_seq())
