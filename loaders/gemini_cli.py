"""Loader `gemini-cli`: Gemini CLI's hook payloads, as `lineage capture gemini-cli` spools them.

Gemini CLI (``settings.json`` `hooks`) sends every hook `session_id`, `transcript_path`,
`cwd`, `hook_event_name` and `timestamp` (ISO 8601). What becomes an output is an `AfterTool`
of a tool that writes files, unless it failed (`tool_response.error`):

- `write_file` (`tool_input` {file_path, content}) and `replace` ({file_path, old_string,
  new_string, ...}): on success `tool_response.returnDisplay` is the file's diff
  ({fileDiff, filePath, originalContent, newContent, ...}), whose added lines are numbered
  in the new file; without it, `content` is the file written whole and `new_string` lines
  are unnumbered;
- `run_shell_command`: what its command writes.

`SessionStart` is the session. No tool payload names the model; a `BeforeModel` payload does
(`llm_request.model`), and the model it names holds for the session's later outputs. Shapes
from google-gemini/gemini-cli `packages/core/src/hooks/types.ts` and
https://geminicli.com/docs/hooks/reference.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lineage.eventlog import content_id
from lineage.facts import Batch, Record, Rejection
from lineage.loaders import fields
from lineage.loaders.agent_outputs import AgentOutput, session_facts
from lineage.loaders.files import JsonLine
from lineage.loaders.hooks import (
    HOOK_SUFFIXES,
    capture_time,
    hook_record,
    load_hook_files,
    outputs_record,
    spooled_raw,
)
from lineage.loaders.patches import AddedLine, shell_writes, unified_diff_added, whole_file_lines
from lineage.repos import RepoResolver

SOURCE = "gemini-cli"
TOOL = "gemini-cli"
SUFFIXES = HOOK_SUFFIXES
WRITE_TOOLS = ("write_file", "WriteFile")
EDIT_TOOLS = ("replace", "edit")
SHELL_TOOLS = ("run_shell_command", "shell")


def load(
    paths: Iterable[str | Path], repo: str | None = None, *, local_git: bool = True
) -> Iterator[Batch]:
    return load_hook_files(paths, SOURCE, parse_payload, repo, local_git=local_git)


def written_lines(
    tool: str, tool_input: dict[str, Any], response: dict[str, Any]
) -> list[AddedLine]:
    """The lines a file tool wrote: its diff's added lines (numbered) when the response has
    the diff, else the content written whole, else the new string's lines (unnumbered)."""
    display = response.get("returnDisplay")
    if isinstance(display, dict):
        diff = fields.text(display, "fileDiff", "tool_response.returnDisplay.fileDiff")
        if diff:
            return unified_diff_added(diff)
        new = fields.text(display, "newContent", "tool_response.returnDisplay.newContent")
        if new is not None and not display.get("originalContent"):
            return whole_file_lines(new)
    if tool in WRITE_TOOLS:
        return whole_file_lines(fields.text(tool_input, "content", "tool_input.content") or "")
    new_string = fields.text(tool_input, "new_string", "tool_input.new_string") or ""
    return [(None, line) for line in new_string.split("\n")]


def parse_payload(
    item: JsonLine, resolver: RepoResolver, models: dict[str, str]
) -> Record | Rejection | None:
    """A Record for a write or a session, a Rejection for a payload that cannot be read,
    None for one that wrote nothing."""
    if (unread := spooled_raw(item)) is not None:
        return unread
    value = item.value
    enrichment = fields.obj(value, "_lineage")
    event = fields.text(value, "hook_event_name")
    session = fields.ident(value, "session_id")
    cwd = fields.text(value, "cwd")
    stamped = fields.text(value, "timestamp")
    time, time_source = (stamped, "record") if stamped else capture_time(enrichment, item)
    if event == "BeforeModel":  # the only payload that names the model: keep it, log nothing
        request = value.get("llm_request")
        chosen = request.get("model") if isinstance(request, dict) else None
        if session and isinstance(chosen, str) and chosen:
            models[session] = chosen
        return None
    model = models.get(session or "")
    if event == "SessionStart" and session:
        attrs = {
            "cwd": cwd,
            "start_source": value.get("source"),
            "model": model,
            "time": time,
            "time_source": time_source,
        }
        return hook_record(value, "session", session_facts(session, TOOL, attrs))
    if event != "AfterTool":
        return None
    name = fields.text(value, "tool_name") or ""
    tool_input = fields.obj(value, "tool_input")
    response = fields.obj(value, "tool_response")
    if response.get("error"):
        return None  # the tool failed: it wrote nothing
    git = {k: v for k, v in enrichment.items() if isinstance(v, str)}
    key = content_id(value)

    def output(key: str, path: str, added: list[AddedLine]) -> AgentOutput:
        return AgentOutput(
            key=key,
            tool=TOOL,
            call=name,
            location=resolver.locate(path, cwd, git),
            added=added,
            model=model,
            session=session,
            time=time,
            time_source=time_source,
            extra={"hook_event": event, "instruction": tool_input.get("instruction")},
        )

    outputs: list[AgentOutput] = []
    if name in WRITE_TOOLS + EDIT_TOOLS:
        display = response.get("returnDisplay")
        path = fields.text(tool_input, "file_path", "tool_input.file_path") or (
            fields.text(display, "filePath") if isinstance(display, dict) else None
        )
        if not path:
            return Rejection(item.file, item.line, f"{name} call without a file_path", item.text)
        outputs.append(output(key, path, written_lines(name, tool_input, response)))
    elif name in SHELL_TOOLS:
        command = fields.text(tool_input, "command", "tool_input.command") or ""
        outputs += [
            output(f"{key}:{w.path}", w.path, [(None, t) for t in w.lines])
            for w in shell_writes(command)
        ]
    return outputs_record(value, outputs)
