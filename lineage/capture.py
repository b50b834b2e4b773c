"""`lineage capture claude-code|codex|cursor|gemini-cli|copilot`: the hook command an agent
runs on every tool call.

It reads the hook payload on stdin, adds what only this machine knows (UTC capture time, git
toplevel, remote URL, HEAD, user) under `_lineage`, and appends one line to the spool
(default ``~/.lineage/spool/<tool>.jsonl``). It must never slow down or break the agent: it
always exits 0, bounds every git call, and a payload it cannot parse is spooled raw (the
ingest then rejects it with the reason and keeps it). With ``--server URL --token T`` it posts
the enriched payload to a running `lineage serve` instead (``POST /events``, half a second at
most) and spools it when the server cannot be reached or refuses it.

In ``.claude/settings.json``::

    {"hooks": {"PostToolUse": [{"matcher": "Write|Edit|MultiEdit|NotebookEdit|Bash",
       "hooks": [{"type": "command", "command": "lineage capture claude-code"}]}],
     "SessionStart": [{"hooks": [{"type": "command", "command": "lineage capture claude-code"}]}]}}
"""

import contextlib
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from lineage.repos import local_repo

GIT_TIMEOUT = 0.25  # seconds per git call; three calls at most
SEND_TIMEOUT = 0.5  # seconds for the POST to a server


def default_spool(tool: str) -> Path:
    return Path.home() / ".lineage" / "spool" / f"{tool}.jsonl"


def enrich(payload: dict[str, Any], tool: str, event: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"captured_at": datetime.now(UTC).isoformat(), "tool": tool}
    if event:  # Copilot CLI's camelCase payloads do not name their event
        info["event"] = event
    with contextlib.suppress(KeyError, OSError):
        info["user"] = getpass.getuser()
    cwd = payload.get("cwd")
    roots = payload.get("workspace_roots")  # Cursor: no cwd, its workspace folders
    if not (isinstance(cwd, str) and cwd) and isinstance(roots, list) and roots:
        cwd = roots[0]
    if isinstance(cwd, str) and cwd:
        try:
            repo = local_repo(cwd, GIT_TIMEOUT)
        except OSError:
            repo = None
        if repo is not None:
            info |= {"git_toplevel": repo.toplevel, "remote_url": repo.remote, "head": repo.head}
    return {**payload, "_lineage": info}


def send(server: str, token: str | None, tool: str, line: dict[str, Any]) -> bool:
    """POST one enriched payload to a lineage server; False when it was not accepted."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{server.rstrip('/')}/events?source={tool}",
        method="POST",
        data=(json.dumps(line, ensure_ascii=False) + "\n").encode(),
        headers={
            "Content-Type": "application/x-ndjson",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"lineage capture: cannot send to {server} ({exc}); spooled instead", file=sys.stderr)
        return False


def decode_payload(raw: bytes) -> str:
    """The payload's text: UTF-8, or UTF-16 as Cursor on Windows writes it (with a byte order
    mark, or without one: then every other byte of JSON's ASCII is zero). UnicodeDecodeError
    only for UTF-16 that does not decode."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    if len(raw) >= 2 and raw[1:2] == b"\x00" and raw[0:1] != b"\x00":
        return raw.decode("utf-16-le")
    if len(raw) >= 2 and raw[0:1] == b"\x00" and raw[1:2] != b"\x00":
        return raw.decode("utf-16-be")
    # bytes that are not UTF-8 stay visible (escaped): the ingest rejects and keeps them
    return raw.decode("utf-8", "surrogateescape")


def capture(
    tool: str,
    stdin: TextIO,
    spool: Path,
    server: str | None = None,
    token: str | None = None,
    event: str | None = None,
) -> str:
    """Send or spool one payload; returns what happened (for tests), never raises."""
    read_error: str | None
    try:
        binary = getattr(stdin, "buffer", None)
        text = decode_payload(binary.read()) if binary is not None else stdin.read()
    except (OSError, ValueError) as exc:
        text, read_error = "", str(exc)
    else:
        read_error = None
    if not text.strip() and read_error is None:
        return "empty"
    try:
        payload = json.loads(text)
        if not isinstance(payload, dict):
            raise ValueError("the payload is not a JSON object")
        line = enrich(payload, tool, event)
        if server and send(server, token, tool, line):
            return "sent"
        outcome = "spooled"
    except ValueError as exc:
        line = {
            "_lineage": {
                "captured_at": datetime.now(UTC).isoformat(),
                "tool": tool,
                "error": read_error or str(exc),
                "raw": text,
            }
        }
        outcome = "spooled-raw"
    try:
        spool.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(line) + "\n"  # ASCII: a lone surrogate cannot fail the write
        with open(spool, "a", encoding="utf-8") as fh:  # one write: appends stay whole lines
            fh.write(data)
    except OSError as exc:
        print(f"lineage capture: cannot write {spool}: {exc}", file=sys.stderr)
        return "lost"
    return outcome


def main(
    tool: str,
    spool: str | None,
    server: str | None = None,
    token: str | None = None,
    event: str | None = None,
) -> int:
    target = Path(spool) if spool else Path(os.environ.get("LINEAGE_SPOOL") or default_spool(tool))
    try:
        capture(
            tool,
            sys.stdin,
            target,
            server or os.environ.get("LINEAGE_SERVER"),
            token or os.environ.get("LINEAGE_TOKEN"),
            event,
        )
    except Exception as exc:  # noqa: BLE001 - the agent must never see a failure
        print(f"lineage capture: {exc}", file=sys.stderr)
    return 0
