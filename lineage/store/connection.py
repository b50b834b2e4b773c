"""The store's connection: opening the DuckDB file (created, migrated), its cursors and
transactions, and the narrow query surface the layers above read it through."""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import duckdb
import pyarrow as pa

from lineage import schema
from lineage.rows import maybe_one, one
from lineage.store import migrations
from lineage.store.errors import NoStoreError, StoreError, StoreLockedError

DEFAULT_DB = "lineage.duckdb"
CHECKPOINT_THRESHOLD = "256MB"  # of write-ahead log, before DuckDB checkpoints


def default_db_path() -> str:
    return os.environ.get("LINEAGE_DB") or DEFAULT_DB


def _lock_holder(message: str) -> str:
    """Which process holds a DuckDB file's lock, from DuckDB's message ("... (PID 123)") and
    the process's command line where this system shows it."""
    match = re.search(r"\(PID (\d+)\)", message)
    if not match:
        return "another process"
    pid = match.group(1)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(" ".join(a.decode(errors="replace").split()) for a in argv if a)
    except OSError:
        return f"another process (PID {pid})"
    return f"another process (PID {pid}: {command[:200]})"


class Connection:
    """One DuckDB connection to a store file, opened, created and migrated; the base of
    `Store`. Only the store's own modules touch the connection itself."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        create: bool = True,
    ) -> None:
        """Open the store, creating it unless `create` is False or `read_only` (then a
        missing file is a StoreError). `memory_limit` caps DuckDB's memory (e.g. "2GB"): a
        bulk ingest then spills to disk beside the file instead of growing (default: DuckDB's,
        80% of RAM)."""
        self.path = str(path)
        self.read_only = read_only
        if (read_only or not create) and self.path != ":memory:" and not Path(self.path).exists():
            raise NoStoreError(
                f"no lineage store at {self.path}: ingest records into it first, or open "
                "the store that holds them"
            )
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"{self.path} is locked by {_lock_holder(str(exc))}: wait for it to "
                    "finish, or stop it"
                ) from exc
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._con.execute("SET enable_progress_bar = false")  # never on our stdout
        if memory_limit:
            try:
                self._con.execute(f"SET memory_limit = '{memory_limit.replace(chr(39), '')}'")
            except duckdb.Error as exc:
                raise StoreError(
                    f"memory limit {memory_limit!r}: give a size such as 2GB or 512MB"
                ) from exc
        # Read-only structures the engine derives from immutable rows (a taint run's evidence),
        # kept per database in this process and shared by its cursors.
        self.memo: dict[str, Any] = {}
        if not read_only:
            # A batch commits a few hundred MB at most: checkpointing at DuckDB's 16 MB of WAL
            # rewrote the key index of `nodes` at nearly every batch's commit (3.2 s of a
            # 5,000-commit history's 12 commits; 1.1 s at this threshold, plus one checkpoint
            # when the store closes).
            self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            new = not one(
                self._con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events'"
            )[0]
            self._con.execute(schema.ddl())
            migrations.migrate(self._con, new=new)
        self.hash_scheme = self._hash_scheme()

    def _hash_scheme(self) -> int:
        """The event log's hash scheme (lineage.eventlog): recorded, else 1 (a store made
        before schemes were recorded, opened read-only so not migrated)."""
        if not one(
            self._con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'store_meta'"
        )[0]:
            return 1
        row = maybe_one(self._con, "SELECT value FROM store_meta WHERE key = 'hash_scheme'")
        return int(row[0]) if row else 1

    def cursor(self) -> Self:
        """Another handle on the same database for use from another thread (a server request):
        it sees committed data and has its own transactions and temporary tables."""
        other = object.__new__(type(self))
        other.path = self.path
        other.read_only = self.read_only
        other._con = self._con.cursor()
        other.memo = self.memo
        other.hash_scheme = self.hash_scheme
        return other

    def register(self, name: str, table: pa.Table) -> None:
        """Expose an Arrow table to SQL as `name` (until `unregister`)."""
        self._finish_pending()
        self._con.register(name, table)

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """The result of one query as an Arrow table (columnar, no per-row Python objects)."""
        self._finish_pending()
        return self._con.sql(sql, params=params).to_arrow_table()

    def unregister(self, name: str) -> None:
        """Stop exposing the table `register`ed as `name`."""
        self._con.unregister(name)

    # The query surface of the layers above (the engine): SQL that reads the store's tables
    # and writes only their own. The connection itself stays the store's.

    def execute(self, sql: str, params: Any = None) -> None:
        """Run one statement."""
        self._con.execute(sql, params)

    def fetch_all(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """The rows of one query."""
        return self._con.execute(sql, params).fetchall()

    def fetch_numpy(self, sql: str, params: Any = None) -> dict[str, Any]:
        """The columns of one query as NumPy arrays, by name."""
        return self._con.execute(sql, params).fetchnumpy()

    def fetch_one(self, sql: str, params: Any = None) -> tuple[Any, ...]:
        """The row of a query that always returns exactly one (an aggregate)."""
        return one(self._con, sql, params)

    def fetch_maybe_one(self, sql: str, params: Any = None) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        return maybe_one(self._con, sql, params)

    def interrupt(self) -> None:
        """Stop the query running on this connection (from another thread)."""
        self._con.interrupt()

    def _finish_pending(self) -> None:
        if hasattr(self._con, "complete"):  # DuckDB 2 refuses while a fetchone() is pending
            self._con.complete()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")
