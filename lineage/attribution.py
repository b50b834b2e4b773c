"""Line attribution carried through history: which lines of a file version descend from which
tool output.

A revision's line map is a list of changed regions as `git diff -U0` prints them:
``[old_start, old_lines, new_start, new_lines]``. Unchanged lines shift, deleted lines drop, and
at a merge the intervals of every parent are united. A region may carry a fifth element, the
``[old_line, new_line]`` pairs of lines rewritten in it that are still similar (the git loader
measures that): an attributed old line passes to its rewrite with evidence ``modified``.
"""

from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

Hunk = tuple[int, int, int, int]
EOF = _EOF = 1 << 60  # stands for "to the end of the file" while computing


def carry_span(start: int, end: int | None, hunks: Iterable[Hunk]) -> list[tuple[int, int | None]]:
    """Map the old lines ``start..end`` through a diff; return the surviving new ranges.

    >>> carry_span(5, 9, [(2, 0, 3, 2), (7, 1, 9, 0)])  # 2 lines inserted after 2, line 7 deleted
    [(7, 10)]
    """
    last = _EOF if end is None else end
    out: list[tuple[int, int]] = []
    offset, pos = 0, start
    for old_start, old_lines, _new_start, new_lines in sorted(hunks):
        if pos > last:
            break
        # Lines before this hunk are untouched by it; a pure insertion sits after old_start.
        untouched_to = old_start - 1 if old_lines else old_start
        if pos <= untouched_to:
            out.append((pos + offset, min(last, untouched_to) + offset))
        pos = max(pos, old_start + old_lines if old_lines else old_start + 1)
        offset += new_lines - old_lines
    if pos <= last:
        out.append((pos + offset, last + offset))
    merged: list[tuple[int, int]] = []
    for a, b in out:
        if merged and merged[-1][1] + 1 == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [(a, None if end is None else b) for a, b in merged]


class _Intervals:
    """Intervals as columns: output, start, end (_EOF: to the end of the file), evidence
    (a code into `names`), seq."""

    __slots__ = ("output", "start", "end", "evidence", "seq")

    def __init__(
        self,
        output: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        evidence: np.ndarray,
        seq: np.ndarray,
    ) -> None:
        self.output, self.start, self.end, self.evidence, self.seq = (
            output,
            start,
            end,
            evidence,
            seq,
        )

    @classmethod
    def empty(cls) -> "_Intervals":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, z)

    @classmethod
    def concat(cls, parts: list["_Intervals"]) -> "_Intervals":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__slots__))

    def take(self, index: np.ndarray) -> "_Intervals":
        return _Intervals(*(getattr(self, f)[index] for f in self.__slots__))

    def __len__(self) -> int:
        return len(self.output)

    def slice(self, start: int, stop: int) -> "_Intervals":
        """Rows start..stop-1 (views, no copy)."""
        return _Intervals(*(getattr(self, f)[start:stop] for f in self.__slots__))

    def equals(self, other: "_Intervals") -> bool:
        return len(self) == len(other) and all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in self.__slots__
        )


def _normalized_by(owner: np.ndarray, iv: _Intervals) -> tuple[np.ndarray, _Intervals]:
    """Each owner's rows normalized, all owners at once: overlapping or adjacent intervals
    of the same output, evidence and seq united, the same lines of an output and evidence
    kept once at their earliest seq; the rows come sorted by owner, with their owners."""
    if len(iv) < 2:
        return owner, iv
    order = _lexorder([owner, iv.output, iv.evidence, iv.seq, iv.start])
    owner, iv = owner[order], iv.take(order)
    group = np.r_[
        True,
        (owner[1:] != owner[:-1])
        | (iv.output[1:] != iv.output[:-1])
        | (iv.evidence[1:] != iv.evidence[:-1])
        | (iv.seq[1:] != iv.seq[:-1]),
    ]
    # a run continues while the next start is within the running maximum end + 1
    run_end = _running_max_by_group(iv.end, group)
    fresh = group | np.r_[True, iv.start[1:] > run_end[:-1] + 1]
    firsts = np.flatnonzero(fresh)
    ends = np.maximum.reduceat(iv.end, firsts)
    owner = owner[firsts]
    out = _Intervals(iv.output[firsts], iv.start[firsts], ends, iv.evidence[firsts], iv.seq[firsts])
    # identical (output, start, end, evidence) at several seqs: keep the earliest
    order = _lexorder([owner, out.output, out.evidence, out.start, out.end, out.seq])
    owner, out = owner[order], out.take(order)
    same = np.r_[
        False,
        (owner[1:] == owner[:-1])
        & (out.output[1:] == out.output[:-1])
        & (out.evidence[1:] == out.evidence[:-1])
        & (out.start[1:] == out.start[:-1])
        & (out.end[1:] == out.end[:-1]),
    ]
    keep = np.flatnonzero(~same)
    return owner[keep], out.take(keep)


