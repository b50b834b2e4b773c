"""Agent hook payloads (Claude Code, and Codex, whose hooks are shaped like Claude's).

One JSON object per hook call, as `lineage capture` spools them (with a `_lineage` enrichment:
capture time, git toplevel, remote, HEAD, user) or as saved by hand. Only PostToolUse of a tool
that writes files becomes an output; SessionStart becomes a session; the rest is ignored and
counted. The tool is decided from the payload, never from hook_event_name alone.
"""

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lineage.eventlog import content_id
from lineage.facts import Batch, Fact, Node, Record, Rejection
from lineage.loaders import fields
from lineage.loaders.agent_outputs import AgentOutput, output_facts, session_facts
from lineage.loaders.files import JsonLine, RecordError, collect, expand_paths, json_objects
from lineage.loaders.patches import (
    PatchError,
    located_lines,
    parse_apply_patch,
    shell_writes,
    structured_patch_added,
    whole_file_lines,
)
from lineage.repos import RepoResolver

HOOK_SUFFIXES = (".jsonl", ".json")  # spool files of the agents whose records are hooks only
EDIT_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit")
OTHER_AGENTS = ("cursor", "gemini-cli", "copilot")  # captured for their own loaders
MAX_LOCATED_EDITS = 1000  # edits of one MultiEdit located in the original file


def is_hook_payload(value: dict[str, Any]) -> bool:
    """A hook payload, or what `lineage capture` spooled raw because it could not parse it."""
    enrichment = value.get("_lineage")
    return "hook_event_name" in value or (isinstance(enrichment, dict) and "raw" in enrichment)


def hook_tool(value: dict[str, Any]) -> str:
    """claude-code or codex, from what the payload itself shows."""
    use_id = str(value.get("tool_use_id", ""))
    if (
        use_id.startswith("exec-")
        or "turn_id" in value
        or value.get("tool_name") == "apply_patch"
        or "/.codex/" in str(value.get("transcript_path", "")).replace("\\", "/")
        or fields.obj(value, "_lineage").get("tool") == "codex"
    ):
        return "codex"
    return "claude-code"


def capture_time(enrichment: dict[str, Any], item: JsonLine) -> tuple[str, str]:
    """When a payload was captured, and how that is known: the capture's own clock, else the
    spool file's mtime, else now (for agents whose payloads carry no time)."""
    captured = fields.text(enrichment, "captured_at", "_lineage.captured_at")
    if captured:
        return captured, "capture"
    mtime = os.stat(item.file).st_mtime if Path(item.file).exists() else None
    if mtime is None:
        return datetime.now(UTC).isoformat(), "ingest"
    return datetime.fromtimestamp(mtime, UTC).isoformat(), "file-mtime"


def spooled_raw(item: JsonLine) -> Rejection | None:
    """The rejection of a payload `lineage capture` could not parse and spooled raw."""
    enrichment = fields.obj(item.value, "_lineage")
    if "raw" not in enrichment:
        return None
    return Rejection(
        item.file,
        item.line,
        f"capture could not parse this hook payload: {enrichment.get('error')}",
        str(enrichment["raw"])[:10_000],
    )


def load_hook_files(
    paths: Iterable[str | Path],
    source: str,
    parse: Callable[[JsonLine, RepoResolver, dict[str, str]], Record | Rejection | None],
    repo: str | None = None,
    *,
    local_git: bool = True,
) -> Iterator[Batch]:
    """The `load` of an agent whose records are hook payloads only: one batch per spool
    file, each line read by `parse` (with the models sessions named so far), with a note for
    files in no known repository."""
    resolver = RepoResolver(repo, local_git=local_git)
    for path in expand_paths(paths, HOOK_SUFFIXES):
        batch = Batch(source, input=str(path))
        models: dict[str, str] = {}
        for item in json_objects(path, batch, "a hook payload"):
            collect(batch, item, parse, resolver, models)
        note_unresolved(batch, path)
        yield batch


def note_unresolved(batch: Batch, path: Path) -> None:
    """Note the files of `batch`'s outputs that lie in no known repository, if any."""
    unresolved = sorted(
        {
            str(f.attrs["path"])
            for r in batch.records
            for f in r.facts
            if isinstance(f, Node) and f.attrs.get("repo_resolution") == "unresolved"
        }
    )
    if unresolved:
        batch.notes.append(
            f"{path}: {len(unresolved)} file(s) in no known repository (give --repo URL, or "
            f"ingest on the machine that ran the agent): {', '.join(unresolved[:3])}"
        )


def hook_record(value: dict[str, Any], type_: str, facts: list[Fact]) -> Record:
    """The record of one hook payload, its id the payload's content (the same payload spooled
    twice is one record)."""
    return Record(event_id=content_id(value), type=type_, payload=value, facts=facts)


def outputs_record(value: dict[str, Any], outputs: list[AgentOutput]) -> Record | None:
    """The record of a payload's outputs; None when it wrote nothing (ignored)."""
    if not outputs:
        return None
    facts: list[Fact] = []
    for out in outputs:
        facts += output_facts(out)
    return hook_record(value, "output", facts)


