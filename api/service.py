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

    def reader(self) -> Store:
        return self.store.cursor()

    def taint_run(self, store: Store, as_of: str | int | None) -> engine.TaintRun:
        with self.taint_lock:
            return engine.propagate_taint(store, as_of)

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