def _lexorder(keys: list[np.ndarray]) -> np.ndarray:
    """The stable order of rows sorted by `keys`, most significant first (what
    `np.lexsort(keys[::-1])` returns), as one argsort of the keys packed into one integer.

    >>> _lexorder([np.array([1, 0, 1, 0]), np.array([5, 9, 2, 1 << 60])]).tolist()
    [1, 3, 2, 0]
    """
    packed = _packed(keys)
    if packed is None:
        return np.lexsort(keys[::-1])
    return np.argsort(packed, kind="stable")


def _packed(keys: list[np.ndarray]) -> np.ndarray | None:
    """One int64 per row that orders and identifies rows as `keys` (most significant first)
    do: each key less its minimum, times the spans of the keys after it. A key whose span would
    not fit is replaced by its dense rank first, the widest first; None when even ranks do not
    fit in 62 bits."""
    n = len(keys[0])
    if not n:
        return np.zeros(0, np.int64)
    keys = [np.asarray(k, np.int64) for k in keys]
    lows = [int(k.min()) for k in keys]
    spans = [int(k.max()) - low + 1 for k, low in zip(keys, lows, strict=True)]
    while sum(s.bit_length() for s in spans) > 62:
        widest = max(range(len(keys)), key=lambda i: spans[i])
        if spans[widest] <= n:
            return None
        values, rank = np.unique(keys[widest], return_inverse=True)
        keys[widest], lows[widest], spans[widest] = rank.astype(np.int64), 0, len(values)
    packed = np.zeros(n, np.int64)
    for key, low, span in zip(keys, lows, spans, strict=True):
        packed = packed * span + (key - low)
    return packed


