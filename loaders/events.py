"""Loader `events`: NDJSON of canonical lineage events (schema/event.schema.json).

This is the native format: any producer can write it without a custom loader.
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

from lineage import model
from lineage.eventlog import canonical_json, content_id, epoch_us
from lineage.facts import (
    Alias,
    Attribution,
    Batch,
    Edge,
    ExampleRow,
    Fact,
    Node,
    Record,
    Rejection,
    Span,
    TreeEntries,
    example_table,
)
from lineage.loaders.agent_outputs import is_significant, line_hash, normalize_line
from lineage.loaders.files import JsonLine, expand_paths, json_object_lines
from lineage.model import EdgeKind, NodeKind
from lineage.schema import json_schema
from lineage.tools import canonical_tool

SOURCE = "events"
SUFFIXES = (".ndjson", ".jsonl", ".json")
_SCHEMA = json_schema("event")
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA, format_checker=jsonschema.FormatChecker())


def _validator_of(event_type: str) -> jsonschema.Draft202012Validator:
    """The envelope with only the branch of `event_type` (the same rules; checking one branch
    instead of every `if` is what makes validating millions of events affordable)."""
    branch = [
        _inline(b, _SCHEMA.get("$defs", {}))
        for b in _SCHEMA["allOf"]
        if b["if"]["properties"]["type"]["const"] == event_type
    ]
    schema = {k: v for k, v in _SCHEMA.items() if k != "allOf"} | {
        "allOf": [b["then"] for b in branch]
    }
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with each `{"$ref": "#/$defs/NAME"}` replaced by its definition: the same
    rules, without a reference lookup per field per record (most of what explaining a
    rejection cost)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/") and ref[8:] in defs:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return _inline(defs[ref[8:]], defs) | {k: _inline(v, defs) for k, v in rest.items()}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


_BY_TYPE = {
    b["if"]["properties"]["type"]["const"]: _validator_of(b["if"]["properties"]["type"]["const"])
    for b in _SCHEMA["allOf"]
}
_DRAFT_7 = {"$schema": "http://json-schema.org/draft-07/schema#"}


@cache
def _compiled(event_type: str) -> Callable[[Any], Any]:
    """The per-type schema compiled to Python code (fastjsonschema, draft 7: the keywords the
    event schema uses mean the same there), on first use: compiling costs every command's
    start-up 30 ms otherwise. It only ever accepts: a record it refuses goes to jsonschema,
    which decides and explains, so messages and rules stay jsonschema's."""
    return fastjsonschema.compile(_BY_TYPE[event_type].schema | _DRAFT_7)


BATCH_LINES = 100_000  # a longer file is ingested in several batches, so memory stays bounded


def load(paths: Iterable[str | Path]) -> Iterator[Batch]:
    """One batch per file, or per BATCH_LINES lines of a longer one; its examples go in
    `Batch.examples`, as a manifest's do."""
    for path in expand_paths(paths, SUFFIXES):
        batch, rows, parts = Batch(SOURCE, input=str(path)), [], 0
        for item in json_object_lines(path, "an event"):
            result = item if isinstance(item, Rejection) else parse_line(item)
            if isinstance(result, ExampleRow):
                rows.append(result)
            elif isinstance(result, Rejection):
                batch.rejections.append(result)
            else:
                batch.records.append(result)
            if len(batch.records) + len(rows) + len(batch.rejections) >= BATCH_LINES:
                yield _with_examples(batch, rows)
                batch, rows, parts = Batch(SOURCE, input=str(path)), [], parts + 1
        if batch.records or rows or batch.rejections or not parts:
            yield _with_examples(batch, rows)


def _with_examples(batch: Batch, rows: list[ExampleRow]) -> Batch:
    if rows:
        batch.examples = example_table(rows)
    return batch


