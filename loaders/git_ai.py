"""git-ai authorship notes (git-ai-project/git-ai, authorship standard 3.0.0).

One note per commit under `refs/notes/ai`: an attestation (a path at line start, quoted when it
has spaces, then lines indented by two spaces: `<key> <ranges>`, ranges 1-based such as
`1-10,15-20`), a line `---`, then a JSON object. Keys keep git-ai's three kinds of line:
`s_<14hex>::t_<14hex>` an agent session (looked up in `sessions`), a legacy 16-hex key (looked
up in `prompts`), both AI; `h_<14hex>` a known human (`humans`). Lines no key covers are
untracked: their origin is unknown. Notes are read as bytes, a note at a time, so a note in any
encoding and any number of notes read in bounded memory.
"""

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from lineage.loaders.git_log import GitFailed, cat_objects, run_git, unquote_c
from lineage.tools import canonical_tool

NOTES_REF = "refs/notes/ai"
_SEPARATOR = re.compile(rb"^---$", re.MULTILINE)  # the line between attestation and metadata
MAX_LINE = 10_000_000  # a range past this is not a real file's line: the note is damaged


@dataclass(frozen=True)
class NoteRanges:
    """The lines of `path` one key of a note covers: `kind` 'ai' (with the agent's tool and
    model when the note names them) or 'human'."""

    path: str
    key: str
    kind: str
    tool: str | None
    model: str | None
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Note:
    """One commit's note, read: its ranges, a problem found reading it (or None), and what
    of it is kept as evidence (the attestation, the agents and humans it names, the note's
    blob id to read the rest, such as prompt transcripts, with `git cat-file`)."""

    ranges: list[NoteRanges]
    problem: str | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class CommitNotes:
    """The notes of some commits, and the blob each path they attest AI lines of has in
    its commit's tree, keyed (commit, path): the version those lines are attributed to."""

    notes: dict[str, Note]
    blobs: dict[tuple[str, str], str]


def read_commit_notes(repo: Path, commits: Sequence[str]) -> CommitNotes:
    """The notes of `commits` and the blobs of the paths they attest (the git loader reads
    them a part of the history at a time, beside that part's diffs)."""
    notes = read_notes(repo, commits)
    return CommitNotes(notes, attested_blobs(repo, notes))


def attested_blobs(repo: Path, notes: dict[str, Note]) -> dict[tuple[str, str], str]:
    """(commit, path) -> the blob at that path of that commit, for every path a note
    attests AI lines of (a path the tree does not hold is left out)."""
    wanted = sorted(
        {
            (commit, r.path)
            for commit, note in notes.items()
            for r in note.ranges
            if r.kind == "ai" and "\n" not in r.path
        }
    )
    if not wanted:
        return {}
    out = run_git(
        repo,
        "cat-file",
        "--batch-check=%(objectname) %(objecttype)",
        stdin="".join(f"{c}:{p}\n" for c, p in wanted).encode("utf-8", "replace"),
    )
    found: dict[tuple[str, str], str] = {}
    for pair, line in zip(wanted, out.decode("utf-8", "replace").splitlines(), strict=False):
        parts = line.split()
        if len(parts) == 2 and parts[1] == "blob":
            found[pair] = parts[0]
    return found


def read_notes(repo: Path, commits: Iterable[str] | None = None) -> dict[str, Note]:
    """Commit sha -> its note under refs/notes/ai, read (only for `commits` when given); no
    notes ref gives {}. Notes are parsed as they stream from git, so only what they attest
    stays in memory, whatever their transcripts weigh."""
    try:
        listing = run_git(repo, "notes", f"--ref={NOTES_REF}", "list").decode()
    except GitFailed:
        return {}
    wanted = None if commits is None else set(commits)
    pairs = [
        (note, commit)
        for note, commit in (
            line.split() for line in listing.splitlines() if len(line.split()) == 2
        )
        if wanted is None or commit in wanted
    ]
    if not pairs:
        return {}
    notes: dict[str, Note] = {}
    # one object per id, in order: two commits may share a note's blob
    for (note, commit), (_, data) in zip(
        pairs, cat_objects(repo, [n for n, _ in pairs]), strict=True
    ):
        if data is not None:  # else the note's blob is not in this clone
            notes[commit] = read_note(data, note)
    return notes