def _running_max_by_group(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """The running maximum of `values` (line numbers, or _EOF), restarted where
    `group_start` is True: one accumulate over values lifted by their group's number."""
    capped = np.minimum(values, _LINE_CAP)
    lift = np.cumsum(group_start).astype(np.int64) * (_LINE_CAP + 1)
    out = np.maximum.accumulate(capped + lift) - lift
    return np.where(out >= _LINE_CAP, _EOF, out)


_LINE_CAP = 1 << 40  # above any real line number; _EOF is capped to it while accumulating


_STRIDE = 1 << 42  # keys of edge e's lines are e * _STRIDE + line: one sorted array for all


class _LineMaps:
    """The line maps of many revisions, compiled into one set of arrays so that intervals
    crossing any of them are carried by a few NumPy operations in all (not per revision):
    revision e's hunks are keyed e * _STRIDE + line, so one sorted search finds each
    interval's hunks within its own revision."""

    def __init__(self, line_maps: list[list[list[Any]] | None]) -> None:
        self.unknown = np.array([m is None for m in line_maps], dtype=bool)
        hunks = [sorted((h[0], h[1], h[2], h[3]) for h in (m or [])) for m in line_maps]
        counts = np.array([len(h) for h in hunks], dtype=np.int64)
        self.hunk_base = np.r_[0, np.cumsum(counts)].astype(np.int64)  # e's first hunk
        flat = [h for edge in hunks for h in edge]
        edge_of = np.repeat(np.arange(len(line_maps), dtype=np.int64), counts)
        hs = np.array([h[0] for h in flat], dtype=np.int64)
        hn = np.array([h[1] for h in flat], dtype=np.int64)
        nn = np.array([h[3] for h in flat], dtype=np.int64)
        self.first = hs
        self.removes = hn
        self.last = np.where(hn > 0, hs + hn - 1, hs)  # lines after this one shift
        self.first_key = edge_of * _STRIDE + hs
        self.last_key = edge_of * _STRIDE + self.last
        # e's shifts (before its first hunk, after each) sit at hunk_base[e] + e + k
        shift = np.zeros(len(flat) + len(line_maps), dtype=np.int64)
        delta = nn - hn
        if len(flat):
            running = np.cumsum(delta) - np.repeat(
                np.r_[0, np.cumsum(delta)][self.hunk_base[:-1]], counts
            )
            shift[np.arange(len(flat)) + edge_of + 1] = running
        self.shift = shift
        pairs = sorted(
            (e, old, new)
            for e, m in enumerate(line_maps)
            for h in (m or [])
            if len(h) > 4
            for old, new in h[4]
        )
        self.pair_key = np.array([e * _STRIDE + old for e, old, _ in pairs], dtype=np.int64)
        self.pair_new = np.array([new for _, _, new in pairs], dtype=np.int64)

    def carry(
        self, iv: _Intervals, edge: np.ndarray, edge_seq: np.ndarray, modified: int
    ) -> tuple[_Intervals, np.ndarray]:
        """Each row of `iv` carried through the revision `edge` names for it, as the rows of
        the revision's new version (seq at least that revision's `edge_seq`), with the
        revision of each; lines rewritten into similar lines pass on with code `modified`."""
        seq = np.maximum(iv.seq, edge_seq[edge])
        unknown = self.unknown[edge]
        parts: list[tuple[_Intervals, np.ndarray]] = []
        if unknown.any():
            rows = np.flatnonzero(unknown)
            parts.append(
                (
                    _Intervals(
                        iv.output[rows],
                        np.ones(len(rows), np.int64),
                        np.full(len(rows), _EOF, np.int64),
                        iv.evidence[rows],
                        seq[rows],
                    ),
                    edge[rows],
                )
            )
            known = np.flatnonzero(~unknown)
            iv, edge, seq = iv.take(known), edge[known], seq[known]
        base = edge * _STRIDE
        start_key = base + np.minimum(iv.start, _LINE_CAP)
        end_key = base + np.minimum(iv.end, _LINE_CAP)
        lo = np.searchsorted(self.last_key, start_key, side="left")  # first hunk not before
        hi = np.searchsorted(self.first_key, end_key, side="right")  # hunks starting in it
        simple = hi <= lo
        offset = self.shift[lo + edge]
        end = np.where(iv.end >= _EOF, _EOF, iv.end + offset)
        rows = np.flatnonzero(simple)
        parts.append(
            (
                _Intervals(
                    iv.output[rows],
                    iv.start[rows] + offset[rows],
                    end[rows],
                    iv.evidence[rows],
                    seq[rows],
                ),
                edge[rows],
            )
        )
        slow = np.flatnonzero(~simple)
        if len(slow):
            parts.append(self._split(iv, slow, lo[slow], hi[slow], seq, edge))
        if len(self.pair_key):
            a = np.searchsorted(self.pair_key, start_key, side="left")
            b = np.searchsorted(self.pair_key, end_key, side="right")
            counts = b - a
            if counts.sum():
                owner = np.repeat(np.arange(len(iv)), counts)
                # a[i], a[i] + 1, ..., b[i] - 1 for each interval i, in one pass
                index = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts - a, counts)
                lines = self.pair_new[index]
                parts.append(
                    (
                        _Intervals(
                            iv.output[owner],
                            lines,
                            lines,
                            np.full(len(owner), modified, np.int64),
                            seq[owner],
                        ),
                        edge[owner],
                    )
                )
        return (
            _Intervals.concat([p for p, _ in parts]),
            np.concatenate([e for _, e in parts]) if parts else np.zeros(0, np.int64),
        )

    def _split(
        self,
        iv: _Intervals,
        rows: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        seq: np.ndarray,
        edge: np.ndarray,
    ) -> tuple[_Intervals, np.ndarray]:
        """The pieces of intervals `rows` that hunks lo..hi-1 cut: the lines between those
        hunks survive, each piece shifted by the hunks before it (what carry_span does for
        one interval, for all at once)."""
        counts = hi - lo
        owner = np.repeat(rows, counts + 1)
        base = np.repeat(lo, counts + 1)
        j = np.arange(len(owner)) - np.repeat(np.cumsum(counts + 1) - (counts + 1), counts + 1)
        last_piece = j == np.repeat(counts, counts + 1)
        resume = self.last + 1  # the first line after hunk k
        stop = np.where(self.removes > 0, self.first - 1, self.first)  # last line before k
        start = np.where(j == 0, iv.start[owner], resume[np.maximum(base + j - 1, 0)])
        end = np.where(last_piece, iv.end[owner], stop[np.minimum(base + j, len(stop) - 1)])
        keep = start <= end
        offset = self.shift[base + j + edge[owner]]
        new_end = np.where(end >= _EOF, _EOF, end + offset)
        pick = np.flatnonzero(keep)
        return (
            _Intervals(
                iv.output[owner][pick],
                (start + offset)[pick],
                new_end[pick],
                iv.evidence[owner][pick],
                seq[owner][pick],
            ),
            edge[owner][pick],
        )


