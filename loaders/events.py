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
import pyarrow as pa

from lineage import model
from lineage.eventlog import canonical_json, content_id, epoch_us
from lineage.facts import (
    EXAMPLE_COLUMNS,
    Alias,
    Attribution,
    Batch,
    Edge,
    Fact,
    Node,
    Record,
    Rejection,
    Span,
    TreeEntries,
)
from lineage.model import EdgeKind, NodeKind
from lineage.tools import canonical_tool
from loaders.agent_outputs import is_significant, line_hash, normalize_line
from loaders.files import JsonLine, collect, expand_paths, json_object_lines
from schema import json_schema

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
    """One batch per file, or per BATCH_LINES lines of a longer one. Example events become
    rows of the batch's example table, the one mapping of examples to the graph that dataset
    manifests use too (within a batch they take their seqs after its other events)."""
    for path in expand_paths(paths, SUFFIXES):
        batch, parts = Batch(SOURCE, input=str(path)), 0
        rows: list[dict[str, Any]] = []
        for item in json_object_lines(path, "an event"):
            if isinstance(item, Rejection):
                batch.rejections.append(item)
            elif item.value.get("type") == "example":
                row = example_row(item)
                if isinstance(row, Rejection):
                    batch.rejections.append(row)
                else:
                    rows.append(row)
            else:
                collect(batch, item, parse_line)
            if len(batch.records) + len(batch.rejections) + len(rows) >= BATCH_LINES:
                yield _with_examples(batch, rows)
                batch, rows, parts = Batch(SOURCE, input=str(path)), [], parts + 1
        if batch.records or batch.rejections or rows or not parts:
            yield _with_examples(batch, rows)


def _with_examples(batch: Batch, rows: list[dict[str, Any]]) -> Batch:
    if rows:
        batch.examples = pa.Table.from_pylist(rows, schema=EXAMPLE_COLUMNS)
    return batch


def _invalid(item: JsonLine) -> Rejection | None:
    """Why an event breaks the event schema, or None when it keeps it."""
    value = item.value
    raw = item.text or None
    if not isinstance(value, dict):
        return Rejection(item.file, item.line, "an event must be a JSON object", raw)
    if _fast_accepts(value):
        return None
    kind = value.get("type")
    validator = _BY_TYPE.get(kind, _VALIDATOR) if isinstance(kind, str) else _VALIDATOR
    errors = sorted(validator.iter_errors(value), key=lambda e: len(list(e.absolute_path)))
    return Rejection(item.file, item.line, _explain(errors[0], value), raw) if errors else None


def _occurred(value: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(value["time"].replace("Z", "+00:00")) if "time" in value else None


def parse_line(item: JsonLine) -> Record | Rejection:
    """A session, output, commit or file_version event as a Record with its facts."""
    value = item.value
    raw = item.text or None
    invalid = _invalid(item)
    if invalid is not None:
        return invalid
    try:
        facts = FACTS[value["type"]](value)
        occurred = _occurred(value)
    except ValueError as exc:
        return Rejection(item.file, item.line, str(exc), raw)
    return Record(
        event_id=value.get("id") or content_id(value),
        type=value["type"],
        payload=value,
        facts=facts,
        occurred_at=occurred,
        origin=f"{item.file}:{item.line}",
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
    # The commit's place in its history, so files named at it resolve (lineage.snapshots).
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


def example_row(item: JsonLine) -> dict[str, Any] | Rejection:
    """An example event as a row of `lineage.facts.EXAMPLE_COLUMNS`: the store maps it to
    nodes and edges exactly as it maps a manifest's rows."""
    invalid = _invalid(item)
    if invalid is not None:
        return invalid
    v = item.value
    src = v.get("source") or {}
    try:
        if "lines" in src and "bytes" in src:
            raise ValueError("example source: give `lines` or `bytes`, not both")
        span = _span(src.get("lines")) or _span(src.get("bytes"), "byte")
        occurred = _occurred(v)
    except ValueError as exc:
        return Rejection(item.file, item.line, str(exc), item.text or None)
    ((from_kind, from_name),) = v["from"].items() if "from" in v else [(None, None)]
    return {
        "row": item.line,
        "event_id": v.get("id") or content_id(v),
        "origin": f"{item.file}:{item.line}",
        "payload": canonical_json(v),
        "dataset": v["dataset"],
        "version": v["version"],
        "example": v["example"],
        "shard": v.get("shard"),
        "repo": src.get("repo"),
        "path": src.get("path"),
        "blob": src.get("blob"),
        "commit": src.get("commit"),
        "span_start": span.start if span else None,
        "span_end": span.end if span else None,
        "span_unit": span.unit if span else None,
        "parents": [{k: p[k] for k in ("dataset", "version", "example")} for p in v["parents"]]
        if "parents" in v
        else None,
        "from_kind": from_kind,
        "from_name": from_name,
        "occurred_us": epoch_us(occurred) if occurred else None,
    }


FACTS = {
    "session": _session_facts,
    "output": _output_facts,
    "commit": _commit_facts,
    "file_version": _file_version_facts,
}
