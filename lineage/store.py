"""The store: a DuckDB file holding the event log, the provenance graph and line attributions.

`Store.ingest` writes one loader batch in one transaction: new events get the next seqs and
join the hash chain, their facts become nodes, edges, aliases and attributions, rejected
records are kept with their reason. Events already in the log are recognized by id and skipped,
so ingesting the same input twice changes nothing.
"""

import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from lineage import (
    attribution,
    content_match,
    eventlog,
    example_ingest,
    migrations,
    schema,
    snapshots,
)
from lineage.eventlog import canonical_json, epoch_us
from lineage.facts import (
    AddedLines,
    Alias,
    Attribution,
    Batch,
    Edge,
    LineEnds,
    Node,
    Record,
    Rejection,
    TreeEntries,
)
from lineage.model import EdgeKind, NodeKind
from lineage.policy import Policy, parse_policy
from lineage.rows import maybe_one, one

DEFAULT_DB = "lineage.duckdb"
# Seconds an output's clock may run ahead of a commit's and still match its lines by content
# (the agent and git may run on different machines); override with $LINEAGE_CLOCK_SKEW.
CLOCK_SKEW_S = 60.0


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says how to fix it."""


class NoStoreError(StoreError):
    """The store file does not exist and was not to be created."""


class StoreLockedError(StoreError):
    """Another process holds the store file."""


def _lock_holder(message: str) -> str:
    """Which process holds a DuckDB file's lock, from DuckDB's message ("... (PID 123)") and
    the process's command line where this system shows it."""
    match = re.search(r"\(PID (\d+)\)", message)
    if not match:
        return "another process"
    pid = match.group(1)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(" ".join(a.decode(errors="replace").split()) for a in argv if a)
    except OSError:
        return f"another process (PID {pid})"
    return f"another process (PID {pid}: {command[:200]})"


def default_db_path() -> str:
    return os.environ.get("LINEAGE_DB") or DEFAULT_DB


# What each aliased node names (a file at a commit -> its file version).

_EDGE_FACTS = pa.schema(
    [
        ("src", pa.string()),
        ("dst", pa.string()),
        ("kind", pa.string()),
        ("seq", pa.int64()),
        ("span_start", pa.int64()),
        ("span_end", pa.int64()),
        ("span_unit", pa.string()),
        ("line_map", pa.string()),
    ]
)


@dataclass
class IngestReport:
    source: str
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    ignored: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, other: "IngestReport") -> None:
        self.accepted += other.accepted
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.ignored += other.ignored
        self.rejections += other.rejections
        self.notes += other.notes

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "ignored": self.ignored,
            "rejections": [str(r) for r in self.rejections],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class LoggedEvent:
    """One event as the log holds it: `payload` is its canonical JSON text."""

    seq: int
    id: str
    source: str
    type: str
    origin: str | None
    payload: str
    received_at: datetime


@dataclass(frozen=True)
class StoredNode:
    id: int
    key: str
    kind: str
    attrs: dict[str, Any]
    first_seq: int
    defined_seq: int | None


@dataclass(frozen=True)
class StoredEdge:
    src: int
    dst: int
    kind: str
    seq: int
    span_start: int | None
    span_end: int | None
    span_unit: str | None


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    hash: str
    seq: int
    set_at: datetime
    policy: Policy


@lru_cache(maxsize=64)
def _parsed_policy(toml: str) -> Policy:
    """Stored policies were validated when set; parse each text once per process."""
    return parse_policy(toml)


def _line_of(record: Record) -> int:
    """The input line a record came from (its origin's `:LINE`), or 0."""
    _, _, line = (record.origin or "").rpartition(":")
    return int(line) if line.isdigit() else 0


def _own_lines(examples: pa.Table, source_file: str | None) -> bool:
    """Whether example rows are lines of the batch's own file (an events file), rather than
    rows of another input (a manifest's; an OpenLineage event's facet rows)."""
    return examples["origin"][0].as_py() == f"{source_file}:{examples['row'][0].as_py()}"


_TREES = "\0trees"  # stands for "the repository's commit trees" among (repo, path) pairs

File = tuple[str | None, str | None]


def _files_of_record(record: Record) -> set[File]:
    """What a record tells about files, as (repo, path) pairs: a file version it stores (its
    length, line ends, alias) or, (repo, _TREES), a commit's tree."""
    touched: set[File] = set()
    for fact in record.facts:
        if isinstance(fact, Node) and fact.kind == NodeKind.FILE_VERSION:
            touched.add((fact.attrs.get("repo"), fact.attrs.get("path")))
        elif isinstance(fact, TreeEntries):
            touched.add((fact.repo, _TREES))
    return touched


def _files_of_rows(examples: pa.Table) -> list[set[File]]:
    """The (repo, path) pairs each example row's check depends on: its file, and, for a file
    named at a commit, the repository's trees."""
    out: list[set[File]] = []
    for repo, path, commit in zip(
        examples["repo"].to_pylist(),
        examples["path"].to_pylist(),
        examples["commit"].to_pylist(),
        strict=True,
    ):
        named: set[File] = {(repo, path)} if repo is not None else set()
        if commit is not None:
            named.add((repo, _TREES))
        out.append(named)
    return out


