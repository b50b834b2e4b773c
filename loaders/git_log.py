"""Reading `git log --raw -p -U0 -z` byte-exactly: commits, the files each changed, and hunks.

Paths come from the NUL-separated raw entries (`-z`), never from the patch text, so spaces,
tabs, quotes, non-ASCII and names git would quote are read exactly as git stores them. A patch
is tied to its raw entry by the path of its `diff --git` header (or its `rename to` line), and
the lines of a hunk are consumed by the counts of its `@@` header, so an added line that starts
with `++ ` or a removed one that starts with `-- ` is content, never a header.
"""

import os
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from lineage.loaders.agent_outputs import line_hashes, significant_lines

# Fields are cut at NUL, which no message, name or trailer can hold (any other byte can); a
# header that content imitates is told from git's by the commit id that must follow it.
HEADER = b"\x1egit-commit\x00"
FORMAT = (
    "%x1egit-commit%x00"
    + "%x00".join(
        ["%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%(trailers:unfold,only)", "%B"]
    )
    + "%x00"
)
EMPTY_BLOB = "0" * 40
BLOCK = 1 << 20  # the most read from git's output at once
AHEAD_BLOCKS = 64  # how many reads of git's output may wait for their parsing
# The most characters of paths a merge's patches are limited to; a merge that changed more
# from every parent is read whole (git takes its paths as arguments, which the system bounds).
MERGE_PATHSPEC_CHARS = 100_000
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
# git's environment for reading: no pager, no prompt, no lazy fetch of a partial clone's
# missing objects (this machine may have no network), the objects as stored (not replaced).
GIT_ENV = {
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "LC_ALL": "C",
}
LOG_OPTIONS = (
    "-c",
    "core.quotePath=false",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "log.showSignature=false",
)


class GitFailed(RuntimeError):
    """git exited non-zero; `stderr` is what it said."""

    def __init__(self, args: Sequence[str], stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:2])} failed: {stderr.strip()}")
        self.git_args, self.stderr = list(args), stderr


_NO_LINES = np.zeros(0, dtype=np.uint32)
_NO_HASHES = np.zeros(0, dtype=np.uint64)


@dataclass
class FileChange:
    """One file of one diff. What the patch said is kept compactly, never its text: the
    hunks, each with the rewritten lines still similar to the ones they replaced (the line
    map), and the significant added lines' numbers and hashes (a vendored tree of millions
    of lines costs two arrays)."""

    status: str
    old_path: str | None
    new_path: str | None
    old_blob: str | None
    new_blob: str | None
    mode: str
    hunks: list[list[int]] = field(default_factory=list)  # [old_start, old_n, new_start, new_n]
    pairs: list[list[list[int]]] = field(default_factory=list)  # per hunk: [old, new] lines
    hashed_lines: np.ndarray = field(default_factory=lambda: _NO_LINES)  # new line numbers
    hashes: np.ndarray = field(default_factory=lambda: _NO_HASHES)  # their line hashes
    binary: bool = False
    # A merge's diff against one parent where the merge took another parent's version of
    # the file as it was: no patch is read, and no line of this parent's version is carried
    # (what `git blame` does: a file equal to one parent's is all that parent's).
    taken: bool = False

    @property
    def same_content(self) -> bool:
        """Only the mode changed (or a rename kept every byte): no new content."""
        return self.old_blob is not None and self.old_blob == self.new_blob

    def line_map(self) -> list[list[Any]] | None:
        """The hunks, each with the pairs of lines it rewrote that are still similar."""
        if self.binary:
            return None
        return [h + ([p] if p else []) for h, p in zip(self.hunks, self.pairs, strict=True)]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Sent between processes by the thousand: as plain values, the arrays as their bytes
        # (a NumPy array pickles with a reconstructor of its own, ten times slower to load).
        return (
            _file_change,
            (
                self.status,
                self.old_path,
                self.new_path,
                self.old_blob,
                self.new_blob,
                self.mode,
                self.hunks,
                self.pairs,
                self.hashed_lines.astype(np.uint32, copy=False).tobytes(),
                self.hashes.astype(np.uint64, copy=False).tobytes(),
                self.binary,
                self.taken,
            ),
        )

    def added_lines(self) -> np.ndarray:
        """The new side's line numbers of every line the patch added, in order."""
        runs = [(start, n) for _, _, start, n in self.hunks if n]
        if not runs:
            return _NO_LINES
        return np.concatenate([np.arange(start, start + n, dtype=np.uint32) for start, n in runs])


