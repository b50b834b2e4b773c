"""Loader `cursor`: Cursor's hook payloads, as `lineage capture cursor` spools them.

Cursor (``.cursor/hooks.json`` or ``~/.cursor/hooks.json``, ``"version": 1``) sends every hook
`conversation_id` (the session), `generation_id` (the turn), `model` (``default`` in Auto
mode: no model named), `hook_event_name`, `workspace_roots`, and no time (the capture's clock
dates it). What becomes an output:

- `afterFileEdit` / `afterTabFileEdit`: `file_path` and `edits` [{old_string, new_string}]:
  the new strings' lines (an edit from an empty file is the file written whole, numbered);
- `postToolUse` of `Write` (`tool_input` `contents` or `content`), `StrReplace`
  (`new_string`), `ApplyPatch` (the patch, or `tool_input.patch`) and `Shell` (what its
  command writes), the path as `file_path`, `path` or `filePath`;
- `sessionStart`: the session.

Everything else (prompts, reads, MCP calls, `stop`) is ignored and counted. Shapes from
https://cursor.com/docs/agent/hooks; install `afterFileEdit` and `sessionStart` (the README
gives the line): `postToolUse` describes the same edits again.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lineage.eventlog import content_id
from lineage.facts import Batch, Record, Rejection
from lineage.loaders import fields
from lineage.loaders.agent_outputs import AgentOutput, session_facts
from lineage.loaders.files import JsonLine, RecordError
from lineage.loaders.hooks import (
    HOOK_SUFFIXES,
    capture_time,
    hook_record,
    load_hook_files,
    outputs_record,
    spooled_raw,
)
from lineage.loaders.patches import (
    AddedLine,
    PatchError,
    parse_apply_patch,
    shell_writes,
    whole_file_lines,
)
from lineage.repos import RepoResolver, posix_path

SOURCE = "cursor"
TOOL = "cursor"
SUFFIXES = HOOK_SUFFIXES
EDIT_EVENTS = ("afterFileEdit", "afterTabFileEdit")
NO_MODEL = {"", "default", "auto"}  # the composer's setting, not a model


def load(
    paths: Iterable[str | Path], repo: str | None = None, *, local_git: bool = True
) -> Iterator[Batch]:
    return load_hook_files(paths, SOURCE, parse_payload, repo, local_git=local_git)


def workspace_of(value: dict[str, Any], path: str | None) -> str | None:
    """The workspace root that holds `path` (else the first root, else `cwd`)."""
    roots = [posix_path(r) for r in fields.items(value, "workspace_roots") if isinstance(r, str)]
    target = posix_path(path) if path else ""
    for root in roots:
        if target.startswith(root.rstrip("/") + "/"):
            return root
    return fields.text(value, "cwd") or (roots[0] if roots else None)


def _edit_lines(edits: list[dict[str, Any]], where: str) -> list[AddedLine]:
    added: list[AddedLine] = []
    for edit in edits:
        new = edit.get("new_string")
        if not isinstance(new, str):
            raise RecordError(f"{where}: an edit's new_string must be a string")
        if edit.get("old_string") == "" and len(edits) == 1:
            return whole_file_lines(new)  # a file written from nothing: its lines are known
        added += [(None, line) for line in new.split("\n")]
    return added


def parse_payload(
    item: JsonLine, resolver: RepoResolver, models: dict[str, str]
) -> Record | Rejection | None:
    """A Record for an edit or a session, a Rejection for a payload that cannot be read,
    None for one that wrote nothing."""
    if (unread := spooled_raw(item)) is not None:
        return unread
    value = item.value
    enrichment = fields.obj(value, "_lineage")
    event = fields.text(value, "hook_event_name") or fields.text(enrichment, "event")
    session = fields.ident(value, "conversation_id") or fields.ident(value, "session_id")
    setting = fields.text(value, "model")
    model = None if (setting or "").lower() in NO_MODEL else setting
    if session and model:
        models[session] = model
    model = model or models.get(session or "")
    time, time_source = capture_time(enrichment, item)
    git = {k: v for k, v in enrichment.items() if isinstance(v, str)}
    common = {
        "generation_id": fields.ident(value, "generation_id"),
        "hook_event": event,
        "model_setting": setting if setting and not model else None,
        "cursor_version": fields.text(value, "cursor_version"),
    }
    if event == "sessionStart" and session:
        attrs = {
            "model": model,
            "cwd": workspace_of(value, None),
            "composer_mode": value.get("composer_mode"),
            "background_agent": value.get("is_background_agent"),
            "time": time,
            "time_source": time_source,
        }
        return hook_record(value, "session", session_facts(session, TOOL, attrs))

    def output(key: str, call: str, path: str, added: list[AddedLine]) -> AgentOutput:
        return AgentOutput(
            key=key,
            tool=TOOL,
            call=call,
            location=resolver.locate(path, workspace_of(value, path), git),
            added=added,
            model=model,
            session=session,
            time=time,
            time_source=time_source,
            tool_version=common["cursor_version"],
            extra={k: v for k, v in common.items() if k != "cursor_version"},
        )

    key = fields.ident(value, "tool_use_id") or content_id(value)
    outputs: list[AgentOutput] = []
    if event in EDIT_EVENTS:
        path = fields.text(value, "file_path")
        if not path:
            return Rejection(item.file, item.line, f"{event} without a file_path", item.text)
        edits = fields.objects(value, "edits")
        outputs.append(output(key, event, path, _edit_lines(edits, event)))
    elif event == "postToolUse":
        outputs += _tool_outputs(value, key, output)
    return outputs_record(value, outputs)


def _tool_outputs(value: dict[str, Any], key: str, output: Any) -> list[AgentOutput]:
    """The outputs of a `postToolUse` of a tool that writes files."""
    name = fields.text(value, "tool_name") or ""
    raw_input = value.get("tool_input")
    tool_input = raw_input if isinstance(raw_input, dict) else {}
    path = next(
        (p for k in ("file_path", "path", "filePath") if (p := fields.text(tool_input, k))), None
    )
    if name == "Write" and path:
        content = fields.text(tool_input, "contents") or fields.text(tool_input, "content") or ""
        return [output(key, name, path, whole_file_lines(content))]
    if name == "StrReplace" and path:
        new = fields.text(tool_input, "new_string") or ""
        return [output(key, name, path, [(None, line) for line in new.split("\n")])]
    if name == "ApplyPatch":
        patch = raw_input if isinstance(raw_input, str) else fields.text(tool_input, "patch")
        try:
            changes = parse_apply_patch(patch or "")
        except PatchError as exc:
            raise RecordError(f"ApplyPatch does not parse: {exc}") from exc
        return [
            output(f"{key}:{c.move_to or c.path}", name, c.move_to or c.path, c.added)
            for c in changes
            if c.op != "delete"
        ]
    if name == "Shell":
        command = fields.text(tool_input, "command") or ""
        return [
            output(f"{key}:{w.path}", name, w.path, [(None, t) for t in w.lines])
            for w in shell_writes(command)
        ]
    return []
