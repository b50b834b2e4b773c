"""A loader's batch as JSON, for `lineage ingest --server URL git REPO`: the client reads the
repository (git runs where the checkout is), the server that holds the store writes what it
read, exactly as a local ingest would.

    >>> from lineage.facts import Batch, Record, Node
    >>> from lineage.model import NodeKind
    >>> batch = Batch("git", records=[Record("git:r@c", "commit", {}, [Node("commit:r@c",
    ...     NodeKind.COMMIT)])])
    >>> decode_batch(encode_batch(batch)) == batch
    True

`decode_batch` checks every field, so what a client sends is refused with the field named
(WireError) rather than failing inside the store.
"""

import base64
import binascii
import re
from datetime import datetime
from typing import Any

import numpy as np

from lineage.facts import (
    AddedLines,
    Alias,
    Attribution,
    Batch,
    Edge,
    Fact,
    LineEnds,
    Node,
    Record,
    Rejection,
    Span,
    WrittenLines,
)
from lineage.facts import TreeEntries as Tree
from lineage.model import EdgeKind, NodeKind

_HASH = re.compile("[0-9a-f]{16}")  # a line hash (agent_outputs.line_hash)

WIRE_VERSION = 1
JSON = dict[str, Any]


class WireError(ValueError):
    """A batch on the wire that is not one a loader makes; the message names the field."""


def encode_batch(batch: Batch) -> JSON:
    """The batch as a JSON-able dict (example rows are not facts: send them as records)."""
    if batch.examples is not None and batch.examples.num_rows:
        raise WireError("a batch with example rows is sent as its records, not as facts")
    return {
        "wire": WIRE_VERSION,
        "source": batch.source,
        "input": batch.input,
        "records": [
            {
                "event_id": r.event_id,
                "type": r.type,
                "payload": r.payload,
                "facts": [_encode_fact(f) for f in r.facts],
                "occurred_at": None if r.occurred_at is None else r.occurred_at.isoformat(),
                "origin": r.origin,
            }
            for r in batch.records
        ],
        "rejections": [[x.file, x.line, x.reason, x.raw] for x in batch.rejections],
        "ignored": batch.ignored,
        "ignored_kinds": batch.ignored_kinds,
        "notes": batch.notes,
    }


def _span(span: Span | None) -> list[Any] | None:
    return None if span is None else [span.start, span.end, span.unit]


def _encode_fact(fact: Fact) -> JSON:
    match fact:
        case Node():
            return {
                "fact": "node",
                "key": fact.key,
                "kind": str(fact.kind),
                "attrs": fact.attrs,
                "defines": fact.defines,
                "latest": fact.latest,
            }
        case Edge():
            return {
                "fact": "edge",
                "src": fact.src,
                "dst": fact.dst,
                "kind": str(fact.kind),
                "span": _span(fact.span),
                "line_map": fact.line_map,
            }
        case Alias():
            return {"fact": "alias", "alias": fact.alias, "target": fact.target}
        case Attribution():
            return {
                "fact": "attribution",
                "file_version": fact.file_version,
                "output": fact.output,
                "span": _span(fact.span),
                "evidence": fact.evidence,
            }
        case WrittenLines():
            return {
                "fact": "written_lines",
                "file_version": fact.file_version,
                "output": fact.output,
                "evidence": fact.evidence,
                "ranges": [[int(a), int(b)] for a, b in zip(fact.firsts, fact.lasts, strict=True)],
            }
        case AddedLines():
            return {
                "fact": "added_lines",
                "file_version": fact.file_version,
                "repo": fact.repo,
                "time": None if fact.time is None else fact.time.isoformat(),
                "lines": [
                    [int(n), format(int(h), "016x")]
                    for n, h in zip(fact.lines, fact.hashes, strict=True)
                ],
            }
        case Tree():
            return {
                "fact": "tree_entries",
                "repo": fact.repo,
                "commit": fact.commit,
                "first_parent": fact.first_parent,
                "entries": [list(x) for x in fact.entries],
                "whole": fact.whole,
            }
        case LineEnds():
            return {
                "fact": "line_ends",
                "file_version": fact.file_version,
                # little-endian uint32 offsets in base64: a long file's ends stay short
                "ends": base64.b64encode(fact.ends.astype("<u4").tobytes()).decode(),
            }
    raise WireError(f"no wire form for {type(fact).__name__}")