def _file_change(
    status: str,
    old_path: str | None,
    new_path: str | None,
    old_blob: str | None,
    new_blob: str | None,
    mode: str,
    hunks: list[list[int]],
    pairs: list[list[list[int]]],
    lines: bytes,
    hashes: bytes,
    binary: bool,
    taken: bool,
) -> FileChange:
    """A FileChange from what its `__reduce__` gives."""
    return FileChange(
        status,
        old_path,
        new_path,
        old_blob,
        new_blob,
        mode,
        hunks,
        pairs,
        np.frombuffer(lines, dtype=np.uint32),
        np.frombuffer(hashes, dtype=np.uint64),
        binary,
        taken,
    )


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


def run_git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """git's stdout as bytes; GitFailed when it exits non-zero."""

    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        check=False,
        env=os.environ | GIT_ENV,
    )
    if done.returncode != 0:
        raise GitFailed(args, done.stderr.decode("utf-8", "replace"))
    return done.stdout


def _feed(pipe: Any, data: bytes) -> threading.Thread:
    """A started thread that writes `data` to git's stdin and closes it (git may stop reading
    early: its exit code and stderr then say why), so git's output is read meanwhile."""

    def feed() -> None:
        try:
            pipe.write(data)
            pipe.close()
        except OSError:
            pass

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def git_lines(repo: Path, *args: str, stdin: bytes = b"") -> Iterator[bytes]:
    """git's stdout line by line, as git writes it (an output of millions of lines is never
    held whole); GitFailed at the end when git exits non-zero."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            ["git", "-C", str(repo), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=os.environ | GIT_ENV,
        )
        pipe_in, pipe_out = proc.stdin, proc.stdout
        assert pipe_in is not None and pipe_out is not None
        feeder = _feed(pipe_in, stdin)
        try:
            yield from pipe_out
        finally:
            pipe_out.close()
            feeder.join()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            raise GitFailed(args, errors.read().decode("utf-8", "replace"))


def cat_objects(repo: Path, ids: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
    """(id, content) of each object, streamed from one `git cat-file --batch`; content None
    when the clone does not hold the object."""
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=os.environ | GIT_ENV,
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    feeder = _feed(stdin, "".join(f"{oid}\n" for oid in ids).encode())
    try:
        for oid in ids:
            header = stdout.readline().split()
            if len(header) != 3:  # "<oid> missing"
                yield oid, None
                continue
            data = stdout.read(int(header[2]))
            stdout.read(1)  # the newline after each object
            yield oid, data
    finally:
        stdout.close()
        feeder.join()
        proc.wait()


def blob_line_ends(path: Path, blobs: list[str]) -> Iterator[tuple[str, np.ndarray]]:
    """(blob, line ends) of each blob the clone holds, streamed: the byte offset just past
    each line's newline, the last line ending at the blob's length."""
    for blob, data in cat_objects(path, blobs):
        if data is None or len(data) >= 1 << 32:
            continue  # missing from the clone, or too long for uint32 offsets
        raw = np.frombuffer(data, dtype=np.uint8)
        ends = (np.flatnonzero(raw == 10) + 1).astype(np.uint32)
        if len(data) and data[-1:] != b"\n":
            ends = np.append(ends, np.uint32(len(data)))
        yield blob, ends


class ObjectCheck:
    """Whether objects are in the clone, asked one at a time of one `git cat-file
    --batch-check`, started at the first question (git reports a blob it cannot read as
    binary, not as an error, when it adds a file)."""

    def __init__(self, repo: Path) -> None:
        self._repo = repo
        self._proc: subprocess.Popen[bytes] | None = None

    def has(self, oid: str) -> bool:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "-C", str(self._repo), "cat-file", "--batch-check"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=os.environ | GIT_ENV,
            )
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(f"{oid}\n".encode())
        stdin.flush()
        return not stdout.readline().rstrip().endswith(b" missing")

    def close(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc.wait()


@contextmanager
def stream_log(
    repo: Path,
    commits: Sequence[str],
    *,
    patches: bool = True,
    renames: bool = True,
    paths: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[Iterator[Commit]]:
    """The commits named, in that order, each with its diffs against every parent in the
    order of its parents (a root commit against the empty tree), parsed as git writes them
    so parsing overlaps git's work. `patches` False reads only the raw entries (no blob is
    read); `paths` limits the diffs to those paths, `exclude` leaves those out (literal
    names).

    A merge's patches are read only for the files it changed from every parent (a
    conflict's resolution, an evil merge): a file equal to one parent's version is that
    version, and its entries against the other parents are `taken`, without a patch. The
    diff of a merge against the parent it did not take a file from repeats the changes of a
    whole branch (four fifths of the patch lines of a real history), which the commits of
    that branch gave already."""
    parents = _parents(repo, commits)
    merged = [sha for sha in commits if len(parents.get(sha, ())) > 1]
    options: dict[str, Any] = {"renames": renames, "paths": paths, "exclude": exclude}
    if not patches or not merged:
        with _diff_tree(repo, commits, parents, patches=patches, **options) as log:
            yield log
        return
    raw, conflicted, groups = _merge_plan(repo, merged, parents, options)
    group_of = {sha: group for group in groups for sha in group[1]}
    read: dict[str, Commit] = {}

    def patched(sha: str) -> Commit:
        """The merge read with the patches of the paths it changed from every parent: the
        merges that changed the same paths are read together, by one git."""
        if sha not in read:
            paths, shas = group_of[sha]
            with _diff_tree(repo, shas, parents, **(options | {"paths": paths})) as log:
                read.update((c.sha, c) for c in log)
        return read.pop(sha)

    with _diff_tree(repo, [c for c in commits if c not in raw], parents, **options) as plain:
        yield _in_order(commits, raw, conflicted, plain, patched)


def git_passes(
    repo: Path, commits: Sequence[str], *, exclude: Sequence[str] = ()
) -> list[tuple[list[str], bytes]]:
    """The `git diff-tree` runs `stream_log` makes to read `commits` with their patches, as
    (arguments after `git -C <repo>`, standard input): what a benchmark times as the
    loader's own git pass. Finding which files merges changed from every parent takes the
    raw pass, which is run here."""
    parents = _parents(repo, commits)
    merged = [sha for sha in commits if len(parents.get(sha, ())) > 1]
    options: dict[str, Any] = {"renames": True, "paths": (), "exclude": exclude}
    if not merged:
        return [_diff_tree_command(commits, parents, **options)]
    raw, _, groups = _merge_plan(repo, merged, parents, options)
    return [
        _diff_tree_command([c for c in commits if c not in raw], parents, **options),
        _diff_tree_command(merged, parents, **(options | {"patches": False})),
        *(_diff_tree_command(g, parents, **(options | {"paths": p})) for p, g in groups),
    ]


def _merge_plan(
    repo: Path, merged: list[str], parents: dict[str, list[str]], options: dict[str, Any]
) -> tuple[dict[str, Commit], dict[str, set[str]], list[tuple[list[str], list[str]]]]:
    """The merges' raw entries, the paths each changed from every parent, and the merges
    that changed any, grouped by the paths whose patches they need (those, and the sources
    they were renamed from): one git reads a group, limited to its paths, so no merge is
    diffed on paths another one needs (one union of every merge's paths cost nine times
    the output on a real history)."""
    with _diff_tree(repo, merged, parents, **(options | {"patches": False})) as log:
        raw = {c.sha: c for c in log}  # raw entries only: a few bytes a file
    conflicted = {sha: _changed_from_every_parent(c) for sha, c in raw.items()}
    groups: dict[tuple[str, ...], list[str]] = {}
    for sha in merged:
        names = conflicted[sha]
        if not names:
            continue
        paths = {
            name
            for diff in raw[sha].changes
            for ch in diff
            if ch.new_path in names
            for name in (ch.new_path, ch.old_path)  # a rename's source, for -M to pair it
            if name is not None
        }
        if sum(map(len, paths)) > MERGE_PATHSPEC_CHARS:
            paths = set()  # too many to name to git (its arguments are bounded): read all
        groups.setdefault(tuple(sorted(paths)), []).append(sha)
    return raw, conflicted, [(list(p), g) for p, g in groups.items()]


def _parents(repo: Path, commits: Sequence[str]) -> dict[str, list[str]]:
    """Each commit's parents, in order."""
    if not commits:
        return {}
    listing = run_git(
        repo,
        "rev-list",
        "--no-walk=unsorted",
        "--parents",
        "--stdin",
        stdin="".join(f"{sha}\n" for sha in commits).encode(),
    )
    return {sha: rest for sha, *rest in (line.split() for line in listing.decode().splitlines())}


