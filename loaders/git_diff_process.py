"""A Python process that reads and parses `git diff-tree` output, and git-ai notes, for the
git loader.

Parsing a history's diffs (normalizing, hashing and pairing millions of lines) is most of the
git loader's Python work, and a history's notes can weigh hundreds of megabytes of JSON. In a
process of its own that work runs on a second core beside the store, instead of taking turns
with it under one interpreter lock. `DiffReader` starts the process and reads from it; the
process (`main`) answers each request in order: a part's diffs (`stream_log`'s arguments) with
the parsed commits and then the line ends of the text blobs they wrote, a part's notes with
their `CommitNotes`; each answer is followed by an end mark, each item a length-prefixed
pickle.
"""

import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

import lineage
from lineage.bulk_load import rare_full_collections
from lineage.loaders.git_ai import CommitNotes, read_commit_notes
from lineage.loaders.git_log import Commit, GitFailed, blob_line_ends, stream_log

_LOG = "log"  # a request for commits' diffs (answered with the line ends of their new blobs)
_NOTES = "notes"  # a request for commits' git-ai notes
_END = "end"
_FAILED = "git failed"  # git exited non-zero: (its arguments, its stderr)
_BROKEN = "error"  # the process met an error of its own: (its traceback)


@dataclass
class _LineEnds:
    """The line ends of the text blobs a part's commits wrote (little-endian uint32 offsets,
    as bytes: an array pickles ten times slower), sent after the part's commits."""

    of: dict[str, bytes]


class DiffReaderError(RuntimeError):
    """The diff reader process stopped or failed; the message says how."""


class DiffReader:
    """Reads commits' diffs with `stream_log` and their notes with `read_commit_notes`, here
    or in a process of its own (`apart`), and hands them over in order either way. One
    process serves every request of a reader, and what is `request`ed ahead is read while
    what was asked before is used. Use as a context manager: leaving it stops the process."""

    def __init__(self, apart: bool) -> None:
        self.apart = apart
        self._proc: subprocess.Popen[bytes] | None = None
        self._answers: queue.Queue[bytes | None] = queue.Queue()
        self._sent: deque[tuple[Any, ...]] = deque()  # requests whose answers are unread
        self._ended = False  # whether the answer being read was read to its last frame
        self._line_ends: dict[str, np.ndarray] = {}

    def __enter__(self) -> "DiffReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def request(self, repo: Path, commits: Sequence[str], **options: Any) -> None:
        """Have the process start on `stream(repo, commits, **options)` as soon as what was
        asked before is answered (apart only; what is already asked is not asked again)."""
        self._ask(_request(_LOG, repo, commits, options))

    def request_notes(self, repo: Path, commits: Sequence[str]) -> None:
        """Have the process read the notes of `commits` once what was asked before is
        answered (apart only; what is already asked is not asked again)."""
        self._ask(_request(_NOTES, repo, commits, {}))

    def notes(self, repo: Path, commits: Sequence[str]) -> CommitNotes:
        """What `read_commit_notes(repo, commits)` gives, and raises."""
        if not self.apart:
            return read_commit_notes(repo, commits)
        self._take(_request(_NOTES, repo, commits, {}))
        answer = list(self._received())
        assert len(answer) == 1 and isinstance(answer[0], CommitNotes)
        return answer[0]

    def take_line_ends(self) -> dict[str, np.ndarray]:
        """Blob -> line ends, of the text blobs the commits streamed so far wrote (apart
        only: the process reads them beside its diffs; here the caller reads them itself).
        Each is given once."""
        taken, self._line_ends = self._line_ends, {}
        return taken

    @contextmanager
    def stream(
        self, repo: Path, commits: Sequence[str], **options: Any
    ) -> Iterator[Iterator[Commit]]:
        """What `stream_log(repo, commits, **options)` gives, and raises."""
        if not self.apart:
            with stream_log(repo, commits, **options) as log:
                yield log
            return
        self._take(_request(_LOG, repo, commits, options))
        read_all = False

        def answer() -> Iterator[Commit]:
            nonlocal read_all
            try:
                for item in self._received():
                    if isinstance(item, _LineEnds):
                        self._line_ends |= {
                            blob: np.frombuffer(ends, dtype="<u4").astype(np.uint32)
                            for blob, ends in item.of.items()
                        }
                    else:
                        yield item
            finally:
                read_all = self._ended

        try:
            yield answer()
        finally:
            if not read_all:  # stopped early: what the process still writes is unwanted
                self._stop()

    def _ask(self, request: tuple[Any, ...]) -> None:
        if self.apart and request not in self._sent:
            self._send(request)

    def _take(self, wanted: tuple[Any, ...]) -> None:
        """Make `wanted` the request whose answer is read next."""
        if self._sent and self._sent[0] != wanted:
            self._stop()  # what was asked ahead is not what is read (the reading changed)
        if not self._sent:
            self._send(wanted)
        self._sent.popleft()

    def _received(self) -> Iterator[Any]:
        """The items of the answer being read, up to its end mark; git's failure and the
        process's own error are raised."""
        self._ended = False
        while True:
            item = self._receive()
            if not isinstance(item, tuple):
                yield item
                continue
            self._ended = True  # the answer's last frame is read
            kind, *detail = item
            if kind == _FAILED:
                raise GitFailed(detail[0], detail[1])
            if kind == _BROKEN:
                raise DiffReaderError(f"the diff reader process failed:\n{detail[0]}")
            return

    def _send(self, request: tuple[Any, ...]) -> None:
        proc = self._process()
        assert proc.stdin is not None
        try:
            pickle.dump(request, proc.stdin)
            proc.stdin.flush()
        except OSError as exc:
            self._stop()
            raise DiffReaderError(f"the diff reader process stopped: {exc}") from exc
        self._sent.append(request)

    def _receive(self) -> Any:
        frame = self._answers.get()
        if frame is None:
            code = self._proc.wait() if self._proc is not None else None
            self._stop()
            raise DiffReaderError(f"the diff reader process stopped (exit code {code})")
        return pickle.loads(frame)

    def _process(self) -> "subprocess.Popen[bytes]":
        if self._proc is None:
            package_root = str(Path(lineage.__file__).resolve().parent.parent)
            path = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _MAIN],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=os.environ | {"PYTHONPATH": os.pathsep.join(path)},
            )
            self._answers = queue.Queue()
            assert self._proc.stdout is not None
            threading.Thread(
                target=_read_frames,
                args=(self._proc.stdout, self._answers),
                name="lineage-diff-reader",
                daemon=True,
            ).start()
        return self._proc

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        self._sent.clear()
        if proc is None:
            return
        proc.kill()
        if proc.stdin is not None:
            with suppress(OSError):
                proc.stdin.close()
        proc.wait()