# -- decoding: every field checked ------------------------------------------------------------


def _get(
    raw: JSON, name: str, kind: type | tuple[type, ...], where: str, *, null: bool = False
) -> Any:
    if not isinstance(raw, dict):
        raise WireError(f"{where}: must be an object")
    value = raw.get(name)
    if value is None and null:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireError(f"{where}.{name}: expected {_named(kind)}{' or null' if null else ''}")
    return value


def _named(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {
            str: "a string",
            int: "an integer",
            bool: "true or false",
            list: "a list",
            dict: "an object",
        }.get(k, k.__name__)
        for k in kinds
    )


def _time(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise WireError(f"{where}: not an ISO 8601 time: {value[:40]!r}") from exc


def _decode_span(raw: Any, where: str) -> Span | None:
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 3):
        raise WireError(f"{where}: a span is [start, end, unit]")
    start, end, unit = raw
    if (
        not isinstance(start, int)
        or not (end is None or isinstance(end, int))
        or not isinstance(unit, str)
    ):
        raise WireError(f"{where}: a span is [start, end, unit]")
    try:
        return Span(start, end, unit)
    except ValueError as exc:
        raise WireError(f"{where}: {exc}") from exc


def _pairs(raw: list[Any], where: str, second: tuple[type, ...]) -> tuple[tuple[Any, Any], ...]:
    out = []
    for n, pair in enumerate(raw):
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], int | str)
            and isinstance(pair[1], second)
        ):
            raise WireError(f"{where}[{n}]: expected a pair")
        out.append((pair[0], pair[1]))
    return tuple(out)


def _is_hunk(hunk: Any) -> bool:
    """[old_start, old_n, new_start, new_n] or that and [[old, new], ...] (similar lines)."""
    if not (isinstance(hunk, list) and len(hunk) in (4, 5)):
        return False
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in hunk[:4]):
        return False
    return len(hunk) == 4 or (
        isinstance(hunk[4], list)
        and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) for x in p)
            for p in hunk[4]
        )
    )