def _changed_from_every_parent(merge: Commit) -> set[str]:
    """The paths of a merge's tree whose content differs from every parent's."""
    differing = [
        {ch.new_path for ch in diff if ch.new_path is not None and not ch.same_content}
        for diff in merge.changes
    ]
    return set.intersection(*differing) if differing else set()


def _in_order(
    commits: Sequence[str],
    raw: dict[str, Commit],
    conflicted: dict[str, set[str]],
    plain: Iterator[Commit],
    patched: Callable[[str], Commit],
) -> Iterator[Commit]:
    """The commits in the order named: each merge from its raw entries, with the patched
    entries of the paths it changed from every parent and the others `taken`."""
    for sha in commits:
        merge = raw.get(sha)
        if merge is None:
            commit = next(plain)
            assert commit.sha == sha, (commit.sha, sha)
            yield commit
            continue
        names = conflicted[sha]
        read = patched(sha) if names else None
        assert read is None or read.sha == sha, (sha, read.sha)
        for n, diff in enumerate(merge.changes):
            found = {ch.new_path: ch for ch in (read.changes[n] if read is not None else [])}
            for i, ch in enumerate(diff):
                if ch.new_path is None or ch.same_content:
                    continue  # a deletion, or the same content: nothing to patch
                if ch.new_path not in names:
                    ch.taken = True
                    continue
                patch = found.get(ch.new_path)
                if patch is not None and (patch.old_path, patch.old_blob, patch.new_blob) == (
                    ch.old_path,
                    ch.old_blob,
                    ch.new_blob,
                ):
                    diff[i] = patch
                else:  # git paired the file otherwise: its lines are not mapped (fail closed)
                    ch.binary = True
        yield merge