def carry_columns(
    closure: list[int],
    revisions: list[tuple[int, int, int, str | None]],
    known: dict[str, Any],
    outside: set[int],
) -> dict[str, Any]:
    """Carried intervals of every file version in `closure`, as columns.

    `revisions` are (parent, child, seq, line_map JSON) edges into the closure; `known` the
    stored intervals of the closure and of the parents `outside` it, as columns
    (file_version, output, start, end with NULL for "to the end of the file", evidence,
    seq, carried): the closure's asserted rows and every row of an outside parent count.
    Returns the carried rows that are not themselves asserted: file_version, output, start,
    end (EOF for "to the end of the file"), evidence codes into `names`, seq.

    A version's intervals are what it asserts plus what every parent carries into it. Versions
    repeat in real histories (a revert, a restore, `git checkout OLD -- f`, a mode-only change
    bring back an earlier blob), so the revisions may form cycles: the versions are taken in
    topological order of their strongly connected components, and inside a component carried
    again until nothing changes (intervals only grow, over finitely many lines, so it ends).
    Versions whose parents are all done are carried together, a generation at a time.
    """
    import networkx as nx  # 0.1 s to import: only carrying needs it, not every command

    evidence = np.asarray(known["evidence"], dtype=object)
    names: list[str] = sorted(set(evidence.tolist()) | {"modified"})
    code = {name: i for i, name in enumerate(names)}
    codes = np.zeros(len(evidence), np.int64)
    for name, i in code.items():  # a handful of names: one pass each, none per row in Python
        codes[evidence == name] = i
    fv = np.asarray(known["file_version"], dtype=np.int64)
    is_outside = np.isin(fv, np.fromiter(outside, np.int64, len(outside)))
    use = is_outside | ~np.asarray(known["carried"], dtype=bool)
    end_raw = known["end"]
    end = (
        np.where(np.ma.getmaskarray(end_raw), _EOF, np.ma.getdata(end_raw)).astype(np.int64)
        if isinstance(end_raw, np.ma.MaskedArray)
        else np.asarray(end_raw, dtype=np.int64)
    )
    rows = _Intervals(
        np.asarray(known["output"], np.int64)[use],
        np.asarray(known["start"], np.int64)[use],
        end[use],
        codes[use],
        np.asarray(known["seq"], np.int64)[use],
    )
    groups = _by_owner(fv[use], rows)
    total: dict[int, _Intervals] = {k: v for k, v in groups.items() if k in outside}
    asserted = {k: v for k, v in groups.items() if k not in outside}
    graph = nx.DiGraph()
    graph.add_nodes_from(closure)
    first_seen: dict[tuple[int, int], tuple[int, str | None]] = {}
    for src, dst, seq, line_map in revisions:
        if src == dst:
            continue  # the same version again: nothing to carry
        graph.add_edge(src, dst)
        old = first_seen.get((src, dst))
        if old is None or seq < old[0]:
            first_seen[(src, dst)] = (seq, line_map)
    edge_index = {pair: e for e, pair in enumerate(first_seen)}
    texts = [text for _, text in first_seen.values()]
    parsed = orjson.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")
    maps = _LineMaps(parsed)
    edge_seq = np.array([seq for seq, _ in first_seen.values()], dtype=np.int64)
    inside = set(closure)
    carried_of: dict[int, _Intervals] = {}
    modified = code["modified"]

    dst_of_edge = np.array([dst for _, dst in first_seen], dtype=np.int64)

    def carry(nodes: list[int]) -> set[int]:
        """Recompute what the parents carry into each of `nodes`, from what the parents
        hold now; return the nodes whose carried rows changed."""
        nodes = sorted(nodes)
        at = np.array(nodes, dtype=np.int64)
        sources: list[_Intervals] = []
        edges: list[int] = []
        for node in nodes:
            for parent in graph.predecessors(node):
                if parent in total and len(total[parent]):
                    sources.append(total[parent])
                    edges.append(edge_index[(parent, node)])
        if sources:
            moved = _Intervals.concat(sources)
            edge_of_row = np.repeat(
                np.array(edges, np.int64), np.array([len(x) for x in sources], np.int64)
            )
            new, edge_of_new = maps.carry(moved, edge_of_row, edge_seq, modified)
            owner = np.searchsorted(at, dst_of_edge[edge_of_new])
        else:
            new, owner = _Intervals.empty(), np.zeros(0, np.int64)
        again = [i for i, n in enumerate(nodes) if n in carried_of]  # a cycle's next round
        if again:
            new = _Intervals.concat([new] + [carried_of[nodes[i]] for i in again])
            owner = np.concatenate(
                [owner] + [np.full(len(carried_of[nodes[i]]), i, np.int64) for i in again]
            )
        owner, new = _normalized_by(owner, new)
        # what a version asserts itself is not carried into it
        claims = [(i, asserted[n]) for i, n in enumerate(nodes) if n in asserted]
        if claims and len(new):
            own = _Intervals.concat([c for _, c in claims])
            own_owner = np.repeat(
                np.array([i for i, _ in claims], np.int64),
                np.array([len(c) for _, c in claims], np.int64),
            )
            keep = ~_rows_in(new, owner, own, own_owner)
            new, owner = new.take(np.flatnonzero(keep)), owner[keep]
        bounds = np.searchsorted(owner, np.arange(len(nodes) + 1))
        changed: set[int] = set()
        for i, node in enumerate(nodes):
            mine_new = new.slice(int(bounds[i]), int(bounds[i + 1]))
            before = carried_of.get(node)
            if before is not None and node in total and before.equals(mine_new):
                continue
            carried_of[node] = mine_new
            mine = asserted.get(node)
            total[node] = _Intervals.concat([mine, mine_new]) if mine is not None else mine_new
            changed.add(node)
        return changed

    condensed = nx.condensation(graph)
    generation: dict[int, int] = {}
    for component in nx.topological_sort(condensed):
        generation[component] = 1 + max(
            (generation[p] for p in condensed.predecessors(component)), default=-1
        )
    by_generation: dict[int, list[int]] = {}
    for component, g in generation.items():
        by_generation.setdefault(g, []).append(component)
    for g in sorted(by_generation):
        # No revision joins two components of one generation: all are carried together, and
        # the members of cycles again, together, while any of their component changes.
        at_once: list[int] = []
        cycle_of: dict[int, int] = {}  # a member of a cycle -> its component
        members_of: dict[int, list[int]] = {}
        for component in by_generation[g]:
            members = [m for m in sorted(condensed.nodes[component]["members"]) if m in inside]
            at_once += members
            if len(members) > 1:
                members_of[component] = members
                cycle_of.update(dict.fromkeys(members, component))
        for _ in range(_MAX_ROUNDS):
            changed = carry(at_once) if at_once else set()
            again = sorted({cycle_of[n] for n in changed if n in cycle_of})
            at_once = [m for component in again for m in members_of[component]]
            if not at_once:
                break
    nodes = [n for n in closure if n in carried_of and len(carried_of[n])]
    parts = [carried_of[n] for n in nodes]
    merged = _Intervals.concat(parts)
    return {
        "file_version": np.repeat(np.array(nodes, np.int64), [len(p) for p in parts]).astype(
            np.int64
        ),
        "output": merged.output,
        "start": merged.start,
        "end": merged.end,
        "evidence": merged.evidence,
        "seq": merged.seq,
        "names": names,
    }


