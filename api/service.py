"""What the server does with one store: reads on per-request cursors, writes one at a time.

DuckDB lets one process hold a database file; the server is that process. Each request reads
through its own cursor (it sees committed data, so queries keep working while an ingest
writes); ingestion and policy changes are serialized by one lock, taint materialization by
another, so two requests never compute the same propagation at once.
"""

import threading
from dataclasses import dataclass, field

from lineage import engine
from lineage.policy import Policy
from lineage.store import IngestReport, PolicyVersion, Store
from loaders import load_bytes


@dataclass
class Service:
    store: Store
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    taint_lock: threading.Lock = field(default_factory=threading.Lock)
    _latest: tuple[int, engine.TaintRun] | None = None  # (head seq, its run)

    def reader(self) -> Store:
        return self.store.cursor()

    def taint_run(self, store: Store, as_of: str | int | None) -> engine.TaintRun:
        """The materialized taint at `as_of`; at the head of the log, one cheap query tells
        whether the run already computed still holds (nothing was appended since)."""
        if as_of is None:
            head = store.head_seq()
            latest = self._latest
            if latest is not None and latest[0] == head:
                return latest[1]
        with self.taint_lock:
            run = engine.propagate_taint(store, as_of)
        if as_of is None and run.as_of.seq == head:
            self._latest = (head, run)
        return run

    def ingest(self, source: str, data: bytes, label: str, *, suffix: str = ".jsonl",
               repo: str | None = None) -> IngestReport:
        batches = load_bytes(source, data, label, suffix=suffix, repo=repo)
        total = IngestReport(source)
        with self.write_lock:
            writer = self.store.cursor()
            for batch in batches:
                total.add(writer.ingest(batch))
        return total

    def set_policy(self, policy: Policy) -> PolicyVersion:
        with self.write_lock:
            return self.store.cursor().set_policy(policy)
