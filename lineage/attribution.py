"""Line attribution carried through history: which lines of a file version descend from which
tool output.

A revision's line map is a list of changed regions as `git diff -U0` prints them:
``[old_start, old_lines, new_start, new_lines]``. Unchanged lines shift, deleted lines drop, and
at a merge the intervals of every parent are united. A region may carry a fifth element, the
``[old_line, new_line]`` pairs of lines rewritten in it that are still similar (the git loader
measures that): an attributed old line passes to its rewrite with evidence ``modified``.
"""

import json
from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np

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

    def normalized(self) -> "_Intervals":
        """Overlapping or adjacent intervals of the same output, evidence and seq united;
        the same lines of an output and evidence kept once, at their earliest seq."""
        if len(self) < 2:
            return self
        order = np.lexsort((self.start, self.seq, self.evidence, self.output))
        iv = self.take(order)
        group = np.r_[
            True,
            (iv.output[1:] != iv.output[:-1])
            | (iv.evidence[1:] != iv.evidence[:-1])
            | (iv.seq[1:] != iv.seq[:-1]),
        ]
        # a run continues while the next start is within the running maximum end + 1
        run_end = _running_max_by_group(iv.end, group)
        fresh = group | np.r_[True, iv.start[1:] > run_end[:-1] + 1]
        firsts = np.flatnonzero(fresh)
        ends = np.maximum.reduceat(iv.end, firsts)
        out = _Intervals(
            iv.output[firsts], iv.start[firsts], ends, iv.evidence[firsts], iv.seq[firsts]
        )
        # identical (output, start, end, evidence) at several seqs: keep the earliest
        order = np.lexsort((out.seq, out.end, out.start, out.evidence, out.output))
        out = out.take(order)
        same = np.r_[
            False,
            (out.output[1:] == out.output[:-1])
            & (out.evidence[1:] == out.evidence[:-1])
            & (out.start[1:] == out.start[:-1])
            & (out.end[1:] == out.end[:-1]),
        ]
        return out.take(np.flatnonzero(~same))


