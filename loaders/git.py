"""Loader `git`: a real repository's history, read with the git CLI in one `git log` pass.

Each commit becomes a `commit` node, and each file it changes becomes a `file_version` (repo,
path, blob). A `revised` edge comes from the parent's version and carries the `git diff -U0`
hunks as its line map; renames are followed (`-M`), and a merge gets one edge per parent
(`-m`), so attribution is the union of what each parent contributes. Binary files are file-level
only, and submodules are recorded in the batch notes and skipped. Evidence for the lines a commit
added:

- the significant added lines, hashed like the agent loaders hash what outputs wrote; the store
  content-matches them against outputs of the same repo, in either arrival order;
- AI co-author trailers and identities (Claude, Codex, Aider, Copilot, Cursor, ...): all added
  lines of that commit, evidence `trailer`;
- git-ai notes (`refs/notes/ai`): the ranges of each agent session, evidence `git-ai-note`.

The repo's id is its normalized `origin` URL, else its root path (as for the agent loaders).
`exclude` names commits already ingested: they are not read again.
"""

import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from lineage import model
from lineage.facts import AddedLines, Alias, Attribution, Batch, Edge, Fact, Node, Record, Span
from lineage.model import EdgeKind, NodeKind
from lineage.repos import local_repo
from lineage.tools import canonical_tool
from loaders.agent_outputs import is_significant, line_hash, normalize_line
from loaders.files import InputError
from loaders.patches import line_ranges

SOURCE = "git"
SUFFIXES: tuple[str, ...] = ()
_HEADER = "\x1egit-commit\x1f"
_FORMAT = _HEADER + "%x1f".join(["%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI",
                                 "%(trailers:unfold,only)", "%B"]) + "\x1f"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_EMPTY_BLOB = "0" * 40


class GitError(InputError):
    """The path is not a git repository or git failed; the message says what git said."""


@dataclass
class FileChange:
    status: str
    old_path: str | None
    new_path: str | None
    old_blob: str | None
    new_blob: str | None
    mode: str
    hunks: list[list[int]] = field(default_factory=list)
    added: list[tuple[int, str]] = field(default_factory=list)  # (new line number, text)
    removed: list[tuple[int, str]] = field(default_factory=list)  # (old line number, text)
    binary: bool = False

    def line_map(self) -> list[list[Any]] | None:
        """The hunks, each with the pairs of lines it rewrote that are still similar."""
        if self.binary:
            return None
        out: list[list[Any]] = []
        for old_start, old_n, new_start, new_n in self.hunks:
            old = [(n, t) for n, t in self.removed if old_start <= n < old_start + old_n]
            new = [(n, t) for n, t in self.added if new_start <= n < new_start + new_n]
            pairs = similar_pairs(old, new)
            out.append([old_start, old_n, new_start, new_n] + ([pairs] if pairs else []))
        return out


