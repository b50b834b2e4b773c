"""Reading a record's fields as what its format says they are.

Loaders read agent and lineage records through these instead of chained `.get` calls, so a
field of the wrong type (a string where an object belongs, a list for an id) rejects the
record with a reason that names the field, instead of raising somewhere downstream.
`loaders.files.collect` turns the `RecordError` into the record's rejection.

A missing field and an explicit null read as absent (None, or an empty object or list).
"""

from typing import Any

from lineage.loaders.files import RecordError

JSONObject = dict[str, Any]
MAX_LINE = 2**31 - 1  # the largest line number a record may name


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _wrong(name: str, expected: str, value: Any) -> RecordError:
    return RecordError(f"`{name}` must be {expected}, not {_kind(value)}")


def obj(record: JSONObject, key: str, name: str | None = None) -> JSONObject:
    """The object at `key` ({} when absent)."""
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong(name or key, "an object", value)
    return value


def items(record: JSONObject, key: str, name: str | None = None) -> list[Any]:
    """The list at `key` ([] when absent)."""
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(name or key, "a list", value)
    return value


def objects(record: JSONObject, key: str, name: str | None = None) -> list[JSONObject]:
    """The list of objects at `key` ([] when absent)."""
    out = items(record, key, name)
    for i, value in enumerate(out):
        if not isinstance(value, dict):
            raise _wrong(f"{name or key}[{i}]", "an object", value)
    return out


def text(record: JSONObject, key: str, name: str | None = None) -> str | None:
    """The string at `key` (None when absent)."""
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _wrong(name or key, "a string", value)


def texts(record: JSONObject, key: str, name: str | None = None) -> list[str]:
    """The list of strings at `key` ([] when absent)."""
    out = items(record, key, name)
    for i, value in enumerate(out):
        if not isinstance(value, str):
            raise _wrong(f"{name or key}[{i}]", "a string", value)
    return out


def ident(record: JSONObject, key: str, name: str | None = None) -> str | None:
    """An id at `key`: a string, or an integer written as one (None when absent or empty)."""
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(record, key, name) or None


def integer(
    record: JSONObject, key: str, name: str | None = None, *, low: int = 0, high: int = MAX_LINE
) -> int | None:
    """The integer at `key`, within [low, high] (None when absent); a digit string counts."""
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(name or key, "an integer", value)
    if not low <= value <= high:
        raise RecordError(f"`{name or key}` is {value}, outside {low}..{high}")
    return value


def line_range(record: JSONObject, first: str, last: str, name: str = "") -> tuple[int, int]:
    """A required 1-based inclusive line range [first, last]."""
    start = integer(record, first, f"{name}{first}", low=1)
    end = integer(record, last, f"{name}{last}", low=1)
    if start is None or end is None:
        raise RecordError(f"`{name}{first}` and `{name}{last}` must be line numbers")
    if end < start:
        raise RecordError(f"bad line range {start}-{end}: `{name}{last}` is before `{name}{first}`")
    return start, end
