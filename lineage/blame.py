"""`lineage blame`: each line of a file version with the outputs it is attributed to, so a
person can check the attribution by eye, the way `git blame` shows authors."""

from dataclasses import dataclass, field
from typing import Any

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

    def text(self) -> str:
        return blame_text(
            f"{self.path} @ {self.rev} (blob {self.blob[:12]}, {self.repo})", self.lines
        )


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
