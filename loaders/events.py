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
from lineage.eventlog import content_id
from lineage.facts import (
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
from lineage.loaders.agent_outputs import is_significant, line_hash, normalize_line
from lineage.loaders.files import JsonLine, collect, expand_paths, json_object_lines
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
    """One batch per file, or per BATCH_LINES lines of a longer one."""
    for path in expand_paths(paths, SUFFIXES):
        batch, parts = Batch(SOURCE, input=str(path)), 0
        for item in json_object_lines(path, "an event"):
            if isinstance(item, Rejection):
                batch.rejections.append(item)
            else:
                collect(batch, item, parse_line)
            if len(batch.records) + len(batch.rejections) >= BATCH_LINES:
                yield batch
                batch, parts = Batch(SOURCE, input=str(path)), parts + 1
        if batch.records or batch.rejections or not parts:
            yield batch


def parse_line(item: JsonLine) -> Record | Rejection:
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
    try:
        facts = FACTS[value["type"]](value)
        occurred = (
            datetime.fromisoformat(value["time"].replace("Z", "+00:00"))
            if "time" in value
            else None
        )
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


def _example_facts(v: dict[str, Any]) -> list[Fact]:
    dataset, version, example = v["dataset"], v["version"], v["example"]
    key = model.example_key(dataset, version, example)
    dv = model.dataset_version_key(dataset, version)
    attrs: dict[str, Any] = {"dataset": dataset, "version": version, "example": example}
    facts: list[Fact] = [
        Node(dv, NodeKind.DATASET_VERSION, {"dataset": dataset, "version": version})
    ]
    if "shard" in v:
        shard = model.shard_key(dataset, version, v["shard"])
        attrs["shard"] = v["shard"]
        facts += [
            Node(
                shard, NodeKind.SHARD, {"dataset": dataset, "version": version, "shard": v["shard"]}
            ),
            Edge(shard, dv, EdgeKind.MEMBER),
        ]
        member_of = shard
    else:
        member_of = dv
    if "source" in v:
        src = v["source"]
        attrs |= {"repo": src["repo"], "path": src["path"]}
        if "blob" in src:
            fkey = model.file_version_key(src["repo"], src["path"], src["blob"])
            fattrs = {"repo": src["repo"], "path": src["path"], "blob": src["blob"]}
        else:
            fkey = model.file_at_commit_key(src["repo"], src["path"], src["commit"])
            fattrs = {"repo": src["repo"], "path": src["path"], "commit": src["commit"]}
        if "lines" in src and "bytes" in src:
            raise ValueError("example source: give `lines` or `bytes`, not both")
        span = _span(src.get("lines")) or _span(src.get("bytes"), "byte")
        facts += [
            Node(fkey, NodeKind.FILE_VERSION, fattrs, defines=False),
            Edge(fkey, key, EdgeKind.CHUNKED, span=span),
        ]
    for parent in v.get("parents", []):
        pkey = model.example_key(parent["dataset"], parent["version"], parent["example"])
        facts += [
            Node(
                pkey,
                NodeKind.EXAMPLE,
                {k: parent[k] for k in ("dataset", "version", "example")},
                defines=False,
            ),
            Edge(pkey, key, EdgeKind.DERIVED),
        ]
    if "from" in v:
        ((kind, name),) = v["from"].items()
        fkey = model.output_key(name) if kind == "output" else model.session_key(name)
        fkind = NodeKind.OUTPUT if kind == "output" else NodeKind.SESSION
        facts += [
            Node(fkey, fkind, {kind: name}, defines=False),
            Edge(fkey, key, EdgeKind.TRANSCRIBED),
        ]
    facts.insert(1, Node(key, NodeKind.EXAMPLE, attrs))
    facts.append(Edge(key, member_of, EdgeKind.MEMBER))
    return facts


FACTS = {
    "session": _session_facts,
    "output": _output_facts,
    "commit": _commit_facts,
    "file_version": _file_version_facts,
    "example": _example_facts,
}
