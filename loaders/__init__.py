"""Loaders: one module per real input format, each turning raw records into facts.

`LOADERS` maps the SOURCE name of `lineage ingest SOURCE PATH...` to a function that reads
paths (files, or directories walked) and yields one `lineage.facts.Batch` per input file; the
store ingests each batch in one transaction. Loaders never touch SQL. Agent loaders also take
`repo`, the repository to assume for paths no local git repository or capture resolves.
"""

from collections.abc import Callable, Iterator

from lineage.facts import Batch
from loaders import agent_trace, claude_code, codex, events, manifest

Loader = Callable[..., Iterator[Batch]]

LOADERS: dict[str, Loader] = {
    "events": events.load,
    "claude-code": claude_code.load,
    "codex": codex.load,
    "agent-trace": agent_trace.load,
    "manifest": manifest.load,
}
# The file suffixes each loader reads when a directory is walked.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "events": events.SUFFIXES,
    "claude-code": claude_code.SUFFIXES,
    "codex": codex.SUFFIXES,
    "agent-trace": agent_trace.SUFFIXES,
    "manifest": manifest.SUFFIXES,
}
AGENT_SOURCES = frozenset({"claude-code", "codex", "agent-trace"})
