"""Facts: what a loader makes of a raw record, before the store gives them ids and seqs.

Loaders build these and hand them to `Store.ingest` in a `Batch`; they never write SQL.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from lineage.model import EdgeKind, NodeKind

JSON = dict[str, Any]


@dataclass(frozen=True)
class Span:
    """A range of a file: lines are 1-based and inclusive; bytes are 0-based offsets with the
    end exclusive (`content[start:end]`); `end` None means to the end of the file."""

    start: int
    end: int | None
    unit: str = "line"

    def __post_init__(self) -> None:
        if self.unit not in ("line", "byte"):
            raise ValueError(f"span unit must be 'line' or 'byte', not {self.unit!r}")
        if self.unit == "byte":
            if self.start < 0 or (self.end is not None and self.end <= self.start):
                raise ValueError(
                    f"bad byte span [{self.start}, {self.end}): need "
                    "0 <= start < end (end exclusive)"
                )
        elif self.start < 1 or (self.end is not None and self.end < self.start):
            raise ValueError(f"bad span {self.start}-{self.end}: need 1 <= start <= end")

    def __str__(self) -> str:
        end = "" if self.end is None else str(self.end)
        return f"{'L' if self.unit == 'line' else 'B'}{self.start}-{end}"


@dataclass(frozen=True)
class Node:
    """A node the record defines (`defines=True`) or only mentions (its lineage stays unknown).
    `latest`: the attributes are a state (a build run's START, RUNNING, COMPLETE): the
    definition with the latest `time` attribute holds, not the first."""

    key: str
    kind: NodeKind
    attrs: JSON = field(default_factory=dict)
    defines: bool = True
    latest: bool = False


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    kind: EdgeKind
    span: Span | None = None
    line_map: list[list[Any]] | None = None  # hunks: [old_start, old_n, new_start, new_n,
    #                                           optional [[old, new] similar line pairs]]


@dataclass(frozen=True)
class Alias:
    """`alias` names the same node as `target` (a file at a commit is a file version)."""

    alias: str
    target: str


@dataclass(frozen=True)
class Attribution:
    """Lines of a file version that descend from a tool output, with the evidence for it."""

    file_version: str
    output: str
    span: Span
    evidence: str


@dataclass(frozen=True)
class WrittenLines:
    """Line ranges of a file version that an output wrote, attributed to it with `evidence`:
    what a `wrote` edge with each range as its span and an `Attribution` of each range say,
    as arrays (a git-ai note attests hundreds of ranges, an AI commit every range it added)."""

    file_version: str
    output: str
    evidence: str
    firsts: np.ndarray = field(compare=False)  # first line of each range, 1-based
    lasts: np.ndarray = field(compare=False)  # last line of each range, inclusive

    def __post_init__(self) -> None:
        firsts, lasts = np.asarray(self.firsts), np.asarray(self.lasts)
        if firsts.shape != lasts.shape or firsts.ndim != 1:
            raise ValueError("written lines need as many last lines as first lines")
        bad = np.flatnonzero((firsts < 1) | (lasts < firsts))
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"bad span {int(firsts[i])}-{int(lasts[i])}: need 1 <= start <= end")


@dataclass(frozen=True)
class AddedLines:
    """Significant lines a commit added to a file version, as line numbers and the hashes of
    their normalized text (`agent_outputs.line_hashes`: `format(h, "016x")` is an
    output's `line_hash`), for content-match against the lines outputs wrote into the same
    repo before `time`. Arrays, since one commit can add millions of lines."""

    file_version: str
    repo: str
    time: datetime | None
    lines: np.ndarray = field(compare=False)  # uint32 line numbers
    hashes: np.ndarray = field(compare=False)  # uint64, one per line


@dataclass(frozen=True)
class TreeEntries:
    """What `commit`'s tree holds at some paths: (path, file version key, or None where the
    path left the tree). A commit lists the paths its diff against `first_parent` touched, or,
    `whole`, every file of its tree. From these the store resolves a path named at any commit
    of the repo (a snapshot) to the file version the commit's tree holds there."""

    repo: str
    commit: str
    first_parent: str | None
    entries: tuple[tuple[str, str | None], ...]
    whole: bool = False


@dataclass(frozen=True)
class LineEnds:
    """Where each line of a file version ends: the byte offset just past its newline (the
    last line ends at the file's length). Kept instead of the content, so a byte span maps to
    exactly the lines it touches."""

    file_version: str
    ends: np.ndarray = field(compare=False)


Fact = Node | Edge | Alias | Attribution | WrittenLines | AddedLines | TreeEntries | LineEnds


@dataclass
class Record:
    """One accepted raw record: its stable id, the raw payload kept as evidence, and its facts."""

    event_id: str
    type: str
    payload: JSON
    facts: list[Fact]
    occurred_at: datetime | None = None
    origin: str | None = None


MAX_REASON = 2_000  # characters of a rejection's reason; the raw record is kept beside it


@dataclass
class Rejection:
    """A record that could not be read: where it came from, why, and its raw text."""

    file: str | None
    line: int | None
    reason: str
    raw: str | None

    def __post_init__(self) -> None:
        # A reason quotes what it found wrong, and a hostile record's value can weigh
        # megabytes (a 3 MB path): the reason says so in bounded words, the raw text keeps it.
        if len(self.reason) > MAX_REASON:
            keep = MAX_REASON - 40  # room for the note of what was cut: at most MAX_REASON
            cut = len(self.reason) - keep
            self.reason = f"{self.reason[:keep]}... ({cut:,} more characters)"

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.reason}"


