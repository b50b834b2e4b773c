"""Reading loader inputs: walking directories and numbering the JSON lines of a file."""

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lineage.facts import Batch, Record, Rejection


class InputError(OSError):
    """An input path that cannot be read at all (missing, unreadable)."""


def expand_paths(paths: Iterable[str | Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Files named on the command line, with directories walked for files ending in `suffixes`
    (sorted, so every run reads them in the same order)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        elif path.is_file():
            out.append(path)
        elif path.exists():
            raise InputError(
                f"{path}: not a regular file or directory (a pipe or a device); "
                "write the records to a file and ingest that"
            )
        else:
            raise InputError(f"{path}: no such file or directory")
    return out


# Bounds on one record: what a loader holds in memory and how deep it walks. Real records stay
# far below them (a Claude Code transcript line carrying a whole file is a few MB; real records
# nest fewer than 20 levels).
MAX_RECORD_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_BOM = b"\xef\xbb\xbf"


@dataclass
class JsonLine:
    file: str
    line: int
    text: str
    value: Any


@dataclass
class TextLine:
    """One line of an input file, decoded, or the reason it cannot be (`text` is then None and
    `raw` holds what the line began with, made printable)."""

    number: int
    text: str | None
    reason: str | None = None
    raw: str | None = None
    complete: bool = True  # False for a last line without its newline


def read_lines(path: Path) -> Iterator[TextLine]:
    """The non-blank lines of a file, numbered from 1, streamed in bounded memory: a line longer
    than MAX_RECORD_BYTES or not valid UTF-8 comes with its reason instead of its text."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        try:
            number = 0
            while data := handle.readline(MAX_RECORD_BYTES + 1):
                number += 1
                if number == 1:
                    data = data.removeprefix(_BOM)
                if len(data) > MAX_RECORD_BYTES and not data.endswith(b"\n"):
                    while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                        pass
                    yield TextLine(
                        number,
                        None,
                        f"record longer than {MAX_RECORD_BYTES} bytes (the limit on one record)",
                        _printable(data[:200]),
                    )
                    continue
                complete = data.endswith(b"\n")
                data = data.rstrip(b"\r\n") if complete else data
                if not data.strip():
                    continue
                try:
                    yield TextLine(number, data.decode("utf-8"), complete=complete)
                except UnicodeDecodeError as exc:
                    yield TextLine(
                        number,
                        None,
                        f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                        _printable(data[:10_000]),
                        complete,
                    )
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def _printable(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


class RecordError(ValueError):
    """A record that cannot be read: the message says why, in the producer's terms."""


def parse_json(text: str) -> Any:
    """One JSON value within this module's bounds, or RecordError saying which bound or rule it
    breaks (nesting, a number Python refuses, NaN or Infinity, a lone UTF-16 surrogate)."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # an integer of more than 4300 digits, NaN, Infinity
        raise RecordError(f"not valid JSON: {exc}") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError(
                "a string holds a lone UTF-16 surrogate (an escape like "
                "\\ud800 without its pair), which is not text"
            ) from None
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deep containers nest in `value`, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        stack += [(child, depth + 1) for child in item if isinstance(child, dict | list)]
    return deepest


def read_json_lines(path: Path) -> Iterator[JsonLine | Rejection]:
    """Each non-blank line of a JSONL file parsed, or a Rejection saying why it is not JSON.
    JSONL is streamed: a file of millions of lines is never held in memory at once.

    A file holding one pretty-printed JSON object (a saved hook payload) is read as one record,
    one holding a JSON array as one record per element (numbered by position).
    """
    lines = read_lines(path)
    first = next(lines, None)
    if first is None:
        return
    (head,) = _numbered(path, [first])
    if isinstance(head, Rejection) and (first.text or "").lstrip()[:1] in ("[", "{"):
        whole = _read_whole(path)
        if whole is not None:
            yield from whole
            return
    yield head
    yield from _numbered(path, lines)


def _read_whole(path: Path) -> list[JsonLine] | None:
    """The records of a file that is one pretty-printed JSON document (an object, or an array
    of records), or None when it is not one."""
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return None
        value = parse_json(path.read_bytes().removeprefix(_BOM).decode("utf-8"))
    except (OSError, UnicodeDecodeError, RecordError):
        return None
    if isinstance(value, list):
        return [
            JsonLine(str(path), n, json.dumps(v, ensure_ascii=False), v)
            for n, v in enumerate(value, 1)
        ]
    return [JsonLine(str(path), 1, json.dumps(value, ensure_ascii=False), value)]


def _numbered(path: Path, lines: Iterable[TextLine]) -> Iterator[JsonLine | Rejection]:
    for line in lines:
        if line.text is None:
            yield Rejection(str(path), line.number, line.reason or "unreadable", line.raw)
            continue
        try:
            yield JsonLine(str(path), line.number, line.text, parse_json(line.text))
        except RecordError as exc:
            why = str(exc) if line.complete else "truncated last line (the writer was interrupted)"
            yield Rejection(str(path), line.number, why, line.text[:10_000])


def json_object_lines(path: Path, noun: str = "a record") -> Iterator[JsonLine | Rejection]:
    """The JSON-object lines of a file, streamed; a line that is not a JSON object comes as a
    Rejection with its reason."""
    for item in read_json_lines(path):
        if isinstance(item, Rejection) or isinstance(item.value, dict):
            yield item
        else:
            yield Rejection(item.file, item.line, f"{noun} must be a JSON object", item.text)


def json_objects(path: Path, batch: Batch, noun: str = "a record") -> list[JsonLine]:
    """The JSON-object lines of a file; lines that are not JSON objects go to the batch's
    rejections with their reason."""
    items: list[JsonLine] = []
    for item in json_object_lines(path, noun):
        if isinstance(item, Rejection):
            batch.rejections.append(item)
        else:
            items.append(item)
    return items


def collect(
    batch: Batch, item: JsonLine, parse: Callable[..., Record | Rejection | None], *args: Any
) -> None:
    """File what `parse(item, *args)` makes of one line: a record (stamped with its file:line
    origin), a rejection, or nothing (an irrelevant record, counted as ignored). A RecordError
    raised while parsing (a field that is not what the format says) rejects the line with its
    reason."""
    try:
        result = parse(item, *args)
    except RecordError as exc:
        result = Rejection(item.file, item.line, str(exc), item.text[:10_000])
    if isinstance(result, Rejection):
        batch.rejections.append(result)
    elif isinstance(result, Record):
        result.origin = f"{item.file}:{item.line}"
        batch.records.append(result)
    else:
        batch.ignore(record_kind(item.value))


def record_kind(value: object) -> str:
    """What kind of record an ignored line was, as its format names it: a hook's event name,
    a transcript or rollout line's `type` (with its payload's), an OpenLineage `eventType`.

    >>> record_kind({"type": "event_msg", "payload": {"type": "token_count"}})
    'event_msg/token_count'
    >>> record_kind({"hook_event_name": "Stop"}), record_kind([1])
    ('Stop', 'not an object')
    """
    if not isinstance(value, dict):
        return "not an object"
    enrichment = value.get("_lineage")
    if isinstance(enrichment, dict) and isinstance(enrichment.get("event"), str):
        return str(enrichment["event"])  # a hook that names no event: the capture named it
    for key in ("hook_event_name", "type", "eventType", "kind"):
        kind = value.get(key)
        if isinstance(kind, str) and kind:
            payload = value.get("payload")
            if key == "type" and isinstance(payload, dict) and isinstance(payload.get("type"), str):
                return f"{kind}/{payload['type']}"
            return kind
    return "untyped"


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 timestamp as written by the agents (``Z`` suffix accepted), else None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