def _diff_tree_command(
    commits: Sequence[str],
    parents: dict[str, list[str]],
    *,
    patches: bool = True,
    renames: bool = True,
    paths: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> tuple[list[str], bytes]:
    """The arguments and the standard input of `_diff_tree`'s git."""
    args = [
        *LOG_OPTIONS,
        "diff-tree",
        "--stdin",
        "--root",
        "-m",
        "--always",
        "-r",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--full-index",
        f"--format={FORMAT}",
        "-M" if renames else "--no-renames",
    ]
    if patches:
        args += ["-p", "-U0"]
    if paths or exclude:
        args += ["--", *[f":(literal,top){p}" for p in paths]]
        if exclude:
            args += ([] if paths else ["."]) + [f":(exclude,literal,top){p}" for p in exclude]
    lines = [
        f"{sha} {parent}\n" if len(parents.get(sha, ())) > 1 else f"{sha}\n"
        for sha in commits
        for parent in (parents.get(sha) or [""])
    ]
    return args, "".join(lines).encode()


@contextmanager
def _diff_tree(
    repo: Path,
    commits: Sequence[str],
    parents: dict[str, list[str]],
    *,
    patches: bool = True,
    renames: bool = True,
    paths: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[Iterator[Commit]]:
    """`stream_log` in one `git diff-tree`, every patch read. A merge is fed once per
    parent (`<merge> <parent>`), so each parent's diff comes under a header of its own even
    when it is empty (with `-m` git leaves an empty diff out, and the diffs that remain no
    longer tell which parent they are against)."""
    if not commits:
        yield iter(())
        return
    args, feed = _diff_tree_command(
        commits, parents, patches=patches, renames=renames, paths=paths, exclude=exclude
    )
    proc = subprocess.Popen(
        ["git", "-C", str(repo), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ | GIT_ENV,
    )
    stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
    assert stdin is not None and stdout is not None and stderr is not None

    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
    ahead = _ReadAhead(stdout)
    feeder = _feed(stdin, feed)
    drain.start()

    def chunks() -> Iterator[bytearray]:
        # Only the newly read bytes (and a header's length before them) are searched, so a
        # large diff costs its length, not its length squared.
        # A commit's output grows in place as it is read and is handed over as it is, never
        # joined or copied: one commit can be hundreds of megabytes (a vendored tree).
        keep = len(HEADER) - 1  # bytes of a header that may end a block
        pending = bytearray()
        for block in ahead:
            start = max(0, len(pending) - keep)
            pending += block
            at = pending.find(HEADER, start)
            while at >= 0:
                rest = pending[at + len(HEADER) :]
                del pending[at:]
                yield pending
                pending = rest
                at = pending.find(HEADER)
        yield pending

    def commit_chunks() -> Iterator[bytearray]:
        # git writes each commit fed once (a merge once per parent, in a row): a cut not
        # followed by the id of this commit or of one still to come was content, undone.
        to_come = set(commits)
        current: str | None = None
        held: bytearray | None = None
        for part in chunks():
            sha = part[:40].decode("ascii", "replace") if part[40:41] == b"\0" else None
            if held is None:
                held = part
            elif sha is not None and (sha == current or sha in to_come):
                yield held
                held = part
                to_come.discard(sha)
                current = sha
            else:
                held += HEADER
                held += part
        if held is not None:
            yield held

    try:
        yield parse_log(commit_chunks())
    finally:
        read_all = ahead.done
        if not read_all:
            proc.kill()  # the reader stopped early: git's output is not wanted
        ahead.close()
        stdout.close()
        feeder.join()
        code = proc.wait()
        drain.join()
        if code != 0 and read_all:
            raise GitFailed(args[len(LOG_OPTIONS) :], b"".join(errors).decode("utf-8", "replace"))


class _ReadAhead:
    """The blocks of a pipe, read by a thread of its own as soon as the writer writes them
    (up to AHEAD_BLOCKS reads ahead of the consumer), so git keeps writing while Python parses:
    a pipe holds 64 KiB, and a git left waiting on a full pipe would add its time to ours."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self._blocks: queue.Queue[bytes | BaseException] = queue.Queue(AHEAD_BLOCKS)
        self._stop = threading.Event()
        self.done = False  # the consumer met the end of the output
        self._thread = threading.Thread(target=self._read, name="lineage-git-pipe", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                block: bytes | BaseException = self._pipe.read1(BLOCK)
            except (OSError, ValueError) as exc:
                block = exc
            while True:
                try:
                    self._blocks.put(block, timeout=0.1)
                    break
                except queue.Full:
                    if self._stop.is_set():
                        return
            if not isinstance(block, bytes) or not block:
                return

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self._blocks.get()
            if isinstance(block, BaseException):
                raise block
            if not block:
                self.done = True
                return
            yield block

    def close(self) -> None:
        """Stop reading (the writer must have ended or been killed, so a read returns)."""
        self._stop.set()
        self._thread.join()


def parse_log(chunks: Iterable[bytes | bytearray]) -> Iterator[Commit]:
    """Commits of a log written in FORMAT with `--raw -z -p`, given cut at its commit headers;
    a merge's diffs (one per parent, each under a header) are gathered into one Commit."""
    current: Commit | None = None
    for raw in chunks:
        if _skip_separators(raw, 0) == len(raw):
            continue
        header_end = -1
        for _ in range(10):  # ten fields, then the diff (read in place, never copied)
            header_end = raw.find(b"\0", header_end + 1)
            if header_end < 0:
                break
        if header_end < 0:
            continue
        fields = raw[:header_end].decode("utf-8", "replace").split("\0")
        sha = fields[0]
        if current is None or current.sha != sha:
            if current is not None:
                yield current
            current = Commit(
                sha=sha,
                parents=fields[1].split(),
                author=fields[2],
                author_email=fields[3],
                author_time=fields[4],
                committer=fields[5],
                committer_email=fields[6],
                time=fields[7],
                trailers=parse_trailers(fields[8]),
                message=fields[9],
            )
        elif len(current.changes) >= len(current.parents):
            current.parents += fields[1].split()  # a merge fed once per parent: the next one
        current.changes.append(parse_changes(raw, header_end + 1))
    if current is not None:
        yield current


def parse_trailers(text: str) -> list[tuple[str, str]]:
    """`Key: value` pairs of `%(trailers:unfold,only)` (git parsed the last paragraph)."""
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.append((key.strip(), value.strip()))
    return out


def parse_changes(body: bytes | bytearray, start: int = 0) -> list[FileChange]:
    """The raw entries of one diff (NUL-separated) from `start` on, then its patch, hunks
    tied to entries."""
    changes: list[FileChange] = []
    # the raw entries are read token by token, the patch after them a file at a time: a diff
    # can be hundreds of megabytes, so it is neither cut at NUL nor decoded whole
    at = _skip_separators(body, start)

    def token() -> str:
        nonlocal at
        if at > len(body):
            return ""
        end = body.find(b"\0", at)
        end = len(body) if end < 0 else end
        text, at = body[at:end].decode("utf-8", "replace"), end + 1
        return text

    while body.startswith(b":", at):
        entry = at
        meta = token()[1:].split()
        if len(meta) < 5:
            at = entry
            break
        old_mode, new_mode, old_blob, new_blob, status = meta[:5]
        kind = status[0]
        two = kind in "RC"
        old_path = token()
        new_path = token() if two else old_path
        changes.append(
            FileChange(
                status=kind,
                old_path=None if kind == "A" else old_path,
                new_path=None if kind == "D" else new_path,
                old_blob=None if old_blob == EMPTY_BLOB else old_blob,
                new_blob=None if new_blob == EMPTY_BLOB else new_blob,
                mode=new_mode if kind != "D" else old_mode,
            )
        )
    by_path = {c.new_path: c for c in changes if c.new_path is not None}
    for section in _file_sections(body, _skip_separators(body, at)):
        _attach_patch(section, by_path)
    return changes


def _skip_separators(data: bytes | bytearray, at: int) -> int:
    """The index of the first byte from `at` on that is neither NUL nor a newline."""
    while at < len(data) and data[at] in b"\0\n":
        at += 1
    return at


_FILE_HEADER = b"\ndiff --git "


def _file_sections(patch: bytes | bytearray, start: int) -> Iterator[str]:
    """The patch of each file, decoded one at a time. A `diff --git` line always begins a
    file's patch: with -U0 every content line starts with `+`, `-` or `\\`."""
    at = start
    while at < len(patch):
        end = patch.find(_FILE_HEADER, at)
        end = len(patch) if end < 0 else end + 1
        yield patch[at:end].decode("utf-8", "replace")
        at = end


def _attach_patch(patch: str, by_path: dict[str, FileChange]) -> None:
    """Hunks of one file's patch (or of several, a header line starting each) onto their
    raw entries, with their line maps and added lines' hashes."""
    current: FileChange | None = None
    target: str | None = None
    deleted = False
    bound = False
    lines = patch.split("\n")
    i, n = 0, len(lines)
    hashed: dict[int, tuple[FileChange, list[np.ndarray], list[np.ndarray]]] = {}
    while i < n:
        line = lines[i]
        i += 1
        if line.startswith("@@"):
            if not bound:
                current = None if deleted or target is None else by_path.get(target)
                bound = True
            m = _HUNK.match(line)
            if m is None:
                continue
            old_start, old_n, new_start, new_n = (
                int(m.group(1)),
                int(m.group(2) or 1),
                int(m.group(3)),
                int(m.group(4) or 1),
            )
            # -U0: the hunk's removed lines, then its added ones, each block possibly followed
            # by "\ No newline at end of file"; taken by count, so no content is a header.
            removed = lines[i : i + old_n]
            i += len(removed)
            if i < n and lines[i].startswith("\\"):
                i += 1
            added = lines[i : i + new_n]
            i += len(added)
            if i < n and lines[i].startswith("\\"):
                i += 1
            if current is None:
                continue
            current.hunks.append([old_start, old_n, new_start, new_n])
            news = significant_lines([t[1:] for t in added], new_start)
            olds = significant_lines([t[1:] for t in removed], old_start) if news else []
            current.pairs.append(similar_pairs(olds, news) if olds else [])
            if news:
                _, numbers, values = hashed.setdefault(id(current), (current, [], []))
                numbers.append(np.array([n for n, _ in news], dtype=np.uint32))
                values.append(line_hashes([norm for _, norm in news]))
        elif line.startswith("diff --git "):
            current, target, deleted, bound = None, header_path(line[11:]), False, False
        elif line.startswith(("rename to ", "copy to ")):
            target = unquote_c(line.split(" to ", 1)[1])
        elif line.startswith("deleted file mode"):
            deleted = True
        elif (
            line.startswith(("Binary files ", "GIT binary patch"))
            and not deleted
            and target is not None
            and target in by_path
        ):
            by_path[target].binary = True
    for change, numbers, values in hashed.values():
        change.hashed_lines = np.concatenate([change.hashed_lines, *numbers])
        change.hashes = np.concatenate([change.hashes, *values])


def header_path(rest: str) -> str | None:
    """The b-side path of `diff --git a/X b/Y` (None when a rename makes it ambiguous; its
    `rename to` line names it)."""
    if rest.startswith('"') or rest.endswith('"'):
        parts = _c_tokens(rest)
        if len(parts) == 2 and parts[1].startswith("b/"):
            return parts[1][2:]
        return None
    n = (len(rest) - 5) // 2
    if n >= 0 and rest.startswith("a/") and rest[2 + n :] == " b/" + rest[2 : 2 + n]:
        return rest[2 : 2 + n]
    return None


def _c_tokens(text: str) -> list[str]:
    """Split `a/x "b/y z"` style text into its (unquoted) tokens."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        if text[i] == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(unquote_c(text[i : j + 1]))
            i = j + 1
        else:
            j = text.find(" ", i)
            j = len(text) if j < 0 else j
            out.append(text[i:j])
            i = j
    return out


def unquote_c(text: str) -> str:
    """A path as git quotes it (C-style escapes, octal bytes) back to text; text that is not
    quoted comes back unchanged."""
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    body = text[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in "01234567" and i + 3 < len(body) + 1 and body[i + 1 : i + 4].isdigit():
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
    return out.decode("utf-8", "replace")


MODIFIED_SIMILARITY = 70.0  # percent (rapidfuzz ratio of normalized text) to stay attributed
PAIR_WINDOW = 24  # how far from its place in the hunk a rewritten line looks for its original
_PAIR_BLOCK = 4 * PAIR_WINDOW  # at most this many new lines, and old ones, scored per call
_PAIR_LONG_LINE = 4000  # characters of a new and an old line beyond which pairs are scored alone
_PAIR_MATRIX_AT = 512  # scores a hunk needs from which they are computed a block at a time


def similar_pairs(
    old: list[tuple[int, str]], new: list[tuple[int, str]], threshold: float = MODIFIED_SIMILARITY
) -> list[list[int]]:
    """[old_line, new_line] for each rewritten line still similar to a line it replaced in the
    same hunk (each old line pairs once, in order). Both sides are a hunk's significant lines
    as `significant_lines` gives them (trivial lines never pair).

    >>> similar_pairs([(3, "total = price * count")], [(3, "total = price * qty")])
    [[3, 3]]
    """
    pairs: list[list[int]] = []
    if not old or not new:
        return pairs
    used = bytearray(len(old))  # old lines already paired
    scale = len(old) / len(new)
    if len(new) * min(len(old), 2 * PAIR_WINDOW + 1) <= _PAIR_MATRIX_AT:
        _pair_rows(old, new, range(len(new)), scale, threshold, used, pairs)
        return pairs
    # A large hunk: the scores of a block of rows come from one `cdist` call, then the same
    # choice is made row by row (a block's windows span at most _PAIR_BLOCK old lines).
    near = (np.arange(len(new)) * scale).astype(np.int64)
    lows = np.maximum(near - PAIR_WINDOW, 0)
    highs = np.minimum(near + PAIR_WINDOW + 1, len(old))
    old_texts = [text for _, text in old]
    taken = np.frombuffer(used, dtype=np.bool_)  # a view: `used` and `taken` change together
    first = 0
    while first < len(new):
        last = int(np.searchsorted(highs, lows[first] + _PAIR_BLOCK, side="right"))
        last = min(max(last, first + 1), first + _PAIR_BLOCK, len(new))
        lo, hi = int(lows[first]), int(highs[last - 1])
        new_texts = [text for _, text in new[first:last]]
        if max(map(len, new_texts)) + max(map(len, old_texts[lo:hi])) > _PAIR_LONG_LINE:
            # very long lines (minified code, data): one `ratio` at a time, each cut off at
            # the best score so far, gives up early where a score matrix would not
            _pair_rows(old, new, range(first, last), scale, threshold, used, pairs)
            first = last
            continue
        scores = process.cdist(
            new_texts, old_texts[lo:hi], scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.float64
        )
        columns = np.arange(lo, hi)
        outside = (columns < lows[first:last, None]) | (columns >= highs[first:last, None])
        scores[outside | taken[lo:hi]] = -1.0
        for row in range(last - first):
            at = int(scores[row].argmax())
            if scores[row, at] >= threshold:
                used[lo + at] = 1
                scores[row + 1 :, at] = -1.0
                pairs.append([old[lo + at][0], new[first + row][0]])
        first = last
    return pairs


def _pair_rows(
    old: list[tuple[int, str]],
    new: list[tuple[int, str]],
    rows: range,
    scale: float,
    threshold: float,
    used: bytearray,
    pairs: list[list[int]],
) -> None:
    """`similar_pairs` for the new lines `rows`, one `ratio` at a time."""
    for i in rows:
        n, text = new[i]
        near = int(i * scale)
        best, at = 0.0, -1
        for j in range(max(0, near - PAIR_WINDOW), min(len(old), near + PAIR_WINDOW + 1)):
            if used[j]:
                continue
            score = fuzz.ratio(text, old[j][1], score_cutoff=max(threshold, best))
            if score > best:
                best, at = score, j
        if at >= 0:
            used[at] = 1
            pairs.append([old[at][0], n])
