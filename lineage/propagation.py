"""Taint propagation compiled to array passes (numpy), over the derivation graph as of one seq.

The engine loads the graph, the restricted roots, the waived nodes, the attributed intervals and
the never-ingested nodes as arrays; this module returns the rows of the materialized taint
(node, root, pred, depth, blocked_by, and the edge that reached the node) for both modes and
the incomplete-lineage rows, with the same meaning as the frontier loop it replaced:

- strict: breadth first from every root along every derivation edge, per root; reaching a
  waived node marks that row and all it reaches as blocked by the first waiver on the way;
- precise: an example is reached from a file version only through a chunked edge whose span
  overlaps an interval that root wrote there (or through a transcribed edge), then along
  derived edges;
- incomplete: everything downstream of a node referenced but never ingested, with the
  smallest missing ancestor of the first level that reached it.

Each level is a handful of vectorized gathers over a CSR (edges sorted by source), so a level
costs what its frontier touches, not what the graph holds.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

KINDS = ("wrote", "revised", "chunked", "derived", "transcribed", "merged")  # codes: append only
CHUNKED, DERIVED, TRANSCRIBED = (
    KINDS.index("chunked"),
    KINDS.index("derived"),
    KINDS.index("transcribed"),
)
NONE = -1
_FOREVER = np.int64(1 << 60)


UNITS = (None, "line", "byte")  # span_unit codes
LINE = UNITS.index("line")
EDGE = ("kind", "span_start", "span_end", "span_unit", "seq")  # what a row keeps of its edge


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (by a sort: numpy's and Arrow's hash-based unique degrade
    badly on the near-sequential ids this module handles)."""
    ordered = np.sort(values)
    if not len(ordered):
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


@dataclass
class Graph:
    """Derivation edges as arrays: kind is an index into KINDS, span_unit into UNITS (a byte
    span, or none, overlaps every interval), seq the event that asserted the edge."""

    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray
    span_start: np.ndarray  # NONE when the edge has no span
    span_end: np.ndarray  # NONE for "to the end of the file"
    span_unit: np.ndarray
    seq: np.ndarray

    def edges(self, index: np.ndarray) -> dict[str, np.ndarray]:
        return {f: getattr(self, f)[index] for f in EDGE}


@dataclass
class Rows:
    """Taint rows, each with the edge that reached its node (NONE fields for a root), so a
    witness path is read back without looking edges up again."""

    node: np.ndarray
    root: np.ndarray
    pred: np.ndarray  # NONE for a root itself
    depth: np.ndarray
    blocked: np.ndarray  # NONE when the taint is real
    kind: np.ndarray
    span_start: np.ndarray
    span_end: np.ndarray
    span_unit: np.ndarray
    seq: np.ndarray


FIELDS = ("node", "root", "pred", "depth", "blocked") + EDGE


def make_rows(
    node: np.ndarray,
    root: np.ndarray,
    pred: np.ndarray,
    depth: np.ndarray,
    blocked: np.ndarray,
    edges: dict[str, np.ndarray] | None = None,
) -> Rows:
    if edges is None:
        none = np.full(len(node), NONE, dtype=np.int64)
        edges = {f: none for f in EDGE}
    return Rows(node, root, pred, depth, blocked, *(edges[f] for f in EDGE))


@dataclass
class Via:
    """The edges an expansion followed, gathered only for the rows that are kept."""

    picks: np.ndarray
    fields: dict[str, np.ndarray]

    def gather(self, index: np.ndarray) -> dict[str, np.ndarray]:
        return {f: a[self.picks[index]] for f, a in self.fields.items()}


class Expander(Protocol):
    def expand(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, Via]:
        """(index into `nodes`, neighbor, the edges) for every out-edge of `nodes`."""
        ...


