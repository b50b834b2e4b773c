"""What a user would write instead of lineage's engine, on the same store, for comparison:

- `networkx_tainted`: fetch the derivation edges, build a networkx DiGraph, BFS from every
  restricted output, then the span check (an example chunked from a reached file version is
  tainted when a restricted output's lines there overlap its span) and derived examples;
- `cte_tainted`: a plain DuckDB `WITH RECURSIVE` over the same edges, then the same span check.

Both return (precise, strict) sets of tainted example ids, so the benchmark can check they agree
with the engine before it compares times. Restricted roots are taken from the engine's run (the
policy match is not what is compared).
"""

from collections import defaultdict

import networkx as nx

from lineage import engine
from lineage.model import DERIVATION
from lineage.store import Store

_KINDS = ", ".join(f"'{k}'" for k in sorted(DERIVATION))
_EDGES = f"""
    SELECT coalesce(a.target, e.src) AS src, e.dst, e.kind, e.span_start, e.span_end, e.span_unit
    FROM edges e LEFT JOIN (SELECT alias, min(target) AS target FROM aliases GROUP BY alias) a
      ON a.alias = e.src
    WHERE e.kind IN ({_KINDS})"""


def roots(store: Store, run: int) -> list[int]:
    return [
        r[0]
        for r in store.fetch_all(
            "SELECT DISTINCT node FROM taint "
            f"WHERE run {engine.PARTS_OF} AND mode = 'strict' "
            "AND depth = 0 "
            "AND blocked_by IS NULL",
            [run],
        )
    ]


def networkx_tainted(store: Store, root_ids: list[int]) -> tuple[set[int], set[int]]:
    edges = store.fetch_all(_EDGES)
    examples = {r[0] for r in store.fetch_all("SELECT id FROM nodes WHERE kind = 'example'")}
    spans: dict[int, list[tuple[int, int, int | None]]] = defaultdict(list)
    restricted = set(root_ids)
    for fv, out, start, end in store.fetch_all(
        "SELECT file_version, output, line_start, line_end FROM attributions"
    ):
        if out in restricted:
            spans[fv].append((out, start, end))
    graph = nx.DiGraph()
    for src, dst, kind, start, end, unit in edges:
        graph.add_edge(src, dst, kind=kind, span=(start, end, unit))
    reached: set[int] = set()
    for root in root_ids:
        if root in graph:
            reached |= nx.descendants(graph, root) | {root}
    strict = reached & examples
    seeds = set()
    for src, dst, data in graph.edges(data=True):
        if src not in reached:
            continue
        if data["kind"] == "transcribed":
            seeds.add(dst)
        elif data["kind"] == "chunked":
            start, end, unit = data["span"]
            if any(
                unit != "line"
                or start is None
                or (a <= (end or 1 << 60) and (b or 1 << 60) >= start)
                for _, a, b in spans.get(src, ())
            ):
                seeds.add(dst)
    precise = set(seeds)
    derived = nx.DiGraph((src, dst) for src, dst, kind, *_ in edges if kind == "derived")
    for seed in seeds:
        if seed in derived and seed not in precise - seeds:
            precise |= nx.descendants(derived, seed)
    return precise & examples, strict


def cte_tainted(store: Store, root_ids: list[int]) -> tuple[set[int], set[int]]:
    store.execute(
        "CREATE OR REPLACE TEMP TABLE _roots AS SELECT unnest(?::BIGINT[]) AS id", [root_ids]
    )
    strict = {
        r[0]
        for r in store.fetch_all(f"""
        WITH RECURSIVE g AS ({_EDGES}),
        r(node) AS (SELECT id FROM _roots UNION SELECT g.dst FROM g JOIN r ON g.src = r.node)
        SELECT r.node FROM r JOIN nodes n ON n.id = r.node WHERE n.kind = 'example'
    """)
    }
    precise = {
        r[0]
        for r in store.fetch_all(f"""
        WITH RECURSIVE g AS ({_EDGES}),
        r(node) AS (SELECT id FROM _roots UNION SELECT g.dst FROM g JOIN r ON g.src = r.node),
        seeds AS (
            SELECT DISTINCT c.dst AS node FROM g c JOIN r ON r.node = c.src
            WHERE c.kind = 'transcribed' OR (c.kind = 'chunked' AND EXISTS (
                SELECT 1 FROM attributions a JOIN _roots x ON x.id = a.output
                WHERE a.file_version = c.src
                  AND (c.span_unit IS DISTINCT FROM 'line' OR c.span_start IS NULL OR (
                       a.line_start <= coalesce(c.span_end, 1 << 60)
                       AND coalesce(a.line_end, 1 << 60) >= c.span_start))))),
        p(node) AS (SELECT node FROM seeds
                    UNION SELECT g.dst FROM g JOIN p ON g.src = p.node WHERE g.kind = 'derived')
        SELECT p.node FROM p JOIN nodes n ON n.id = p.node WHERE n.kind = 'example'
    """)
    }
    store.execute("DROP TABLE _roots")
    return precise, strict
