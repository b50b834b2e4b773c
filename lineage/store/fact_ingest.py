"""Facts stored: a batch's nodes, edges, aliases, asserted line attributions, added lines,
commit trees and line ends, in a few set-based statements per batch."""

import os
from typing import Any

import numpy as np
import pyarrow as pa

from lineage.eventlog import canonical_json, epoch_us
from lineage.facts import (
    AddedLines,
    Alias,
    Attribution,
    Edge,
    LineEnds,
    Node,
    Record,
    TreeEntries,
    WrittenLines,
)
from lineage.model import EdgeKind
from lineage.store import content_match, facets
from lineage.store.errors import StoreError, UndeclaredNodes
from lineage.store.reads import Reads

# Seconds an output's clock may run ahead of a commit's and still match its lines by content
# (the agent and git may run on different machines); override with $LINEAGE_CLOCK_SKEW.
CLOCK_SKEW_S = 60.0


_EDGE_FACTS = pa.schema(
    [
        ("src", pa.string()),
        ("dst", pa.string()),
        ("kind", pa.string()),
        ("seq", pa.int64()),
        ("span_start", pa.int64()),
        ("span_end", pa.int64()),
        ("span_unit", pa.string()),
        ("line_map", pa.string()),
    ]
)


class FactIngest(Reads):
    """The part of `Store` that turns loader facts into rows of the graph's tables."""

    def _insert_facts(
        self, records: list[Record], seqs: list[int]
    ) -> tuple[set[int], list[str], bool]:
        """Insert the facts of newly accepted records; return the file versions whose line
        attribution may have changed, the repos whose trees were recorded, and whether lines
        were attributed to a file named at a commit (resolved to its version)."""
        nodes: dict[str, list[Any]] = {
            k: [] for k in ("key", "kind", "attrs", "defines", "seq", "ord")
        }
        edges: dict[str, list[Any]] = {
            k: []
            for k in (
                "src",
                "dst",
                "kind",
                "seq",
                "span_start",
                "span_end",
                "span_unit",
                "line_map",
            )
        }
        latest: dict[str, list[Any]] = {"key": [], "attrs": []}
        aliases: dict[str, list[Any]] = {"alias": [], "target": [], "seq": []}
        spans: dict[str, list[Any]] = {
            k: [] for k in ("file_version", "output", "line_start", "line_end", "evidence", "seq")
        }
        # added lines: one row per AddedLines fact, its lines and hashes as arrays
        added: dict[str, list[Any]] = {k: [] for k in ("file_version", "repo", "time_us", "seq")}
        added_lines: list[np.ndarray] = []
        added_hashes: list[np.ndarray] = []
        trees: dict[str, list[Any]] = {
            k: [] for k in ("repo", "commit", "first_parent", "whole", "seq")
        }
        entries: dict[str, list[Any]] = {
            k: [] for k in ("repo", "commit", "path", "file_version", "seq")
        }
        line_ends: dict[str, list[Any]] = {"file_version": [], "length": [], "ends": []}
        first_seq = seqs[0]
        for seq, record in zip(seqs, records, strict=True):
            for fact in record.facts:
                # the commonest kinds first: a history holds hundreds of thousands of facts
                if type(fact) is Edge:
                    span = fact.span
                    edges["src"].append(fact.src)
                    edges["dst"].append(fact.dst)
                    edges["kind"].append(str(fact.kind))
                    edges["seq"].append(seq)
                    edges["span_start"].append(span.start if span else None)
                    edges["span_end"].append(span.end if span else None)
                    edges["span_unit"].append(span.unit if span else None)
                    edges["line_map"].append(
                        None if fact.line_map is None else canonical_json(fact.line_map)
                    )
                elif type(fact) is WrittenLines:
                    n = len(fact.firsts)
                    firsts, lasts = fact.firsts.tolist(), fact.lasts.tolist()
                    edges["src"] += [fact.output] * n
                    edges["dst"] += [fact.file_version] * n
                    edges["kind"] += [str(EdgeKind.WROTE)] * n
                    edges["seq"] += [seq] * n
                    edges["span_start"] += firsts
                    edges["span_end"] += lasts
                    edges["span_unit"] += ["line"] * n
                    edges["line_map"] += [None] * n
                    spans["file_version"] += [fact.file_version] * n
                    spans["output"] += [fact.output] * n
                    spans["line_start"] += firsts
                    spans["line_end"] += lasts
                    spans["evidence"] += [fact.evidence] * n
                    spans["seq"] += [seq] * n
                elif type(fact) is Attribution:
                    spans["file_version"].append(fact.file_version)
                    spans["output"].append(fact.output)
                    spans["line_start"].append(fact.span.start)
                    spans["line_end"].append(fact.span.end)
                    spans["evidence"].append(fact.evidence)
                    spans["seq"].append(seq)
                elif type(fact) is Node:
                    nodes["key"].append(fact.key)
                    nodes["kind"].append(str(fact.kind))
                    nodes["attrs"].append(canonical_json(fact.attrs))
                    nodes["defines"].append(fact.defines)
                    if fact.latest:
                        latest["key"].append(fact.key)
                        latest["attrs"].append(nodes["attrs"][-1])
                    nodes["seq"].append(seq)
                    nodes["ord"].append(len(nodes["ord"]))
                elif type(fact) is AddedLines:
                    added["file_version"].append(fact.file_version)
                    added["repo"].append(fact.repo)
                    added["time_us"].append(epoch_us(fact.time) if fact.time else None)
                    added["seq"].append(seq)
                    added_lines.append(fact.lines)
                    added_hashes.append(fact.hashes)
                elif type(fact) is LineEnds:
                    length = int(fact.ends[-1]) if len(fact.ends) else 0
                    if length < 1 << 32:
                        line_ends["file_version"].append(fact.file_version)
                        line_ends["length"].append(length)
                        line_ends["ends"].append(np.asarray(fact.ends, dtype="<u4").tobytes())
                elif type(fact) is TreeEntries:
                    for column, value in (
                        ("repo", fact.repo),
                        ("commit", fact.commit),
                        ("first_parent", fact.first_parent),
                        ("whole", fact.whole),
                        ("seq", seq),
                    ):
                        trees[column].append(value)
                    n = len(fact.entries)
                    entries["repo"] += [fact.repo] * n
                    entries["commit"] += [fact.commit] * n
                    entries["path"] += [path for path, _ in fact.entries]
                    entries["file_version"] += [key for _, key in fact.entries]
                    entries["seq"] += [seq] * n
                elif type(fact) is Alias:
                    aliases["alias"].append(fact.alias)
                    aliases["target"].append(fact.target)
                    aliases["seq"].append(seq)
                else:
                    raise TypeError(f"not a fact: {fact!r}")
        if nodes["key"]:
            self.register(
                "_nodes",
                pa.table(
                    nodes,
                    schema=pa.schema(
                        [
                            ("key", pa.string()),
                            ("kind", pa.string()),
                            ("attrs", pa.string()),
                            ("defines", pa.bool_()),
                            ("seq", pa.int64()),
                            ("ord", pa.int64()),
                        ]
                    ),
                ),
            )
            self.merge_nodes("_nodes")
            self._con.unregister("_nodes")
            self._con.execute("DROP TABLE _node_ids")
        if latest["key"]:
            self.register("_latest", pa.table(latest))
            self.update_latest_nodes("_latest")
            self._con.unregister("_latest")
        self._check_endpoints(
            edges["src"]
            + edges["dst"]
            + aliases["alias"]
            + aliases["target"]
            + spans["file_version"]
            + spans["output"]
            + added["file_version"]
            + [k for k in entries["file_version"] if k is not None]
        )
        if edges["src"]:
            self.register("_edges", pa.table(edges, schema=_EDGE_FACTS))
            self.merge_edges("_edges")
            self._con.unregister("_edges")
        con = self._con
        if aliases["alias"]:
            self.register("_aliases", pa.table(aliases))
            con.execute("""
                INSERT INTO aliases SELECT a.id, t.id, x.seq
                FROM _aliases x JOIN nodes a ON a.key = x.alias JOIN nodes t ON t.key = x.target""")
            con.unregister("_aliases")
        if spans["output"]:
            self.register(
                "_spans",
                pa.table(
                    spans,
                    schema=pa.schema(
                        [
                            ("file_version", pa.string()),
                            ("output", pa.string()),
                            ("line_start", pa.int64()),
                            ("line_end", pa.int64()),
                            ("evidence", pa.string()),
                            ("seq", pa.int64()),
                        ]
                    ),
                ),
            )
            con.execute("""
                INSERT INTO attributions
                SELECT f.id, o.id, s.line_start, s.line_end, s.evidence, s.seq, false
                FROM _spans s JOIN nodes f ON f.key = s.file_version
                JOIN nodes o ON o.key = s.output""")
            con.unregister("_spans")
        if added_lines:
            self._insert_added_lines(added, added_lines, added_hashes)
        if line_ends["file_version"]:
            self.register(
                "_ends",
                pa.table(
                    line_ends,
                    schema=pa.schema(
                        [
                            ("file_version", pa.string()),
                            ("length", pa.int64()),
                            ("ends", pa.binary()),
                        ]
                    ),
                ),
            )
            con.execute("""
                INSERT INTO line_ends SELECT n.id, e.length, e.ends
                FROM _ends e JOIN nodes n ON n.key = e.file_version
                WHERE NOT EXISTS (SELECT 1 FROM line_ends l WHERE l.file_version = n.id)""")
            con.unregister("_ends")
        if trees["commit"]:
            self.register(
                "_trees",
                pa.table(
                    trees,
                    schema=pa.schema(
                        [
                            ("repo", pa.string()),
                            ("commit", pa.string()),
                            ("first_parent", pa.string()),
                            ("whole", pa.bool_()),
                            ("seq", pa.int64()),
                        ]
                    ),
                ),
            )
            con.execute("INSERT INTO commit_trees SELECT * FROM _trees")
            con.unregister("_trees")
            self.register(
                "_entries",
                pa.table(
                    entries,
                    schema=pa.schema(
                        [
                            ("repo", pa.string()),
                            ("commit", pa.string()),
                            ("path", pa.string()),
                            ("file_version", pa.string()),
                            ("seq", pa.int64()),
                        ]
                    ),
                ),
            )
            con.execute("""
                INSERT INTO tree_entries SELECT e.repo, e.commit, e.path, n.id, e.seq
                FROM _entries e LEFT JOIN nodes n ON n.key = e.file_version""")
            con.unregister("_entries")
        content_match.index_output_lines(self, first_seq)
        affected_keys = set(spans["file_version"])
        affected_keys.update(
            dst
            for dst, kind in zip(edges["dst"], edges["kind"], strict=True)
            if kind == EdgeKind.REVISED
        )
        affected = set(self.node_ids(affected_keys).values())
        named = any("@commit:" in key for key in spans["file_version"])
        return (
            affected | content_match.match_content(self, first_seq, self._match_window_us()),
            sorted(set(trees["repo"])),
            named,
        )

    def _match_window_us(self) -> int:
        """How much later than a commit's time an output may be and still count as written
        before it: git keeps whole seconds (a commit at 12:00:00 was made before 12:00:01)
        and agent records keep milliseconds, plus the clock skew allowed between the
        machines (CLOCK_SKEW_S, `$LINEAGE_CLOCK_SKEW` seconds). Wider fails closed."""
        raw = os.environ.get("LINEAGE_CLOCK_SKEW")
        try:
            skew = float(raw) if raw else CLOCK_SKEW_S
        except ValueError:
            raise StoreError(f"LINEAGE_CLOCK_SKEW={raw!r}: give a number of seconds") from None
        return int((1 + max(skew, 0.0)) * 1_000_000)

    def merge_nodes(self, facts: str) -> None:
        """Insert the nodes of relation `facts` (key, kind, attrs, defines, seq, ord): new keys
        get the next ids in `ord` order; a node only referenced so far becomes defined.

        Leaves `_node_ids` (key, id) for every key of `facts`, so the batch's edges find
        their ends without joining the whole node table again (`merge_edges(..., ids=...)`):
        the node table is read once per batch, however many millions of rows it holds."""
        con = self._con
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _node_facts AS
            SELECT key,
                   arg_min(kind, ord) AS kind,
                   coalesce(arg_min(attrs, ord) FILTER (WHERE defines),
                            arg_min(attrs, ord)) AS attrs,
                   min(seq) AS first_seq,
                   min(seq) FILTER (WHERE defines) AS defined_seq,
                   min(ord) AS ord
            FROM {facts} GROUP BY key""")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _node_ids AS
            SELECT f.key, coalesce(n.id, (SELECT coalesce(max(id), 0) FROM nodes)
                       + row_number() OVER (PARTITION BY n.id IS NULL ORDER BY f.ord)) AS id,
                   n.id IS NULL AS new,
                   n.id IS NOT NULL AND n.defined_seq IS NULL
                       AND f.defined_seq IS NOT NULL AS defines
            FROM _node_facts f LEFT JOIN nodes n ON n.key = f.key""")
        con.execute(f"""
            INSERT INTO nodes (id, key, kind, attrs, first_seq, defined_seq,
                               {", ".join(facets.COLUMNS)})
            SELECT i.id, f.key, f.kind, f.attrs, f.first_seq, f.defined_seq,
                   {facets.selected("f")}
            FROM _node_facts f JOIN _node_ids i USING (key) WHERE i.new
            ORDER BY i.id""")
        con.execute(f"""
            UPDATE nodes SET attrs = f.attrs, defined_seq = f.defined_seq,
                             {facets.assignments("f")}
            FROM (SELECT i.id, f.attrs, f.defined_seq
                  FROM _node_facts f JOIN _node_ids i USING (key) WHERE i.defines) f
            WHERE nodes.id = f.id""")
        con.execute("DROP TABLE _node_facts")

    def update_latest_nodes(self, facts: str) -> None:
        """Nodes whose attributes are a state (relation `facts`: key, attrs) take the
        definition with the latest `time`, whatever order the definitions arrived in."""
        time = "TRY_CAST(json_extract_string({}.attrs, '$.time') AS TIMESTAMPTZ)"
        self._con.execute(f"""
            UPDATE nodes SET attrs = f.attrs, {facets.assignments("f")}
            FROM (SELECT key, arg_max(attrs, {time.format("x")}) AS attrs,
                         max({time.format("x")}) AS t
                  FROM {facts} x GROUP BY key) f
            WHERE nodes.key = f.key AND nodes.defined_seq IS NOT NULL
              AND f.t > coalesce({time.format("nodes")}, '-infinity'::TIMESTAMPTZ)""")

    def merge_edges(self, facts: str, ids: str = "nodes") -> None:
        """Insert the edges of relation `facts` (src key, dst key, kind, seq, span, line map),
        their ends' ids read from relation `ids` (key, id): the node table, or `_node_ids`
        when every end is a node of the batch just merged.
        A dataset version a build run used or generated is so once, however many of the run's
        events (START, RUNNING, COMPLETE) say it: the earliest is kept."""
        once = f"('{EdgeKind.USED}', '{EdgeKind.GENERATED}')"
        self._con.execute(f"""
            INSERT INTO edges
            SELECT s.id, d.id, e.kind, e.seq, e.span_start, e.span_end, e.span_unit, e.line_map
            FROM {facts} e JOIN {ids} s ON s.key = e.src JOIN {ids} d ON d.key = e.dst
            WHERE e.kind NOT IN {once}""")
        if self._con.execute(f"SELECT 1 FROM {facts} WHERE kind IN {once} LIMIT 1").fetchone():
            self._con.execute(f"""
                INSERT INTO edges
                SELECT s.id, d.id, e.kind, min(e.seq), NULL, NULL, NULL, NULL
                FROM {facts} e JOIN {ids} s ON s.key = e.src JOIN {ids} d ON d.key = e.dst
                WHERE e.kind IN {once} AND NOT EXISTS (
                    SELECT 1 FROM edges x WHERE x.src = s.id AND x.dst = d.id AND x.kind = e.kind)
                GROUP BY s.id, d.id, e.kind""")

    def _insert_added_lines(
        self, facts: dict[str, list[Any]], lines: list[np.ndarray], hashes: list[np.ndarray]
    ) -> None:
        """Rows of `added_lines` for AddedLines facts (their columns in `facts`, their lines and
        hashes in `lines` and `hashes`), the hashes as the hex text outputs' hashes are kept in."""
        counts = np.array([len(x) for x in lines], dtype=np.int64)
        self.register(
            "_added_of",
            pa.table(
                {**facts, "fact": np.arange(len(counts), dtype=np.int32)},
                schema=pa.schema(
                    [
                        ("file_version", pa.string()),
                        ("repo", pa.string()),
                        ("time_us", pa.int64()),
                        ("seq", pa.int64()),
                        ("fact", pa.int32()),
                    ]
                ),
            ),
        )
        self.register(
            "_added",
            pa.table(
                {
                    "fact": np.repeat(np.arange(len(counts), dtype=np.int32), counts),
                    "line": np.concatenate(lines),
                    "hash": np.concatenate(hashes),
                }
            ),
        )
        self._con.execute("""
            INSERT INTO added_lines
            SELECT f.id, a.line, format('{:016x}', a.hash), k.repo, k.time_us, k.seq
            FROM _added a JOIN _added_of k USING (fact) JOIN nodes f ON f.key = k.file_version""")
        self._con.unregister("_added")
        self._con.unregister("_added_of")

    def _check_endpoints(self, keys: list[str]) -> None:
        """Every key a fact names must be a node by now (else the loader forgot one)."""
        self.register("_named", pa.table({"key": pa.array(keys, pa.string())}))
        try:
            missing = [
                r[0]
                for r in self._con.execute(
                    "SELECT DISTINCT k.key FROM _named k ANTI JOIN nodes n USING (key) "
                    "ORDER BY 1 LIMIT 5"
                ).fetchall()
            ]
        finally:
            self._con.unregister("_named")
        if missing:
            raise UndeclaredNodes(f"facts name nodes they never declare: {missing}")
