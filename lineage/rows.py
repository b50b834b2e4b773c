"""Single rows read from DuckDB, typed: `one` for a query that always returns a row (an
aggregate: a count, a max), `maybe_one` for one that may return none (a lookup)."""

from typing import Any

import duckdb


def one(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (``SELECT count(*) ...``)."""
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row from a query that always returns one: {sql[:200]}")
    return row


def maybe_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: Any = None
) -> tuple[Any, ...] | None:
    """The first row of a query, or None when it returns none."""
    return con.execute(sql, params).fetchone()
