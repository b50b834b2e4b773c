"""Loader `git`: a real repository's history, read with the git CLI.

Each commit becomes a `commit` node, and each file it changes a `file_version` (repo, path,
blob). A `revised` edge comes from the parent's version and carries the `git diff -U0` hunks as
its line map; renames are followed (`-M`), and a merge gets one edge per parent, so attribution
is the union of what each parent contributes. A mode-only change (`chmod +x`) or a file that
returns to an earlier content (a revert, a restore) names a version that already exists: no
new version, and the store carries attribution whatever order the versions repeat in. Binary
files are file-level only; submodules are recorded in the batch notes and skipped.

Evidence for the lines a commit added:
- the significant added lines, hashed like the agent loaders hash what outputs wrote; the store
  content-matches them against outputs of the same repo, in either arrival order;
- every AI co-author trailer and AI author or committer identity (`lineage.tools.AI_IDENTITIES`):
  all added lines of that commit, evidence `trailer`;
- git-ai notes (`refs/notes/ai`): the AI ranges of each note, evidence `git-ai-note`, on the
  version each path has in that commit's tree (changed by the commit or not).

Each commit also records what its tree holds at the paths it changed against its first parent
(its whole tree when that parent is not read), so the store resolves a path named at *any*
ingested commit (a snapshot) to its file version.

What the clone does not hold loads as far as it can: in a partial clone or an incomplete mirror
the versions whose blobs are missing stay undefined (examples cut from them are UNKNOWN, with
the fix in the reason), and in a shallow clone the versions at the boundary descend from a
history the store marks missing (`git fetch --unshallow`, then ingest again).

The repo's id is its normalized `origin` URL, else its root path (as for the agent loaders).
`exclude` names commits already ingested completely: they are not read again.
"""

import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from lineage import model
from lineage.facts import (
    AddedLines,
    Attribution,
    Batch,
    Edge,
    Fact,
    LineEnds,
    Node,
    Record,
    Span,
    TreeEntries,
    WrittenLines,
)
from lineage.loaders import git_ai
from lineage.loaders.files import InputError
from lineage.loaders.git_diff_process import DiffReader
from lineage.loaders.git_log import (
    Commit,
    FileChange,
    GitFailed,
    ObjectCheck,
    blob_line_ends,
    git_lines,
    run_git,
    stream_log,
)
from lineage.loaders.patches import line_runs
from lineage.model import EdgeKind, NodeKind
from lineage.repos import local_repo, normalize_remote
from lineage.tools import ai_identity_tool, generated_with_tools

SOURCE = "git"
SUFFIXES: tuple[str, ...] = ()
COMMITS_PER_BATCH = 500  # a long history is ingested a slice at a time, in bounded memory
READ_AHEAD = 2  # parts whose diffs the diff reader process parses ahead of the one recorded
# a history this long has its diffs read and parsed in a process of its own, on a second core
# beside the store (`git_diff_process`); a shorter one is not worth starting a process for
DIFFS_APART_FROM = 1000
_MISSING = re.compile(
    r"unable to read|missing blob|bad object|could not read|"
    r"is not a valid '?blob|promisor remote|could not fetch|"
    r"Could not read|missing object|invalid object|unable to open",
    re.IGNORECASE,
)