def _request(
    kind: str, repo: Path, commits: Sequence[str], options: dict[str, Any]
) -> tuple[Any, ...]:
    return (kind, repo, list(commits), dict(sorted(options.items())))


def _read_frames(pipe: IO[bytes], frames: "queue.Queue[bytes | None]") -> None:
    """Each frame the process writes, as soon as it is written (so the process never waits
    on a busy reader), then None at the end of its output."""
    with suppress(OSError, ValueError):
        while len(size := pipe.read(8)) == 8:
            frames.put(pipe.read(int.from_bytes(size, "big")))
    frames.put(None)
    with suppress(OSError):
        pipe.close()


def _write_frame(pipe: IO[bytes], item: object) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(len(data).to_bytes(8, "big"))
    pipe.write(data)


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer each request read from `requests` with its items (parsed commits, or the
    notes read), then an end mark (or git's failure, or this process's own error), until
    `requests` ends."""
    while True:
        try:
            kind, repo, commits, options = pickle.load(requests)
        except EOFError:
            return
        try:
            if kind == _NOTES:
                _write_frame(answers, read_commit_notes(repo, commits))
            else:
                written: dict[str, None] = {}  # the text blobs written, in order, once
                with stream_log(repo, commits, **options) as log:
                    for commit in log:
                        _write_frame(answers, commit)
                        answers.flush()
                        written |= dict.fromkeys(_text_blobs(commit))
                ends = {
                    blob: e.astype("<u4").tobytes()
                    for blob, e in blob_line_ends(repo, list(written))
                }
                _write_frame(answers, _LineEnds(ends))
            answer: tuple[Any, ...] = (_END,)
        except GitFailed as exc:
            answer = (_FAILED, exc.git_args, exc.stderr)
        except Exception:
            answer = (_BROKEN, traceback.format_exc())
        _write_frame(answers, answer)
        answers.flush()


def _text_blobs(commit: Commit) -> Iterator[str]:
    """The blobs of the text versions `commit` wrote (not taken from a merge's parent, not a
    submodule): the ones the git loader records line ends of."""
    for diff in commit.changes:
        for ch in diff:
            if ch.new_blob and ch.new_path and not (ch.binary or ch.taken or ch.mode == "160000"):
                yield ch.new_blob


def main() -> None:
    """The process's body: answers go to a copy of stdout, anything else printed to stderr;
    full collections rare, as in the process that reads a bulk load (`lineage.bulk_load`)."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with rare_full_collections():
        serve(sys.stdin.buffer, answers)


# run with -c, not -m: as __main__ the module's classes would pickle under another name
_MAIN = "from lineage.loaders.git_diff_process import main; main()"
