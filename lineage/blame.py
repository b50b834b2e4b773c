"""`lineage blame`: each line of a file version with the outputs it is attributed to, so a
person can check the attribution by eye, the way `git blame` shows authors."""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineage.loaders import git as git_loader
from lineage.store import Store, StoredNode


@dataclass
class BlameLine:
    number: int
    text: str | None
    sources: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.number, "text": self.text, "sources": self.sources}


@dataclass
class FileBlame:
    """A file of a repository at a revision, line by line with its attributions."""

    repo: str
    path: str
    rev: str
    blob: str
    lines: list[BlameLine]

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "path": self.path,
            "rev": self.rev,
            "blob": self.blob,
            "lines": [line.as_dict() for line in self.lines],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "FileBlame":
        """The blame `as_dict` wrote (a server's answer read back)."""
        return cls(
            raw["repo"],
            raw["path"],
            raw["rev"],
            raw["blob"],
            [BlameLine(x["line"], x["text"], x["sources"]) for x in raw["lines"]],
        )

    def text(self) -> str:
        return blame_text(
            f"{self.path} @ {self.rev} (blob {self.blob[:12]}, {self.repo})", self.lines
        )


def blamed_file(
    checkout: str | os.PathLike[str], path: str, rev: str
) -> tuple[str, str, str, list[str]]:
    """(repository id, repo-relative path, blob id, lines) of `path` at `rev` of the local
    `checkout`: what a blame shows, read where the checkout is."""
    where = Path(checkout)
    repo = git_loader.repo_id(where)
    name = path.replace("\\", "/").lstrip("/")
    blob, text = git_loader.file_at(where, rev, name)
    return repo, name, blob, text


def blame(store: Store, file_version: StoredNode, text: list[str] | None) -> list[BlameLine]:
    """Every line of `file_version` (its text when known) with (output, tool, model, evidence)
    of each attributed interval covering it. An interval open to the end of the file covers
    every line after its start."""
    rows = store.attributions_of(file_version.id)
    outputs = store.nodes_by_keys(sorted({r[0] for r in rows}))
    count = (
        len(text)
        if text is not None
        else file_version.attrs.get("line_count") or max([r[2] or r[1] for r in rows], default=0)
    )
    lines = [BlameLine(n, text[n - 1] if text is not None else None) for n in range(1, count + 1)]
    for output, start, end, evidence, _seq, carried in rows:
        node = outputs.get(output)
        source = {
            "output": output,
            "tool": node.attrs.get("tool") if node else None,
            "model": node.attrs.get("model") if node else None,
            "evidence": evidence,
            "carried": carried,
        }
        for line in lines[start - 1 : end if end is not None else None]:
            line.sources.append(source)
    return lines


def blame_text(title: str, lines: list[BlameLine]) -> str:
    out = [title]
    width = len(str(len(lines)))
    for line in lines:
        who = "; ".join(
            f"{s['tool']} {s['model'] or ''} {s['evidence']} {s['output']}".replace("  ", " ")
            for s in line.sources
        )
        out.append(f"{line.number:>{width}} {who:<60.60} | {line.text or ''}".rstrip())
    return "\n".join(out)
