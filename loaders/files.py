"""Reading loader inputs: walking directories and numbering the JSON lines of a file."""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
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
        else:
            raise InputError(f"{path}: no such file or directory")
    return out


@dataclass
class JsonLine:
    file: str
    line: int
    text: str
    value: Any


def read_json_lines(path: Path) -> Iterator[JsonLine | Rejection]:
    """Each non-blank line of a JSONL file parsed, or a Rejection saying why it is not JSON.
    JSONL is streamed: a file of millions of lines is never held in memory at once.

    A file holding one pretty-printed JSON object (a saved hook payload) is read as one record,
    one holding a JSON array as one record per element (numbered by position).
    """
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        try:
            head = ""
            for line in handle:  # blank lines, then the first one with text
                head += line
                if line.strip():
                    break
            first = head.strip()
            if first[:1] in ("[", "{") and not _is_jsonl(first):
                yield from _read_whole(path, head + handle.read())
                return
            yield from _numbered(path, chain(_split_lines(head), handle))
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def _read_whole(path: Path, text: str) -> Iterator[JsonLine | Rejection]:
    """A file whose first line is not JSON on its own: one pretty-printed object or array, or
    else lines to reject one by one."""
    stripped = text.strip()
    if stripped.startswith("[") and "\n" in stripped:
        try:
            values = json.loads(stripped)
        except json.JSONDecodeError:
            values = None
        if isinstance(values, list):
            for n, value in enumerate(values, 1):
                yield JsonLine(str(path), n, json.dumps(value), value)
            return
    if stripped.startswith("{") and "\n" in stripped:
        try:
            yield JsonLine(str(path), 1, stripped, json.loads(stripped))
            return
        except json.JSONDecodeError:
            pass
    yield from _numbered(path, iter(_split_lines(text)))


def _split_lines(text: str) -> list[str]:
    """Lines ending in their newline (only "\n" ends a line, as in a file read as text)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _numbered(path: Path, lines: Iterator[str]) -> Iterator[JsonLine | Rejection]:
    """Parse lines (each with its newline) and number them from 1."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        text = line.removesuffix("\n")
        try:
            yield JsonLine(str(path), number, text, json.loads(text))
        except json.JSONDecodeError as exc:
            truncated = not line.endswith("\n")  # only the last line can lack one
            why = "truncated last line (the writer was interrupted)" if truncated else (
                f"not valid JSON ({exc.msg} at column {exc.colno})")
            yield Rejection(str(path), number, why, text[:10_000])


def _is_jsonl(text: str) -> bool:
    first = text.split("\n", 1)[0].strip()
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return True


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


def collect(batch: Batch, item: JsonLine, result: Record | Rejection | None) -> None:
    """File what a parser made of one line: a record (stamped with its file:line origin), a
    rejection, or nothing (an irrelevant record, counted as ignored)."""
    if isinstance(result, Rejection):
        batch.rejections.append(result)
    elif isinstance(result, Record):
        result.origin = f"{item.file}:{item.line}"
        batch.records.append(result)
    else:
        batch.ignored += 1


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as written by the agents (``Z`` suffix accepted), else None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
