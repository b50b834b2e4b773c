"""Reads of the provenance graph: nodes by key or id, neighbours, what a repository or
dataset holds."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lineage.model import NodeKind
from lineage.rows import maybe_one, one
from lineage.store.connection import Connection


@dataclass(frozen=True)
class StoredNode:
    id: int
    key: str
    kind: str
    attrs: dict[str, Any]
    first_seq: int
    defined_seq: int | None


@dataclass(frozen=True)
class StoredEdge:
    src: int
    dst: int
    kind: str
    seq: int
    span_start: int | None
    span_end: int | None
    span_unit: str | None


class Reads(Connection):
    """The part of `Store` that answers lookups of nodes, edges and what the store holds."""

    def node_ids(self, keys: Iterable[str]) -> dict[str, int]:
        keys = list(keys)
        if not keys:
            return {}
        self.register("_keys", pa.table({"key": keys}))
        try:
            return dict(
                self._con.execute(
                    "SELECT n.key, n.id FROM nodes n JOIN (SELECT DISTINCT key FROM _keys) k "
                    "USING (key)"
                ).fetchall()
            )
        finally:
            self._con.unregister("_keys")

    def node(self, key: str) -> StoredNode | None:
        return self._node_where("key = ?", key)

    def node_by_id(self, node_id: int) -> StoredNode | None:
        return self._node_where("id = ?", node_id)

    def _node_where(self, where: str, value: object) -> StoredNode | None:
        row = maybe_one(
            self._con,
            f"SELECT id, key, kind, attrs, first_seq, defined_seq FROM nodes WHERE {where}",
            [value],
        )
        if row is None:
            return None
        return StoredNode(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])

    def nodes_by_ids(self, ids: list[int]) -> list[StoredNode]:
        rows = self._con.execute(
            "SELECT id, key, kind, attrs, first_seq, defined_seq FROM nodes "
            "WHERE id IN (SELECT unnest(?::BIGINT[]))",
            [ids],
        ).fetchall()
        return [StoredNode(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    def nodes_by_keys(self, keys: list[str]) -> dict[str, StoredNode]:
        """Many nodes in one query, by key."""
        self.register("_want", pa.table({"key": pa.array(keys, pa.string())}))
        try:
            rows = self._con.execute(
                "SELECT id, key, kind, attrs, first_seq, defined_seq FROM nodes "
                "WHERE key IN (SELECT key FROM _want)"
            ).fetchall()
        finally:
            self._con.unregister("_want")
        return {r[1]: StoredNode(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows}

    def neighbors(
        self,
        ids: list[int],
        direction: str,
        first: int,
        kinds: list[str] | None = None,
        as_of: int | None = None,
    ) -> dict[int, list[tuple["StoredNode", "StoredEdge"]]]:
        """Up to `first` parents (direction 'up') or children ('down') of each node in `ids`,
        in one query: {id: [(neighbor, edge)]}, oldest edge first."""
        near, far = ("dst", "src") if direction == "up" else ("src", "dst")
        self.register("_from", pa.table({"id": pa.array(ids, pa.int64())}))
        try:
            rows = self._con.execute(
                f"""
                SELECT e.{near}, n.id, n.key, n.kind, n.attrs, n.first_seq, n.defined_seq,
                       e.src, e.dst, e.kind, e.seq, e.span_start, e.span_end, e.span_unit
                FROM edges e JOIN (SELECT DISTINCT id FROM _from) f ON f.id = e.{near}
                JOIN nodes n ON n.id = e.{far}
                WHERE e.seq <= $s AND ($kinds IS NULL OR list_contains($kinds, e.kind))
                QUALIFY row_number() OVER (PARTITION BY e.{near} ORDER BY e.seq, n.id) <= $first
                ORDER BY e.{near}, e.seq, n.id""",
                {"s": as_of if as_of is not None else 2**62, "kinds": kinds, "first": first},
            ).fetchall()
        finally:
            self._con.unregister("_from")
        out: dict[int, list[tuple[StoredNode, StoredEdge]]] = {i: [] for i in ids}
        for anchor, *node, src, dst, kind, seq, start, end, unit in rows:
            out[anchor].append(
                (
                    StoredNode(node[0], node[1], node[2], json.loads(node[3]), node[4], node[5]),
                    StoredEdge(src, dst, kind, seq, start, end, unit),
                )
            )
        return out

    def commits_of(self, repo: str) -> set[str]:
        """The shas of the commits of `repo` already read completely from git (a commit read
        from a partial or shallow clone is read again once its objects are there)."""
        prefix = f"git:{repo}@"
        return {
            r[0][len(prefix) :]
            for r in self._con.execute(
                "SELECT event_id FROM events WHERE source = 'git' AND starts_with(event_id, ?) "
                "AND NOT contains(event_id, '#')",
                [prefix],
            ).fetchall()
        }

    def repo_known(self, repo: str) -> bool:
        """Whether any file version of `repo` was ingested."""
        return bool(
            one(
                self._con,
                "SELECT count(*) FROM nodes WHERE kind = ? AND repo = ? "
                "AND defined_seq IS NOT NULL",
                [str(NodeKind.FILE_VERSION), repo],
            )[0]
        )

    def commit_ingested(self, repo: str, commit: str) -> bool:
        """Whether `commit` of `repo` (a full or abbreviated sha) was read with its tree."""
        return bool(
            one(
                self._con,
                "SELECT count(*) FROM commit_order WHERE repo = ? AND starts_with(commit, ?)",
                [repo, commit],
            )[0]
        )

    def find_examples(self, example_id: str) -> list[str]:
        """Keys of examples whose manifest id is `example_id` (in any dataset version)."""
        return [
            r[0]
            for r in self._con.execute(
                "SELECT key FROM nodes WHERE kind = ? AND key LIKE '%:' || ? "
                "AND json_extract_string(attrs, '$.example') = ? ORDER BY key",
                [str(NodeKind.EXAMPLE), example_id, example_id],
            ).fetchall()
        ]

    def dataset_versions(self, as_of: int | None = None) -> list[tuple[str, str]]:
        """(dataset, version) pairs known to the store."""
        return [
            (r[0], r[1])
            for r in self._con.execute(
                "SELECT json_extract_string(attrs, '$.dataset'), json_extract_string(attrs, "
                "'$.version') FROM nodes WHERE kind = ? AND defined_seq <= ? ORDER BY 1, 2",
                [str(NodeKind.DATASET_VERSION), as_of if as_of is not None else 2**62],
            ).fetchall()
        ]

    def output_tools(self) -> list[tuple[str | None, str | None]]:
        """The distinct (tool, model) pairs of the outputs in the store."""
        return self._con.execute(
            "SELECT DISTINCT json_extract_string(attrs, '$.tool'), "
            "json_extract_string(attrs, '$.model') FROM nodes WHERE kind = ?",
            [NodeKind.OUTPUT.value],
        ).fetchall()

    def counts_by_kind(self) -> dict[str, int]:
        return dict(
            self._con.execute(
                "SELECT kind, count(*) FROM nodes GROUP BY kind ORDER BY kind"
            ).fetchall()
        )
