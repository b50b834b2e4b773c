"""Loader `agent-trace`: Agent Trace records (`.agent-trace/traces.jsonl`).

Two incompatible shapes occur in the wild and both load:
- the nested cursor/agent-trace v0.1 shape ``{version, id, timestamp, vcs, tool, files[{path,
  conversations[{contributor{type, model_id}, ranges[{start_line, end_line}]}]}]}``; `ai` and
  `mixed` ranges become outputs anchored to the file as it stands after `vcs.revision` (HEAD
  before the commit that will contain the change). Cursor writes Windows paths and records shell
  runs as edits of `.shell-history`, which are ignored;
- a flat shape written from Claude Code hooks, one range per record: ``{schema:
  "agent-trace/v0.1.0", session_id, file_path (absolute), start_line, end_line, tool,
  tool_use_id, timestamp}``.
A trace file's repository is the one containing its `.agent-trace/` folder when it is on this
machine, else `--repo`.
"""

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lineage import model
from lineage.eventlog import content_id
from lineage.facts import Attribution, Batch, Edge, Fact, Node, Record, Rejection, Span
from lineage.loaders import fields
from lineage.loaders.agent_outputs import AgentOutput, output_facts
from lineage.loaders.files import (
    JsonLine,
    RecordError,
    collect,
    expand_paths,
    json_objects,
    parse_time,
)
from lineage.model import EdgeKind, NodeKind
from lineage.repos import Location, RepoResolver, posix_path
from lineage.tools import canonical_tool

SOURCE = "agent-trace"
SUFFIXES = (".jsonl", ".json")
AI_CONTRIBUTORS = {"ai", "mixed"}
IGNORED_PATHS = {".shell-history"}


def load(
    paths: Iterable[str | Path], repo: str | None = None, *, local_git: bool = True
) -> Iterator[Batch]:
    resolver = RepoResolver(repo, local_git=local_git)
    for path in expand_paths(paths, SUFFIXES):
        workspace = path.parent.parent if path.parent.name == ".agent-trace" else None
        batch = Batch(SOURCE, input=str(path))
        for item in json_objects(path, batch, "a trace record"):
            collect(batch, item, parse_record, resolver, workspace)
        yield batch


def _model(model_id: str | None) -> tuple[str | None, str | None]:
    """``anthropic/claude-opus-4-8`` -> ("claude-opus-4-8", "anthropic")."""
    if not model_id:
        return None, None
    provider, _, name = model_id.partition("/")
    return (name, provider) if name else (model_id, None)


def parse_record(
    item: JsonLine, resolver: RepoResolver, workspace: Path | None
) -> Record | Rejection | None:
    value = item.value
    if "files" in value:
        return _nested(item, value, resolver, workspace)
    if str(value.get("schema", "")).startswith("agent-trace/") or "file_path" in value:
        return _flat(value, resolver, workspace)
    return None


