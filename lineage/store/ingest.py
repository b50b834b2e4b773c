"""Ingest of one loader batch in one transaction: new records logged and their facts
stored, example rows of every source mapped set-based, in the order of their input."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lineage.facts import (
    Batch,
    Node,
    Record,
    Rejection,
    TreeEntries,
)
from lineage.model import NodeKind
from lineage.store import example_ingest, snapshots
from lineage.store.carrying import Carrying
from lineage.store.fact_ingest import FactIngest
from lineage.store.log import EventLog


@dataclass
class IngestReport:
    source: str
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    ignored: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ignored_kinds: dict[str, int] = field(default_factory=dict)  # kind of record -> count

    def add(self, other: "IngestReport") -> None:
        self.accepted += other.accepted
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.ignored += other.ignored
        for kind, n in other.ignored_kinds.items():
            self.ignored_kinds[kind] = self.ignored_kinds.get(kind, 0) + n
        self.rejections += other.rejections
        # a note about the whole input (blobs a clone lacks) comes with each of its batches:
        # a total says it once
        self.notes += [note for note in other.notes if note not in self.notes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "ignored": self.ignored,
            "ignored_kinds": dict(sorted(self.ignored_kinds.items(), key=lambda kv: -kv[1])),
            "rejections": [str(r) for r in self.rejections],
            "notes": self.notes,
        }


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


class Ingest(EventLog, FactIngest, Carrying):
    """The part of `Store` that writes loader batches."""

    _snapshots_deferred = False

    @contextmanager
    def deferring_snapshots(self) -> Iterator[None]:
        """Batches stored in the block leave the snapshot index of their repositories (what a
        file named at a commit resolves to) to be rebuilt once, when the block ends: rebuilt
        after every batch, a long history costs time in the square of its commits (4.7 of
        Aider-AI/aider's 23 s of store for 13,000 commits). A batch that names files at
        commits or holds example rows still reads an index brought up to date first. Names
        resolved at the end are asserted at the log's end then: an as-of point inside the
        ingest finds them unresolved (UNKNOWN, never CLEAN)."""
        outer = self._snapshots_deferred
        self._snapshots_deferred = True
        try:
            yield
        except Exception:
            if not outer:  # what was stored is indexed; the block's error is the one told
                with suppress(Exception):
                    self.refresh_snapshots()
            raise
        finally:
            self._snapshots_deferred = outer
        if not outer:
            self.refresh_snapshots()

    def refresh_snapshots(self) -> None:
        """Rebuild the snapshot index of every repository a batch left stale (after an ingest
        that deferred it, or was killed before its end; a propagation calls it first), in one
        transaction: the names their commits now resolve get their aliases, and what those
        names held is carried. One small query when none is stale."""
        if not snapshots.stale_repos(self._con):
            return
        with self.transaction():
            self._carry_after_reindex(*self._reindex_stale())

    def _reindex_stale(self) -> tuple[set[int], list[str]]:
        """Reindex the stale repositories and resolve their names: (versions that gained
        attributions through a name, the repositories reindexed)."""
        repos = snapshots.stale_repos(self._con)
        if not repos:
            return set(), []
        snapshots.reindex(self._con, repos)
        return snapshots.resolve_names(self._con, self.log_end(), repos=repos), repos

    def _carry_after_reindex(self, gained: set[int], reindexed: list[str]) -> None:
        self._recompute_carried(gained)
        if reindexed:
            example_ingest.map_late_byte_spans(self, self.log_end())

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
            ignored_kinds=dict(batch.ignored_kinds),
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
                    # rows may name files at commits of a repository left stale
                    self._carry_after_reindex(*self._reindex_stale())
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
        snapshots.mark_stale(self._con, repos)
        reindexed: list[str] = []
        if named or not self._snapshots_deferred:
            gained, reindexed = self._reindex_stale()
            affected |= gained
        if named:
            affected |= snapshots.resolve_names(self._con, self.log_end(), since=seqs[0])
        self._carry_after_reindex(affected, reindexed)

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
