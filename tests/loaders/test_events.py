import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from loaders import events
from tests.conftest import EXAMPLES, FIXTURES


def _valid_events() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "events.ndjson").read_text().splitlines() + \
        (FIXTURES / "events" / "history.ndjson").read_text().splitlines()
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
                yield where, value[:i] + [changed] + value[i + 1:]
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


@pytest.mark.parametrize("line", [
    '{"type": "output", "output": "o1", "tool": "claude-code", "repo": 7}',
    '{"type": "output", "tool": "claude-code"}',
    '{"type": "nonsense"}',
    '{"type": ["output"], "output": "o1"}',
])
def test_a_refused_event_is_explained_by_jsonschema(line: str) -> None:
    item = events.JsonLine("f.ndjson", 3, json.loads(line), line)
    rejected = events.parse_line(item)
    assert isinstance(rejected, events.Rejection)
    assert rejected.line == 3 and rejected.reason
