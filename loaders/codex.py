"""Loader `codex`: OpenAI Codex CLI / Desktop rollouts (and Codex hook payloads).

Rollouts are JSONL at ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl``, each line
``{timestamp, type, payload}``; mid-2025 rollouts start with a bare ``{id, timestamp,
instructions, git}`` line and no envelope. Edits come in three shapes by version: a
`function_call` named `shell` whose arguments run `apply_patch`, a `custom_tool_call` named
`apply_patch` (the patch in `input`), and `patch_apply_end` changes (which real rollouts mostly
do not persist). When `patch_apply_end` is present its unified diffs give line numbers.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lineage.eventlog import content_id
from lineage.facts import Batch, Fact, Record, Rejection
from lineage.loaders import fields
from lineage.loaders.agent_outputs import AgentOutput, output_facts, session_facts
from lineage.loaders.files import (
    JsonLine,
    RecordError,
    collect,
    expand_paths,
    json_objects,
    parse_json,
    parse_time,
)
from lineage.loaders.hooks import is_hook_payload, parse_hook
from lineage.loaders.patches import (
    FileChange,
    PatchError,
    parse_apply_patch,
    shell_writes,
    unified_diff_added,
)
from lineage.repos import RepoResolver, normalize_remote

SOURCE = "codex"
SUFFIXES = (".jsonl", ".json")
RESPONSE_ITEM_TYPES = {
    "message",
    "reasoning",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "local_shell_call",
    "web_search_call",
}
KNOWN_TYPES = {"session_meta", "response_item", "event_msg", "turn_context", "compacted"}


def load(
    paths: Iterable[str | Path], repo: str | None = None, *, local_git: bool = True
) -> Iterator[Batch]:
    resolver = RepoResolver(repo, local_git=local_git)
    for path in expand_paths(paths, SUFFIXES):
        yield read_rollout(path, resolver)


class _Session:
    def __init__(self) -> None:
        self.id: str | None = None
        self.cwd: str | None = None
        self.model: str | None = None
        self.version: str | None = None
        self.repo_url: str | None = None
        self.applied: dict[str, dict[str, Any]] = {}  # call_id -> patch_apply_end changes


def read_rollout(path: Path, resolver: RepoResolver) -> Batch:
    batch = Batch(SOURCE, input=str(path))
    items = json_objects(path, batch, "a rollout line")
    session = _Session()
    # patch_apply_end follows its call; read them first so the call's output gets line numbers.
    for item in items:
        payload = item.value.get("payload")
        if (
            item.value.get("type") == "event_msg"
            and isinstance(payload, dict)
            and payload.get("type") == "patch_apply_end"
            and payload.get("success", True)
            and isinstance(payload.get("call_id"), str)
        ):
            changes = _applied_changes(payload.get("changes"))
            if changes:
                session.applied[payload["call_id"]] = changes
    models: dict[str, str] = {}
    for n, item in enumerate(items):
        if is_hook_payload(item.value):
            collect(batch, item, parse_hook, resolver, models)
        else:
            collect(batch, item, _rollout_line, n == 0, session, resolver)
    return batch


def _rollout_line(
    item: JsonLine, first: bool, session: _Session, resolver: RepoResolver
) -> Record | Rejection | None:
    value = item.value
    kind = value.get("type")
    payload = value.get("payload")
    if first and "payload" not in value and "id" in value and "instructions" in value:
        # Old rollout header: {id, timestamp, instructions, git}.
        return _session_meta(value, value, session)
    if not isinstance(kind, str):
        return None
    if payload is None and kind in RESPONSE_ITEM_TYPES:
        kind, payload = "response_item", value  # old rollouts: bare response items
    if kind == "response.output_item.done" and isinstance(value.get("item"), dict):
        kind, payload = "response_item", value["item"]  # a Responses API stream event
    if kind not in KNOWN_TYPES or not isinstance(payload, dict):
        return None
    if kind == "session_meta":
        return _session_meta(value, payload, session)
    if kind == "turn_context":
        session.model = fields.text(payload, "model", "payload.model") or session.model
        session.cwd = fields.text(payload, "cwd", "payload.cwd") or session.cwd
        return None
    if kind == "response_item":
        return _response_item(item, payload, session, resolver)
    return None


def _session_meta(value: dict[str, Any], payload: dict[str, Any], session: _Session) -> Record:
    session.id = fields.ident(payload, "id") or fields.ident(payload, "session_id")
    session.cwd = fields.text(payload, "cwd")
    session.version = fields.text(payload, "cli_version")
    git = fields.obj(payload, "git")
    session.repo_url = fields.text(git, "repository_url", "git.repository_url")
    facts = session_facts(
        session.id or content_id(payload),
        "codex",
        {
            "tool_version": session.version,
            "originator": payload.get("originator"),
            "client": payload.get("source"),
            "cwd": session.cwd,
            "time": payload.get("timestamp"),
            "repo": normalize_remote(session.repo_url) if session.repo_url else None,
            "git_commit": git.get("commit_hash"),
            "git_branch": git.get("branch"),
        },
    )
    return _record(value, "session_meta", facts, payload.get("timestamp"))


def _response_item(
    item: JsonLine, payload: dict[str, Any], session: _Session, resolver: RepoResolver
) -> Record | Rejection | None:
    kind, name = payload.get("type"), payload.get("name")
    call_id = (
        fields.ident(payload, "call_id", "payload.call_id")
        or fields.ident(payload, "id", "payload.id")
        or content_id(payload)
    )
    patch: str | None = None
    command: str | None = None
    if kind == "custom_tool_call" and name == "apply_patch":
        patch = fields.text(payload, "input", "payload.input") or ""
    elif kind in ("function_call", "local_shell_call"):
        args = _arguments(payload)
        argv = args.get("command")
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            if argv and argv[0] == "apply_patch" and len(argv) > 1:
                patch = argv[1]
            else:
                command = " ".join(
                    argv[2:] if argv[:2] in (["bash", "-lc"], ["bash", "-c"]) else argv
                )
        elif isinstance(args.get("cmd") or argv, str):
            command = args.get("cmd") or argv
        if command and "*** Begin Patch" in command:
            patch, command = command, None
    if patch is None and command is None:
        return None
    changes: list[FileChange]
    if patch is not None:
        try:
            changes = parse_apply_patch(patch)
        except PatchError as exc:
            return Rejection(
                item.file, item.line, f"apply_patch input does not parse: {exc}", item.text[:10_000]
            )
    else:
        changes = [
            FileChange("update", w.path, added=[(None, t) for t in w.lines])
            for w in shell_writes(command or "")
        ]
    applied = session.applied.get(call_id, {})
    time = fields.text(item.value, "timestamp")
    facts: list[Fact] = []
    by_name: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for abs_path, diff in applied.items():  # found by file name: no scan per change
        by_name.setdefault(abs_path.rsplit("/", 1)[-1], []).append((abs_path, diff))
    for change in changes:
        if change.op == "delete":
            continue
        target = change.move_to or change.path
        added = change.added
        for abs_path, diff in by_name.get(target.rsplit("/", 1)[-1], []):
            if abs_path.endswith("/" + target.lstrip("/")) or abs_path == target:
                if diff.get("type") == "update" and diff.get("unified_diff"):
                    added = unified_diff_added(diff["unified_diff"])
                elif diff.get("type") == "add":
                    added = [(n, t) for n, t in enumerate(diff.get("content", "").split("\n"), 1)]
        location = resolver.locate(
            target,
            session.cwd,
            {"git_toplevel": session.cwd, "remote_url": session.repo_url}
            if session.repo_url and session.cwd
            else None,
        )
        facts += output_facts(
            AgentOutput(
                key=f"codex:{call_id}:{target}",
                tool="codex",
                call="apply_patch" if patch is not None else "shell",
                location=location,
                added=added,
                model=session.model,
                tool_version=session.version,
                session=session.id,
                time=time,
                time_source="rollout",
                extra={
                    "call_id": call_id,
                    "patch_op": change.op,
                    "positions_from": "patch_apply_end" if applied else None,
                },
            )
        )
    if not facts:
        return None
    return _record(item.value, "response_item", facts, time)


def _applied_changes(changes: Any) -> dict[str, dict[str, Any]]:
    """The well-formed file changes of a patch_apply_end ({path: {type, unified_diff |
    content}}); a malformed one gives none, so it cannot spoil the call it describes."""
    if not isinstance(changes, dict):
        return {}
    out = {}
    for path, diff in changes.items():
        if not isinstance(diff, dict) or not all(
            isinstance(diff.get(k, ""), str) for k in ("type", "unified_diff", "content")
        ):
            return {}
        out[path] = diff
    return out


def _arguments(payload: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments: a JSON object, or its text (an object given as a string)."""
    args = payload.get("arguments", payload.get("action"))
    if isinstance(args, str):
        try:
            args = parse_json(args)
        except RecordError:
            return {}
    return args if isinstance(args, dict) else {}


def _record(value: dict[str, Any], type_: str, facts: list[Fact], time: str | None) -> Record:
    return Record(
        event_id=content_id(value),
        type=type_,
        payload=value,
        facts=facts,
        occurred_at=parse_time(time),
    )
