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
from dataclasses import dataclass, replace

import networkx as nx

Hunk = tuple[int, int, int, int]
_EOF = 1 << 60  # stands for "to the end of the file" while computing


@dataclass(frozen=True)
class Interval:
    output: int
    start: int
    end: int | None  # None: to the end of the file
    evidence: str
    seq: int


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


def carry_interval(interval: Interval, line_map: list[list[int]] | None,
                   edge_seq: int) -> list[Interval]:
    """An interval of the parent version as it stands in the child version. With no line map
    the child's lines are unknown, so the interval widens to the whole file (fail closed)."""
    seq = max(interval.seq, edge_seq)
    if line_map is None:
        return [replace(interval, start=1, end=None, seq=seq)]
    hunks = [(h[0], h[1], h[2], h[3]) for h in line_map]
    carried = [replace(interval, start=a, end=b, seq=seq)
               for a, b in carry_span(interval.start, interval.end, hunks)]
    last = _EOF if interval.end is None else interval.end
    rewritten = sorted(new for h in line_map if len(h) > 4 for old, new in h[4]
                       if interval.start <= old <= last)
    for a, b in _runs(rewritten):
        carried.append(replace(interval, start=a, end=b, evidence="modified", seq=seq))
    return carried


def _runs(lines: list[int]) -> list[tuple[int, int]]:
    """Consecutive line numbers as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for n in lines:
        if runs and runs[-1][1] + 1 == n:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Keep one row per (output, start, end, evidence): the earliest seq that asserted it."""
    best: dict[tuple[int, int, int | None, str], Interval] = {}
    for iv in intervals:
        key = (iv.output, iv.start, iv.end, iv.evidence)
        if key not in best or iv.seq < best[key].seq:
            best[key] = iv
    return sorted(best.values(), key=lambda iv: (iv.start, iv.output, iv.evidence))


def carry_through(closure: list[int], revisions: list[tuple[int, int, int, str | None]],
                  explicit: dict[int, list[Interval]], fixed: dict[int, list[Interval]]
                  ) -> list[tuple[int, Interval]]:
    """Carried intervals of every file version in `closure`.

    `revisions` are (parent, child, seq, line_map JSON) edges into the closure; `explicit` holds
    the asserted intervals of closure versions, `fixed` all intervals of parents outside it.
    Returns (file version, interval) rows that are not themselves asserted.

    A version's intervals are what it asserts plus what every parent carries into it. Versions
    repeat in real histories (a revert, a restore, `git checkout OLD -- f`, a mode-only change
    bring back an earlier blob), so the revisions may form cycles: the versions are taken in
    topological order of their strongly connected components, and inside a component carried
    again until nothing changes (intervals only grow, over finitely many lines, so it ends).
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(closure)
    maps: dict[tuple[int, int], tuple[int, list[list[int]] | None]] = {}
    for src, dst, seq, line_map in revisions:
        if src == dst:
            continue  # the same version again: nothing to carry
        graph.add_edge(src, dst)
        old = maps.get((src, dst))
        if old is None or seq < old[0]:
            maps[(src, dst)] = (seq, None if line_map is None else json.loads(line_map))
    inside = set(closure)
    total: dict[int, list[Interval]] = dict(fixed)
    carried_of: dict[int, list[Interval]] = {}

    def carry(node: int) -> bool:
        """Recompute what the parents carry into `node`; True when it changed."""
        carried: list[Interval] = []
        for parent in graph.predecessors(node):
            seq, line_map = maps[(parent, node)]
            for iv in total.get(parent, []):
                carried += carry_interval(iv, line_map, seq)
        asserted = explicit.get(node, [])
        asserted_keys = {(iv.output, iv.start, iv.end, iv.evidence) for iv in asserted}
        new = [iv for iv in merge_intervals(carried + carried_of.get(node, []))
               if (iv.output, iv.start, iv.end, iv.evidence) not in asserted_keys]
        if new == carried_of.get(node, []) and node in total:
            return False
        carried_of[node] = new
        total[node] = asserted + new
        return True

    condensed = nx.condensation(graph)
    for component in nx.topological_sort(condensed):
        members = sorted(condensed.nodes[component]["members"])
        members = [m for m in members if m in inside]
        if len(members) == 1 and not graph.has_edge(members[0], members[0]):
            carry(members[0])
            continue
        for _ in range(_MAX_ROUNDS):
            if not any([carry(m) for m in members]):
                break
    return [(node, iv) for node in closure for iv in carried_of.get(node, [])]


_MAX_ROUNDS = 1000  # a cycle of versions settles in a few rounds; this only bounds a bug
