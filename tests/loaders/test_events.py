import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lineage.loaders import events
from lineage.loaders.files import read_json_lines
from lineage.store import Store
from tests.conftest import EXAMPLES, FIXTURES


def _valid_events() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "events.ndjson").read_text().splitlines() + (
        FIXTURES / "events" / "history.ndjson"
    ).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _mutations(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every value with one part dropped, retyped or joined by an unknown field."""
    if isinstance(value, dict):
        yield path + ("+",), value | {"unexpected": 1}
        for key, item in value.items():
            yield path + (key, "-"), {k: v for k, v in value.items() if k != key}
            for where, changed in _mutations(item, path + (key,)):
                yield where, value | {key: changed}
    elif isinstance(value, list):
        yield path + ("[]",), []
        for i, item in enumerate(value):
            for where, changed in _mutations(item, path + (i,)):
                yield where, value[:i] + [changed] + value[i + 1 :]
    else:
        for other in ("", "x", -1, 0, 1.5, True, None, [], {}):
            if type(other) is not type(value) or other != value:
                yield path + (repr(other),), other


def test_the_compiled_validator_never_accepts_what_jsonschema_refuses() -> None:
    checked = 0
    for event in _valid_events():
        assert events._fast_accepts(event), event  # the fast path is taken for valid events
        validator = events._BY_TYPE[event["type"]]
        for where, mutated in _mutations(copy.deepcopy(event)):
            if events._fast_accepts(mutated):
                assert validator.is_valid(mutated), (event["type"], where)
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize(
    "line",
    [
        '{"type": "output", "output": "o1", "tool": "claude-code", "repo": 7}',
        '{"type": "output", "tool": "claude-code"}',
        '{"type": "nonsense"}',
        '{"type": ["output"], "output": "o1"}',
    ],
)
def test_a_refused_event_is_explained_by_jsonschema(line: str) -> None:
    item = events.JsonLine("f.ndjson", 3, json.loads(line), line)
    rejected = events.parse_line(item)
    assert isinstance(rejected, events.Rejection)
    assert rejected.line == 3 and rejected.reason


def test_a_long_file_is_read_in_batches_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        json.dumps({"type": "output", "output": f"o{i}", "tool": "claude-code"}) for i in range(5)
    ]
    lines.insert(2, "{not json")
    path = tmp_path / "long.ndjson"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(events, "BATCH_LINES", 2)
    batches = list(events.load([path]))
    assert [(len(b.records), len(b.rejections)) for b in batches] == [(2, 0), (1, 1), (2, 0)]
    assert batches[1].rejections[0].line == 3
    store = Store(":memory:")
    reports = [store.ingest(b) for b in batches]
    assert sum(r.accepted for r in reports) == 5
    again = [store.ingest(b) for b in events.load([path])]
    assert sum(r.accepted for r in again) == 0
    assert store.fetch_maybe_one("SELECT count(*) FROM rejected")[0] == 1


def test_json_lines_are_streamed_with_their_numbers_and_a_truncated_tail(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_text('\n\n{"a": "x\u2028y"}\r\n[1]\n{"b": 2')
    items = list(read_json_lines(path))
    assert [(i.line, type(i).__name__) for i in items] == [
        (3, "JsonLine"),
        (4, "JsonLine"),
        (5, "Rejection"),
    ]
    assert items[0].value == {"a": "x\u2028y"}
    assert "truncated" in items[2].reason


def test_a_pretty_printed_object_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "hook.json"
    path.write_text(json.dumps({"type": "output", "output": "o"}, indent=2))
    assert [(i.line, i.value["output"]) for i in read_json_lines(path)] == [(1, "o")]
