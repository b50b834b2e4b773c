"""What the server does with one store: reads on per-request cursors, writes one at a time.

DuckDB lets one process hold a database file; the server is that process. Each request reads
through its own cursor (it sees committed data, so queries keep working while an ingest
writes); ingestion and policy changes are serialized by one lock, taint materialization by
another, so two requests never compute the same propagation at once.

Readers cannot make the store grow: the server knows every taint run its requests hold (they
pin it until their response is sent), so it keeps at most SERVER_KEEP_RUNS runs besides the
pinned ones and the newest run of each policy and waiver set (what incremental propagation
extends), whatever as-of points readers ask for; and it never persists a run for an as-of
point without a policy (no verdict could use it).
"""

import re
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from time import monotonic

from lineage.api.limits import over_budget
from lineage.database import Database, Snapshot
from lineage.engine import ImpactReport
from lineage.facts import Batch
from lineage.policy import Restriction
from lineage.store import IngestReport, PolicyVersion

SERVER_KEEP_RUNS = 4  # taint runs kept besides pinned ones and the newest per policy
_TEMP_BODY = re.compile(
    re.escape(tempfile.gettempdir().rstrip("/")) + r"/lineage-[^/\s:]+/body\.[a-z]+"
)


@dataclass
class Service:
    db: Database
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    taint_lock: threading.Lock = field(default_factory=threading.Lock)
    pin_lock: threading.Lock = field(default_factory=threading.Lock)
    pins: Counter[int] = field(default_factory=Counter)  # run -> requests holding it
    _latest: tuple[int, Snapshot] | None = None  # (head seq, its answers)
    _head: int | None = None  # the log's head: this process is its only writer

    def head_seq(self, reader: Database | None = None) -> int:
        """The head of the log, read once (through `reader`, else a cursor of its own) and
        then kept up to date by this service's writes (the server holds the store file: no
        other process writes it)."""
        head = self._head
        if head is None:
            cursor = reader or self.reader()
            try:
                head = self._head = cursor.head_seq()
            finally:
                if reader is None:
                    cursor.close()
        return head

    def reader(self) -> Database:
        return self.db.cursor()

    def snapshot(
        self,
        reader: Database,
        as_of: str | int | None,
        deadline: float | None = None,
        budget: float = 0.0,
    ) -> Snapshot:
        """The answers at `as_of` read through `reader`, their taint run pinned for the caller
        (who gives it back with `release`); NoPolicyError when no policy was in force there.
        At the head of the log, the run already computed holds while the head has not moved
        (no query). Waiting for another request's propagation ends at `deadline`
        (time.monotonic) with OverBudget."""
        head = self.head_seq(reader)
        if as_of is None:
            with self.pin_lock:
                latest = self._latest
                if latest is not None and latest[0] == head:
                    self.pins[latest[1].run.run] += 1
                    return Snapshot(reader.store, latest[1].run)
        if reader.policy(as_of) is None:
            reader.as_of(as_of)  # raises NoPolicyError, saying so
        wait = -1.0 if deadline is None else max(0.0, deadline - monotonic())
        if not self.taint_lock.acquire(timeout=wait):
            raise over_budget(budget)
        try:
            snapshot = reader.as_of(
                as_of, keep=SERVER_KEEP_RUNS, grace=timedelta(0), held=self._held()
            )
            with self.pin_lock:
                self.pins[snapshot.run.run] += 1
                if as_of is None and snapshot.seq == head:
                    self._latest = (head, snapshot)
        finally:
            self.taint_lock.release()
        return snapshot

    def impact(
        self,
        reader: Database,
        selection: Restriction | None,
        nodes: list[str],
        as_of: str | None,
        first: int,
        deadline: float | None = None,
        budget: float = 0.0,
        *,
        max_paths: int = 0,
    ) -> ImpactReport:
        """`Snapshot.impact` through `reader` (the first `first` examples of each list): its
        taint run is made under the taint lock, within SERVER_KEEP_RUNS, never dropping a run
        a request holds."""
        snapshot = self.snapshot(reader, as_of, deadline, budget)
        try:
            wait = -1.0 if deadline is None else max(0.0, deadline - monotonic())
            if not self.taint_lock.acquire(timeout=wait):
                raise over_budget(budget)
            try:
                return snapshot.impact(
                    selection,
                    nodes=nodes,
                    max_paths=max_paths,
                    max_listed=first,
                    keep=SERVER_KEEP_RUNS,
                    grace=timedelta(0),
                    held=self._held(),
                )
            finally:
                self.taint_lock.release()
        finally:
            self.release([snapshot.run.run])

    def _held(self) -> set[int]:
        """Runs no propagation may drop: pinned ones and the latest (a request may be about
        to pin it without the taint lock)."""
        with self.pin_lock:
            return set(self.pins) | ({self._latest[1].run.run} if self._latest else set())

    def release(self, runs: Iterable[int]) -> None:
        """Give back runs `snapshot` pinned: they may be dropped from now on."""
        with self.pin_lock:
            for run in runs:
                self.pins[run] -= 1
                if self.pins[run] <= 0:
                    del self.pins[run]

    def ingest(
        self,
        source: str,
        data: bytes,
        label: str,
        *,
        suffix: str = ".jsonl",
        repo: str | None = None,
    ) -> IngestReport:
        with self.write_lock:
            writer = self.db.cursor()
            try:
                total = writer.ingest_bytes(source, data, label, suffix=suffix, repo=repo)
            finally:
                self._head = writer.head_seq()
                writer.close()
        return _named(total, label)

    def ingest_batch(self, batch: Batch) -> IngestReport:
        """Store a batch a client's loader made (a git history read where the checkout is)."""
        with self.write_lock:
            writer = self.db.cursor()
            try:
                return writer.ingest_batch(batch)
            finally:
                self._head = writer.head_seq()
                writer.close()

    def set_policy(self, toml: str) -> PolicyVersion:
        """Store a new policy version (PolicyError when the TOML is not a valid policy)."""
        with self.write_lock:
            writer = self.db.cursor()
            try:
                return writer.set_policy(toml)
            finally:
                self._head = writer.head_seq()
                writer.close()


def _named(report: IngestReport, label: str) -> IngestReport:
    """The report with the server's temporary file for the body named `label` wherever a
    note or a rejection still says it (a client must never learn the server's paths)."""
    report.notes = [_TEMP_BODY.sub(label, n) for n in report.notes]
    for rejection in report.rejections:
        for name in ("file", "reason"):
            value = getattr(rejection, name, None)
            if isinstance(value, str) and _TEMP_BODY.search(value):
                setattr(rejection, name, _TEMP_BODY.sub(label, value))
    return report