@dataclass
class Commit:
    sha: str
    parents: list[str]
    author: str
    author_email: str
    author_time: str
    committer: str
    committer_email: str
    time: str
    trailers: list[tuple[str, str]]
    message: str
    changes: list[list[FileChange]] = field(default_factory=list)  # one list per parent diff


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True,
                              text=True, encoding="utf-8", errors="replace", check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from exc
    if done.returncode != 0:
        raise GitError(f"{repo}: git {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


def load(paths: Iterable[str | Path], rev: str | None = None,
         exclude: Iterable[str] = ()) -> Iterator[Batch]:
    """One batch per repository."""
    for raw in paths:
        yield read_repository(Path(raw), rev, set(exclude))


def repo_id(path: Path) -> str:
    found = local_repo(str(path.resolve()))
    if found is None:
        raise GitError(f"{path}: not a git repository (run `git init`, or name a checkout)")
    return found.repo_id


def read_repository(path: Path, rev: str | None = None, exclude: set[str] | None = None
                    ) -> Batch:
    if not path.is_dir():
        raise GitError(f"{path}: no such directory")
    repo = repo_id(path)
    batch = Batch(SOURCE, input=str(path))
    revs = [rev] if rev else ["--all"] if not _has_head(path) else ["HEAD"]
    negatives = "".join(f"^{sha}\n" for sha in sorted(exclude or ()))
    notes = _notes(path)
    lines_of: dict[tuple[str, str], int | None] = {}
    args = ["log", "--reverse", "--topo-order", "--diff-merges=separate", "-M", "--raw",
            "--no-abbrev", "-p", "-U0", "--no-color", "--no-ext-diff", f"--format={_FORMAT}",
            "--stdin", *revs, "--"]
    with _streaming(path, args, negatives) as chunks:
        for commit in parse_log(chunks):
            batch.records.append(_record(repo, commit, notes.get(commit.sha), lines_of, batch))
    if revs != ["--all"]:
        tips = [line for line in git(path, "rev-parse", *revs).split() if line[:1] != "^"]
        batch.records += [_tree_record(path, repo, tip) for tip in tips]
    return batch


def _tree_record(path: Path, repo: str, commit: str) -> Record:
    """Every file at a tip commit, named at that commit: a dataset built from the tip names
    files by (repo, commit, path) whether or not that commit changed them."""
    listing = git(path, "ls-tree", "-r", "-z", "--full-tree", commit)
    facts: list[Fact] = []
    files = []
    for entry in listing.split("\0"):
        meta, _, name = entry.partition("\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != "blob":
            continue  # a submodule (commit) or the end of the listing
        blob = parts[2]
        key = model.file_version_key(repo, name, blob)
        alias = model.file_at_commit_key(repo, name, commit)
        facts += [Node(key, NodeKind.FILE_VERSION, {"repo": repo, "path": name, "blob": blob},
                       defines=False),
                  Node(alias, NodeKind.FILE_VERSION, {"repo": repo, "path": name,
                                                      "commit": commit}),
                  Alias(alias, key)]
        files.append([name, blob])
    return Record(event_id=f"git-tree:{repo}@{commit}", type="tree",
                  payload={"repo": repo, "commit": commit, "files": files}, facts=facts,
                  origin=f"{repo}@{commit}")


@contextmanager
def _streaming(repo: Path, args: list[str], stdin: str) -> Iterator[Iterator[str]]:
    """git's output as it is written, cut at commit headers, so parsing overlaps git's work."""
    try:
        proc = subprocess.Popen(["git", "-C", str(repo), *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                encoding="utf-8", errors="replace")
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from exc
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(stdin)
    proc.stdin.close()

    def chunks() -> Iterator[str]:
        pending = ""
        while block := proc.stdout.read(1 << 20):
            pending += block
            parts = pending.split(_HEADER)
            pending = parts.pop()
            yield from parts
        yield pending
    try:
        yield chunks()
    finally:
        proc.stdout.close()
        error = proc.stderr.read()
        if proc.wait() != 0:
            raise GitError(f"{repo}: git log failed: {error.strip()}")


def _has_head(path: Path) -> bool:
    return subprocess.run(["git", "-C", str(path), "rev-parse", "--verify", "-q", "HEAD"],
                          capture_output=True, check=False).returncode == 0


# -- parsing `git log` ------------------------------------------------------------------------


def parse_log(chunks: Iterable[str]) -> Iterator[Commit]:
    """Commits of a `git log -m --raw -p -U0` in _FORMAT, given cut at its commit headers; a
    merge's diffs (one per parent) are gathered into one Commit."""
    current: Commit | None = None
    for chunk in chunks:
        if not chunk:
            continue
        fields = chunk.split("\x1f", 10)
        sha = fields[0]
        if current is None or current.sha != sha:
            if current is not None:
                yield current
            current = Commit(
                sha=sha, parents=fields[1].split(), author=fields[2], author_email=fields[3],
                author_time=fields[4], committer=fields[5], committer_email=fields[6],
                time=fields[7], trailers=_trailers(fields[8]), message=fields[9])
        current.changes.append(_changes(fields[10] if len(fields) > 10 else ""))
    if current is not None:
        yield current


def _trailers(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.append((key.strip(), value.strip()))
    return out


def _changes(body: str) -> list[FileChange]:
    changes: list[FileChange] = []
    by_path: dict[str, FileChange] = {}
    current: FileChange | None = None
    new_line = old_line = 0
    for line in body.split("\n"):
        if line.startswith(":"):
            meta, _, paths = line.partition("\t")
            old_mode, new_mode, old_blob, new_blob, status = meta[1:].split()
            names = paths.split("\t")
            old_path, new_path = (names[0], names[-1])
            kind = status[0]
            change = FileChange(
                status=kind, old_path=None if kind == "A" else old_path,
                new_path=None if kind == "D" else new_path,
                old_blob=None if old_blob == _EMPTY_BLOB else old_blob,
                new_blob=None if new_blob == _EMPTY_BLOB else new_blob,
                mode=new_mode if kind != "D" else old_mode)
            changes.append(change)
            by_path[change.new_path or change.old_path or ""] = change
        elif line.startswith("diff --git "):
            current = None
        elif line.startswith("+++ "):
            target = line[4:]
            if target != "/dev/null":
                current = by_path.get(_unquote(target)[2:])
        elif line.startswith("--- ") and current is None:
            continue
        elif line.startswith("Binary files "):
            match = re.search(r" and (?:b/)?(.*) differ$", line)
            name = _unquote(match.group(1)) if match else ""
            if name in by_path:
                by_path[name].binary = True
        elif current is not None and (m := _HUNK.match(line)):
            old_start, old_n, new_start, new_n = (int(m.group(1)), int(m.group(2) or 1),
                                                  int(m.group(3)), int(m.group(4) or 1))
            current.hunks.append([old_start, old_n, new_start, new_n])
            new_line, old_line = new_start, old_start
        elif current is not None and line.startswith("+"):
            current.added.append((new_line, line[1:]))
            new_line += 1
        elif current is not None and line.startswith("-"):
            current.removed.append((old_line, line[1:]))
            old_line += 1
    return changes


def _unquote(path: str) -> str:
    if path.startswith('"') and path.endswith('"'):
        return path[1:-1].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
    return path


MODIFIED_SIMILARITY = 70.0  # percent (rapidfuzz ratio of normalized text) to stay attributed


def similar_pairs(old: list[tuple[int, str]], new: list[tuple[int, str]],
                  threshold: float = MODIFIED_SIMILARITY) -> list[list[int]]:
    """[old_line, new_line] for each rewritten line still similar to a line it replaced in the
    same hunk (each old line pairs once, in order); trivial lines never pair."""
    pairs: list[list[int]] = []
    used: set[int] = set()
    olds = [(n, normalize_line(t)) for n, t in old if is_significant(normalize_line(t))]
    for n, text in new:
        norm = normalize_line(text)
        if not is_significant(norm):
            continue
        best = max(((fuzz.ratio(norm, o), m) for m, o in olds if m not in used), default=None)
        if best and best[0] >= threshold:
            used.add(best[1])
            pairs.append([best[1], n])
    return pairs


# -- AI identities and trailers ---------------------------------------------------------------

_AI_COAUTHORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bclaude\b|noreply@anthropic\.com", re.I), "claude-code"),
    (re.compile(r"\bcodex\b|codex@openai\.com", re.I), "codex"),
    (re.compile(r"\baider\b|@aider\.chat", re.I), "aider"),
    (re.compile(r"\bcopilot\b", re.I), "copilot"),
    (re.compile(r"\bcursor\b|cursoragent@cursor\.com", re.I), "cursor"),
    (re.compile(r"\bdevin\b", re.I), "devin"),
    (re.compile(r"factory-droid", re.I), "factory-droid"),
    (re.compile(r"\bgemini\b", re.I), "gemini-cli"),
)


def ai_identity(commit: Commit) -> tuple[str, str | None, str] | None:
    """(tool, model, why) when the commit says an AI tool wrote it: a co-author trailer, an
    Aider or Codex or Copilot-agent author, else None."""
    for key, value in commit.trailers:
        if key.lower() != "co-authored-by":
            continue
        for pattern, tool in _AI_COAUTHORS:
            if pattern.search(value):
                return tool, _model(value, tool), f"Co-authored-by: {value}"
    author = f"{commit.author} <{commit.author_email}>"
    if commit.author.endswith("(aider)") or commit.committer.endswith("(aider)"):
        return "aider", None, f"author {author}"
    if commit.author_email.lower() == "codex@openai.com":
        return "codex", None, f"author {author}"
    if "copilot@users.noreply.github.com" in commit.author_email.lower():
        return "copilot", None, f"author {author}"
    return None


def _model(value: str, tool: str) -> str | None:
    name = value.split("<", 1)[0].strip()
    if tool == "aider":
        match = re.search(r"\(([^)]+)\)", name)
        return match.group(1) if match else None
    if tool == "claude-code" and name.lower().startswith("claude "):
        return name[len("claude "):] or None
    return None


# -- git-ai notes -----------------------------------------------------------------------------


def _notes(path: Path) -> dict[str, str]:
    """Commit sha -> the text of its note under refs/notes/ai (empty when there are none)."""
    try:
        listing = git(path, "notes", "--ref=ai", "list")
    except GitError:
        return {}
    pairs = [line.split() for line in listing.splitlines() if line.strip()]
    if not pairs:
        return {}
    blobs = git(path, "cat-file", "--batch", stdin="".join(f"{n}\n" for n, _ in pairs))
    texts: dict[str, str] = {}
    rest = blobs
    for _, commit in pairs:
        header, _, rest = rest.partition("\n")
        size = int(header.split()[2])
        texts[commit] = rest[:size]
        rest = rest[size + 1:]
    return texts


def parse_git_ai_note(text: str) -> list[tuple[str, str, str | None, list[tuple[int, int]]]]:
    """(path, tool, model, ranges) per agent key of a git-ai authorship note; human keys and
    keys with no known agent are left out (their lines have unknown origin)."""
    attestation, sep, meta_text = text.partition("\n---\n")
    if text.startswith("---"):
        attestation, meta_text = "", text[3:]
    elif not sep:
        return []
    try:
        meta = json.loads(meta_text.strip() or "{}")
    except json.JSONDecodeError:
        return []
    agents: dict[str, dict[str, Any]] = {}
    for key, session in (meta.get("sessions") or {}).items():
        agents[key] = session.get("agent_id") or {}
    for key, prompt in (meta.get("prompts") or {}).items():
        agents[key] = prompt.get("agent_id") or {}
    out = []
    path = None
    for line in attestation.splitlines():
        if not line.strip():
            continue
        if not line.startswith("  "):
            path = line.strip().strip('"')
            continue
        key, _, ranges = line.strip().partition(" ")
        agent = agents.get(key.split("::", 1)[0]) or agents.get(key)
        if path is None or not agent or not agent.get("tool"):
            continue
        spans = []
        for part in ranges.split(","):
            first, _, last = part.strip().partition("-")
            if first.isdigit():
                spans.append((int(first), int(last) if last.isdigit() else int(first)))
        out.append((path, canonical_tool(agent["tool"]), agent.get("model"), spans))
    return out


# -- facts ------------------------------------------------------------------------------------


def _record(repo: str, c: Commit, note: str | None,
            lines_of: dict[tuple[str, str], int | None], batch: Batch) -> Record:
    ckey = model.commit_key(repo, c.sha)
    time = datetime.fromisoformat(c.time)
    facts: list[Fact] = [Node(ckey, NodeKind.COMMIT, {
        "repo": repo, "commit": c.sha, "parents": c.parents,
        "author": f"{c.author} <{c.author_email}>", "author_time": c.author_time,
        "committer": f"{c.committer} <{c.committer_email}>", "time": c.time,
        "message": c.message.strip()[:2000], "trailers": [f"{k}: {v}" for k, v in c.trailers]})]
    versions: dict[str, str] = {}  # path -> file version key at this commit
    files = []
    for changes in c.changes or [[]]:
        for ch in changes:
            if ch.mode == "160000":
                batch.notes.append(f"{repo}@{c.sha[:12]}: submodule {ch.new_path or ch.old_path}"
                                   " recorded and skipped")
                continue
            if ch.new_path is None or ch.new_blob is None:
                continue  # a deletion: nothing to version
            key = model.file_version_key(repo, ch.new_path, ch.new_blob)
            if ch.new_path not in versions:
                versions[ch.new_path] = key
                count = _line_count(ch, lines_of)
                lines_of[(ch.new_path, ch.new_blob)] = count
                attrs = {"repo": repo, "path": ch.new_path, "blob": ch.new_blob,
                         "commit": c.sha, "binary": ch.binary or None, "line_count": count}
                alias = model.file_at_commit_key(repo, ch.new_path, c.sha)
                facts += [Node(key, NodeKind.FILE_VERSION,
                               {k: v for k, v in attrs.items() if v is not None}),
                          Node(alias, NodeKind.FILE_VERSION, {"repo": repo, "path": ch.new_path,
                                                              "commit": c.sha}),
                          Alias(alias, key), Edge(ckey, key, EdgeKind.COMMITTED)]
                files.append({"status": ch.status, "path": ch.new_path, "blob": ch.new_blob,
                              "old_path": ch.old_path, "old_blob": ch.old_blob,
                              "hunks": ch.hunks, "binary": ch.binary})
            if ch.old_blob and ch.old_path:
                pkey = model.file_version_key(repo, ch.old_path, ch.old_blob)
                facts += [Node(pkey, NodeKind.FILE_VERSION, {
                    "repo": repo, "path": ch.old_path, "blob": ch.old_blob}, defines=False),
                          Edge(pkey, key, EdgeKind.REVISED, line_map=ch.line_map())]
    identity = ai_identity(c)
    for path, key in versions.items():
        # Lines added relative to every parent are the commit's own (for a merge: conflict
        # resolutions); a normal commit has one parent diff.
        added = _added_in_all(path, c.changes)
        hashed = tuple((n, line_hash(norm)) for n, text in added
                       if is_significant(norm := normalize_line(text)))
        if hashed:
            facts.append(AddedLines(key, repo, time, hashed))
        if identity and added:
            tool, model_name, why = identity
            okey = model.output_key(f"commit:{repo}@{c.sha}")
            facts.append(Node(okey, NodeKind.OUTPUT, {
                "output": f"commit:{repo}@{c.sha}", "tool": tool, "model": model_name,
                "time": c.time, "repo": repo, "evidence": why, "call": "commit"}))
            for first, last in line_ranges([n for n, _ in added]):
                span = Span(first, last)
                facts += [Edge(okey, key, EdgeKind.WROTE, span=span),
                          Attribution(key, okey, span, "trailer")]
    for path, tool, model_name, spans in parse_git_ai_note(note or ""):
        if path not in versions:
            continue
        key = versions[path]
        okey = model.output_key(f"git-ai:{repo}@{c.sha}:{path}:{tool}")
        facts.append(Node(okey, NodeKind.OUTPUT, {
            "output": f"git-ai:{repo}@{c.sha}:{path}:{tool}", "tool": tool, "model": model_name,
            "time": c.time, "repo": repo, "path": path, "call": "git-ai-note"}))
        for first, last in spans:
            facts += [Edge(okey, key, EdgeKind.WROTE, span=Span(first, last)),
                      Attribution(key, okey, Span(first, last), "git-ai-note")]
    payload = {"repo": repo, "commit": c.sha, "parents": c.parents,
               "author": f"{c.author} <{c.author_email}>", "time": c.time,
               "trailers": [f"{k}: {v}" for k, v in c.trailers], "files": files,
               "git_ai_note": note}
    return Record(event_id=f"git:{repo}@{c.sha}", type="commit", payload=payload, facts=facts,
                  occurred_at=time, origin=f"{repo}@{c.sha}")


def _added_in_all(path: str, diffs: list[list[FileChange]]) -> list[tuple[int, str]]:
    if len(diffs) == 1:
        return [pair for ch in diffs[0] if ch.new_path == path for pair in ch.added]
    sets = []
    for changes in diffs:
        found = [ch for ch in changes if ch.new_path == path]
        sets.append({(n, t) for ch in found for n, t in ch.added})
    common = set.intersection(*sets) if sets else set()
    return sorted(common)


def _line_count(ch: FileChange, lines_of: dict[tuple[str, str], int | None]) -> int | None:
    if ch.binary:
        return None
    base = 0 if ch.old_blob is None else lines_of.get((ch.old_path or "", ch.old_blob))
    if base is None:
        return None
    return base + sum(new_n - old_n for _, old_n, _, new_n in ch.hunks)