@dataclass
class Batch:
    """What one loader read from one input; the store ingests it in one transaction."""

    source: str
    input: str | None = None  # the file it was read from
    records: list[Record] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    ignored: int = 0
    ignored_kinds: dict[str, int] = field(default_factory=dict)  # what was ignored, counted
    notes: list[str] = field(default_factory=list)
    examples: pa.Table | None = None  # rows of EXAMPLE_COLUMNS, ingested set-based

    def ignore(self, kind: str) -> None:
        """Count one input record of `kind` that says nothing lineage keeps."""
        self.ignored += 1
        self.ignored_kinds[kind] = self.ignored_kinds.get(kind, 0) + 1

    def relabel(self, path: str, label: str) -> None:
        """Name the input `label` wherever origins say `path` (records received in memory)."""
        import pyarrow.compute as pc

        self.input = label
        for record in self.records:
            if record.origin:
                record.origin = record.origin.replace(path, label, 1)
        for rejection in self.rejections:
            if rejection.file and rejection.file.startswith(path):
                rejection.file = label + rejection.file[len(path) :]
        self.notes = [note.replace(path, label) for note in self.notes]
        if self.examples is not None:
            i = self.examples.schema.get_field_index("origin")
            self.examples = self.examples.set_column(
                i, "origin", pc.replace_substring(self.examples["origin"], path, label)
            )


_PARENT = pa.struct([("dataset", pa.string()), ("version", pa.string()), ("example", pa.string())])

# Examples as rows, whatever their source (a dataset manifest of millions of rows, `example`
# events): one accepted row per example with its event id, raw payload, origin and the time it
# names (events only), and exactly one way of naming its source: a file version (repo, path and
# blob or commit, with an optional span), parent examples, or an agent record (from_kind
# 'output' or 'session', from_name). The store maps rows to nodes and edges in one place.
EXAMPLE_COLUMNS = pa.schema(
    [
        ("row", pa.int64()),
        ("event_id", pa.string()),
        ("origin", pa.string()),
        ("payload", pa.string()),
        ("occurred_us", pa.int64()),
        ("dataset", pa.string()),
        ("version", pa.string()),
        ("example", pa.string()),
        ("shard", pa.string()),
        ("repo", pa.string()),
        ("path", pa.string()),
        ("blob", pa.string()),
        ("commit", pa.string()),
        ("span_start", pa.int64()),
        ("span_end", pa.int64()),
        ("span_unit", pa.string()),
        ("parents", pa.list_(_PARENT)),
        ("from_kind", pa.string()),
        ("from_name", pa.string()),
    ]
)


@dataclass(frozen=True)
class ExampleRow:
    """One example read record by record (an `example` event), as the values of
    EXAMPLE_COLUMNS: a loader gathers these into `Batch.examples` with `example_table`."""

    columns: JSON


def example_table(rows: list[ExampleRow]) -> pa.Table:
    """The rows as one table of EXAMPLE_COLUMNS (absent columns are null)."""
    return pa.Table.from_pylist([r.columns for r in rows], schema=EXAMPLE_COLUMNS)