def parse_line(item: JsonLine) -> Record | ExampleRow | Rejection:
    """One event line: a record with its facts, an example as a row (the store maps examples
    of every source in one place), or the reason it is rejected."""
    value = item.value
    raw = item.text or None
    if not isinstance(value, dict):
        return Rejection(item.file, item.line, "an event must be a JSON object", raw)
    if not _fast_accepts(value):
        kind = value.get("type")
        validator = _BY_TYPE.get(kind, _VALIDATOR) if isinstance(kind, str) else _VALIDATOR
        errors = sorted(validator.iter_errors(value), key=lambda e: len(list(e.absolute_path)))
    else:
        errors = []
    if errors:
        return Rejection(item.file, item.line, _explain(errors[0], value), raw)
    event_id = value.get("id") or content_id(value)
    origin = f"{item.file}:{item.line}"
    try:
        occurred = (
            datetime.fromisoformat(value["time"].replace("Z", "+00:00"))
            if "time" in value
            else None
        )
        if value["type"] == "example":
            return ExampleRow(
                _example_columns(value)
                | {
                    "row": item.line,
                    "event_id": event_id,
                    "origin": origin,
                    "payload": canonical_json(value),
                    "occurred_us": epoch_us(occurred) if occurred else None,
                }
            )
        facts = FACTS[value["type"]](value)
    except ValueError as exc:
        return Rejection(item.file, item.line, str(exc), raw)
    return Record(
        event_id=event_id,
        type=value["type"],
        payload=value,
        facts=facts,
        occurred_at=occurred,
        origin=origin,
    )


