"""Content-match: a line a commit added descends from an output that wrote the same
normalized line into the same repository no later than the commit.

Outputs' line hashes are indexed as they arrive (`index_output_lines`); each ingest then pairs
the new lines of either side (`match_content`), so a pair is made once whatever the order the
agent records and the history arrive in. The store calls these inside its ingest transaction.
"""

from typing import TYPE_CHECKING

from lineage.model import EdgeKind, NodeKind

if TYPE_CHECKING:
    from lineage.store.connection import Connection


def index_output_lines(store: "Connection", first_seq: int) -> None:
    """Index the line hashes of outputs defined from `first_seq` on."""
    store._con.execute(
        f"""
        INSERT INTO output_lines
        SELECT id, unnest(from_json(json_extract(attrs, '$.hashes'), '["VARCHAR"]')),
               json_extract_string(attrs, '$.repo'),
               epoch_us(TRY_CAST(json_extract_string(attrs, '$.time') AS TIMESTAMPTZ)),
               defined_seq
        FROM nodes
        WHERE kind = '{NodeKind.OUTPUT}' AND defined_seq >= ?
          AND json_extract(attrs, '$.hashes') IS NOT NULL""",
        [first_seq],
    )


def match_content(store: "Connection", first_seq: int, window_us: int) -> set[int]:
    """Content-match: a significant line a commit added to a repo descends from an output
    that wrote the same normalized line into that repo no later than the commit (its time
    unknown counts as earlier: fail closed). Only pairs with a side new since `first_seq`
    are made, so each is made once whatever the arrival order. An output up to `window_us`
    later than the commit still counts as before it. Returns the file versions that gained
    attributions."""
    con = store._con
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _matched AS
        SELECT DISTINCT a.file_version, o.output, a.line, greatest(a.seq, o.seq) AS seq
        FROM added_lines a JOIN output_lines o ON o.hash = a.hash AND o.repo = a.repo
        WHERE (a.seq >= $first OR o.seq >= $first)
          AND (o.time_us IS NULL OR a.time_us IS NULL
               OR o.time_us < a.time_us + $window)""",
        {"first": first_seq, "window": window_us},
    )
    con.execute(f"""
        INSERT INTO attributions
        SELECT file_version, output, min(line), max(line), 'content-match', seq, false
        FROM (SELECT *, line - row_number() OVER (PARTITION BY file_version, output, seq
                                                  ORDER BY line) AS run
              FROM _matched)
        GROUP BY file_version, output, seq, run;
        INSERT INTO edges
        SELECT output, file_version, '{EdgeKind.WROTE}', min(seq), min(line), max(line),
               'line', NULL
        FROM _matched GROUP BY output, file_version""")
    changed = {r[0] for r in con.execute("SELECT DISTINCT file_version FROM _matched").fetchall()}
    con.execute("DROP TABLE _matched")
    return changed
