"""Line attributions carried through history: the store re-derives the carried intervals of
file versions whose ancestry changed (the algorithm is `lineage.attribution`)."""

import pyarrow as pa

from lineage import attribution
from lineage.model import EdgeKind
from lineage.store.connection import Connection


class Carrying(Connection):
    """The part of `Store` that keeps carried line attributions up to date."""

    def _recompute_carried(self, changed: set[int]) -> None:
        """Re-derive the carried intervals of `changed` file versions and of every version
        that descends from them, parents first, so the result does not depend on arrival order."""
        if not changed:
            return
        con = self._con
        self.register("_changed", pa.table({"id": list(changed)}))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _closure AS
            WITH RECURSIVE down(id) AS (
                SELECT id FROM _changed
                UNION
                SELECT e.dst FROM edges e JOIN down ON e.src = down.id
                WHERE e.kind = '{EdgeKind.REVISED}'
            ) SELECT id FROM down""")
        # A version no other version revises into carries nothing (a file added, a vendored
        # tree): it is left out, and counts only as the parent of what it revises into.
        con.execute(f"""
            DELETE FROM _closure c WHERE NOT EXISTS (
                SELECT 1 FROM edges e
                WHERE e.kind = '{EdgeKind.REVISED}' AND e.dst = c.id AND e.src <> c.id)""")
        con.unregister("_changed")
        revisions = con.execute(f"""
            SELECT e.src, e.dst, e.seq, e.line_map FROM edges e JOIN _closure c ON c.id = e.dst
            WHERE e.kind = '{EdgeKind.REVISED}'""").fetchall()
        closure = [r[0] for r in con.execute("SELECT id FROM _closure").fetchall()]
        outside_parents = {src for src, *_ in revisions} - set(closure)
        known = con.execute(
            """
            SELECT a.file_version, a.output, a.line_start AS start, a.line_end AS "end",
                   a.evidence, a.seq, a.carried
            FROM attributions a
            WHERE a.file_version IN (SELECT id FROM _closure UNION ALL
                                     SELECT unnest(?::BIGINT[]))""",
            [list(outside_parents)],
        ).fetchnumpy()
        carried = attribution.carry_columns(closure, revisions, known, outside_parents)
        con.execute(
            "DELETE FROM attributions WHERE carried AND file_version IN (SELECT id FROM _closure)"
        )
        if len(carried["output"]):
            names = pa.array(carried["names"], pa.string())
            end = carried["end"]
            self.register(
                "_carried",
                pa.table(
                    {
                        "file_version": carried["file_version"],
                        "output": carried["output"],
                        "line_start": carried["start"],
                        "line_end": pa.array(end, pa.int64(), mask=end >= attribution.EOF),
                        "evidence": pa.DictionaryArray.from_arrays(
                            pa.array(carried["evidence"], pa.int32()), names
                        ).dictionary_decode(),
                        "seq": carried["seq"],
                    }
                ),
            )
            con.execute(
                "INSERT INTO attributions SELECT file_version, output, line_start, "
                "line_end, evidence, seq, true FROM _carried"
            )
            con.unregister("_carried")

    def attributions_of(
        self, node_id: int, as_of: int | None = None
    ) -> list[tuple[str, int, int | None, str, int, bool]]:
        """Line intervals of a file version: (output key, start, end, evidence, seq, carried)."""
        return self._con.execute(
            """
            SELECT o.key, a.line_start, a.line_end, a.evidence, a.seq, a.carried
            FROM attributions a JOIN nodes o ON o.id = a.output
            WHERE a.file_version = ? AND a.seq <= ?
            ORDER BY a.line_start, o.key""",
            [node_id, as_of if as_of is not None else 2**62],
        ).fetchall()