def _runs_in_input_order(
    records: list[Record], examples: pa.Table | None, source_file: str | None
) -> list[tuple[list[Record], pa.Table | None]]:
    """A batch's records and example rows as runs to store one after the other, so each
    example row is checked against the records before it in its file and against none after
    it: a new run starts where a record tells about a file that an example row of the
    current run names. Records and rows of one run are logged in line order
    (`_interleaved`). One run for a manifest, a history, an OpenLineage file (facet rows
    follow their events), or an events file whose examples each follow their file."""
    if examples is None:
        return [(records, None)]
    if not records or not _own_lines(examples, source_file):
        return [(records, examples)]
    rows = examples["row"].to_pylist()
    named = _files_of_rows(examples)
    items = sorted(
        [(_line_of(r), 0, i) for i, r in enumerate(records)]
        + [(row, 1, j) for j, row in enumerate(rows)]
    )
    runs: list[tuple[list[int], list[int]]] = [([], [])]
    pending: set[File] = set()  # what the current run's rows name
    for _, is_row, i in items:
        if is_row:
            runs[-1][1].append(i)
            pending |= named[i]
            continue
        if pending and not pending.isdisjoint(_files_of_record(records[i])):
            runs.append(([], []))
            pending = set()
        runs[-1][0].append(i)
    return [([records[i] for i in r], examples.take(e) if e else None) for r, e in runs if r or e]


def _interleaved(records: list[Record], rows: pa.Table) -> bool:
    """Whether some of `records` come after some example `rows` in their file."""
    return max(_line_of(r) for r in records) > min(rows["row"].to_pylist())


