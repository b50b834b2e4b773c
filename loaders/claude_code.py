"""Loader `claude-code`: Claude Code transcripts and hook payloads (the capture spool).

Transcripts are JSONL under ``~/.claude/projects/<cwd>/<sessionId>.jsonl``: assistant records
hold the tool calls (model, version), user records hold their results (`toolUseResult`, shaped
per tool). A tool call becomes an output once its result shows it was applied. Records after a
compaction start a new parentUuid chain (`logicalParentUuid` points across it); the session id
keeps them in one session. Unknown record types are ignored and counted.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lineage.eventlog import content_id
from lineage.facts import Batch, Fact, Record, Rejection
from lineage.loaders import fields
from lineage.loaders.agent_outputs import AgentOutput, output_facts, session_facts
from lineage.loaders.files import JsonLine, collect, expand_paths, json_objects, parse_time
from lineage.loaders.hooks import (
    EDIT_TOOLS,
    claude_edit_lines,
    is_hook_payload,
    note_unresolved,
    parse_hook,
)
from lineage.loaders.patches import shell_writes
from lineage.repos import RepoResolver

SOURCE = "claude-code"
SUFFIXES = (".jsonl", ".json")
TRANSCRIPT_TYPES = {
    "user",
    "assistant",
    "system",
    "summary",
    "file-history-snapshot",
    "queue-operation",
    "attachment",
    "ai-title",
}


def load(
    paths: Iterable[str | Path], repo: str | None = None, *, local_git: bool = True
) -> Iterator[Batch]:
    """One batch per file; hook payloads and transcript records may share a file."""
    resolver = RepoResolver(repo, local_git=local_git)
    for path in expand_paths(paths, SUFFIXES):
        yield read_file(path, resolver, SOURCE)


def read_file(path: Path, resolver: RepoResolver, source: str) -> Batch:
    batch = Batch(source, input=str(path))
    items = json_objects(path, batch)
    models: dict[str, str] = {}
    transcript = Transcript(resolver)
    for item in items:
        collect(batch, item, _parse, transcript, resolver, models)
    note_unresolved(batch, path)
    return batch


def _parse(
    item: JsonLine, transcript: "Transcript", resolver: RepoResolver, models: dict[str, str]
) -> Record | Rejection | None:
    if is_hook_payload(item.value):
        return parse_hook(item, resolver, models)
    if fields.text(item.value, "type") in TRANSCRIPT_TYPES:
        return transcript.add(item)
    return None


class Transcript:
    """Pairs tool calls with their results across the records of one transcript file."""

    def __init__(self, resolver: RepoResolver) -> None:
        self.resolver = resolver
        self.calls: dict[str, dict[str, Any]] = {}
        self.sessions: set[str] = set()

    def add(self, item: JsonLine) -> Record | Rejection | None:
        value = item.value
        kind = fields.text(value, "type")
        session = fields.ident(value, "sessionId")
        version = fields.text(value, "version")
        cwd = fields.text(value, "cwd")
        facts: list[Fact] = []
        if session and session not in self.sessions and kind in ("user", "assistant"):
            self.sessions.add(session)
            facts += session_facts(
                session,
                "claude-code",
                {
                    "tool_version": version,
                    "cwd": cwd,
                    "git_branch": value.get("gitBranch"),
                    "time": value.get("timestamp"),
                },
            )
        message = fields.obj(value, "message")
        content = message.get("content")
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        if kind == "assistant":
            for block in blocks:
                if block.get("type") == "tool_use":
                    self.calls[fields.ident(block, "id", "message.content[].id") or ""] = {
                        "name": fields.text(block, "name", "message.content[].name"),
                        "input": fields.obj(block, "input", "message.content[].input"),
                        "model": fields.text(message, "model", "message.model"),
                        "version": version,
                    }
        elif kind == "user" and isinstance(value.get("toolUseResult"), dict):
            facts += self._outputs(value, blocks, session, cwd, version)
        if not facts:
            return None
        return Record(
            event_id=fields.ident(value, "uuid") or content_id(value),
            type=f"transcript.{kind}",
            payload=value,
            facts=facts,
            occurred_at=parse_time(value.get("timestamp")),
        )

    def _outputs(
        self,
        value: dict[str, Any],
        blocks: list[dict[str, Any]],
        session: str | None,
        cwd: str | None,
        version: str | None,
    ) -> list[Fact]:
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if not results or results[0].get("is_error"):
            return []
        use_id = fields.ident(results[0], "tool_use_id", "message.content[].tool_use_id") or ""
        call = self.calls.get(use_id)
        if call is None:
            return []
        name, tool_input = call["name"], call["input"]
        common = {
            "tool": "claude-code",
            "model": call["model"],
            "tool_version": call["version"] or version,
            "session": session,
            "time": fields.text(value, "timestamp"),
            "time_source": "transcript",
        }
        extra = {
            "tool_use_id": use_id,
            "uuid": fields.ident(value, "uuid"),
            "logical_parent": value.get("logicalParentUuid"),
            "sidechain": value.get("isSidechain") or None,
        }
        facts: list[Fact] = []
        if name in EDIT_TOOLS:
            path = fields.text(tool_input, "file_path", "input.file_path") or fields.text(
                tool_input, "notebook_path", "input.notebook_path"
            )
            if not path:
                return []
            added, more = claude_edit_lines(name, tool_input, value["toolUseResult"])
            facts += output_facts(
                AgentOutput(
                    key=use_id,
                    call=name,
                    location=self.resolver.locate(path, cwd),
                    added=added,
                    extra={**extra, **more},
                    **common,
                )
            )
        elif name == "Bash":
            command = fields.text(tool_input, "command", "input.command") or ""
            for write in shell_writes(command):
                facts += output_facts(
                    AgentOutput(
                        key=f"{use_id}:{write.path}",
                        call="Bash",
                        location=self.resolver.locate(write.path, cwd),
                        added=[(None, t) for t in write.lines],
                        extra={**extra, "shell_write": write.how},
                        **common,
                    )
                )
        return facts