def read_note(data: bytes, blob: str = "") -> Note:
    """A note's ranges, the problem found reading it (None when it read cleanly), and its
    evidence."""
    # Only the attestation is cut into lines: the metadata, most of a note's bytes (prompt
    # transcripts), goes to the JSON parser whole.
    separator = _SEPARATOR.search(data)
    if separator is None:
        return Note(
            [],
            "no `---` line between attestation and metadata",
            {"note": blob, "text": data[:16000].decode("utf-8", "replace")[:4000]},
        )
    lines = data[: separator.start()].decode("utf-8", "replace").split("\n")[:-1]
    problem = None
    try:
        meta = _json_object(data[separator.end() :])
        if not isinstance(meta, dict):
            raise ValueError("metadata is not an object")
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to parse
        meta, problem = {}, f"metadata is not JSON ({exc})"
    sessions = _agents(meta.get("sessions"))
    prompts = _agents(meta.get("prompts"))
    out: list[NoteRanges] = []
    path: str | None = None
    for line in lines:
        if not line.strip():
            continue
        if not line[:1].isspace():
            path = unquote_c(line.strip())
            continue
        key, _, ranges = line.strip().partition(" ")
        spans = parse_ranges(ranges)
        if path is None or not spans:
            problem = problem or f"unreadable attestation line {line.strip()!r}"
            continue
        if key.startswith("h_"):
            out.append(NoteRanges(path, key, "human", None, None, spans))
            continue
        agent = sessions.get(key.split("::", 1)[0]) if key.startswith("s_") else prompts.get(key)
        tool = agent.get("tool") if agent else None
        out.append(
            NoteRanges(
                path,
                key,
                "ai",
                canonical_tool(tool) if tool else None,
                agent.get("model") if agent else None,
                spans,
            )
        )
    evidence = {
        "note": blob,
        "attestation": "\n".join(lines)[:200_000],
        "schema_version": meta.get("schema_version"),
        "git_ai_version": meta.get("git_ai_version"),
        "base_commit_sha": meta.get("base_commit_sha"),
        "agents": {k: a for k, a in (sessions | prompts).items()},
        "humans": meta.get("humans") if isinstance(meta.get("humans"), dict) else {},
    }
    return Note(out, problem, evidence)


def _json_object(raw: bytes) -> Any:
    """The metadata's JSON: mostly prompt transcripts, a third of reading a history's notes
    with the standard parser, so orjson reads it. The standard parser reads text that is not
    strict UTF-8 JSON or that orjson refuses (NaN; it then says what is wrong), and metadata
    whose kept part holds a number orjson may have read inexactly (an integer past 64 bits
    becomes a float): what a note's evidence keeps is what the standard parser reads."""
    raw = raw.strip()
    try:
        meta = orjson.loads(raw or b"{}")
        if not (isinstance(meta, dict) and _holds_float(_kept(meta))):
            return meta
    except orjson.JSONDecodeError:
        pass
    return json.loads(raw.decode("utf-8", "replace") or "{}")


def _kept(meta: dict[str, Any]) -> list[Any]:
    """The parts of a note's metadata its evidence keeps (not the transcripts)."""
    agents = [
        entry.get("agent_id")
        for table in (meta.get("sessions"), meta.get("prompts"))
        if isinstance(table, dict)
        for entry in table.values()
        if isinstance(entry, dict)
    ]
    return agents + [
        meta.get(k) for k in ("schema_version", "git_ai_version", "base_commit_sha", "humans")
    ]


def _holds_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_holds_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_float(v) for v in value)
    return False


def _agents(table: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(table, dict):
        return {}
    out = {}
    for key, entry in table.items():
        agent = entry.get("agent_id") if isinstance(entry, dict) else None
        if isinstance(agent, dict) and isinstance(agent.get("tool"), str):
            out[key] = agent
    return out


def parse_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """`1-10,15-20` (or `7`) as ((1, 10), (15, 20)); parts that are not ranges are skipped."""
    spans = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue
        a, b = int(first), int(last) if last else int(first)
        if 1 <= a <= b <= MAX_LINE:
            spans.append((a, b))
    return tuple(spans)