def _fast_accepts(value: dict[str, Any]) -> bool:
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in _BY_TYPE:
        return False
    try:
        _compiled(kind)(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _explain(error: jsonschema.ValidationError, value: dict[str, Any]) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "enum" and list(error.absolute_path) == ["type"]:
        return (
            f"unknown event type {value.get('type')!r}; expected one of "
            "session, output, commit, file_version, example"
        )
    if error.validator == "oneOf" and value.get("type") == "example" and not where:
        return "an example needs exactly one of `source`, `parents` or `from`"
    if error.validator == "oneOf" and where == "source":
        return "example source needs exactly one of `blob` or `commit`"
    if error.validator == "required":
        return f"{value.get('type', 'event')} event: {error.message}" + (
            f" (in {where})" if where else ""
        )
    return f"{where or 'event'}: {error.message}"


def _span(pair: list[int] | None, unit: str = "line") -> Span | None:
    return None if pair is None else Span(pair[0], pair[1], unit)


def _session_facts(v: dict[str, Any]) -> list[Fact]:
    tool = canonical_tool(v["tool"])
    attrs: dict[str, Any] = {k: v[k] for k in ("model", "tool_version", "person", "repo") if k in v}
    attrs |= {"tool": tool, "session": v["session"], "time": v.get("time")}
    facts: list[Fact] = [
        Node(model.tool_key(tool), NodeKind.TOOL, {"tool": tool}),
        Node(model.session_key(v["session"]), NodeKind.SESSION, attrs),
        Edge(model.tool_key(tool), model.session_key(v["session"]), EdgeKind.USED),
    ]
    if "person" in v:
        facts += [
            Node(model.person_key(v["person"]), NodeKind.PERSON, {"person": v["person"]}),
            Edge(model.person_key(v["person"]), model.session_key(v["session"]), EdgeKind.USED),
        ]
    return facts


def _output_facts(v: dict[str, Any]) -> list[Fact]:
    tool = canonical_tool(v["tool"])
    attrs: dict[str, Any] = {
        k: v[k]
        for k in (
            "model",
            "tool_version",
            "session",
            "repo",
            "path",
            "call",
            "lines",
            "text",
            "user_modified",
        )
        if k in v
    }
    attrs |= {"tool": tool, "output": v["output"], "time": v.get("time")}
    if "text" in v:  # for content-match against the lines commits add
        attrs["hashes"] = sorted(
            {line_hash(n) for n in map(normalize_line, v["text"]) if is_significant(n)}
        )
    key = model.output_key(v["output"])
    facts: list[Fact] = [Node(key, NodeKind.OUTPUT, attrs)]
    if "session" in v:
        facts += [
            Node(
                model.session_key(v["session"]),
                NodeKind.SESSION,
                {"session": v["session"], "tool": tool},
                defines=False,
            ),
            Edge(model.session_key(v["session"]), key, EdgeKind.GENERATED),
        ]
    return facts


def _commit_facts(v: dict[str, Any]) -> list[Fact]:
    attrs: dict[str, Any] = {
        k: v[k]
        for k in ("repo", "commit", "parents", "author", "committer", "message", "time")
        if k in v
    }
    parents = v.get("parents") or []
    # The commit's place in its history, so files named at it resolve (lineage.store.snapshots).
    return [
        Node(model.commit_key(v["repo"], v["commit"]), NodeKind.COMMIT, attrs),
        TreeEntries(v["repo"], v["commit"], parents[0] if parents else None, (), whole=not parents),
    ]


def _file_version_facts(v: dict[str, Any]) -> list[Fact]:
    repo, path, blob = v["repo"], v["path"], v["blob"]
    key = model.file_version_key(repo, path, blob)
    attrs = {"repo": repo, "path": path, "blob": blob}
    attrs |= {k: v[k] for k in ("commit", "line_count") if k in v}
    facts: list[Fact] = [Node(key, NodeKind.FILE_VERSION, attrs)]
    if "commit" in v:
        alias = model.file_at_commit_key(repo, path, v["commit"])
        ckey = model.commit_key(repo, v["commit"])
        facts += [
            Node(alias, NodeKind.FILE_VERSION, {"repo": repo, "path": path, "commit": v["commit"]}),
            Alias(alias, key),
            Node(ckey, NodeKind.COMMIT, {"repo": repo, "commit": v["commit"]}, defines=False),
            Edge(ckey, key, EdgeKind.COMMITTED),
            TreeEntries(repo, v["commit"], None, ((path, key),)),
        ]
    for parent in v.get("parents", []):
        pkey = model.file_version_key(repo, parent["path"], parent["blob"])
        facts += [
            Node(
                pkey,
                NodeKind.FILE_VERSION,
                {"repo": repo, "path": parent["path"], "blob": parent["blob"]},
                defines=False,
            ),
            Edge(pkey, key, EdgeKind.REVISED, line_map=parent.get("hunks")),
        ]
    for attribution in v.get("attributions", []):
        okey = model.output_key(attribution["output"])
        span = _span(attribution["lines"])
        assert span is not None
        facts += [
            Node(okey, NodeKind.OUTPUT, {"output": attribution["output"]}, defines=False),
            Edge(okey, key, EdgeKind.WROTE, span=span),
            Attribution(key, okey, span, attribution.get("evidence", "structured-patch")),
        ]
    return facts


def _example_columns(v: dict[str, Any]) -> dict[str, Any]:
    """An example event as the columns of `lineage.facts.EXAMPLE_COLUMNS` that name it and its
    source; the store makes its nodes and edges, as it does for a manifest row."""
    columns: dict[str, Any] = {k: v.get(k) for k in ("dataset", "version", "example", "shard")}
    if "source" in v:
        src = v["source"]
        if "lines" in src and "bytes" in src:
            raise ValueError("example source: give `lines` or `bytes`, not both")
        span = _span(src.get("lines")) or _span(src.get("bytes"), "byte")
        columns |= {k: src.get(k) for k in ("repo", "path", "blob", "commit")}
        if span is not None:
            columns |= {"span_start": span.start, "span_end": span.end, "span_unit": span.unit}
    if "parents" in v:
        columns["parents"] = [
            {k: parent[k] for k in ("dataset", "version", "example")} for parent in v["parents"]
        ]
    if "from" in v:
        ((kind, name),) = v["from"].items()
        columns |= {"from_kind": kind, "from_name": name}
    return columns


FACTS = {
    "session": _session_facts,
    "output": _output_facts,
    "commit": _commit_facts,
    "file_version": _file_version_facts,
}