# Lines that name who helped write a commit: git's co-author trailer and the ones AI tools
# write beside it or instead (`Assisted-by: OpenCode <...>`, `Made-with: Cursor`).
_COAUTHOR_LINE = re.compile(
    r"^[ \t]*(co-authored-by|assisted-by|generated-by|made-with):[ \t]*(.+?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def _name_and_email(value: str) -> tuple[str, str]:
    """`Name <email>`, or `Name email`, or a bare `email`, or a bare name."""
    if "<" in value:
        name, _, email = value.partition("<")
        return name.strip(), email.rstrip(">").strip()
    head, _, last = value.rpartition(" ")
    if "@" in last:
        return head.strip(), last
    return value.strip(), ""


class GitError(InputError):
    """The path is not a git repository or git failed; the message says what git said."""


def load(
    paths: Iterable[str | Path],
    rev: str | None = None,
    exclude: Iterable[str] = (),
    repo: str | None = None,
) -> Iterator[Batch]:
    """Batches of up to COMMITS_PER_BATCH commits per repository, parents first. `repo`
    names the repository when its remote does not (a mirror without `origin`)."""
    for raw in paths:
        yield from read_repository(Path(raw), rev, set(exclude), repo)


def repo_id(path: Path, name: str | None = None) -> str:
    """The repository's id: `name` normalized when given, else its `origin` URL normalized
    (a checkout, a worktree or a bare mirror), else its path."""
    if name:
        return normalize_remote(name)
    found = local_repo(str(path.resolve()))
    if found is not None:
        return found.repo_id
    try:
        bare = run_git(path, "rev-parse", "--is-bare-repository").decode().strip() == "true"
    except (GitFailed, OSError):
        bare = False
    if not bare:
        raise GitError(f"{path}: not a git repository (run `git init`, or name a checkout)")
    try:
        remote = run_git(path, "remote", "get-url", "origin").decode().strip()
    except GitFailed:
        return str(path.resolve())
    return normalize_remote(remote)


def file_at(path: Path, rev: str, name: str) -> tuple[str, list[str]]:
    """(blob id, lines) of the file `name` at `rev` of the checkout at `path`."""
    blob = _git(path, "rev-parse", "--verify", "-q", f"{rev}:{name}").decode().strip()
    text = _git(path, "cat-file", "blob", blob).decode("utf-8", "replace")
    return blob, text.splitlines()


def _git(path: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        return run_git(path, *args, stdin=stdin)
    except GitFailed as exc:
        raise GitError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from exc


class _Clone:
    """What one read of a repository knows beyond the commits: shallow boundaries, missing
    objects, line counts and line ends of the versions seen, submodules met."""

    def __init__(self, path: Path, repo: str, diffs: DiffReader) -> None:
        self.path, self.repo, self.diffs = path, repo, diffs
        self.shallow = _shallow_commits(path)
        self.missing: set[str] = set()  # blob ids this clone lacks, among those looked at
        self.searched: set[str] = set()  # the commits whose blobs were looked for
        self.unreadable: set[str] = set()  # the paths the missing blobs lie at
        self.renames = True
        self.lines_of: dict[tuple[str, str], int | None] = {}
        self.ended: set[str] = set()  # versions whose line ends were read
        self.submodules: set[str] = set()  # paths of submodules the batch's commits changed
        self.history: list[str] = []  # every commit this read is to read

    def find_missing(self, commits: list[str]) -> bool:
        """Look for the blobs that `commits` name and this clone lacks, and the paths they lie
        at: those paths are then read without patches (git cannot diff what it lacks).
        Commits already looked at are not looked at again. True when blobs were found at
        paths not yet read around (reading again can then succeed)."""
        fresh = [c for c in commits if c not in self.searched]
        self.searched.update(fresh)
        if fresh:
            self.missing |= missing_blobs(self.path, fresh)
        if not fresh or not self.missing:
            return False
        # a blob found missing before may lie at new paths here (a rename moved it)
        paths = paths_of_blobs(self.path, fresh, self.missing)
        found = not paths <= self.unreadable
        self.unreadable |= paths
        return found

    def read(self, part: list[str], ahead: Sequence[list[str]] = ()) -> Iterator[Commit]:
        """The commits of `part` with their diffs; the paths of missing blobs come from a
        pass without patches, so their changes are file-level only. The parts `ahead` (the
        next ones) are asked for once this part's reading has started, with the options
        this part is read with, so they are parsed while this one is recorded and stored."""
        side: dict[str, list[list[FileChange]]] = {}
        if self.unreadable:
            with stream_log(
                self.path, part, patches=False, renames=False, paths=sorted(self.unreadable)
            ) as commits:
                for commit in commits:
                    for diff in commit.changes:
                        for ch in diff:
                            ch.binary = True
                    side[commit.sha] = commit.changes
        check = ObjectCheck(self.path)
        try:
            with self.diffs.stream(self.path, part, **self._options()) as commits:
                for later in ahead:
                    self.request(later)
                for commit in commits:
                    for diff, extra in zip(commit.changes, side.get(commit.sha, []), strict=False):
                        diff.extend(extra)
                    self._check_binaries(commit, check)
                    yield commit
        finally:
            check.close()

    def request(self, part: list[str]) -> None:
        """Have `part`'s notes and diffs read ahead, as `notes` and `read` will read them
        unless the reading changes."""
        self.diffs.request_notes(self.path, part)
        self.diffs.request(self.path, part, **self._options())

    def notes(self, part: list[str]) -> git_ai.CommitNotes:
        """The git-ai notes of `part`'s commits, with the blobs of the paths they attest."""
        try:
            return self.diffs.notes(self.path, part)
        except GitFailed as exc:
            raise GitError(f"{self.path}: {exc}") from exc
        except OSError as exc:
            raise GitError(f"cannot run git: {exc}") from exc

    def _options(self) -> dict[str, Any]:
        return {"renames": self.renames, "exclude": sorted(self.unreadable)}

    def _check_binaries(self, commit: Commit, check: ObjectCheck) -> None:
        """Blobs git called binary that the clone lacks join `missing`: git calls a blob it
        cannot read binary when a file is added, where it fails on a modified one."""
        for diff in commit.changes:
            for ch in diff:
                blob = ch.new_blob
                if ch.binary and blob and blob not in self.missing and not check.has(blob):
                    self.missing.add(blob)


def read_repository(
    path: Path, rev: str | None = None, exclude: set[str] | None = None, name: str | None = None
) -> Iterator[Batch]:
    """The commits of `rev` (default: HEAD, every branch and tag) not in `exclude`, parents
    first, as batches of COMMITS_PER_BATCH."""
    if not path.is_dir():
        raise GitError(f"{path}: no such directory")
    repo = repo_id(path, name)
    listing = _git(
        path, "rev-list", "--topo-order", "--reverse", "--parents", *history_revs(path, rev), "--"
    )
    known = exclude or set()
    order: list[str] = []
    parents_of: dict[str, list[str]] = {}
    for line in listing.decode().splitlines():
        sha, *parents = line.split()
        if sha not in known:
            order.append(sha)
            parents_of[sha] = parents
    if not order:
        batch = Batch(SOURCE, input=str(path))
        batch.notes.append(f"{repo}: no new commits to read")
        yield batch
        return
    apart = len(order) >= DIFFS_APART_FROM and (os.cpu_count() or 1) > 1
    with DiffReader(apart) as diffs:
        clone = _Clone(path, repo, diffs)
        # Blobs the clone lacks (a partial clone, an incomplete mirror) are looked for up
        # front, in one listing of the history's objects (3% of the diff pass on a history
        # of 5,000 commits): git would stop at the first, and every diff read ahead of it
        # would be read again.
        clone.find_missing(order)
        parts = _parts(order)
        clone.history = order
        for part in parts[:READ_AHEAD]:
            clone.request(part)
        reading = set(order)
        for n, part in enumerate(parts):
            boundary = [
                c
                for c in part
                if parents_of[c]
                and parents_of[c][0] not in reading
                and parents_of[c][0] not in known
            ]
            trees = {c: _whole_tree(path, repo, c) for c in boundary}
            ahead = parts[n + 1 : n + 1 + READ_AHEAD]
            yield _read_part(clone, part, ahead, trees)


def _parts(order: list[str]) -> list[list[str]]:
    """The history cut into parts of COMMITS_PER_BATCH, the first a fifth of that: the store
    starts on it while the next parts are read (a whole first part kept it waiting 2 s)."""
    first = max(1, COMMITS_PER_BATCH // 5)
    return [order[:first]] + [
        order[at : at + COMMITS_PER_BATCH] for at in range(first, len(order), COMMITS_PER_BATCH)
    ]


def _read_part(
    clone: _Clone, part: list[str], ahead: list[list[str]], trees: dict[str, TreeEntries]
) -> Batch:
    """One batch: the commits of `part` with their git-ai notes, read again around missing
    objects if git could not read them."""
    attested = clone.notes(part)
    while True:
        if clone.missing:  # a clone known to lack blobs: look for them in each part first
            clone.find_missing(part)
        batch = Batch(SOURCE, input=str(clone.path))
        saved = dict(clone.lines_of)
        try:
            for commit in clone.read(part, ahead):
                batch.records.append(
                    _record(
                        clone,
                        commit,
                        attested.notes.get(commit.sha),
                        attested.blobs,
                        trees.get(commit.sha),
                        batch,
                    )
                )
            break
        except GitFailed as exc:
            clone.lines_of = saved
            clone.submodules.clear()
            if not _MISSING.search(exc.stderr):
                raise GitError(f"{clone.path}: {exc}") from exc
            # a clone that lacks one blob lacks others: look through the whole history
            # once, so later parts are read around them from the start
            if clone.find_missing(clone.history or part):
                continue  # read again around what this part lacks
            if clone.renames:
                clone.renames = False  # rename detection reads the missing blobs
                continue
            raise GitError(f"{clone.path}: {exc}") from exc
        except OSError as exc:
            raise GitError(f"cannot run git: {exc}") from exc
    if clone.missing:
        batch.notes.append(
            f"{clone.repo}: {len(clone.missing)} blobs are missing from this "
            "clone (partial clone or incomplete mirror); fetch them "
            "(`git fetch --refetch origin`) and ingest again"
        )
    _add_line_ends(clone, batch)
    for name in sorted(clone.submodules):
        batch.notes.append(
            f"{clone.repo}: submodule {name} recorded and skipped "
            "(ingest it as a repository of its own)"
        )
    clone.submodules.clear()
    stray = sum(
        (r.payload.get("git_ai") or {}).get("ai_path_not_in_tree", 0) for r in batch.records
    )
    if stray:
        batch.notes.append(
            f"{clone.repo}: {stray} lines that git-ai notes attest lie in paths "
            "their commit's tree does not hold (kept in each commit's "
            "`git_ai` evidence, not attributed)"
        )
    if not clone.renames:
        batch.notes.append(
            f"{clone.repo}: renames not followed (rename detection needs missing blobs)"
        )
    return batch


def _add_line_ends(clone: _Clone, batch: Batch) -> None:
    """Each text version this batch defines gets its line ends, read from its blob."""
    wanted: dict[str, list[tuple[Record, str]]] = {}
    for record in batch.records:
        for fact in record.facts:
            if (
                isinstance(fact, Node)
                and fact.kind == NodeKind.FILE_VERSION
                and fact.defines
                and not fact.attrs.get("binary")
                and "blob" in fact.attrs
                and fact.key not in clone.ended
            ):
                clone.ended.add(fact.key)  # a version repeats (a revert, a merge): once
                wanted.setdefault(fact.attrs["blob"], []).append((record, fact.key))
    read = clone.diffs.take_line_ends()  # what the diff reader process read of them
    if not wanted:
        return
    known = [(blob, read[blob]) for blob in wanted if blob in read]
    rest = [blob for blob in wanted if blob not in read]
    for blob, ends in chain(known, blob_line_ends(clone.path, rest) if rest else ()):
        for record, key in wanted[blob]:
            record.facts.append(LineEnds(key, ends))


def history_revs(path: Path, rev: str | None = None) -> list[str]:
    """The revisions whose history an ingest reads: `rev`, else HEAD (when the repository
    has one), every branch and every tag."""
    if rev:
        return [rev]
    return ["HEAD", "--branches", "--tags"] if _has_head(path) else ["--branches", "--tags"]


def _has_head(path: Path) -> bool:
    try:
        run_git(path, "rev-parse", "--verify", "-q", "HEAD")
    except (GitFailed, OSError):
        return False
    return True


def _shallow_commits(path: Path) -> set[str]:
    """The boundary commits of a shallow clone (their parents are not in it)."""
    where = _git(path, "rev-parse", "--git-path", "shallow").decode().strip()
    shallow = Path(where) if Path(where).is_absolute() else path / where
    if not shallow.is_file():
        return set()
    return set(shallow.read_text().split())


def missing_blobs(path: Path, commits: list[str]) -> set[str]:
    """The ids of the blobs that the trees of `commits` name and this clone lacks (a partial
    clone, an incomplete mirror)."""
    # every object of every tree is listed, missing ones with a `?`: millions of lines in a
    # large repository, read as they come and only the missing kept
    lines = git_lines(
        path,
        "rev-list",
        "--objects",
        "--no-object-names",
        "--missing=print",
        "--no-walk",
        "--stdin",
        stdin="".join(f"{c}\n" for c in commits).encode(),
    )
    try:
        return {line[1:41].decode() for line in lines if line.startswith(b"?")}
    except GitFailed as exc:
        raise GitError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from exc


def paths_of_blobs(path: Path, commits: list[str], blobs: set[str]) -> set[str]:
    """The paths at which the history names `blobs` (a log without patches reads no blob)."""
    out = _git(
        path,
        "log",
        "--no-walk=unsorted",
        "--stdin",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-renames",
        "--diff-merges=separate",
        "--format=",
        "--",
        stdin="".join(f"{c}\n" for c in commits).encode(),
    ).decode("utf-8", "replace")
    names: set[str] = set()
    tokens = out.split("\0")
    i = 0
    while i < len(tokens):
        token = tokens[i].lstrip("\n")
        if token.startswith(":"):
            meta = token[1:].split()
            if len(meta) >= 5 and (meta[2] in blobs or meta[3] in blobs) and i + 1 < len(tokens):
                names.add(tokens[i + 1])
            i += 2
        else:
            i += 1
    return names


def _whole_tree(path: Path, repo: str, commit: str) -> TreeEntries:
    """Every file of `commit`'s tree: the snapshot of a commit whose first parent is not
    read, so paths it did not change still resolve there."""
    listing = _git(path, "ls-tree", "-r", "-z", "--full-tree", commit).decode("utf-8", "replace")
    entries = []
    for entry in listing.split("\0"):
        meta, _, name = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            entries.append((name, model.file_version_key(repo, name, parts[2])))
    return TreeEntries(repo, commit, None, tuple(entries), whole=True)


# -- AI identities ----------------------------------------------------------------------------


def ai_identities(commit: Commit) -> list[tuple[str, str | None, str]]:
    """(tool, model, why) for every AI tool the commit names: each co-author (or
    `Assisted-by`, `Generated-by`, `Made-with`) line, the author, the committer and a
    `Generated with <tool>` line; one entry per tool, the first reason found."""
    found: dict[str, tuple[str, str | None, str]] = {}
    keys = ("co-authored-by", "assisted-by", "generated-by", "made-with")
    helpers = [(key, value) for key, value in commit.trailers if key.lower() in keys]
    # A co-author line outside git's trailer block counts too: Copilot CLI ends its message
    # with a `Copilot-Session:` paragraph after the co-author's, and a squash merge lists
    # its commits' messages, co-authors included, above its own.
    helpers += [(key, value.strip()) for key, value in _COAUTHOR_LINE.findall(commit.message)]
    for key, value in helpers:
        name, email = _name_and_email(value)
        tool = ai_identity_tool(name, email)
        if tool and tool not in found:
            found[tool] = (tool, _model(name, tool), f"{key}: {value}")
    for role, name, email in (
        ("author", commit.author, commit.author_email),
        ("committer", commit.committer, commit.committer_email),
    ):
        tool = ai_identity_tool(name, email)
        if tool and tool not in found:
            found[tool] = (tool, _model(name, tool), f"{role} {name} <{email}>")
    # The line a tool writes into the message of a commit it made (`🤖 Generated with
    # [Claude Code](...)`), kept by many who drop the co-author trailer.
    for tool, line in generated_with_tools(commit.message):
        if tool not in found:
            found[tool] = (tool, None, f"message: {line}")
    return list(found.values())


def _model(name: str, tool: str) -> str | None:
    name = name.strip()
    if tool == "aider":
        match = re.search(r"\(([^)]+)\)", name)
        return match.group(1) if match and match.group(1) != "aider" else None
    if tool == "claude-code" and name.lower().startswith("claude "):
        rest = name[len("claude ") :].strip()
        return None if rest.lower() in ("", "code") or rest.startswith("(") else rest
    return None


# -- facts ------------------------------------------------------------------------------------


def _record(
    clone: _Clone,
    c: Commit,
    note: git_ai.Note | None,
    note_blobs: dict[tuple[str, str], str],
    tree: TreeEntries | None,
    batch: Batch,
) -> Record:
    repo = clone.repo
    ckey = model.commit_key(repo, c.sha)
    time = datetime.fromisoformat(c.time)
    boundary = not c.parents and c.sha in clone.shallow
    # At a shallow boundary the versions descend from parents the clone does not hold: their
    # commit nodes stand for that history, undefined until it is ingested.
    hidden = (
        [model.commit_key(repo, p) for p in _real_parents(clone.path, c.sha)] if boundary else []
    )
    missing = clone.missing
    facts: list[Fact] = []
    versions: dict[str, str] = {}  # path -> file version key at this commit
    lacking: list[str] = []  # blobs of this commit's versions the clone does not hold
    unread: set[str] = set()  # and those versions' keys
    files: list[dict[str, Any]] = []
    for changes in c.changes or [[]]:
        for ch in changes:
            if ch.mode == "160000":
                name = ch.new_path or ch.old_path or ""
                clone.submodules.add(name)
                continue
            if ch.new_path is None or ch.new_blob is None:
                continue  # a deletion: nothing to version
            key = model.file_version_key(repo, ch.new_path, ch.new_blob)
            parent = (
                model.file_version_key(repo, ch.old_path, ch.old_blob)
                if ch.old_blob and ch.old_path
                else None
            )
            if parent == key:
                continue  # only the mode changed: the same version, nothing to carry
            gone = ch.new_blob in missing
            if ch.new_path not in versions:
                versions[ch.new_path] = key
                entry: dict[str, Any] = {
                    "status": ch.status,
                    "path": ch.new_path,
                    "blob": ch.new_blob,
                    "old_path": ch.old_path,
                    "old_blob": ch.old_blob,
                }
                if ch.taken:
                    # a merge that took a parent's version of the file: that parent's commits
                    # wrote it (defined there, or undefined until their history is ingested)
                    attrs: dict[str, Any] = {"repo": repo, "path": ch.new_path, "blob": ch.new_blob}
                    entry["taken"] = True
                else:
                    count = None if gone else _line_count(ch, clone.lines_of)
                    clone.lines_of[(ch.new_path, ch.new_blob)] = count
                    attrs = {
                        "repo": repo,
                        "path": ch.new_path,
                        "blob": ch.new_blob,
                        "commit": c.sha,
                        "binary": (ch.binary and not gone) or None,
                        "line_count": count,
                    }
                    entry |= {"hunks": ch.hunks, "binary": ch.binary}
                    if gone:
                        lacking.append(ch.new_blob)
                        unread.add(key)
                        attrs["missing"] = (
                            f"blob {ch.new_blob} of {ch.new_path} is not in the "
                            f"clone at {clone.path} (a partial clone or an "
                            "incomplete mirror): fetch it (`git fetch --refetch "
                            "origin`) and ingest the repository again"
                        )
                facts += [
                    Node(
                        key,
                        NodeKind.FILE_VERSION,
                        {k: v for k, v in attrs.items() if v is not None},
                        defines=not (gone or ch.taken),
                    ),
                    Edge(ckey, key, EdgeKind.COMMITTED),
                ]
                files.append(entry)
                facts += [Edge(h, key, EdgeKind.REVISED) for h in hidden]
            if parent is not None:
                blind = gone or ch.old_blob in missing
                facts += [
                    Node(
                        parent,
                        NodeKind.FILE_VERSION,
                        {"repo": repo, "path": ch.old_path, "blob": ch.old_blob},
                        defines=False,
                    ),
                    Edge(parent, key, EdgeKind.MERGED)
                    if ch.taken
                    else Edge(
                        parent, key, EdgeKind.REVISED, line_map=None if blind else ch.line_map()
                    ),
                ]
    for h in hidden:
        facts.insert(
            0,
            Node(
                h,
                NodeKind.COMMIT,
                {
                    "repo": repo,
                    "commit": h.rsplit("@", 1)[1],
                    "missing": (
                        f"the history before commit {c.sha} is not in the shallow clone at "
                        f"{clone.path}: run `git -C {clone.path} fetch --unshallow` and ingest the "
                        "repository again"
                    ),
                },
                defines=False,
            ),
        )
    identities = ai_identities(c)
    outputs: dict[str, str] = {}  # tool -> the output node declared for it in this commit
    added_by_path = _added_in_all(c.changes)
    for path, key in versions.items():
        if key in unread:  # which lines it added is unknown: all of them (fail closed)
            for tool, model_name, why in identities:
                okey = _commit_output(facts, outputs, repo, c, tool, model_name, why)
                facts += [
                    Edge(okey, key, EdgeKind.WROTE, span=Span(1, None)),
                    Attribution(key, okey, Span(1, None), "trailer"),
                ]
            continue
        # Lines added relative to every parent are the commit's own (for a merge: conflict
        # resolutions); a normal commit has one parent diff.
        added, hashed_lines, hashes = added_by_path.get(path, _NOTHING_ADDED)
        if len(hashes):
            facts.append(AddedLines(key, repo, time, hashed_lines, hashes))
        if not len(added):
            continue
        if identities:
            firsts, lasts = line_runs(added)
            for tool, model_name, why in identities:
                okey = _commit_output(facts, outputs, repo, c, tool, model_name, why)
                facts.append(WrittenLines(key, okey, "trailer", firsts, lasts))
    note_summary = _note_facts(facts, repo, c, note, note_blobs, batch) if note else None
    if tree is not None:  # the whole tree: versions this commit did not write are named too
        declared = set(versions.values())
        facts += [
            Node(
                key,
                NodeKind.FILE_VERSION,
                {"repo": repo, "path": name, "blob": key.rsplit("@", 1)[1]},
                defines=False,
            )
            for name, key in tree.entries
            if key is not None and key not in declared
        ]
    facts.append(tree if tree is not None else _tree_changes(repo, c))
    commit_attrs: dict[str, Any] = {
        "repo": repo,
        "commit": c.sha,
        "parents": c.parents,
        "author": f"{c.author} <{c.author_email}>",
        "author_time": c.author_time,
        "committer": f"{c.committer} <{c.committer_email}>",
        "time": c.time,
        "message": c.message.strip()[:2000],
        "trailers": [f"{k}: {v}" for k, v in c.trailers],
    }
    if boundary:
        commit_attrs["shallow"] = True
    facts.insert(0, Node(ckey, NodeKind.COMMIT, commit_attrs))
    payload: dict[str, Any] = {
        "repo": repo,
        "commit": c.sha,
        "parents": c.parents,
        "author": f"{c.author} <{c.author_email}>",
        "committer": f"{c.committer} <{c.committer_email}>",
        "time": c.time,
        "trailers": [f"{k}: {v}" for k, v in c.trailers],
        "files": files,
        "ai_identities": [why for _, _, why in identities],
        "git_ai_note": note.evidence if note else None,
        "git_ai": note_summary,
    }
    event_id = f"git:{repo}@{c.sha}"
    if lacking or boundary:
        # An incomplete read has an id of its own, so a complete read later is accepted.
        payload["missing"] = sorted(lacking) + (["shallow"] if boundary else [])
        digest = hashlib.sha1(" ".join(payload["missing"]).encode()).hexdigest()[:12]
        event_id += f"#incomplete:{digest}"
    return Record(
        event_id=event_id,
        type="commit",
        payload=payload,
        facts=facts,
        occurred_at=time,
        origin=f"{repo}@{c.sha}",
    )


def _real_parents(path: Path, sha: str) -> list[str]:
    """The parents a shallow clone's boundary commit names (git hides them in the log)."""
    text = _git(path, "cat-file", "commit", sha).decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    return [line.split()[1] for line in head.splitlines() if line.startswith("parent ")]


def _commit_output(
    facts: list[Fact],
    outputs: dict[str, str],
    repo: str,
    c: Commit,
    tool: str,
    model_name: str | None,
    why: str,
) -> str:
    """The output that stands for what `tool` wrote in commit `c`, declared in `facts` the
    first time; `outputs` holds the ones declared so far (tool -> key)."""
    okey = outputs.get(tool)
    if okey is None:
        name = model.commit_output(repo, c.sha, tool)
        okey = outputs[tool] = model.output_key(name)
        facts.append(
            Node(
                okey,
                NodeKind.OUTPUT,
                {
                    "output": name,
                    "tool": tool,
                    "model": model_name,
                    "time": c.time,
                    "repo": repo,
                    "evidence": why,
                    "call": "commit",
                },
            )
        )
    return okey


def _note_facts(
    facts: list[Fact],
    repo: str,
    c: Commit,
    note: git_ai.Note,
    note_blobs: dict[tuple[str, str], str],
    batch: Batch,
) -> dict[str, Any]:
    """Attributions of a git-ai note's AI ranges, on the version each path has in the
    commit's tree; returns what the note says, line counts per kind."""
    ranges = note.ranges
    if note.problem:
        batch.notes.append(f"{repo}@{c.sha[:12]}: git-ai note: {note.problem}")
    summary: dict[str, int] = {"ai": 0, "human": 0, "ai_unknown_agent": 0}
    for r in ranges:
        count = sum(b - a + 1 for a, b in r.ranges)
        if r.kind == "human":
            summary["human"] += count
            continue
        if r.tool is None:
            summary["ai_unknown_agent"] += count
            continue
        blob = note_blobs.get((c.sha, r.path))
        if blob is None:
            summary["ai_path_not_in_tree"] = summary.get("ai_path_not_in_tree", 0) + count
            continue
        summary["ai"] += count
        key = model.file_version_key(repo, r.path, blob)
        name = model.note_output(repo, c.sha, r.key, r.path)
        okey = model.output_key(name)
        facts += [
            Node(
                key,
                NodeKind.FILE_VERSION,
                {"repo": repo, "path": r.path, "blob": blob},
                defines=False,
            ),
            Node(
                okey,
                NodeKind.OUTPUT,
                {
                    "output": name,
                    "tool": r.tool,
                    "model": r.model,
                    "time": c.time,
                    "repo": repo,
                    "path": r.path,
                    "session": r.key,
                    "call": "git-ai-note",
                },
            ),
        ]
        spans = np.array(r.ranges, dtype=np.int64).reshape(-1, 2)
        facts.append(WrittenLines(key, okey, "git-ai-note", spans[:, 0], spans[:, 1]))
    return summary


def _tree_changes(repo: str, c: Commit) -> TreeEntries:
    """What the commit's tree holds at the paths its first-parent diff touched (None where a
    path left the tree); a root commit's diff lists its whole tree."""
    entries: dict[str, str | None] = {}
    for ch in c.changes[0] if c.changes else []:
        if ch.mode == "160000":
            continue
        if ch.old_path is not None and ch.old_path != ch.new_path:
            entries.setdefault(ch.old_path, None)
        if ch.new_path is not None and ch.new_blob is not None:
            entries[ch.new_path] = model.file_version_key(repo, ch.new_path, ch.new_blob)
    return TreeEntries(
        repo,
        c.sha,
        c.parents[0] if c.parents else None,
        tuple(entries.items()),
        whole=not c.parents,
    )


_NOTHING_ADDED = (np.zeros(0, np.uint32), np.zeros(0, np.uint32), np.zeros(0, np.uint64))


def _added_in_all(
    diffs: list[list[FileChange]],
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Path -> (the lines added relative to every parent, those of them significant, their
    hashes): for a merge, the lines it resolved. A line of the merge's file is the same text
    whichever parent it is compared with, so the lines are found by number."""
    per_diff: list[dict[str, list[FileChange]]] = []
    for changes in diffs:
        table: dict[str, list[FileChange]] = {}
        for ch in changes:
            if ch.new_path is not None:
                table.setdefault(ch.new_path, []).append(ch)
        per_diff.append(table)
    if not per_diff:
        return {}
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for path, first in per_diff[0].items():
        if not all(path in table for table in per_diff[1:]):
            continue
        added = _concat([ch.added_lines() for ch in first], np.uint32)
        lines = _concat([ch.hashed_lines for ch in first], np.uint32)
        hashes = _concat([ch.hashes for ch in first], np.uint64)
        for table in per_diff[1:]:
            added = np.intersect1d(added, _concat([ch.added_lines() for ch in table[path]]))
        if len(per_diff) > 1 or len(first) > 1:
            added = np.unique(added)
            keep = np.isin(lines, added)
            lines, at = np.unique(lines[keep], return_index=True)
            hashes = hashes[keep][at]
        out[path] = (added, lines, hashes)
    return out


def _concat(arrays: list[np.ndarray], dtype: type = np.uint32) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays).astype(dtype)


def _line_count(ch: FileChange, lines_of: dict[tuple[str, str], int | None]) -> int | None:
    if ch.binary:
        return None
    base = 0 if ch.old_blob is None else lines_of.get((ch.old_path or "", ch.old_blob))
    if base is None:
        return None
    return base + sum(new_n - old_n for _, old_n, _, new_n in ch.hunks)
