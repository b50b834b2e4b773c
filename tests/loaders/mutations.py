"""Hostile copies of real records, for the loaders' fuzz tests.

`mutate(value, rng)` turns one valid JSON record into the bytes of one line that a careless
producer or an attacker could write: truncated, a field retyped, dropped or added, deep nesting,
huge numbers, lone surrogates, NUL bytes, invalid UTF-8, unicode and traversal paths.
"""

import json
import random
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, FIXTURES, ROOT

SAMPLES = ROOT.parent / "shared" / "samples"

HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**31,
    2**63,
    -(2**63) - 1,
    2**64 + 7,
    10**30,
    1e308,
    "",
    " ",
    "x",
    "\ud800",
    "\udfff",
    "a\x00b",
    "\x00",
    "../../../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\System32\\x.dll",
    "é/ü 文件 with spaces\t.py",
    "\u202eevil",
    "\n\n",
    "x" * 5000,
    "9" * 40,
    "2026-13-45T99:99:99Z",
    "toolu_01",
    "exec-1",
    [],
    {},
    [1, 2],
    [[[]]],
    ["a", None],
    {"a": {"b": None}},
    {"type": "update"},
    [2**63, 1],
]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place inside a JSON value: dict keys and list positions, depth first."""
    out: list[tuple] = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.append(prefix + (key,))
            out += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value[:20]):
            out.append(prefix + (i,))
            out += _paths(child, prefix + (i,))
    return out


def _parent(value: Any, path: tuple) -> Any:
    for step in path[:-1]:
        value = value[step]
    return value


def _hostile(rng: random.Random) -> Any:
    choice = rng.choice(HOSTILE)
    return json.loads(json.dumps(choice))  # a fresh copy


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth if depth % 2 else '{"a":' * depth + "1" + "}" * depth


def mutate(value: Any, rng: random.Random) -> bytes:
    """The bytes of one line: `value` mutated one or a few ways."""
    value = json.loads(json.dumps(value))
    text: str | None = None
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        places = _paths(value)
        how = rng.choice(
            [
                "retype",
                "retype",
                "retype",
                "drop",
                "drop",
                "add",
                "deep",
                "huge",
                "truncate",
                "bytes",
                "swap",
                "whole",
            ]
        )
        if how == "whole":
            value = _hostile(rng)
        elif how in ("retype", "drop", "swap") and places:
            path = rng.choice(places)
            parent = _parent(value, path)
            if how == "retype":
                parent[path[-1]] = _hostile(rng)
            elif how == "drop":
                del parent[path[-1]]
            else:  # a sibling's value in its place (the right type for another field)
                other = rng.choice(places)
                parent[path[-1]] = json.loads(json.dumps(_parent(value, other)[other[-1]]))
        elif how == "add":
            targets = [p for p in places if isinstance(_parent(value, p)[p[-1]], dict)]
            holder = value
            if targets:
                path = rng.choice(targets)
                holder = _parent(value, path)[path[-1]]
            if isinstance(holder, dict):
                holder[rng.choice(["type", "id", "path", "lines", "extra", "start_line"])] = (
                    _hostile(rng)
                )
        elif how == "deep":
            marker = "\u2603deep\u2603"
            if places:
                path = rng.choice(places)
                _parent(value, path)[path[-1]] = marker
            depth = rng.choice([50, 200, 990, 3000, 20_000])
            text = json.dumps(value).replace(json.dumps(marker), _nested(depth), 1)
        elif how == "huge":
            marker = "\u2603huge\u2603"
            if places:
                path = rng.choice(places)
                _parent(value, path)[path[-1]] = marker
            number = rng.choice(
                [
                    "1" + "0" * 5000,
                    "1e400",
                    "-1e400",
                    "9" * 19,
                    "NaN",
                    "Infinity",
                    "0." + "0" * 1000 + "1",
                    "18446744073709551616",
                ]
            )
            text = json.dumps(value).replace(json.dumps(marker), number, 1)
    data = (
        text if text is not None else json.dumps(value, ensure_ascii=rng.random() < 0.5)
    ).encode("utf-8", "surrogatepass")
    cut = rng.random()
    if cut < 0.08 and len(data) > 2:
        data = data[: rng.randrange(1, len(data))]
    elif cut < 0.12:
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.choice([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"]) + data[at:]
    return data.replace(b"\n", b" ").replace(b"\r", b" ")


def records(path: Path) -> list[Any]:
    """The JSON records of a fixture: one per line, or the whole file when it is one
    pretty-printed document."""
    text = path.read_text()
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, list) else [whole]
    except json.JSONDecodeError:
        out = []
        for line in text.splitlines():  # a fixture may end in a truncated line on purpose
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out


def fixtures(source: str) -> list[Path]:
    """Real records of each loader: the project's fixtures, the bundled examples and the shared
    samples of real tool output where they are present."""
    by_source = {
        "claude-code": [FIXTURES / "claude", SAMPLES / "claude"],
        "codex": [FIXTURES / "codex", SAMPLES / "codex"],
        "agent-trace": [FIXTURES / "agent-trace", SAMPLES / "agent-trace"],
        "cursor": [FIXTURES / "cursor"],
        "gemini-cli": [FIXTURES / "gemini-cli"],
        "copilot": [FIXTURES / "copilot"],
        "openlineage": [FIXTURES / "openlineage"],
        "events": [FIXTURES / "events" / "history.ndjson", EXAMPLES / "events.ndjson"],
        "manifest": [EXAMPLES / "manifest.jsonl", EXAMPLES / "snapshot.jsonl"],
    }
    out: list[Path] = []
    for place in by_source[source]:
        if place.is_file():
            out.append(place)
        elif place.is_dir():
            out += sorted(p for p in place.rglob("*") if p.suffix in (".jsonl", ".json", ".ndjson"))
    return out