def _running_max_by_group(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """The running maximum of `values` (line numbers, or _EOF), restarted where
    `group_start` is True: one accumulate over values lifted by their group's number."""
    capped = np.minimum(values, _LINE_CAP)
    lift = np.cumsum(group_start).astype(np.int64) * (_LINE_CAP + 1)
    out = np.maximum.accumulate(capped + lift) - lift
    return np.where(out >= _LINE_CAP, _EOF, out)


_LINE_CAP = 1 << 40  # above any real line number; _EOF is capped to it while accumulating


class _LineMap:
    """One revision's line map, compiled for carrying many intervals at once."""

    def __init__(self, line_map: list[list[Any]] | None) -> None:
        self.unknown = line_map is None
        hunks = sorted((h[0], h[1], h[2], h[3]) for h in (line_map or []))
        hs = np.array([h[0] for h in hunks], dtype=np.int64)
        hn = np.array([h[1] for h in hunks], dtype=np.int64)
        nn = np.array([h[3] for h in hunks], dtype=np.int64)
        self.first = hs
        self.removes = hn
        self.last = np.where(hn > 0, hs + hn - 1, hs)  # lines after this one shift
        self.shift = np.r_[0, np.cumsum(nn - hn)].astype(np.int64)
        pairs = sorted((old, new) for h in (line_map or []) if len(h) > 4 for old, new in h[4])
        self.pair_old = np.array([p[0] for p in pairs], dtype=np.int64)
        self.pair_new = np.array([p[1] for p in pairs], dtype=np.int64)

    def _split(
        self, iv: _Intervals, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, seq: np.ndarray
    ) -> _Intervals:
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
        offset = self.shift[base + j]
        new_end = np.where(end >= _EOF, _EOF, end + offset)
        pick = np.flatnonzero(keep)
        return _Intervals(
            iv.output[owner][pick],
            (start + offset)[pick],
            new_end[pick],
            iv.evidence[owner][pick],
            seq[owner][pick],
        )

    def carry(self, iv: _Intervals, edge_seq: int, modified: int) -> _Intervals:
        """`iv` as it stands after this revision (seq at least `edge_seq`); lines rewritten
        into similar lines pass on with evidence code `modified`."""
        seq = np.maximum(iv.seq, edge_seq)
        if self.unknown:
            return _Intervals(
                iv.output,
                np.ones(len(iv), np.int64),
                np.full(len(iv), _EOF, np.int64),
                iv.evidence,
                seq,
            )
        lo = np.searchsorted(self.last, iv.start, side="left")  # first hunk not before it
        hi = np.searchsorted(self.first, iv.end, side="right")  # hunks starting in it
        simple = hi <= lo
        offset = self.shift[lo]
        end = np.where(iv.end >= _EOF, _EOF, iv.end + offset)
        parts = [
            _Intervals(
                iv.output[simple],
                iv.start[simple] + offset[simple],
                end[simple],
                iv.evidence[simple],
                seq[simple],
            )
        ]
        slow = np.flatnonzero(~simple)
        if len(slow):
            parts.append(self._split(iv, slow, lo[slow], hi[slow], seq))
        if len(self.pair_old):
            a = np.searchsorted(self.pair_old, iv.start, side="left")
            b = np.searchsorted(self.pair_old, iv.end, side="right")
            counts = b - a
            if counts.sum():
                owner = np.repeat(np.arange(len(iv)), counts)
                # a[i], a[i] + 1, ..., b[i] - 1 for each interval i, in one pass
                index = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts - a, counts)
                lines = self.pair_new[index]
                parts.append(
                    _Intervals(
                        iv.output[owner],
                        lines,
                        lines,
                        np.full(len(owner), modified, np.int64),
                        seq[owner],
                    )
                )
        return _Intervals.concat(parts)


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
    """
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
    owners = fv[use]
    order = np.argsort(owners, kind="stable")
    owners, rows = owners[order], rows.take(order)
    cuts = (
        np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        if len(owners)
        else np.zeros(0, np.int64)
    )
    groups: dict[int, _Intervals] = {}
    for i, at in enumerate(cuts):
        stop = cuts[i + 1] if i + 1 < len(cuts) else len(owners)
        groups[int(owners[at])] = rows.take(np.arange(at, stop))
    total: dict[int, _Intervals] = {k: v for k, v in groups.items() if k in outside}
    asserted = {k: v for k, v in groups.items() if k not in outside}
    graph = nx.DiGraph()
    graph.add_nodes_from(closure)
    maps: dict[tuple[int, int], tuple[int, str | None]] = {}
    for src, dst, seq, line_map in revisions:
        if src == dst:
            continue  # the same version again: nothing to carry
        graph.add_edge(src, dst)
        old = maps.get((src, dst))
        if old is None or seq < old[0]:
            maps[(src, dst)] = (seq, line_map)
    compiled: dict[tuple[int, int], _LineMap] = {}
    inside = set(closure)
    carried_of: dict[int, _Intervals] = {}
    modified = code["modified"]

    def carry(node: int) -> bool:
        """Recompute what the parents carry into `node`; True when it changed."""
        parts = [carried_of.get(node, _Intervals.empty())]
        for parent in graph.predecessors(node):
            if parent not in total:
                continue
            seq, text = maps[(parent, node)]
            line_map = compiled.get((parent, node))
            if line_map is None:
                line_map = compiled[(parent, node)] = _LineMap(
                    None if text is None else json.loads(text)
                )
            parts.append(line_map.carry(total[parent], seq, modified))
        new = _Intervals.concat(parts).normalized()
        mine = asserted.get(node)
        if mine is not None and len(mine) and len(new):
            new = new.take(np.flatnonzero(~np.isin(_row_keys(new), _row_keys(mine))))
        before = carried_of.get(node)
        if (
            before is not None
            and node in total
            and len(before) == len(new)
            and all(
                np.array_equal(getattr(before, f), getattr(new, f)) for f in _Intervals.__slots__
            )
        ):
            return False
        carried_of[node] = new
        total[node] = _Intervals.concat([mine, new]) if mine is not None else new
        return True

    condensed = nx.condensation(graph)
    for component in nx.topological_sort(condensed):
        members = [m for m in sorted(condensed.nodes[component]["members"]) if m in inside]
        if len(members) == 1:
            carry(members[0])
            continue
        for _ in range(_MAX_ROUNDS):
            if not any([carry(m) for m in members]):
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


def _row_keys(iv: _Intervals) -> np.ndarray:
    """One comparable value per (output, start, end, evidence) row."""
    stacked = np.ascontiguousarray(np.stack([iv.output, iv.start, iv.end, iv.evidence], 1))
    return stacked.view(np.dtype((np.void, 32))).ravel()


_MAX_ROUNDS = 1000  # a cycle of versions settles in a few rounds; this only bounds a bug