def parse_hook(
    item: JsonLine, resolver: RepoResolver, models: dict[str, str]
) -> Record | Rejection | None:
    """A Record for a payload that produced something, a Rejection for one that cannot be
    read, None for one that is irrelevant (ignored)."""
    value = item.value
    enrichment = fields.obj(value, "_lineage")
    if (unread := spooled_raw(item)) is not None:
        return unread
    captured_for = fields.text(enrichment, "tool", "_lineage.tool")
    if captured_for in OTHER_AGENTS:  # read as Claude's, its outputs would name the wrong tool
        return Rejection(
            item.file,
            item.line,
            f"a {captured_for} hook payload (spooled by `lineage capture {captured_for}`): "
            f"ingest it with `lineage ingest {captured_for}`",
            item.text[:10_000],
        )
    event = fields.text(value, "hook_event_name")
    session = fields.ident(value, "session_id")
    tool = hook_tool(value)
    time, time_source = capture_time(enrichment, item)
    cwd = fields.text(value, "cwd")
    model = fields.text(value, "model")
    if event == "SessionStart" and session:
        if model:
            models[session] = model
        return hook_record(
            value,
            "session",
            session_facts(
                session,
                tool,
                {
                    "model": model,
                    "cwd": cwd,
                    "start_source": value.get("source"),
                    "time": time,
                    "time_source": time_source,
                },
            ),
        )
    if event != "PostToolUse":
        return None
    name = fields.text(value, "tool_name")
    tool_input = fields.obj(value, "tool_input")
    response = value.get("tool_response")
    use_id = fields.ident(value, "tool_use_id") or content_id(value)
    model = model or models.get(session or "")
    git = {k: v for k, v in enrichment.items() if isinstance(v, str)}

    def make(key: str, call: str, path: str, added: list, extra: dict | None = None) -> AgentOutput:
        location = resolver.locate(path, cwd, git)
        return AgentOutput(
            key=key,
            tool=tool,
            call=call,
            location=location,
            added=added,
            model=model,
            session=session,
            time=time,
            time_source=time_source,
            tool_version=git.get("tool_version"),
            extra={
                "tool_use_id": fields.ident(value, "tool_use_id"),
                "agent_id": value.get("agent_id"),
                "hook_event": event,
                **(extra or {}),
            },
        )

    outputs: list[AgentOutput] = []
    if name in EDIT_TOOLS:
        path = fields.text(tool_input, "file_path", "tool_input.file_path") or fields.text(
            tool_input, "notebook_path", "tool_input.notebook_path"
        )
        if not path:
            return Rejection(
                item.file, item.line, f"{name} call without a file path", item.text or None
            )
        added, extra = claude_edit_lines(
            name, tool_input, response if isinstance(response, dict) else {}
        )
        outputs.append(make(use_id, name, path, added, extra))
    elif name == "apply_patch":
        patch = tool_input.get("command") or tool_input.get("input") or ""
        if isinstance(patch, list) and all(isinstance(p, str) for p in patch):
            patch = "\n".join(patch)
        if not isinstance(patch, str):
            raise RecordError("`tool_input.command` of apply_patch must be the patch text")
        try:
            changes = parse_apply_patch(patch)
        except PatchError as exc:
            return Rejection(
                item.file, item.line, f"apply_patch does not parse: {exc}", item.text or None
            )
        outputs += [
            make(
                f"{use_id}:{c.move_to or c.path}",
                "apply_patch",
                c.move_to or c.path,
                c.added,
                {"patch_op": c.op},
            )
            for c in changes
            if c.op != "delete"
        ]
    elif name == "Bash":
        writes = shell_writes(fields.text(tool_input, "command", "tool_input.command") or "")
        outputs += [
            make(
                f"{use_id}:{w.path}",
                "Bash",
                w.path,
                [(None, t) for t in w.lines],
                {"shell_write": w.how},
            )
            for w in writes
        ]
    return outputs_record(value, outputs)


def claude_edit_lines(
    name: str, tool_input: dict[str, Any], result: dict[str, Any]
) -> tuple[list, dict[str, Any]]:
    """The lines a Claude Code edit tool wrote, numbered where the record allows:
    structuredPatch first, else old/new strings located in the original file, else the content.
    """
    extra: dict[str, Any] = {}
    if "userModified" in result:
        extra["user_modified"] = bool(result["userModified"])
    patch = fields.objects(result, "structuredPatch")
    if name == "Write":
        content = fields.text(result, "content")
        if content is None:
            content = fields.text(tool_input, "content", "input.content") or ""
        if result.get("type") == "update" and patch:
            return structured_patch_added(patch), extra
        return whole_file_lines(content), extra
    if patch:
        return structured_patch_added(patch), extra
    if name == "Edit":
        original = fields.text(result, "originalFile") or ""
        return located_lines(
            original,
            fields.text(tool_input, "old_string") or "",
            fields.text(tool_input, "new_string") or "",
        ), extra
    if name == "MultiEdit":
        original = (
            fields.text(result, "originalFileContents") or fields.text(result, "originalFile") or ""
        )
        added: list = []
        for n, edit in enumerate(fields.objects(tool_input, "edits")):
            new = fields.text(edit, "new_string") or ""
            if n < MAX_LOCATED_EDITS:
                added += located_lines(original, fields.text(edit, "old_string") or "", new)
            else:  # each search reads the whole file: past this many, the lines go unnumbered
                added += [(None, line) for line in new.split("\n")]
        return added, extra
    source = fields.text(tool_input, "new_source") or ""
    extra["cell_id"] = tool_input.get("cell_id")
    return [(None, line) for line in source.split("\n")], extra
