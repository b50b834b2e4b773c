"""Loader `copilot`: GitHub Copilot CLI's hook payloads, as `lineage capture copilot` spools them.

Copilot CLI (``.github/hooks/*.json`` or ``~/.copilot/hooks/*.json``, ``"version": 1``) sends
one of two dialects, by how the hooks file spells the event:

- `postToolUse` (camelCase): {sessionId, timestamp (Unix ms), cwd, toolName, toolArgs,
  toolResult {resultType, textResultForLlm}}, no event name (the capture's `--event` names
  it, else the shape does); `toolArgs` is a JSON string in CLI 1.0.5 to 1.0.68, an object in
  1.0.83, raw patch text for `apply_patch`;
- `PostToolUse` (PascalCase, "VS Code compatible"): {hook_event_name, session_id, timestamp
  (ISO 8601), cwd, tool_name, tool_input, tool_result {result_type, ...}}; from CLI 1.0.62 its
  `Edit` and `Write` carry apply-patch text.

Outputs: `create` ({path, file_text}: the file written whole), `edit` / `str_replace` /
`str_replace_editor` ({path, new_str}), `apply_patch`, `Edit`, `Write` (a patch's added lines)
and `bash` (what its command writes), unless the tool failed or was denied. `sessionStart` is
the session. No payload names the model. Shapes from
https://docs.github.com/en/copilot/reference/hooks-configuration and captures of CLI 1.0.68
and 1.0.83 (tests/fixtures/copilot).
"""

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
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
from lineage.repos import RepoResolver

SOURCE = "copilot"
TOOL = "copilot"
SUFFIXES = HOOK_SUFFIXES
CREATE_TOOLS = ("create",)
EDIT_TOOLS = ("edit", "str_replace", "str_replace_editor")
PATCH_TOOLS = ("apply_patch", "Edit", "Write")
SHELL_TOOLS = ("bash", "Bash", "shell")


def load(
    paths: Iterable[str | Path], repo: str | None = None, *, local_git: bool = True
) -> Iterator[Batch]:
    return load_hook_files(paths, SOURCE, parse_payload, repo, local_git=local_git)


def event_of(value: dict[str, Any]) -> str | None:
    """The hook event, as the payload names it, or its capture did, or its shape shows."""
    named = fields.text(value, "hook_event_name") or fields.text(
        fields.obj(value, "_lineage"), "event", "_lineage.event"
    )
    if named:
        return named[0].lower() + named[1:]
    if "toolName" in value:
        return "postToolUse" if "toolResult" in value else "preToolUse"
    if "initialPrompt" in value or ("source" in value and "sessionId" in value):
        return "sessionStart"
    return None


def _time(value: dict[str, Any]) -> str | None:
    stamp = value.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp / 1000, UTC).isoformat()
        except (OverflowError, OSError, ValueError) as exc:
            raise RecordError(f"timestamp {stamp!r} is not a time in milliseconds") from exc
    return stamp if isinstance(stamp, str) and stamp else None


def _arguments(value: dict[str, Any]) -> dict[str, Any] | str:
    """A tool's arguments: an object, or the text of a patch (a JSON string parsed)."""
    raw = value.get("toolArgs", value.get("tool_input"))
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return raw  # patch text
        return parsed if isinstance(parsed, dict | str) else raw
    if raw is None or isinstance(raw, dict):
        return raw or {}
    raise RecordError(f"toolArgs must be an object or a JSON string, not {type(raw).__name__}")


def parse_payload(
    item: JsonLine, resolver: RepoResolver, models: dict[str, str]
) -> Record | Rejection | None:
    """A Record for a write or a session, a Rejection for a payload that cannot be read,
    None for one that wrote nothing."""
    if (unread := spooled_raw(item)) is not None:
        return unread
    value = item.value
    enrichment = fields.obj(value, "_lineage")
    event = event_of(value)
    session = fields.ident(value, "sessionId") or fields.ident(value, "session_id")
    cwd = fields.text(value, "cwd")
    stamped = _time(value)
    time, time_source = (stamped, "record") if stamped else capture_time(enrichment, item)
    if event == "sessionStart" and session:
        attrs = {"cwd": cwd, "start_source": value.get("source"), "time": time}
        return hook_record(
            value, "session", session_facts(session, TOOL, attrs | {"time_source": time_source})
        )
    if event != "postToolUse":
        return None
    result = value.get("toolResult", value.get("tool_result"))
    outcome = None
    if isinstance(result, dict):
        outcome = result.get("resultType", result.get("result_type"))
    if outcome in ("failure", "denied"):
        return None  # the tool did not run to the end: nothing it wrote is known
    name = fields.text(value, "toolName") or fields.text(value, "tool_name") or ""
    args = _arguments(value)
    git = {k: v for k, v in enrichment.items() if isinstance(v, str)}
    key = content_id(value)

    def output(key: str, path: str, added: list[AddedLine]) -> AgentOutput:
        return AgentOutput(
            key=key,
            tool=TOOL,
            call=name,
            location=resolver.locate(path, cwd, git),
            added=added,
            session=session,
            time=time,
            time_source=time_source,
            extra={"hook_event": event},
        )

    outputs: list[AgentOutput] = []
    patch = (
        args if isinstance(args, str) else fields.text(args, "input") or fields.text(args, "patch")
    )
    if patch is not None and name in PATCH_TOOLS + EDIT_TOOLS + CREATE_TOOLS:
        try:
            changes = parse_apply_patch(patch)
        except PatchError as exc:
            return Rejection(item.file, item.line, f"{name} patch does not parse: {exc}", item.text)
        outputs += [
            output(f"{key}:{c.move_to or c.path}", c.move_to or c.path, c.added)
            for c in changes
            if c.op != "delete"
        ]
    elif isinstance(args, str):
        return None  # text arguments of a tool that writes no file
    elif name in CREATE_TOOLS + EDIT_TOOLS + PATCH_TOOLS:
        # an object: {path, file_text} / {path, old_str, new_str}, or Claude's names for them
        path = fields.text(args, "path", "toolArgs.path") or fields.text(
            args, "file_path", "toolArgs.file_path"
        )
        if not path:
            return Rejection(item.file, item.line, f"{name} call without a path", item.text)
        text = fields.text(args, "file_text", "toolArgs.file_text")
        if text is None and name == "Write":
            text = fields.text(args, "content", "toolArgs.content")
        if text is not None and (
            name in CREATE_TOOLS or name == "Write" or fields.text(args, "command") == "create"
        ):
            added = whole_file_lines(text)
        else:
            new = fields.text(args, "new_str", "toolArgs.new_str")
            if new is None:
                new = fields.text(args, "new_string", "toolArgs.new_string") or ""
            added = [(None, line) for line in new.split("\n")]
        outputs.append(output(key, path, added))
    elif name in SHELL_TOOLS:
        command = fields.text(args, "command", "toolArgs.command") or ""
        outputs += [
            output(f"{key}:{w.path}", w.path, [(None, t) for t in w.lines])
            for w in shell_writes(command)
        ]
    return outputs_record(value, outputs)
