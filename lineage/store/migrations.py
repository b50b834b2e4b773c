"""The store's migrations, in order. A store made by an older version of lineage gets each
migration it has not had, once, on its first read-write open; `store_meta` records the
`schema_version` it reached. A new store starts at the last version and runs none.

Tables and columns are added by the DDL itself (`CREATE ... IF NOT EXISTS`, `ADD COLUMN IF NOT
EXISTS`); a migration is what data needs beyond that.
"""

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from lineage import eventlog
from lineage.rows import maybe_one
from lineage.store import facets


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    run: Callable[[duckdb.DuckDBPyConnection], None]


def _fill_node_repos(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"UPDATE nodes SET repo = {facets.from_attrs('repo', 'nodes')} WHERE repo IS NULL")


def _fill_rule_facets(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"UPDATE nodes SET {facets.assignments('nodes')} WHERE kind IN ({facets.RULE_KINDS_SQL})"
    )


def _rehash_log(con: duckdb.DuckDBPyConnection) -> None:
    """Rehash a log of `|`-joined hashes length-prefixed, only if it verifies as it is (a
    tampered log stays under scheme 1, where `verify` keeps reporting it)."""
    if maybe_one(con, "SELECT value FROM store_meta WHERE key = 'hash_scheme'") is None:
        set_meta(con, "hash_scheme", str(eventlog.migrate(con, 1)))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "nodes.repo repeats attrs.repo, so a gate groups by repository fast", _fill_node_repos
    ),
    Migration(2, "event and batch hashes encode their fields length-prefixed", _rehash_log),
    Migration(
        3,
        "outputs' and sessions' tool, model and time repeat their attrs, so a policy's rules "
        "read no JSON",
        _fill_rule_facets,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO store_meta VALUES (?, ?)", [key, value])


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version a store reached (0: made before versions were recorded)."""
    row = maybe_one(con, "SELECT value FROM store_meta WHERE key = 'schema_version'")
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, *, new: bool) -> list[str]:
    """Bring the store up to SCHEMA_VERSION, each migration in its own transaction; returns
    what was done. A `new` store is marked current (its log hashed the current way)."""
    if new:
        set_meta(con, "schema_version", str(SCHEMA_VERSION))
        set_meta(con, "hash_scheme", str(eventlog.HASH_SCHEME))
        return []
    done = []
    for migration in MIGRATIONS[schema_version(con) :]:
        con.execute("BEGIN TRANSACTION")
        try:
            migration.run(con)
            set_meta(con, "schema_version", str(migration.version))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        done.append(migration.what)
    return done
