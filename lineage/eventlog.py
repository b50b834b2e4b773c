"""The append-only event log's identities and hash chain.

Each event row hashes its own content; each ingest batch hashes the ordered row hashes and the
previous batch's hash. `verify` recomputes both in SQL, so an edited, deleted or reordered row
breaks the chain at the batch that held it.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

GENESIS = "0" * 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The SQL twin of `event_hash`; verify relies on the two agreeing byte for byte.
EVENT_HASH_SQL = (
    "sha256(concat_ws('|', seq::VARCHAR, event_id, source, type, "
    "coalesce(occurred_us::VARCHAR, ''), payload))"
)


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_id(value: Any) -> str:
    """A stable id for a record that has none of its own: the hash of its canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def event_hash(seq: int, event_id: str, source: str, type_: str, occurred_us: int | None,
               payload: str) -> str:
    fields = [str(seq), event_id, source, type_, "" if occurred_us is None else str(occurred_us),
              payload]
    return hashlib.sha256("|".join(fields).encode()).hexdigest()


def batch_hash(prev_hash: str, batch: int, source: str, received_us: int, first_seq: int | None,
               last_seq: int | None, events: int, events_hash: str) -> str:
    fields = [prev_hash, str(batch), source, str(received_us), str(first_seq), str(last_seq),
              str(events), events_hash]
    return hashlib.sha256("|".join(fields).encode()).hexdigest()


def events_digest(row_hashes: list[str]) -> str:
    return hashlib.sha256("".join(row_hashes).encode()).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    batches: int
    events: int
    problems: list[str]


def verify(con: duckdb.DuckDBPyConnection) -> VerifyResult:
    """Recompute every event hash and the batch chain; report each place they disagree."""
    problems: list[str] = []
    bad_rows = con.execute(
        f"SELECT seq, event_id FROM events WHERE hash <> {EVENT_HASH_SQL} ORDER BY seq LIMIT 20"
    ).fetchall()
    problems += [f"event seq {seq} ({eid}): content does not match its hash"
                 for seq, eid in bad_rows]
    per_batch = dict(
        (b, (n, h)) for b, n, h in con.execute(
            "SELECT batch, count(*), sha256(string_agg(hash, '' ORDER BY seq)) FROM events "
            "GROUP BY batch"
        ).fetchall()
    )
    rows = con.execute(
        "SELECT batch, source, epoch_us(received_at), first_seq, last_seq, events, events_hash, "
        "prev_hash, hash FROM batches ORDER BY batch"
    ).fetchall()
    prev = GENESIS
    for batch, source, received_us, first, last, count, ev_hash, prev_hash, hash_ in rows:
        n, digest = per_batch.pop(batch, (0, events_digest([])))
        if n != count or digest != ev_hash:
            problems.append(f"batch {batch}: its events were changed, removed or reordered")
        if prev_hash != prev:
            problems.append(f"batch {batch}: the chain is broken before it")
        if batch_hash(prev_hash, batch, source, received_us, first, last, count,
                      ev_hash) != hash_:
            problems.append(f"batch {batch}: its header does not match its hash")
        prev = hash_
    problems += [f"events of batch {b} belong to no recorded batch" for b in sorted(per_batch)]
    total = con.execute("SELECT count(*) FROM events").fetchone()[0]
    return VerifyResult(not problems, len(rows), total, problems)