class _Csr:
    """Out-edges by source: edges sorted by src, with offsets per distinct source (a graph
    of a few appended edges costs what it holds, not what the node ids span). `edge` maps a
    sorted position to the edge's index in `fields` (the graph's, or a parent graph's)."""

    def __init__(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        fields: dict[str, np.ndarray],
        edge: np.ndarray | None = None,
    ) -> None:
        order = np.argsort(src, kind="stable")
        self.dst = dst[order]
        self.edge = order if edge is None else edge[order]
        self.fields = fields  # gathered through `edge` on use
        self.sources, counts = np.unique(src[order], return_counts=True)
        self.offsets = np.zeros(len(self.sources) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])

    @classmethod
    def of(cls, graph: Graph) -> "_Csr":
        return cls(graph.src, graph.dst, {f: getattr(graph, f) for f in EDGE})

    def expand(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, Via]:
        at = np.searchsorted(self.sources, nodes)
        found = at < len(self.sources)
        found[found] = self.sources[at[found]] == nodes[found]
        start = np.where(found, self.offsets[np.minimum(at, len(self.sources))], 0)
        deg = np.where(found, self.offsets[np.minimum(at + 1, len(self.sources))] - start, 0)
        total = int(deg.sum())
        owner = np.repeat(np.arange(len(nodes)), deg)
        first = np.repeat(np.cumsum(deg) - deg, deg)
        picks = np.repeat(start, deg) + (np.arange(total) - first)
        return owner, self.dst[picks], Via(self.edge[picks], self.fields)


class _Levels:
    """Out-edges of each level's frontier. The first SCANS levels find them with one pass
    over the edge arrays (cheaper than sorting ten million edges, and lineage is mostly a few
    levels deep); a deeper walk sorts the graph into a CSR once and uses it from then on."""

    SCANS = 12

    def __init__(self, graph: Graph, size: int) -> None:
        self.graph, self.size, self.scans = graph, size, 0
        self.fields = {f: getattr(graph, f) for f in EDGE}
        self.csr: _Csr | None = None

    def expand(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, Via]:
        if self.csr is None and self.scans >= self.SCANS:
            self.csr = _Csr.of(self.graph)
        if self.csr is not None:
            return self.csr.expand(nodes)
        self.scans += 1
        wanted = np.zeros(self.size, dtype=bool)
        wanted[nodes] = True
        picks = np.flatnonzero(wanted[self.graph.src])
        return _Csr(self.graph.src[picks], self.graph.dst[picks], self.fields, picks).expand(nodes)


def _subgraph(graph: Graph, pick: np.ndarray) -> Graph:
    return Graph(*(getattr(graph, f)[pick] for f in ("src", "dst") + EDGE))


def _joined(first: Graph, second: Graph) -> Graph:
    return Graph(
        *(np.concatenate([getattr(first, f), getattr(second, f)]) for f in ("src", "dst") + EDGE)
    )


class FetchedEdges:
    """An Expander over edges fetched on demand: `fetch(unique nodes)` returns the Graph of
    their out-edges (the engine reads them from the store)."""

    def __init__(self, fetch) -> None:  # noqa: ANN001 - a callable over numpy arrays
        self.fetch = fetch

    def expand(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, Via]:
        unique = distinct(nodes)
        graph = self.fetch(unique) if len(unique) else None
        if graph is None or not len(graph.src):
            z = np.zeros(0, dtype=np.int64)
            return z, z, Via(z, {f: z for f in EDGE})
        return _Csr.of(graph).expand(nodes)


def _empty() -> Rows:
    z = np.zeros(0, dtype=np.int64)
    return Rows(*(z for _ in FIELDS))


def _concat(parts: list[Rows]) -> Rows:
    if not parts:
        return _empty()
    return Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))


def _keys(rows: Rows, roots: np.ndarray) -> np.ndarray:
    """One int64 per (node, root) pair; `roots` is every root, sorted."""
    return rows.node.astype(np.int64) * np.int64(len(roots) + 1) + np.searchsorted(roots, rows.root)


