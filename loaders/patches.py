"""Reading what an agent wrote out of its edit records: Codex apply_patch text, unified diffs,
Claude's structuredPatch hunks, and file writes hidden in shell commands.

Every function returns the added lines, with their 1-based line number in the new file where
the format knows it (None where it does not).
"""

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lineage.loaders import fields
from lineage.loaders.files import RecordError

AddedLine = tuple[int | None, str]


class PatchError(ValueError):
    """A patch that does not follow its grammar; the message names the line."""


@dataclass
class FileChange:
    op: str  # add | update | delete
    path: str
    move_to: str | None = None
    added: list[AddedLine] = field(default_factory=list)


def parse_apply_patch(text: str) -> list[FileChange]:
    """Parse Codex's apply_patch grammar (``*** Begin Patch`` ... ``*** End Patch``).

    Added lines carry no line number: the grammar locates hunks by context, not by position.
    """
    lines = text.strip("\n").split("\n")
    # The patch may sit inside a heredoc of a shell command: start at its first marker.
    start = next((i for i, line in enumerate(lines) if line.strip() == "*** Begin Patch"), None)
    if start is None:
        raise PatchError("no '*** Begin Patch' line")
    changes: list[FileChange] = []
    current: FileChange | None = None
    for n, line in enumerate(lines[start + 1 :], start + 2):
        if line.strip() == "*** End Patch":
            return changes
        if line.startswith("*** Add File: "):
            current = FileChange("add", line[len("*** Add File: ") :].strip())
            changes.append(current)
        elif line.startswith("*** Update File: "):
            current = FileChange("update", line[len("*** Update File: ") :].strip())
            changes.append(current)
        elif line.startswith("*** Delete File: "):
            current = FileChange("delete", line[len("*** Delete File: ") :].strip())
            changes.append(current)
        elif line.startswith("*** Move to: "):
            if current is None or current.op != "update":
                raise PatchError(f"line {n}: '*** Move to' outside an Update File section")
            current.move_to = line[len("*** Move to: ") :].strip()
        elif line.strip() == "*** End of File" or line.startswith("@@"):
            continue
        elif current is None:
            raise PatchError(f"line {n}: {line[:40]!r} before any file header")
        elif line.startswith("+"):
            current.added.append(
                (len(current.added) + 1 if current.op == "add" else None, line[1:])
            )
        elif line.startswith(("-", " ")) or line == "":
            if current.op == "add":
                raise PatchError(f"line {n}: an Add File section may only hold '+' lines")
        else:
            raise PatchError(f"line {n}: unexpected {line[:40]!r}")
    raise PatchError("no '*** End Patch' line (truncated patch?)")


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _hunk_added(new_start: int, lines: list[str]) -> list[AddedLine]:
    """Added lines of one hunk body (' ', '-', '+' prefixed), numbered from `new_start`."""
    out: list[AddedLine] = []
    new_line = new_start
    for line in lines:
        if line.startswith("+"):
            out.append((new_line, line[1:]))
            new_line += 1
        elif line.startswith(" "):
            new_line += 1
    return out


def unified_diff_added(diff: str) -> list[AddedLine]:
    """Added lines of a unified diff, numbered in the new file."""
    out: list[AddedLine] = []
    start: int | None = None
    body: list[str] = []
    for line in diff.split("\n") + ["@@ end"]:
        if line.startswith("@@"):
            if start is not None:
                out += _hunk_added(start, body)
            match = _HUNK.match(line)
            start, body = (int(match.group(3)) if match else None), []
        elif start is not None:
            body.append(line)
    return out


def structured_patch_added(hunks: list[dict]) -> list[AddedLine]:
    """Added lines of Claude Code's structuredPatch, numbered in the new file."""
    out: list[AddedLine] = []
    for hunk in hunks:
        start = fields.integer(hunk, "newStart", "structuredPatch[].newStart")
        if start is None:
            raise RecordError("`structuredPatch[].newStart` is missing")
        out += _hunk_added(start, fields.texts(hunk, "lines", "structuredPatch[].lines"))
    return out


def whole_file_lines(content: str) -> list[AddedLine]:
    """Every line of a file written whole, numbered from 1 (the empty piece after a final
    newline is no line)."""
    pieces = content.split("\n")
    return [(n, line) for n, line in enumerate(pieces, 1) if line or n < len(pieces)]


