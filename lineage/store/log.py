"""The append-only event log: events appended at their seqs, batches chained by hash
(`lineage.eventlog`), rejected records kept with their reason, and reads by seq and time."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from lineage import eventlog
from lineage.eventlog import canonical_json, epoch_us
from lineage.facts import (
    Record,
    Rejection,
)
from lineage.rows import maybe_one, one
from lineage.store.connection import Connection


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


class EventLog(Connection):
    """The part of `Store` that writes and reads the event log and the rejected records."""

    def head_seq(self) -> int:
        """The last seq of the log (read from the small batches table)."""
        return one(self._con, "SELECT coalesce(max(last_seq), 0) FROM batches")[0]

    def log_end(self) -> int:
        """The last seq written, including events of the batch being written."""
        return one(self._con, "SELECT coalesce(max(seq), 0) FROM events")[0]

    def head_time(self) -> datetime | None:
        return one(self._con, "SELECT max(received_at) FROM batches")[0]

    def seq_at_time(self, moment: datetime) -> int:
        """The last seq ingested at or before `moment` (0 when nothing was)."""
        return one(
            self._con,
            "SELECT coalesce(max(last_seq), 0) FROM batches WHERE "
            "received_at <= ? AND last_seq IS NOT NULL",
            [moment],
        )[0]

    def time_of_seq(self, seq: int) -> datetime | None:
        return (
            one(
                self._con,
                "SELECT received_at FROM batches WHERE first_seq <= ? AND last_seq >= ?",
                [seq, seq],
            )[0]
            if seq
            else None
        )

    def event(self, seq: int) -> dict[str, Any] | None:
        row = maybe_one(
            self._con,
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
        return eventlog.verify(self._con, self.hash_scheme)

    def events_page(self, source: str | None, after: int, first: int) -> list["LoggedEvent"]:
        """Events after seq `after` (of one source, or all), oldest first."""
        rows = self._con.execute(
            "SELECT e.seq, e.event_id, e.source, e.type, e.origin, e.payload, b.received_at "
            "FROM events e JOIN batches b USING (batch) "
            "WHERE e.seq > ? AND (? IS NULL OR e.source = ?) ORDER BY e.seq LIMIT ?",
            [after, source, source, first],
        ).fetchall()
        return [LoggedEvent(*r) for r in rows]

    def _known_event_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        self.register("_ids", pa.table({"event_id": ids}))
        try:
            return {
                r[0]
                for r in self._con.execute(
                    "SELECT e.event_id FROM events e JOIN _ids USING (event_id)"
                ).fetchall()
            }
        finally:
            self._con.unregister("_ids")

    def _next_batch(self) -> int:
        return one(self._con, "SELECT coalesce(max(batch), 0) + 1 FROM batches")[0]

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
        self._con.execute(
            "INSERT INTO events SELECT seq, event_id, ?, source, type, occurred_us, origin, "
            "payload, hash FROM _events",
            [batch_no],
        )
        self._con.unregister("_events")
        return batch_no

    def _chain_batch(self, batch_no: int, source: str, received_at: datetime) -> None:
        """Close batch `batch_no`: hash its events in seq order and chain it to the last one."""
        first_seq, last_seq, count, digest = one(
            self._con,
            "SELECT min(seq), max(seq), count(*), sha256(coalesce(string_agg(hash, '' "
            "ORDER BY seq), '')) FROM events WHERE batch = ?",
            [batch_no],
        )
        if not count:
            return
        prev = maybe_one(self._con, "SELECT hash FROM batches ORDER BY batch DESC LIMIT 1")
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
        self._con.execute(
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
            self._con.execute(
                "INSERT INTO rejected SELECT id, ?, file, line, reason, raw, ? FROM _rejected "
                "ON CONFLICT DO NOTHING",
                [source, received_at],
            )
        finally:
            self._con.unregister("_rejected")

    def rejected(self, limit: int = 100) -> list[tuple[str, str | None, int | None, str]]:
        return self._con.execute(
            "SELECT source, file, line, reason FROM rejected ORDER BY received_at, file, line "
            "LIMIT ?",
            [limit],
        ).fetchall()
