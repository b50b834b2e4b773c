"""The append-only event log's identities and hash chain.

Each event row hashes its own content; each ingest batch hashes the ordered row hashes and the
previous batch's hash. `verify` recomputes both in SQL, so an edited, deleted or reordered row
breaks the chain at the batch that held it.

Fields are hashed length-prefixed (``<bytes>:<field>`` each, scheme 2), so no byte can move
from one field to the next unseen. Scheme 1, the fields joined with ``|``, is what stores made
before it hold until their first read-write open migrates them (`migrate`).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson

from lineage.rows import one

GENESIS = "0" * 64
HASH_SCHEME = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EVENT_FIELDS = (
    "seq::VARCHAR",
    "event_id",
    "source",
    "type",
    "coalesce(occurred_us::VARCHAR, '')",
    "payload",
)


def _prefixed_sql(fields: tuple[str, ...]) -> str:
    return "concat(" + ", ".join(f"strlen({f})::VARCHAR, ':', {f}" for f in fields) + ")"


# The SQL twins of `event_hash`, by scheme; verify relies on each agreeing byte for byte.
EVENT_HASH_SQL = {
    1: f"sha256(concat_ws('|', {', '.join(_EVENT_FIELDS)}))",
    2: f"sha256({_prefixed_sql(_EVENT_FIELDS)})",
}


def _digest(fields: list[str], scheme: int) -> str:
    if scheme == 1:
        return hashlib.sha256("|".join(fields).encode()).hexdigest()
    data = b"".join(b"%d:%s" % (len(f), f) for f in (field.encode() for field in fields))
    return hashlib.sha256(data).hexdigest()


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)  # made once: `json.dumps` with these options makes an encoder per call


_FLAT = frozenset([str, int, bool, type(None)])  # values orjson writes as `_CANONICAL` does


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8 kept.

    A flat object of strings, integers, booleans and nulls (a node's attributes, by the
    hundred thousand in a history) is written by orjson, byte for byte what the standard
    encoder writes for it and six times faster; anything else (floats, which the two write
    differently, nested values, an integer past 64 bits) by the standard encoder."""
    if type(value) is dict and all(type(v) in _FLAT for v in value.values()):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # a key that is not a string, an integer past 64 bits, a surrogate
            pass
    return _CANONICAL.encode(value)


def content_id(value: Any) -> str:
    """A stable id for a record that has none of its own: the hash of its canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def event_hash(
    seq: int,
    event_id: str,
    source: str,
    type_: str,
    occurred_us: int | None,
    payload: str,
    scheme: int = HASH_SCHEME,
) -> str:
    fields = [
        str(seq),
        event_id,
        source,
        type_,
        "" if occurred_us is None else str(occurred_us),
        payload,
    ]
    return _digest(fields, scheme)


def batch_hash(
    prev_hash: str,
    batch: int,
    source: str,
    received_us: int,
    first_seq: int | None,
    last_seq: int | None,
    events: int,
    events_hash: str,
    scheme: int = HASH_SCHEME,
) -> str:
    fields = [
        prev_hash,
        str(batch),
        source,
        str(received_us),
        str(first_seq),
        str(last_seq),
        str(events),
        events_hash,
    ]
    return _digest(fields, scheme)


def events_digest(row_hashes: list[str]) -> str:
    return hashlib.sha256("".join(row_hashes).encode()).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    batches: int
    events: int
    problems: list[str]


def verify(con: duckdb.DuckDBPyConnection, scheme: int = HASH_SCHEME) -> VerifyResult:
    """Recompute every event hash and the batch chain; report each place they disagree."""
    problems: list[str] = []
    bad_rows = con.execute(
        f"SELECT seq, event_id FROM events WHERE hash <> {EVENT_HASH_SQL[scheme]} "
        "ORDER BY seq LIMIT 20"
    ).fetchall()
    problems += [
        f"event seq {seq} ({eid}): content does not match its hash" for seq, eid in bad_rows
    ]
    per_batch = dict(
        (b, (n, h))
        for b, n, h in con.execute(
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
        if (
            batch_hash(prev_hash, batch, source, received_us, first, last, count, ev_hash, scheme)
            != hash_
        ):
            problems.append(f"batch {batch}: its header does not match its hash")
        prev = hash_
    problems += [f"events of batch {b} belong to no recorded batch" for b in sorted(per_batch)]
    total = one(con, "SELECT count(*) FROM events")[0]
    return VerifyResult(not problems, len(rows), total, problems)


def migrate(con: duckdb.DuckDBPyConnection, scheme: int) -> int:
    """Rehash a log kept under an older `scheme` with HASH_SCHEME, events and chain, only
    when it verifies under its own scheme first (a tampered log is never blessed); returns the
    scheme the log is now under. Runs inside the caller's transaction."""
    if scheme == HASH_SCHEME or not verify(con, scheme).ok:
        return scheme
    con.execute(f"UPDATE events SET hash = {EVENT_HASH_SQL[HASH_SCHEME]}")
    digests = dict(
        con.execute(
            "SELECT batch, sha256(string_agg(hash, '' ORDER BY seq)) FROM events GROUP BY batch"
        ).fetchall()
    )
    prev = GENESIS
    for batch, source, received_us, first, last, count in con.execute(
        "SELECT batch, source, epoch_us(received_at), first_seq, last_seq, events "
        "FROM batches ORDER BY batch"
    ).fetchall():
        digest = digests.get(batch, events_digest([]))
        hash_ = batch_hash(prev, batch, source, received_us, first, last, count, digest)
        con.execute(
            "UPDATE batches SET events_hash = ?, prev_hash = ?, hash = ? WHERE batch = ?",
            [digest, prev, hash_, batch],
        )
        prev = hash_
    return HASH_SCHEME