def _spread(
    edges: Expander, seed: Rows, waived: np.ndarray, roots: np.ndarray, known: Rows | None = None
) -> Rows:
    """Breadth first from `seed` rows, per root; returns the rows not in `known`. A (node,
    root) pair already reached for real is never revisited; one reached only behind a waiver
    is revisited when reached for real. `roots` is every root, sorted (a (node, root) pair
    is keyed by the root's position there)."""
    real = np.zeros(0, dtype=np.int64)
    behind: set[tuple[int, int]] = set()
    done: list[Rows] = []
    frontier = seed
    for rows in ([known] if known is not None else []) + [seed]:
        keep, real = _unseen(rows, _keys(rows, roots), real, behind)
        frontier = _take(rows, keep)
    done.append(frontier)
    while len(frontier.node):
        owner, nxt, via = edges.expand(frontier.node)
        if not len(nxt):
            break
        root = frontier.root[owner]
        blocked = frontier.blocked[owner]
        blocked = np.where((blocked == NONE) & waived[nxt], nxt, blocked)
        # Candidates carry their position (in `kind`) and seq only; the other edge fields
        # are gathered for the rows that survive, a small part of what was touched.
        position = np.arange(len(nxt))
        rows = _first_per_group(
            make_rows(
                nxt,
                root,
                frontier.node[owner],
                frontier.depth[owner] + 1,
                blocked,
                {
                    "kind": position,
                    "span_start": position,
                    "span_end": position,
                    "span_unit": position,
                    "seq": via.fields["seq"][via.picks],
                },
            )
        )
        keep, real = _unseen(rows, _keys(rows, roots), real, behind)
        frontier = _take(rows, keep)
        for field, values in via.gather(frontier.kind).items():
            setattr(frontier, field, values)
        done.append(frontier)
    return _concat(done)