def _decode_fact(raw: JSON, where: str) -> Fact:
    kind = _get(raw, "fact", str, where)
    try:
        if kind == "node":
            return Node(
                _get(raw, "key", str, where),
                NodeKind(_get(raw, "kind", str, where)),
                _get(raw, "attrs", dict, where),
                _get(raw, "defines", bool, where),
                _get(raw, "latest", bool, where),
            )
        if kind == "edge":
            line_map = _get(raw, "line_map", list, where, null=True)
            if line_map is not None and not all(map(_is_hunk, line_map)):
                raise WireError(
                    f"{where}.line_map: expected hunks [old_start, old_n, new_start, new_n] "
                    "with an optional list of [old, new] line pairs"
                )
            return Edge(
                _get(raw, "src", str, where),
                _get(raw, "dst", str, where),
                EdgeKind(_get(raw, "kind", str, where)),
                _decode_span(raw.get("span"), f"{where}.span"),
                line_map,
            )
        if kind == "alias":
            return Alias(_get(raw, "alias", str, where), _get(raw, "target", str, where))
        if kind == "attribution":
            span = _decode_span(raw.get("span"), f"{where}.span")
            if span is None:
                raise WireError(f"{where}.span: an attribution needs its span")
            return Attribution(
                _get(raw, "file_version", str, where),
                _get(raw, "output", str, where),
                span,
                _get(raw, "evidence", str, where),
            )
        if kind == "written_lines":
            ranges = _pairs(_get(raw, "ranges", list, where), f"{where}.ranges", (int,))
            if not all(type(a) is int and type(b) is int for a, b in ranges):
                raise WireError(f"{where}.ranges: expected [first, last] line pairs")
            return WrittenLines(
                _get(raw, "file_version", str, where),
                _get(raw, "output", str, where),
                _get(raw, "evidence", str, where),
                np.array([a for a, _ in ranges], dtype=np.int64),
                np.array([b for _, b in ranges], dtype=np.int64),
            )
        if kind == "added_lines":
            lines = _pairs(_get(raw, "lines", list, where), f"{where}.lines", (str,))
            if not all(isinstance(n, int) and _HASH.fullmatch(h) for n, h in lines):
                raise WireError(f"{where}.lines: expected [line, 16 hex digits] pairs")
            return AddedLines(
                _get(raw, "file_version", str, where),
                _get(raw, "repo", str, where),
                _time(_get(raw, "time", str, where, null=True), f"{where}.time"),
                np.array([n for n, _ in lines], dtype=np.uint32),
                np.array([int(h, 16) for _, h in lines], dtype=np.uint64),
            )
        if kind == "tree_entries":
            return Tree(
                _get(raw, "repo", str, where),
                _get(raw, "commit", str, where),
                _get(raw, "first_parent", str, where, null=True),
                _pairs(_get(raw, "entries", list, where), f"{where}.entries", (str, type(None))),
                _get(raw, "whole", bool, where),
            )
        if kind == "line_ends":
            try:
                packed = base64.b64decode(_get(raw, "ends", str, where), validate=True)
            except binascii.Error as exc:
                raise WireError(f"{where}.ends: not base64: {exc}") from exc
            if len(packed) % 4:
                raise WireError(f"{where}.ends: not a whole number of uint32 offsets")
            ends = np.frombuffer(packed, dtype="<u4").astype(np.uint32)
            return LineEnds(_get(raw, "file_version", str, where), ends)
    except ValueError as exc:  # an unknown node or edge kind
        if isinstance(exc, WireError):
            raise
        raise WireError(f"{where}: {exc}") from exc
    raise WireError(f"{where}.fact: unknown fact {kind!r}")


def decode_batch(raw: Any) -> Batch:
    """The batch `encode_batch` wrote; WireError naming the first field that is wrong."""
    if not isinstance(raw, dict) or raw.get("wire") != WIRE_VERSION:
        raise WireError(f"not a batch of wire version {WIRE_VERSION}")
    records = []
    for n, r in enumerate(_get(raw, "records", list, "batch")):
        where = f"records[{n}]"
        facts = [
            _decode_fact(f, f"{where}.facts[{i}]")
            for i, f in enumerate(_get(r, "facts", list, where))
        ]
        records.append(
            Record(
                _get(r, "event_id", str, where),
                _get(r, "type", str, where),
                _get(r, "payload", dict, where),
                facts,
                _time(_get(r, "occurred_at", str, where, null=True), f"{where}.occurred_at"),
                _get(r, "origin", str, where, null=True),
            )
        )
    rejections = []
    for n, x in enumerate(_get(raw, "rejections", list, "batch")):
        if not (isinstance(x, list) and len(x) == 4 and isinstance(x[2], str)):
            raise WireError(f"rejections[{n}]: expected [file, line, reason, raw]")
        rejections.append(Rejection(*x))
    kinds = _get(raw, "ignored_kinds", dict, "batch")
    notes = _get(raw, "notes", list, "batch")
    if not all(isinstance(v, int) for v in kinds.values()) or not all(
        isinstance(x, str) for x in notes
    ):
        raise WireError("batch: ignored_kinds counts are integers, notes are strings")
    return Batch(
        _get(raw, "source", str, "batch"),
        _get(raw, "input", str, "batch", null=True),
        records,
        rejections,
        _get(raw, "ignored", int, "batch"),
        kinds,
        notes,
    )
