"""Loaders: one module per real input format, each turning raw records into facts.

`LOADERS` maps the SOURCE name of `lineage ingest SOURCE PATH...` to a function that reads
paths (files, or directories walked) and yields one `lineage.facts.Batch` per input file; the
store ingests each batch in one transaction. Loaders never touch SQL. Agent loaders also take
`repo`, the repository to assume for paths no local git repository or capture resolves, and
`local_git` (False for records received over the network: never look at this machine's files).
"""

from collections.abc import Callable, Iterator

from lineage.facts import Batch
from lineage.loaders import (
    agent_trace,
    claude_code,
    codex,
    copilot,
    cursor,
    events,
    gemini_cli,
    git,
    manifest,
    openlineage,
)

Loader = Callable[..., Iterator[Batch]]

LOADERS: dict[str, Loader] = {
    "events": events.load,
    "claude-code": claude_code.load,
    "codex": codex.load,
    "cursor": cursor.load,
    "gemini-cli": gemini_cli.load,
    "copilot": copilot.load,
    "agent-trace": agent_trace.load,
    "manifest": manifest.load,
    "openlineage": openlineage.load,
    "git": git.load,
}
# The file suffixes each loader reads when a directory is walked.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "events": events.SUFFIXES,
    "claude-code": claude_code.SUFFIXES,
    "codex": codex.SUFFIXES,
    "cursor": cursor.SUFFIXES,
    "gemini-cli": gemini_cli.SUFFIXES,
    "copilot": copilot.SUFFIXES,
    "agent-trace": agent_trace.SUFFIXES,
    "manifest": manifest.SUFFIXES,
    "openlineage": openlineage.SUFFIXES,
    "git": git.SUFFIXES,  # a repository is named by its directory, never walked
}
# Sources whose records can be sent in a request body (a git repository cannot).
RECORD_SOURCES = tuple(sorted(set(LOADERS) - {"git"}))
# Loaders that cut a long file into several batches (so one file is not one batch).
SPLITS_FILES = frozenset({"events", "manifest", "git"})
AGENT_SOURCES = frozenset(
    {"claude-code", "codex", "cursor", "gemini-cli", "copilot", "agent-trace"}
)


def load_bytes(
    source: str, data: bytes, label: str, *, suffix: str = ".jsonl", repo: str | None = None
) -> list[Batch]:
    """Run the `source` loader over records received in memory (an HTTP body), as if read
    from a file; origins name `label` instead of the temporary file."""
    import tempfile
    from pathlib import Path

    if source not in RECORD_SOURCES:
        raise ValueError(
            f"cannot take {source!r} records here; expected one of "
            f"{', '.join(RECORD_SOURCES)} (ingest a git repository with "
            "`lineage ingest git CHECKOUT` where the checkout is)"
        )
    # Paths in received records are the producer's: never resolve them against this machine.
    options = {"repo": repo, "local_git": False} if source in AGENT_SOURCES else {}
    with tempfile.TemporaryDirectory(prefix="lineage-") as tmp:
        path = Path(tmp) / f"body{suffix}"
        path.write_bytes(data)
        batches = list(LOADERS[source]([path], **options))
    for batch in batches:
        batch.relabel(str(path), label)
    return batches
