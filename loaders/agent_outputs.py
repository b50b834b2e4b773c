"""Facts for what AI agents produced: tools, sessions and outputs with the lines they wrote.

Shared by the agent loaders (Claude Code, Codex, Cursor, Gemini CLI, Copilot CLI, Agent Trace)
so every tool's output node has the same shape: tool, model, session, time (and where the time
came from), repo and repo-relative path (or `unresolved`), the line ranges written where known,
and the normalized text and hashes of the lines so git attribution can find them later, even in
another file.
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lineage import model
from lineage.facts import Edge, Fact, Node
from lineage.loaders.patches import AddedLine, line_ranges
from lineage.model import EdgeKind, NodeKind
from lineage.repos import Location

MIN_SIGNIFICANT = 4  # shorter normalized lines are too common to identify an output
_TRIVIAL = "{}[]();,:"  # what `is_significant` strips from a line's ends


def normalize_line(text: str) -> str:
    return " ".join(text.split())


def is_significant(normalized: str) -> bool:
    """Blank lines, lone brackets and very short lines never identify an output."""
    stripped = normalized.strip(_TRIVIAL)
    return len(stripped) >= MIN_SIGNIFICANT


def line_hash(normalized: str) -> str:
    return hashlib.sha1(normalized.encode()).hexdigest()[:16]


def significant_lines(texts: Sequence[str], first: int = 0) -> list[tuple[int, str]]:
    """(number, normalized text) of the significant lines among `texts`, numbered from
    `first`: what both the line map and the line hashes of a hunk are computed from. The
    same as `normalize_line` and `is_significant` line by line, without two Python calls per
    line (a history has millions of lines).

    >>> significant_lines(["x  = compute(1)", "}", "\treturn x "], first=10)
    [(10, 'x = compute(1)'), (12, 'return x')]
    """
    normalized = map(" ".join, map(str.split, texts))  # normalize_line, without a call per line
    return [
        (n, norm)
        for n, norm in enumerate(normalized, first)
        if len(norm) >= MIN_SIGNIFICANT and len(norm.strip(_TRIVIAL)) >= MIN_SIGNIFICANT
    ]


def line_hashes(normalized: Iterable[str]) -> np.ndarray:
    """`line_hash` of each normalized line as an unsigned 64-bit integer (`format(h, "016x")`
    is `line_hash`): a commit adds millions of lines, kept as an array rather than millions
    of strings.

    >>> format(int(line_hashes(["x = compute(1)"])[0]), "016x") == line_hash("x = compute(1)")
    True
    """
    sha1 = hashlib.sha1
    digests = b"".join([sha1(norm.encode()).digest()[:8] for norm in normalized])
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


@dataclass
class AgentOutput:
    key: str  # the tool call id (plus the path when one call edits several files)
    tool: str
    call: str  # Write, Edit, MultiEdit, NotebookEdit, Bash, apply_patch, ...
    location: Location
    added: list[AddedLine]
    model: str | None = None
    tool_version: str | None = None
    session: str | None = None
    time: str | None = None
    time_source: str = "record"
    extra: dict[str, Any] = field(default_factory=dict)
    ranges: list[list[int]] | None = None  # line ranges written, when the text is not known

    def attrs(self) -> dict[str, Any]:
        numbers = [n for n, _ in self.added if n is not None]
        normalized = [normalize_line(text) for _, text in self.added]
        lines = self.ranges or (line_ranges(numbers) if numbers else None)
        attrs: dict[str, Any] = {
            "output": self.key,
            "tool": self.tool,
            "model": self.model,
            "tool_version": self.tool_version,
            "session": self.session,
            "call": self.call,
            "time": self.time,
            "time_source": self.time_source,
            "repo": self.location.repo,
            "path": self.location.path,
            "repo_resolution": self.location.how,
            "lines": lines,
            "positioned": bool(self.ranges)
            or (len(numbers) == len(self.added) and bool(self.added)),
            "text": [text for _, text in self.added],
            "hashes": sorted({line_hash(n) for n in normalized if is_significant(n)}),
        }
        attrs.update(self.extra)
        return {k: v for k, v in attrs.items() if v is not None}


def output_facts(out: AgentOutput) -> list[Fact]:
    key = model.output_key(out.key)
    facts: list[Fact] = [Node(key, NodeKind.OUTPUT, out.attrs())]
    if out.session:
        skey = model.session_key(out.session)
        facts += [
            Node(
                skey,
                NodeKind.SESSION,
                {"session": out.session, "tool": out.tool, "model": out.model},
                defines=False,
            ),
            Edge(skey, key, EdgeKind.GENERATED),
        ]
    return facts


def session_facts(session: str, tool: str, attrs: dict[str, Any]) -> list[Fact]:
    skey = model.session_key(session)
    tkey = model.tool_key(tool)
    full = {"session": session, "tool": tool} | {k: v for k, v in attrs.items() if v is not None}
    return [
        Node(tkey, NodeKind.TOOL, {"tool": tool}),
        Node(skey, NodeKind.SESSION, full),
        Edge(tkey, skey, EdgeKind.USED),
    ]