class Store:
    """A lineage store in one DuckDB file (or in memory with ``":memory:"``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        create: bool = True,
    ) -> None:
        """Open the store, creating it unless `create` is False or `read_only` (then a
        missing file is a StoreError). `memory_limit` caps DuckDB's memory (e.g. "2GB"): a
        bulk ingest then spills to disk beside the file instead of growing (default: DuckDB's,
        80% of RAM)."""
        self.path = str(path)
        if (read_only or not create) and self.path != ":memory:" and not Path(self.path).exists():
            raise NoStoreError(
                f"no lineage store at {self.path}: ingest records into it first, or open "
                "the store that holds them"
            )
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"{self.path} is locked by {_lock_holder(str(exc))}: wait for it to "
                    "finish, or stop it"
                ) from exc
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self.con.execute("SET enable_progress_bar = false")  # never on our stdout
        if memory_limit:
            try:
                self.con.execute(f"SET memory_limit = '{memory_limit.replace(chr(39), '')}'")
            except duckdb.Error as exc:
                raise StoreError(
                    f"memory limit {memory_limit!r}: give a size such as 2GB or 512MB"
                ) from exc
        # Read-only structures the engine derives from immutable rows (a taint run's evidence),
        # kept per database in this process and shared by its cursors.
        self.memo: dict[str, Any] = {}
        if not read_only:
            new = not one(
                self.con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events'"
            )[0]
            self.con.execute(schema.ddl())
            migrations.migrate(self.con, new=new)
        self.hash_scheme = self._hash_scheme()

    def _hash_scheme(self) -> int:
        """The event log's hash scheme (lineage.eventlog): recorded, else 1 (a store made
        before schemes were recorded, opened read-only so not migrated)."""
        if not one(
            self.con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'store_meta'"
        )[0]:
            return 1
        row = maybe_one(self.con, "SELECT value FROM store_meta WHERE key = 'hash_scheme'")
        return int(row[0]) if row else 1

    def cursor(self) -> "Store":
        """Another handle on the same database for use from another thread (a server request):
        it sees committed data and has its own transactions and temporary tables."""
        other = object.__new__(Store)
        other.path = self.path
        other.con = self.con.cursor()
        other.memo = self.memo
        other.hash_scheme = self.hash_scheme
        return other

    def register(self, name: str, table: pa.Table) -> None:
        """Expose an Arrow table to SQL as `name` (until `unregister`)."""
        self._finish_pending()
        self.con.register(name, table)

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """The result of one query as an Arrow table (columnar, no per-row Python objects)."""
        self._finish_pending()
        return self.con.sql(sql, params=params).to_arrow_table()

    def _finish_pending(self) -> None:
        if hasattr(self.con, "complete"):  # DuckDB 2 refuses while a fetchone() is pending
            self.con.complete()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- the log -------------------------------------------------------------------------------

    def head_seq(self) -> int:
        """The last seq of the log (read from the small batches table)."""
        return one(self.con, "SELECT coalesce(max(last_seq), 0) FROM batches")[0]

    def log_end(self) -> int:
        """The last seq written, including events of the batch being written."""
        return one(self.con, "SELECT coalesce(max(seq), 0) FROM events")[0]

    def head_time(self) -> datetime | None:
        return one(self.con, "SELECT max(received_at) FROM batches")[0]

    def seq_at_time(self, moment: datetime) -> int:
        """The last seq ingested at or before `moment` (0 when nothing was)."""
        return one(
            self.con,
            "SELECT coalesce(max(last_seq), 0) FROM batches WHERE "
            "received_at <= ? AND last_seq IS NOT NULL",
            [moment],
        )[0]

    def time_of_seq(self, seq: int) -> datetime | None:
        return (
            one(
                self.con,
                "SELECT received_at FROM batches WHERE first_seq <= ? AND last_seq >= ?",
                [seq, seq],
            )[0]
            if seq
            else None
        )

    def event(self, seq: int) -> dict[str, Any] | None:
        row = maybe_one(
            self.con,
            "SELECT seq, event_id, source, type, origin, payload FROM events WHERE seq = ?",
            [seq],
        )
        if row is None:
            return None
        return {
            "seq": row[0],
            "id": row[1],
            "source": row[2],
            "type": row[3],
            "origin": row[4],
            "payload": row[5],
        }

    def verify(self) -> eventlog.VerifyResult:
        return eventlog.verify(self.con, self.hash_scheme)

    # -- ingest --------------------------------------------------------------------------------

    def ingest(self, batch: Batch) -> IngestReport:
        """Write one batch in one transaction; return what was accepted, skipped and rejected.

        Records and example rows are logged in the order of their input: an events file
        holds both, each line one event."""
        unplaced: set[int] = set()
        while True:
            try:
                return self._ingest(batch, unplaced)
            except example_ingest.ExamplesRejected as exc:
                # Rejected rows of an interleaved file had seqs planned for them: plan again
                # without them (the transaction was rolled back; nothing else changes).
                unplaced |= exc.rows

    def _ingest(self, batch: Batch, unplaced: set[int]) -> IngestReport:
        report = IngestReport(
            batch.source,
            rejected=len(batch.rejections),
            ignored=batch.ignored,
            rejections=list(batch.rejections),
            notes=list(batch.notes),
        )
        unique: dict[str, Record] = {}
        for record in batch.records:
            unique.setdefault(record.event_id, record)
        examples = batch.examples
        if examples is not None and not examples.num_rows:
            examples = None
        received_at = datetime.now(UTC)
        with self.transaction():
            known = self._known_event_ids(list(unique))
            new = [r for eid, r in unique.items() if eid not in known]
            report.duplicate = len(batch.records) - len(new)
            report.accepted = len(new)
            self.insert_rejections(batch.source, batch.rejections, received_at)
            batch_no = None
            for records, rows in _runs_in_input_order(new, examples, batch.input):
                head = self.log_end()
                seqs = list(range(head + 1, head + 1 + len(records)))
                row_seqs = None
                if rows is not None and records and _interleaved(records, rows):
                    seqs, row_seqs = self._plan_seqs(records, rows, head, unplaced)
                if records:
                    batch_no = self._append_events(batch.source, records, seqs, batch_no)
                    self._store_facts(records, seqs)
                if rows is not None:
                    batch_no = batch_no or self._next_batch()
                    example_ingest.ingest_example_table(
                        self, batch.source, rows, batch_no, report, received_at, row_seqs
                    )
            if batch_no is not None:
                self._chain_batch(batch_no, batch.source, received_at)
        return report

    def _store_facts(self, records: list[Record], seqs: list[int]) -> None:
        """The facts of records just logged at `seqs`, and what they change: resolved
        names, carried line attributions, byte spans that can now be mapped to lines."""
        affected, repos, named = self._insert_facts(records, seqs)
        snapshots.reindex(self.con, repos)
        if repos:
            affected |= snapshots.resolve_names(self.con, self.log_end(), repos=repos)
        if named:
            affected |= snapshots.resolve_names(self.con, self.log_end(), since=seqs[0])
        self._recompute_carried(affected)
        if repos:
            example_ingest.map_late_byte_spans(self, self.log_end())

    def _plan_seqs(
        self, records: list[Record], examples: pa.Table, head: int, unplaced: set[int]
    ) -> tuple[list[int], pa.Array]:
        """Seqs after `head` for new records and example rows in the order of their lines;
        a row already logged, repeated or in `unplaced` gets none."""
        ids = examples["event_id"].to_pylist()
        rows = examples["row"].to_pylist()
        logged = self._known_event_ids(ids) | {r.event_id for r in records}
        placed: set[str] = set()
        order: list[tuple[int, int, int]] = [(_line_of(r), 0, i) for i, r in enumerate(records)]
        for i, (event_id, row) in enumerate(zip(ids, rows, strict=True)):
            if event_id not in logged and event_id not in placed and row not in unplaced:
                placed.add(event_id)
                order.append((row, 1, i))
        order.sort()
        record_seqs = [0] * len(records)
        row_seqs: list[int | None] = [None] * len(ids)
        for seq, (_, is_row, i) in enumerate(order, head + 1):
            if is_row:
                row_seqs[i] = seq
            else:
                record_seqs[i] = seq
        return record_seqs, pa.array(row_seqs, pa.int64())

    def _known_event_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        self.register("_ids", pa.table({"event_id": ids}))
        try:
            return {
                r[0]
                for r in self.con.execute(
                    "SELECT e.event_id FROM events e JOIN _ids USING (event_id)"
                ).fetchall()
            }
        finally:
            self.con.unregister("_ids")

    def _next_batch(self) -> int:
        return one(self.con, "SELECT coalesce(max(batch), 0) + 1 FROM batches")[0]

    def _append_events(
        self, source: str, records: list[Record], seqs: list[int], batch_no: int | None = None
    ) -> int:
        """Append records as events at `seqs` of batch `batch_no` (default: a new one);
        returns the batch."""
        cols: dict[str, list[Any]] = {
            k: []
            for k in (
                "seq",
                "event_id",
                "source",
                "type",
                "occurred_us",
                "origin",
                "payload",
                "hash",
            )
        }
        for seq, record in zip(seqs, records, strict=True):
            payload = canonical_json(record.payload)
            occurred = epoch_us(record.occurred_at) if record.occurred_at else None
            cols["seq"].append(seq)
            cols["event_id"].append(record.event_id)
            cols["source"].append(source)
            cols["type"].append(record.type)
            cols["occurred_us"].append(occurred)
            cols["origin"].append(record.origin)
            cols["payload"].append(payload)
            cols["hash"].append(
                eventlog.event_hash(
                    seq, record.event_id, source, record.type, occurred, payload, self.hash_scheme
                )
            )
        batch_no = batch_no or self._next_batch()
        self.register(
            "_events",
            pa.table(
                cols,
                schema=pa.schema(
                    [
                        ("seq", pa.int64()),
                        ("event_id", pa.string()),
                        ("source", pa.string()),
                        ("type", pa.string()),
                        ("occurred_us", pa.int64()),
                        ("origin", pa.string()),
                        ("payload", pa.string()),
                        ("hash", pa.string()),
                    ]
                ),
            ),
        )
        self.con.execute(
            "INSERT INTO events SELECT seq, event_id, ?, source, type, occurred_us, origin, "
            "payload, hash FROM _events",
            [batch_no],
        )
        self.con.unregister("_events")
        return batch_no

    def _chain_batch(self, batch_no: int, source: str, received_at: datetime) -> None:
        """Close batch `batch_no`: hash its events in seq order and chain it to the last one."""
        first_seq, last_seq, count, digest = one(
            self.con,
            "SELECT min(seq), max(seq), count(*), sha256(coalesce(string_agg(hash, '' "
            "ORDER BY seq), '')) FROM events WHERE batch = ?",
            [batch_no],
        )
        if not count:
            return
        prev = maybe_one(self.con, "SELECT hash FROM batches ORDER BY batch DESC LIMIT 1")
        prev_hash = prev[0] if prev else eventlog.GENESIS
        received_us = epoch_us(received_at)
        chained = eventlog.batch_hash(
            prev_hash,
            batch_no,
            source,
            received_us,
            first_seq,
            last_seq,
            count,
            digest,
            self.hash_scheme,
        )
        self.con.execute(
            "INSERT INTO batches VALUES (?, ?, make_timestamptz(?), ?, ?, ?, ?, ?, ?)",
            [batch_no, source, received_us, first_seq, last_seq, count, digest, prev_hash, chained],
        )

    def insert_rejections(
        self, source: str, rejections: list[Rejection], received_at: datetime
    ) -> None:
        """Keep rejected records with their reason (once each: a re-ingest adds none)."""
        if not rejections:
            return
        rows = {
            eventlog.content_id([source, r.file, r.line, r.reason, r.raw]): r for r in rejections
        }
        self.register(
            "_rejected",
            pa.table(
                {
                    "id": list(rows),
                    "file": [r.file for r in rows.values()],
                    "line": pa.array([r.line for r in rows.values()], pa.int64()),
                    "reason": [r.reason for r in rows.values()],
                    "raw": pa.array([r.raw for r in rows.values()], pa.string()),
                }
            ),
        )
        try:
            self.con.execute(
                "INSERT INTO rejected SELECT id, ?, file, line, reason, raw, ? FROM _rejected "
                "ON CONFLICT DO NOTHING",
                [source, received_at],
            )
        finally:
            self.con.unregister("_rejected")

    def _insert_facts(
        self, records: list[Record], seqs: list[int]
    ) -> tuple[set[int], list[str], bool]:
        """Insert the facts of newly accepted records; return the file versions whose line
        attribution may have changed, the repos whose trees were recorded, and whether lines
        were attributed to a file named at a commit (resolved to its version)."""
        nodes: dict[str, list[Any]] = {
            k: [] for k in ("key", "kind", "attrs", "defines", "seq", "ord")
        }
        edges: dict[str, list[Any]] = {
            k: []
            for k in (
                "src",
                "dst",
                "kind",
                "seq",
                "span_start",
                "span_end",
                "span_unit",
                "line_map",
            )
        }
        aliases: dict[str, list[Any]] = {"alias": [], "target": [], "seq": []}
        spans: dict[str, list[Any]] = {
            k: [] for k in ("file_version", "output", "line_start", "line_end", "evidence", "seq")
        }
        added: dict[str, list[Any]] = {
            k: [] for k in ("file_version", "line", "hash", "repo", "time_us", "seq")
        }
        trees: dict[str, list[Any]] = {
            k: [] for k in ("repo", "commit", "first_parent", "whole", "seq")
        }
        entries: dict[str, list[Any]] = {
            k: [] for k in ("repo", "commit", "path", "file_version", "seq")
        }
        line_ends: dict[str, list[Any]] = {"file_version": [], "length": [], "ends": []}
        first_seq = seqs[0]
        for seq, record in zip(seqs, records, strict=True):
            for fact in record.facts:
                if isinstance(fact, LineEnds):
                    length = int(fact.ends[-1]) if len(fact.ends) else 0
                    if length < 1 << 32:
                        line_ends["file_version"].append(fact.file_version)
                        line_ends["length"].append(length)
                        line_ends["ends"].append(np.asarray(fact.ends, dtype="<u4").tobytes())
                    continue
                if isinstance(fact, TreeEntries):
                    for column, value in (
                        ("repo", fact.repo),
                        ("commit", fact.commit),
                        ("first_parent", fact.first_parent),
                        ("whole", fact.whole),
                        ("seq", seq),
                    ):
                        trees[column].append(value)
                    for path, key in fact.entries:
                        for column, value in (
                            ("repo", fact.repo),
                            ("commit", fact.commit),
                            ("path", path),
                            ("file_version", key),
                            ("seq", seq),
                        ):
                            entries[column].append(value)
                    continue
                if isinstance(fact, AddedLines):
                    time_us = epoch_us(fact.time) if fact.time else None
                    for line, digest in fact.lines:
                        added["file_version"].append(fact.file_version)
                        added["line"].append(line)
                        added["hash"].append(digest)
                        added["repo"].append(fact.repo)
                        added["time_us"].append(time_us)
                        added["seq"].append(seq)
                if isinstance(fact, Node):
                    nodes["key"].append(fact.key)
                    nodes["kind"].append(str(fact.kind))
                    nodes["attrs"].append(canonical_json(fact.attrs))
                    nodes["defines"].append(fact.defines)
                    nodes["seq"].append(seq)
                    nodes["ord"].append(len(nodes["ord"]))
                elif isinstance(fact, Edge):
                    edges["src"].append(fact.src)
                    edges["dst"].append(fact.dst)
                    edges["kind"].append(str(fact.kind))
                    edges["seq"].append(seq)
                    edges["span_start"].append(fact.span.start if fact.span else None)
                    edges["span_end"].append(fact.span.end if fact.span else None)
                    edges["span_unit"].append(fact.span.unit if fact.span else None)
                    edges["line_map"].append(
                        None if fact.line_map is None else canonical_json(fact.line_map)
                    )
                elif isinstance(fact, Alias):
                    aliases["alias"].append(fact.alias)
                    aliases["target"].append(fact.target)
                    aliases["seq"].append(seq)
                elif isinstance(fact, Attribution):
                    spans["file_version"].append(fact.file_version)
                    spans["output"].append(fact.output)
                    spans["line_start"].append(fact.span.start)
                    spans["line_end"].append(fact.span.end)
                    spans["evidence"].append(fact.evidence)
                    spans["seq"].append(seq)
        if nodes["key"]:
            self.register(
                "_nodes",
                pa.table(
                    nodes,
                    schema=pa.schema(
                        [
                            ("key", pa.string()),
                            ("kind", pa.string()),
                            ("attrs", pa.string()),
                            ("defines", pa.bool_()),
                            ("seq", pa.int64()),
                            ("ord", pa.int64()),
                        ]
                    ),
                ),
            )
            self.merge_nodes("_nodes")
            self.con.unregister("_nodes")
        self._check_endpoints(
            edges["src"]
            + edges["dst"]
            + aliases["alias"]
            + aliases["target"]
            + spans["file_version"]
            + spans["output"]
            + added["file_version"]
            + [k for k in entries["file_version"] if k is not None]
        )
        if edges["src"]:
            self.register("_edges", pa.table(edges, schema=_EDGE_FACTS))
            self.merge_edges("_edges")
            self.con.unregister("_edges")
        con = self.con
        if aliases["alias"]:
            self.register("_aliases", pa.table(aliases))
            con.execute("""
                INSERT INTO aliases SELECT a.id, t.id, x.seq
                FROM _aliases x JOIN nodes a ON a.key = x.alias JOIN nodes t ON t.key = x.target""")
            con.unregister("_aliases")
        if spans["output"]:
            self.register(
                "_spans",
                pa.table(
                    spans,
                    schema=pa.schema(
                        [
                            ("file_version", pa.string()),
                            ("output", pa.string()),
                            ("line_start", pa.int64()),
                            ("line_end", pa.int64()),
                            ("evidence", pa.string()),
                            ("seq", pa.int64()),
                        ]
                    ),
                ),
            )
            con.execute("""
                INSERT INTO attributions
                SELECT f.id, o.id, s.line_start, s.line_end, s.evidence, s.seq, false
                FROM _spans s JOIN nodes f ON f.key = s.file_version
                JOIN nodes o ON o.key = s.output""")
            con.unregister("_spans")
        if added["line"]:
            self.register(
                "_added",
                pa.table(
                    added,
                    schema=pa.schema(
                        [
                            ("file_version", pa.string()),
                            ("line", pa.int64()),
                            ("hash", pa.string()),
                            ("repo", pa.string()),
                            ("time_us", pa.int64()),
                            ("seq", pa.int64()),
                        ]
                    ),
                ),
            )
            con.execute("""
                INSERT INTO added_lines SELECT f.id, a.line, a.hash, a.repo, a.time_us, a.seq
                FROM _added a JOIN nodes f ON f.key = a.file_version""")
            con.unregister("_added")
        if line_ends["file_version"]:
            self.register(
                "_ends",
                pa.table(
                    line_ends,
                    schema=pa.schema(
                        [
                            ("file_version", pa.string()),
                            ("length", pa.int64()),
                            ("ends", pa.binary()),
                        ]
                    ),
                ),
            )
            con.execute("""
                INSERT INTO line_ends SELECT n.id, e.length, e.ends
                FROM _ends e JOIN nodes n ON n.key = e.file_version
                WHERE NOT EXISTS (SELECT 1 FROM line_ends l WHERE l.file_version = n.id)""")
            con.unregister("_ends")
        if trees["commit"]:
            self.register(
                "_trees",
                pa.table(
                    trees,
                    schema=pa.schema(
                        [
                            ("repo", pa.string()),
                            ("commit", pa.string()),
                            ("first_parent", pa.string()),
                            ("whole", pa.bool_()),
                            ("seq", pa.int64()),
                        ]
                    ),
                ),
            )
            con.execute("INSERT INTO commit_trees SELECT * FROM _trees")
            con.unregister("_trees")
            self.register(
                "_entries",
                pa.table(
                    entries,
                    schema=pa.schema(
                        [
                            ("repo", pa.string()),
                            ("commit", pa.string()),
                            ("path", pa.string()),
                            ("file_version", pa.string()),
                            ("seq", pa.int64()),
                        ]
                    ),
                ),
            )
            con.execute("""
                INSERT INTO tree_entries SELECT e.repo, e.commit, e.path, n.id, e.seq
                FROM _entries e LEFT JOIN nodes n ON n.key = e.file_version""")
            con.unregister("_entries")
        content_match.index_output_lines(self, first_seq)
        affected_keys = set(spans["file_version"])
        affected_keys.update(
            dst
            for dst, kind in zip(edges["dst"], edges["kind"], strict=True)
            if kind == EdgeKind.REVISED
        )
        affected = set(self.node_ids(affected_keys).values())
        named = any("@commit:" in key for key in spans["file_version"])
        return (
            affected | content_match.match_content(self, first_seq, self._match_window_us()),
            sorted(set(trees["repo"])),
            named,
        )

    def _match_window_us(self) -> int:
        """How much later than a commit's time an output may be and still count as written
        before it: git keeps whole seconds (a commit at 12:00:00 was made before 12:00:01)
        and agent records keep milliseconds, plus the clock skew allowed between the
        machines (CLOCK_SKEW_S, `$LINEAGE_CLOCK_SKEW` seconds). Wider fails closed."""
        raw = os.environ.get("LINEAGE_CLOCK_SKEW")
        try:
            skew = float(raw) if raw else CLOCK_SKEW_S
        except ValueError:
            raise StoreError(f"LINEAGE_CLOCK_SKEW={raw!r}: give a number of seconds") from None
        return int((1 + max(skew, 0.0)) * 1_000_000)

    def merge_nodes(self, facts: str) -> None:
        """Insert the nodes of relation `facts` (key, kind, attrs, defines, seq, ord): new keys
        get the next ids in `ord` order; a node only referenced so far becomes defined."""
        con = self.con
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _node_facts AS
            SELECT key,
                   arg_min(kind, ord) AS kind,
                   coalesce(arg_min(attrs, ord) FILTER (WHERE defines),
                            arg_min(attrs, ord)) AS attrs,
                   min(seq) AS first_seq,
                   min(seq) FILTER (WHERE defines) AS defined_seq,
                   min(ord) AS ord
            FROM {facts} GROUP BY key""")
        con.execute("""
            INSERT INTO nodes (id, key, kind, attrs, first_seq, defined_seq, repo)
            SELECT (SELECT coalesce(max(id), 0) FROM nodes) + row_number() OVER (ORDER BY ord),
                   key, kind, attrs, first_seq, defined_seq, json_extract_string(attrs, '$.repo')
            FROM _node_facts f WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.key = f.key)
            ORDER BY ord""")
        con.execute("""
            UPDATE nodes SET attrs = f.attrs, defined_seq = f.defined_seq,
                             repo = json_extract_string(f.attrs, '$.repo')
            FROM _node_facts f
            WHERE nodes.key = f.key AND nodes.defined_seq IS NULL
              AND f.defined_seq IS NOT NULL""")
        con.execute("DROP TABLE _node_facts")

    def merge_edges(self, facts: str) -> None:
        """Insert the edges of relation `facts` (src key, dst key, kind, seq, span, line map)."""
        self.con.execute(f"""
            INSERT INTO edges
            SELECT s.id, d.id, e.kind, e.seq, e.span_start, e.span_end, e.span_unit, e.line_map
            FROM {facts} e JOIN nodes s ON s.key = e.src JOIN nodes d ON d.key = e.dst""")

    def _check_endpoints(self, keys: list[str]) -> None:
        """Every key a fact names must be a node by now (else the loader forgot one)."""
        self.register("_named", pa.table({"key": pa.array(keys, pa.string())}))
        try:
            missing = [
                r[0]
                for r in self.con.execute(
                    "SELECT DISTINCT k.key FROM _named k ANTI JOIN nodes n USING (key) "
                    "ORDER BY 1 LIMIT 5"
                ).fetchall()
            ]
        finally:
            self.con.unregister("_named")
        if missing:
            raise ValueError(f"loader bug: facts name nodes it never declared: {missing}")

    # -- examples read column-wise from a manifest ---------------------------------------------

    # -- line attribution ----------------------------------------------------------------------

    def _recompute_carried(self, changed: set[int]) -> None:
        """Re-derive the carried intervals of `changed` file versions and of every version
        that descends from them, parents first, so the result does not depend on arrival order."""
        if not changed:
            return
        con = self.con
        self.register("_changed", pa.table({"id": list(changed)}))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _closure AS
            WITH RECURSIVE down(id) AS (
                SELECT id FROM _changed
                UNION
                SELECT e.dst FROM edges e JOIN down ON e.src = down.id
                WHERE e.kind = '{EdgeKind.REVISED}'
            ) SELECT id FROM down""")
        con.unregister("_changed")
        revisions = con.execute(f"""
            SELECT e.src, e.dst, e.seq, e.line_map FROM edges e JOIN _closure c ON c.id = e.dst
            WHERE e.kind = '{EdgeKind.REVISED}'""").fetchall()
        closure = [r[0] for r in con.execute("SELECT id FROM _closure").fetchall()]
        outside_parents = {src for src, *_ in revisions} - set(closure)
        known = con.execute(
            """
            SELECT a.file_version, a.output, a.line_start AS start, a.line_end AS "end",
                   a.evidence, a.seq, a.carried
            FROM attributions a
            WHERE a.file_version IN (SELECT id FROM _closure)
               OR a.file_version IN (SELECT unnest(?::BIGINT[]))""",
            [list(outside_parents)],
        ).fetchnumpy()
        carried = attribution.carry_columns(closure, revisions, known, outside_parents)
        con.execute(
            "DELETE FROM attributions WHERE carried AND file_version IN (SELECT id FROM _closure)"
        )
        if len(carried["output"]):
            names = pa.array(carried["names"], pa.string())
            end = carried["end"]
            self.register(
                "_carried",
                pa.table(
                    {
                        "file_version": carried["file_version"],
                        "output": carried["output"],
                        "line_start": carried["start"],
                        "line_end": pa.array(end, pa.int64(), mask=end >= attribution.EOF),
                        "evidence": pa.DictionaryArray.from_arrays(
                            pa.array(carried["evidence"], pa.int32()), names
                        ).dictionary_decode(),
                        "seq": carried["seq"],
                    }
                ),
            )
            con.execute(
                "INSERT INTO attributions SELECT file_version, output, line_start, "
                "line_end, evidence, seq, true FROM _carried"
            )
            con.unregister("_carried")

    def attributions_of(
        self, node_id: int, as_of: int | None = None
    ) -> list[tuple[str, int, int | None, str, int, bool]]:
        """Line intervals of a file version: (output key, start, end, evidence, seq, carried)."""
        return self.con.execute(
            """
            SELECT o.key, a.line_start, a.line_end, a.evidence, a.seq, a.carried
            FROM attributions a JOIN nodes o ON o.id = a.output
            WHERE a.file_version = ? AND a.seq <= ?
            ORDER BY a.line_start, o.key""",
            [node_id, as_of if as_of is not None else 2**62],
        ).fetchall()

    # -- nodes ---------------------------------------------------------------------------------

    def node_ids(self, keys: Iterable[str]) -> dict[str, int]:
        keys = list(keys)
        if not keys:
            return {}
        self.register("_keys", pa.table({"key": keys}))
        try:
            return dict(
                self.con.execute(
                    "SELECT n.key, n.id FROM nodes n JOIN (SELECT DISTINCT key FROM _keys) k "
                    "USING (key)"
                ).fetchall()
            )
        finally:
            self.con.unregister("_keys")

    def node(self, key: str) -> StoredNode | None:
        return self._node_where("key = ?", key)

    def node_by_id(self, node_id: int) -> StoredNode | None:
        return self._node_where("id = ?", node_id)

    def _node_where(self, where: str, value: object) -> StoredNode | None:
        row = maybe_one(
            self.con,
            f"SELECT id, key, kind, attrs, first_seq, defined_seq FROM nodes WHERE {where}",
            [value],
        )
        if row is None:
            return None
        return StoredNode(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])

    def nodes_by_ids(self, ids: list[int]) -> list[StoredNode]:
        rows = self.con.execute(
            "SELECT id, key, kind, attrs, first_seq, defined_seq FROM nodes "
            "WHERE id IN (SELECT unnest(?::BIGINT[]))",
            [ids],
        ).fetchall()
        return [StoredNode(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def nodes_by_keys(self, keys: list[str]) -> dict[str, StoredNode]:
        """Many nodes in one query, by key."""
        self.register("_want", pa.table({"key": pa.array(keys, pa.string())}))
        try:
            rows = self.con.execute(
                "SELECT id, key, kind, attrs, first_seq, defined_seq FROM nodes "
                "WHERE key IN (SELECT key FROM _want)"
            ).fetchall()
        finally:
            self.con.unregister("_want")
        return {r[1]: StoredNode(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows}

    def neighbors(
        self,
        ids: list[int],
        direction: str,
        first: int,
        kinds: list[str] | None = None,
        as_of: int | None = None,
    ) -> dict[int, list[tuple["StoredNode", "StoredEdge"]]]:
        """Up to `first` parents (direction 'up') or children ('down') of each node in `ids`,
        in one query: {id: [(neighbor, edge)]}, oldest edge first."""
        near, far = ("dst", "src") if direction == "up" else ("src", "dst")
        self.register("_from", pa.table({"id": pa.array(ids, pa.int64())}))
        try:
            rows = self.con.execute(
                f"""
                SELECT e.{near}, n.id, n.key, n.kind, n.attrs, n.first_seq, n.defined_seq,
                       e.src, e.dst, e.kind, e.seq, e.span_start, e.span_end, e.span_unit
                FROM edges e JOIN (SELECT DISTINCT id FROM _from) f ON f.id = e.{near}
                JOIN nodes n ON n.id = e.{far}
                WHERE e.seq <= $s AND ($kinds IS NULL OR list_contains($kinds, e.kind))
                QUALIFY row_number() OVER (PARTITION BY e.{near} ORDER BY e.seq, n.id) <= $first
                ORDER BY e.{near}, e.seq, n.id""",
                {"s": as_of if as_of is not None else 2**62, "kinds": kinds, "first": first},
            ).fetchall()
        finally:
            self.con.unregister("_from")
        out: dict[int, list[tuple[StoredNode, StoredEdge]]] = {i: [] for i in ids}
        for anchor, *node, src, dst, kind, seq, start, end, unit in rows:
            out[anchor].append(
                (
                    StoredNode(node[0], node[1], node[2], json.loads(node[3]), node[4], node[5]),
                    StoredEdge(src, dst, kind, seq, start, end, unit),
                )
            )
        return out

    def commits_of(self, repo: str) -> set[str]:
        """The shas of the commits of `repo` already read completely from git (a commit read
        from a partial or shallow clone is read again once its objects are there)."""
        prefix = f"git:{repo}@"
        return {
            r[0][len(prefix) :]
            for r in self.con.execute(
                "SELECT event_id FROM events WHERE source = 'git' AND starts_with(event_id, ?) "
                "AND NOT contains(event_id, '#')",
                [prefix],
            ).fetchall()
        }

    def repo_known(self, repo: str) -> bool:
        """Whether any file version of `repo` was ingested."""
        return bool(
            one(
                self.con,
                "SELECT count(*) FROM nodes WHERE kind = ? AND repo = ? "
                "AND defined_seq IS NOT NULL",
                [str(NodeKind.FILE_VERSION), repo],
            )[0]
        )

    def commit_ingested(self, repo: str, commit: str) -> bool:
        """Whether `commit` of `repo` (a full or abbreviated sha) was read with its tree."""
        return bool(
            one(
                self.con,
                "SELECT count(*) FROM commit_order WHERE repo = ? AND starts_with(commit, ?)",
                [repo, commit],
            )[0]
        )

    def events_page(self, source: str | None, after: int, first: int) -> list["LoggedEvent"]:
        """Events after seq `after` (of one source, or all), oldest first."""
        rows = self.con.execute(
            "SELECT e.seq, e.event_id, e.source, e.type, e.origin, e.payload, b.received_at "
            "FROM events e JOIN batches b USING (batch) "
            "WHERE e.seq > ? AND (? IS NULL OR e.source = ?) ORDER BY e.seq LIMIT ?",
            [after, source, source, first],
        ).fetchall()
        return [LoggedEvent(*r) for r in rows]

    def find_examples(self, example_id: str) -> list[str]:
        """Keys of examples whose manifest id is `example_id` (in any dataset version)."""
        return [
            r[0]
            for r in self.con.execute(
                "SELECT key FROM nodes WHERE kind = ? AND key LIKE '%:' || ? "
                "AND json_extract_string(attrs, '$.example') = ? ORDER BY key",
                [str(NodeKind.EXAMPLE), example_id, example_id],
            ).fetchall()
        ]

    def dataset_versions(self, as_of: int | None = None) -> list[tuple[str, str]]:
        """(dataset, version) pairs known to the store."""
        return [
            (r[0], r[1])
            for r in self.con.execute(
                "SELECT json_extract_string(attrs, '$.dataset'), json_extract_string(attrs, "
                "'$.version') FROM nodes WHERE kind = ? AND defined_seq <= ? ORDER BY 1, 2",
                [str(NodeKind.DATASET_VERSION), as_of if as_of is not None else 2**62],
            ).fetchall()
        ]

    def output_tools(self) -> list[tuple[str | None, str | None]]:
        """The distinct (tool, model) pairs of the outputs in the store."""
        return self.con.execute(
            "SELECT DISTINCT json_extract_string(attrs, '$.tool'), "
            "json_extract_string(attrs, '$.model') FROM nodes WHERE kind = ?",
            [NodeKind.OUTPUT.value],
        ).fetchall()

    def counts_by_kind(self) -> dict[str, int]:
        return dict(
            self.con.execute(
                "SELECT kind, count(*) FROM nodes GROUP BY kind ORDER BY kind"
            ).fetchall()
        )

    def rejected(self, limit: int = 100) -> list[tuple[str, str | None, int | None, str]]:
        return self.con.execute(
            "SELECT source, file, line, reason FROM rejected ORDER BY received_at, file, line "
            "LIMIT ?",
            [limit],
        ).fetchall()

    # -- policy --------------------------------------------------------------------------------

    def set_policy(self, policy: Policy) -> PolicyVersion:
        """Store a new policy version (a no-op when it is the one in force)."""
        current = self.policy_at(None)
        if current is not None and current.hash == policy.hash:
            return current
        record = Record(
            event_id=f"policy:{policy.hash}:{self.head_seq() + 1}",
            type="policy",
            payload={"hash": policy.hash, "toml": policy.toml},
            facts=[],
        )
        with self.transaction():
            seq = self.head_seq() + 1
            now = datetime.now(UTC)
            batch_no = self._append_events("policy", [record], [seq])
            self._chain_batch(batch_no, "policy", now)
            version = one(self.con, "SELECT coalesce(max(version), 0) + 1 FROM policies")[0]
            self.con.execute(
                "INSERT INTO policies VALUES (?, ?, ?, ?, ?)",
                [version, policy.hash, seq, policy.toml, now],
            )
        return PolicyVersion(version, policy.hash, seq, now, policy)

    def policy_at(self, as_of: int | None) -> PolicyVersion | None:
        """The policy in force at seq `as_of` (None: the latest)."""
        row = maybe_one(
            self.con,
            "SELECT version, hash, seq, set_at, toml FROM policies WHERE seq <= ? "
            "ORDER BY version DESC LIMIT 1",
            [as_of if as_of is not None else 2**62],
        )
        if row is None:
            return None
        return PolicyVersion(row[0], row[1], row[2], row[3], _parsed_policy(row[4]))

    def policy_versions(self) -> list[PolicyVersion]:
        rows = self.con.execute(
            "SELECT version, hash, seq, set_at, toml FROM policies ORDER BY version"
        ).fetchall()
        return [PolicyVersion(v, h, s, t, _parsed_policy(x)) for v, h, s, t, x in rows]