def located_lines(original: str, old: str, new: str) -> list[AddedLine]:
    """The lines of `new` numbered where `old` sits in `original` (first match), or
    unnumbered when `old` cannot be found."""
    offset = original.find(old) if old else -1
    first = original.count("\n", 0, offset) + 1 if offset >= 0 else None
    return [(None if first is None else first + i, text) for i, text in enumerate(new.split("\n"))]


@dataclass
class ShellWrite:
    path: str
    lines: list[str]
    how: str  # redirect | heredoc | tee | sed-i


_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


def shell_writes(command: str) -> list[ShellWrite]:
    """Files a shell command writes, with the text its command line carries (heredoc bodies,
    echo/printf arguments, sed replacements). Positions are never known."""
    writes: list[ShellWrite] = []
    lines = command.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        body: list[str] = []
        heredoc = _HEREDOC.search(line)
        if heredoc:
            end = heredoc.group(2)
            j = i + 1
            while j < len(lines) and lines[j].strip() != end:
                body.append(lines[j])
                j += 1
            i = j
        for segment in re.split(r"&&|\|\||;|\|(?!\|)", line):
            writes += _segment_writes(segment.strip(), body, line)
        i += 1
    return writes


# shlex reads a character at a time (about 15 s a megabyte): a longer command is split at
# whitespace instead, which still finds its redirections, with quotes left in its text.
MAX_SHLEX_CHARS = 64 * 1024


def _segment_writes(segment: str, body: list[str], line: str) -> list[ShellWrite]:
    if len(segment) > MAX_SHLEX_CHARS:
        words = segment.split()
    else:
        try:
            words = shlex.split(segment, posix=True)
        except ValueError:
            return []
    if not words:
        return []
    out: list[ShellWrite] = []
    target = None
    for k, word in enumerate(words):
        if word in (">", ">>") and k + 1 < len(words):
            target = words[k + 1]
        elif re.fullmatch(r"\d?>>?\S+", word) and not word.startswith(("2>", "&>")):
            target = word.lstrip("0123456789>")
    if words[0] == "tee":
        files = []
        for w in words[1:]:
            if w.startswith((">", "<")) or w in ("|", "&"):
                break
            if not w.startswith("-"):
                files.append(w)
        out += [ShellWrite(f, list(body), "tee") for f in files]
    if words[0] == "sed" and any(w == "-i" or w.startswith("-i") for w in words[1:]):
        script = next((w for w in words[1:] if w.startswith("s") and len(w) > 2), None)
        files = [w for w in words[1:] if not w.startswith("-") and w != script]
        replacement = []
        if script:
            parts = script[2:].split(script[1])
            if len(parts) >= 2:
                replacement = [parts[1]]
        out += [ShellWrite(f, replacement, "sed-i") for f in files]
    if target and target != "/dev/null":
        if body:
            text = list(body)
        elif words[0] in ("echo", "printf"):
            args = [
                w
                for w in words[1:]
                if w not in (">", ">>")
                and w != target
                and not w.startswith("-")
                and not w.startswith(">")
            ]
            text = " ".join(args).replace("\\n", "\n").split("\n")
        else:
            text = []
        out.append(ShellWrite(target, text, "heredoc" if body else "redirect"))
    return out


def line_ranges(numbers: Sequence[int] | np.ndarray) -> list[list[int]]:
    """Line numbers (any order, repeats allowed) as sorted [first, last] ranges of consecutive
    lines; an array of millions costs a few NumPy operations.

    >>> line_ranges([9, 1, 2, 3, 7, 10, 2])
    [[1, 3], [7, 7], [9, 10]]
    """
    firsts, lasts = line_runs(numbers)
    return [[a, b] for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True)]


def line_runs(numbers: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`line_ranges` as two arrays: the first and the last line of each range.

    >>> [a.tolist() for a in line_runs([9, 1, 2, 3, 7, 10, 2])]
    [[1, 7, 9], [3, 7, 10]]
    """
    lines = np.unique(np.asarray(numbers, dtype=np.int64))
    cuts = np.flatnonzero(np.diff(lines) != 1) + 1
    firsts = np.concatenate([lines[:1], lines[cuts]])
    lasts = np.concatenate([lines[cuts - 1], lines[-1:]])
    return firsts, lasts