def _nested(
    item: JsonLine, value: dict[str, Any], resolver: RepoResolver, workspace: Path | None
) -> Record | Rejection | None:
    missing = [k for k in ("id", "timestamp", "files") if k not in value]
    if missing or not isinstance(value["files"], list):
        return Rejection(
            item.file,
            item.line,
            f"agent trace record lacks required {', '.join(missing) or 'files[] list'}",
            item.text,
        )
    trace_id = fields.ident(value, "id")
    timestamp = fields.text(value, "timestamp")
    if not trace_id or parse_time(timestamp) is None:
        raise RecordError("an agent trace record needs `id` and `timestamp` as an RFC 3339 time")
    tool_info = fields.obj(value, "tool")
    tool = canonical_tool(fields.text(tool_info, "name", "tool.name") or "unknown")
    vcs = fields.obj(value, "vcs")
    revision = vcs.get("revision") if isinstance(vcs.get("revision"), str) else None
    vcs_type = str(vcs.get("type") or "git")
    cwd = str(workspace) if workspace else None
    session = fields.ident(
        fields.obj(value, "metadata"), "conversation_id", "metadata.conversation_id"
    )
    facts: list[Fact] = []
    for f_no, entry in enumerate(fields.objects(value, "files")):
        path = posix_path(fields.text(entry, "path", f"files[{f_no}].path") or "")
        if not path or Path(path).name in IGNORED_PATHS:
            continue
        where = f"files[{f_no}]"
        for c_no, conversation in enumerate(
            fields.objects(entry, "conversations", f"{where}.conversations")
        ):
            here = f"{where}.conversations[{c_no}]"
            contributor = fields.obj(conversation, "contributor", f"{here}.contributor")
            for r_no, rng in enumerate(fields.objects(conversation, "ranges", f"{here}.ranges")):
                who_is = (
                    fields.obj(rng, "contributor", f"{here}.ranges[{r_no}].contributor")
                    or contributor
                )
                who = who_is.get("type")
                if not isinstance(who, str) or who not in AI_CONTRIBUTORS:
                    continue
                first, last = fields.line_range(
                    rng, "start_line", "end_line", f"{here}.ranges[{r_no}]."
                )
                model, provider = _model(fields.text(who_is, "model_id", f"{here}.model_id"))
                location = resolver.locate(path, cwd)
                okey = f"agent-trace:{trace_id}:{f_no}:{c_no}:{r_no}"
                facts += _anchored(okey, location, revision, vcs_type, first, last)
                facts += output_facts(
                    AgentOutput(
                        key=okey,
                        tool=tool,
                        call="agent-trace",
                        location=location,
                        added=[],
                        ranges=[[first, last]],
                        model=model,
                        tool_version=tool_info.get("version"),
                        session=session,
                        time=timestamp,
                        time_source="trace",
                        extra={
                            "provider": provider,
                            "contributor": who,
                            "anchor_revision": revision,
                            "content_hash": rng.get("content_hash"),
                            "conversation_url": conversation.get("url"),
                            "text": None,
                            "hashes": None,
                        },
                    )
                )
    if not facts:
        return None
    return Record(
        event_id=trace_id,
        type="trace",
        payload=value,
        facts=facts,
        occurred_at=parse_time(timestamp),
    )


def _anchored(
    output: str, location: Location, revision: str | None, vcs_type: str, first: int, last: int
) -> list[Fact]:
    """A range anchored at a git revision names the lines of the file as that revision's
    tree holds it: the store attributes them to that version directly (evidence
    `agent-trace`) once the history holding the revision is ingested, whatever the order."""
    if (
        location.repo is None
        or revision is None
        or vcs_type != "git"
        or not _SHA.fullmatch(revision.lower())
    ):
        return []
    name = model.file_at_commit_key(location.repo, location.path, revision.lower())
    okey = model.output_key(output)
    span = Span(first, last)
    return [
        Node(
            name,
            NodeKind.FILE_VERSION,
            {"repo": location.repo, "path": location.path, "commit": revision.lower()},
            defines=False,
        ),
        Edge(okey, name, EdgeKind.WROTE, span=span),
        Attribution(name, okey, span, "agent-trace"),
    ]


_SHA = re.compile(r"[0-9a-f]{7,64}")


def _flat(value: dict[str, Any], resolver: RepoResolver, workspace: Path | None) -> Record:
    path = fields.text(value, "file_path")
    if not path:
        raise RecordError("flat agent-trace record needs file_path, start_line and end_line")
    first, last = fields.line_range(value, "start_line", "end_line")
    use_id = fields.ident(value, "tool_use_id")
    tool = (
        "claude-code"
        if (use_id or "").startswith("toolu_")
        else canonical_tool(fields.text(value, "agent") or "unknown")
    )
    facts = output_facts(
        AgentOutput(
            key=f"agent-trace:{use_id or content_id(value)}:{first}-{last}",
            tool=tool,
            call=fields.text(value, "tool") or "edit",
            location=resolver.locate(path, str(workspace) if workspace else None),
            added=[],
            ranges=[[first, last]],
            session=fields.ident(value, "session_id"),
            time=fields.text(value, "timestamp"),
            time_source="trace",
            extra={
                "tool_use_id": use_id,
                "confidence": value.get("confidence"),
                "content_hash": value.get("content_hash"),
                "text": None,
                "hashes": None,
            },
        )
    )
    return Record(
        event_id=content_id(value),
        type="trace",
        payload=value,
        facts=facts,
        occurred_at=parse_time(value.get("timestamp")),
    )
