"""The rows of one taint run held in memory, so explaining a tainted example costs no query.

A run's rows never change once it is computed, and they are few next to the store: only the
nodes some restricted output reaches. `RunEvidence` holds them by node, with what a witness
path shows of each node (key, kind), of each asserting event, and of each attributed interval.
The engine builds it on the first explanation of a run (lineage.engine.run_evidence) and keeps
the newest few per database. For a run where output 7 reaches example 9 through file version 8,
``evidence.path(9, 7, "precise")`` is the rows of 7 (depth 0), 8 (edge `wrote`) and 9 (edge
`chunked`, with its span), in that order.
"""

from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
import pyarrow as pa

from lineage.run_cache import RunCache

# A stored taint row: (node, precise, root, pred, depth, blocked_by, edge_kind, span_start,
# span_end, span_unit, edge_seq).
Row = tuple[
    int,
    bool,
    int,
    int | None,
    int,
    int | None,
    str | None,
    int | None,
    int | None,
    str | None,
    int | None,
]
# Row's columns, as literal indexes so a type checker knows each one's type.
NODE: Final = 0
PRECISE: Final = 1
ROOT: Final = 2
PRED: Final = 3
DEPTH: Final = 4
BLOCKED: Final = 5
KIND: Final = 6
SPAN_START: Final = 7
SPAN_END: Final = 8
SPAN_UNIT: Final = 9
SEQ: Final = 10


class Lookup:
    """Rows sorted by their first column, found by it. Columns stay Arrow arrays and only the
    rows asked for become Python values (NULL is None), so building one is a copy, not a loop
    over a quarter of a million rows."""

    def __init__(self, table: pa.Table) -> None:
        table = table.combine_chunks()
        self._keys = table.column(0).to_numpy()
        self._columns = [
            c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in table.columns
        ]

    def rows(self, key: int) -> list[tuple[Any, ...]]:
        lo = int(np.searchsorted(self._keys, key, "left"))
        hi = int(np.searchsorted(self._keys, key, "right"))
        if lo == hi:
            return []
        return list(zip(*(c[lo:hi].to_pylist() for c in self._columns), strict=True))

    def one(self, key: int) -> tuple[Any, ...] | None:
        found = self.rows(key)
        return found[0] if found else None


@dataclass
class RunEvidence:
    """One run's taint rows by node, with the nodes (id, key, kind, defined_seq), the events
    (seq, id, source, origin) and the intervals its roots wrote in the file versions reached
    (file version, output key, start, end, evidence, seq) they name."""

    rows: Lookup
    nodes: Lookup
    events: Lookup
    lines: Lookup
    # (node, missing) of the run's incomplete lineage, when this is the whole run's evidence
    incomplete: Lookup | None = None

    def rows_of(self, node: int, mode: str) -> list[Row]:
        """The node's rows in `mode` (one per root that reaches it)."""
        precise = mode == "precise"
        return [r for r in self.rows.rows(node) if r[PRECISE] == precise]

    def path(self, node: int, root: int, mode: str) -> list[Row]:
        """The rows from `root` to `node` that propagation recorded: a walk up `pred`, taking
        at each node its row in `mode` first, else its strict one (file versions and outputs
        are only in strict), real taint before blocked, the shortest first."""
        precise = mode == "precise"
        chain: list[Row] = []
        seen: set[int] = set()
        current: int | None = node
        while current is not None and current not in seen:
            candidates = [
                r
                for r in self.rows.rows(current)
                if r[ROOT] == root and (r[PRECISE] == precise or not r[PRECISE])
            ]
            if not candidates:
                break
            best = max(
                candidates, key=lambda r: (r[PRECISE] == precise, r[BLOCKED] is None, -r[DEPTH])
            )
            chain.append(cast(Row, best))
            seen.add(current)
            current = best[PRED] if current != root else None
        chain.reverse()
        return chain


class EvidenceCache(RunCache[int, RunEvidence]):
    """The newest `size` RunEvidence of one database by run, shared by its cursors."""

    def __init__(self, size: int = 4) -> None:
        super().__init__(size)