def _by_owner(owners: np.ndarray, rows: _Intervals) -> dict[int, _Intervals]:
    """The rows of each owner."""
    order = np.argsort(owners, kind="stable")
    owners, rows = owners[order], rows.take(order)
    if not len(owners):
        return {}
    cuts = np.r_[np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]), len(owners)]
    return {
        int(owners[at]): rows.slice(int(at), int(stop))
        for at, stop in zip(cuts[:-1], cuts[1:], strict=True)
    }


def _rows_in(iv: _Intervals, owner: np.ndarray, of: _Intervals, of_owner: np.ndarray) -> np.ndarray:
    """Whether each (owner, output, start, end, evidence) row of `iv` is a row of `of`."""
    both = [
        np.concatenate([a, b])
        for a, b in (
            (owner, of_owner),
            (iv.output, of.output),
            (iv.start, of.start),
            (iv.end, of.end),
            (iv.evidence, of.evidence),
        )
    ]
    packed = _packed(both)
    if packed is not None:
        keys = packed
    else:
        stacked = np.ascontiguousarray(np.stack(both, 1).astype(np.int64))
        keys = stacked.view(np.dtype((np.void, 8 * len(both)))).ravel()
    return np.isin(keys[: len(iv)], keys[len(iv) :])


_MAX_ROUNDS = 1000  # a cycle of versions settles in a few rounds; this only bounds a bug