def _unseen(
    rows: Rows, key: np.ndarray, real: np.ndarray, behind: set[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are new: not reached for real (`real`, sorted keys), nor behind the same
    waiver (`behind`, updated). Returns the mask and `real` with the new real keys."""
    at = np.searchsorted(real, key)
    keep = np.ones(len(key), dtype=bool)
    inside = at < len(real)
    keep[inside] = real[at[inside]] != key[inside]
    for i in np.nonzero(keep & (rows.blocked != NONE))[0].tolist():
        pair = (int(key[i]), int(rows.blocked[i]))
        keep[i] = pair not in behind
        behind.add(pair)
    return keep, _merge_sorted(real, distinct(key[keep & (rows.blocked == NONE)]))


def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The union of two sorted arrays of distinct keys that share none, sorted."""
    if not len(b):
        return a
    out = np.empty(len(a) + len(b), dtype=np.int64)
    where = np.searchsorted(a, b) + np.arange(len(b))
    mask = np.ones(len(out), dtype=bool)
    mask[where] = False
    out[where] = b
    out[mask] = a
    return out


def _take(rows: Rows, keep: np.ndarray) -> Rows:
    return Rows(*(getattr(rows, f)[keep] for f in FIELDS))


def _first_per_group(rows: Rows) -> Rows:
    """One row per (node, root, blocked): the smallest pred, reached by its first-asserted
    edge, and the smallest depth (the SQL GROUP BY this replaced)."""
    if not len(rows.node):
        return rows
    order = np.lexsort((rows.seq, rows.pred, rows.blocked, rows.root, rows.node))
    rows = _take(rows, order)
    first = np.ones(len(rows.node), dtype=bool)
    first[1:] = (
        (rows.node[1:] != rows.node[:-1])
        | (rows.root[1:] != rows.root[:-1])
        | (rows.blocked[1:] != rows.blocked[:-1])
    )
    depth = np.minimum.reduceat(rows.depth, np.nonzero(first)[0])
    rows = _take(rows, first)
    rows.depth = depth
    return rows


def propagate(
    graph: Graph,
    size: int,
    roots: np.ndarray,
    waived: np.ndarray,
    attributions: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    missing: np.ndarray,
) -> tuple[Rows, Rows, tuple[np.ndarray, np.ndarray]]:
    """(strict rows, precise rows, (incomplete node, missing ancestor)).

    `size` bounds node ids; `waived` is a boolean array over node ids; `attributions` are
    (file version, output, first line, last line or NONE) of the intervals as of the run;
    `missing` the nodes referenced but never ingested.
    """
    roots = np.sort(roots)
    edges = _Levels(graph, size)
    strict = _spread(edges, _root_rows(roots, waived), waived, roots) if len(roots) else _empty()
    precise_seed = _precise_seeds(graph, strict, waived, attributions)
    precise = (
        _spread(_Levels(_subgraph(graph, graph.kind == DERIVED), size), precise_seed, waived, roots)
        if len(precise_seed.node)
        else _empty()
    )
    return strict, precise, _incomplete(edges, missing, size)


def _root_rows(roots: np.ndarray, waived: np.ndarray) -> Rows:
    roots = roots.astype(np.int64)
    return make_rows(
        roots,
        roots,
        np.full(len(roots), NONE, dtype=np.int64),
        np.zeros(len(roots), dtype=np.int64),
        np.where(waived[roots], roots, NONE).astype(np.int64),
    )


def _precise_seeds(
    graph: Graph,
    strict: Rows,
    waived: np.ndarray,
    attributions: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> Rows:
    if not len(strict.node):
        return _empty()
    reached = np.zeros(len(waived), dtype=bool)
    reached[strict.node] = True
    pick = ((graph.kind == CHUNKED) | (graph.kind == TRANSCRIBED)) & reached[graph.src]
    chunks = _subgraph(graph, pick)
    e_src, e_dst, e_kind = chunks.src, chunks.dst, chunks.kind
    e_start, e_end = chunks.span_start, chunks.span_end
    e_line = chunks.span_unit == LINE
    if not len(e_src) or not len(strict.node):
        return _empty()
    # every (edge, strict row of its source)
    order = np.argsort(strict.node, kind="stable")
    s_node = strict.node[order]
    lo = np.searchsorted(s_node, e_src, "left")
    hi = np.searchsorted(s_node, e_src, "right")
    count = hi - lo
    edge = np.repeat(np.arange(len(e_src)), count)
    row = order[
        np.repeat(lo, count)
        + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    ]
    root = strict.root[row]
    ok = e_kind[edge] == TRANSCRIBED
    chunk = ~ok
    # overlap check against the root's intervals on that file version
    fv, out, a_start, a_end = attributions
    if chunk.any() and len(fv):
        a_key = fv.astype(np.int64) * np.int64(1 << 32) + out
        a_order = np.argsort(a_key, kind="stable")
        a_key, a_start, a_end = a_key[a_order], a_start[a_order], a_end[a_order]
        c = np.nonzero(chunk)[0]
        want = e_src[edge[c]].astype(np.int64) * np.int64(1 << 32) + root[c]
        lo = np.searchsorted(a_key, want, "left")
        hi = np.searchsorted(a_key, want, "right")
        n = hi - lo
        cand = np.repeat(c, n)
        ai = np.repeat(lo, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
        es = e_start[edge[cand]]
        ee = np.where(e_end[edge[cand]] == NONE, _FOREVER, e_end[edge[cand]])
        ae = np.where(a_end[ai] == NONE, _FOREVER, a_end[ai])
        whole = (~e_line[edge[cand]]) | (es == NONE)
        hit = whole | ((a_start[ai] <= ee) & (ae >= es))
        ok[distinct(cand[hit])] = True
    edge, row = edge[ok], row[ok]
    dst = e_dst[edge]
    blocked = np.where((strict.blocked[row] == NONE) & waived[dst], dst, strict.blocked[row])
    return _first_per_group(
        make_rows(
            dst.astype(np.int64),
            strict.root[row],
            e_src[edge].astype(np.int64),
            strict.depth[row] + 1,
            blocked.astype(np.int64),
            chunks.edges(edge),
        )
    )


def _incomplete(
    edges: Expander,
    missing: np.ndarray,
    size: int,
    known: tuple[np.ndarray, np.ndarray] | None = None,
    seed: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes downstream of never-ingested ones, each with the smallest missing ancestor of
    the first level that reached it; with `known` rows, only the new ones. `seed` adds
    (node, missing) rows reached by other means (an appended edge)."""
    reached = np.zeros(size, dtype=np.int64)  # missing ancestor + 1; 0: not reached
    if known is not None:
        reached[known[0]] = known[1] + 1
    start = distinct(missing.astype(np.int64))
    frontier, via = start, start
    if seed is not None and len(seed[0]):
        frontier, via = np.concatenate([frontier, seed[0]]), np.concatenate([via, seed[1]])
    fresh = reached[frontier] == 0
    frontier, via = _first_node(frontier[fresh], via[fresh])
    reached[frontier] = via + 1
    nodes, found = [frontier], [via]
    while len(frontier):
        owner, nxt, _ = edges.expand(frontier)
        fresh = reached[nxt] == 0
        nxt, via = nxt[fresh], reached[frontier[owner[fresh]]] - 1
        if not len(nxt):
            break
        frontier, via = _first_node(nxt, via)
        reached[frontier] = via + 1
        nodes.append(frontier)
        found.append(via)
    return np.concatenate(nodes), np.concatenate(found)


def _first_node(node: np.ndarray, via: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per node, with the smallest `via`."""
    order = np.lexsort((via, node))
    node, via = node[order], via[order]
    first = np.ones(len(node), dtype=bool)
    first[1:] = node[1:] != node[:-1]
    return node[first], via[first]


@dataclass(frozen=True)
class Appended:
    """What an appended part of the log brings to a run: its derivation edges (`delta`), the
    restricted outputs it defines (`new_roots`), the file versions that gained intervals
    (`attributed`) and the nodes still only referenced (`missing`)."""

    delta: Graph
    new_roots: np.ndarray
    attributed: np.ndarray
    missing: np.ndarray


@dataclass(frozen=True)
class EdgeReaders:
    """How propagation reads the older edges it reaches: every derivation edge, the derived
    (example to example) ones, and `chunks_from(nodes)`, the chunked and transcribed edges
    out of `nodes` as a Graph."""

    all_edges: Expander
    derived: Expander
    chunks_from: Callable[[np.ndarray], Graph]


def extend(
    base: tuple[Rows, Rows, tuple[np.ndarray, np.ndarray]],
    appended: Appended,
    edges: EdgeReaders,
    *,
    size: int,
    roots: np.ndarray,
    waived: np.ndarray,
    attributions: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[Rows, Rows, tuple[np.ndarray, np.ndarray]]:
    """The rows an appended part of the log adds to a run (`base`: its strict, precise and
    incomplete rows): taint only grows on append, so propagation starts from the appended
    edges, the new roots and the file versions that gained intervals, and reads other edges
    through `edges` as it reaches them. Incomplete rows are only added: the caller recomputes
    when a missing node was defined."""
    delta, new_roots, attributed, missing = (
        appended.delta,
        appended.new_roots,
        appended.attributed,
        appended.missing,
    )
    all_edges, derived_edges, chunks_from = edges.all_edges, edges.derived, edges.chunks_from
    base_strict, base_precise, base_incomplete = base
    roots = np.sort(roots)
    delta_csr = _Csr.of(delta)
    seed = _concat([_root_rows(new_roots, waived), _step(delta_csr, base_strict, waived)])
    strict = _spread(all_edges, seed, waived, roots, known=base_strict)
    strict_all = _concat([base_strict, strict])
    # Chunks to check again: every chunk of a version newly tainted or newly attributed, and
    # the appended chunks of the others (whose older chunks the base run checked already,
    # against the same rows and intervals: reading them again would read a popular file's
    # every example for each one appended).
    touched = distinct(np.concatenate([strict.node, attributed]))
    appended_chunks = (delta.kind == CHUNKED) | (delta.kind == TRANSCRIBED)
    appended_chunks &= ~np.isin(delta.src, touched)
    chunks = _joined(chunks_from(touched), _subgraph(delta, appended_chunks))
    precise_seed = _concat(
        [
            _precise_seeds(chunks, strict_all, waived, attributions),
            _step(_Csr.of(_subgraph(delta, delta.kind == DERIVED)), base_precise, waived),
        ]
    )
    precise = (
        _spread(derived_edges, precise_seed, waived, roots, known=base_precise)
        if len(precise_seed.node)
        else _empty()
    )
    inc_node, inc_missing = base_incomplete
    owner, nxt, _ = delta_csr.expand(inc_node)
    incomplete = _incomplete(
        all_edges, missing, size, known=base_incomplete, seed=(nxt, inc_missing[owner])
    )
    return strict, precise, incomplete


def _step(edges: _Csr, rows: Rows, waived: np.ndarray) -> Rows:
    """`rows` carried one hop along `edges` (the appended ones)."""
    owner, nxt, via = edges.expand(rows.node)
    if not len(nxt):
        return _empty()
    blocked = rows.blocked[owner]
    return _first_per_group(
        make_rows(
            nxt,
            rows.root[owner],
            rows.node[owner],
            rows.depth[owner] + 1,
            np.where((blocked == NONE) & waived[nxt], nxt, blocked),
            via.gather(np.arange(len(nxt))),
        )
    )
