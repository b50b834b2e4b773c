"""Which examples a dataset version holds as of a point in the log, and how many per source
repository, without scanning them all for every gate.

A gate needs the statuses of the few examples that are not clean and the count of all the
others. The examples of a dataset version are ten million rows at corpus scale, but they
change only when member edges or example definitions arrive: `member_counts` keeps each
version's counts per repository in the store (table `member_counts`, beside the engine's)
with the span of the log over which they hold, and recounts only when the log changed what
the version holds.
"""

from dataclasses import dataclass

import duckdb

from lineage.model import EdgeKind, NodeKind
from lineage.store import Store


def _shards(at: str = "$s") -> str:
    return f"""
        SELECT s.src FROM edges s
        WHERE s.kind = '{EdgeKind.MEMBER}' AND s.dst = $dv AND s.seq <= {at}"""


def _into_version(at: str = "$s") -> str:
    """The condition on a `member` edge m (kind included) that it joins a node to version
    $dv or to one of its shards as of seq `at`."""
    return f"m.kind = '{EdgeKind.MEMBER}' AND (m.dst = $dv OR m.dst IN ({_shards(at)}))"


def members_sql(columns: str = "x.id, x.repo") -> str:
    """SQL for the examples (`columns` of their `nodes` row x: by default id, repo) of
    dataset version $dv as of seq $s: members of it or of one of its shards, defined by then."""
    return f"""
        SELECT {columns} FROM nodes x
        WHERE x.kind = '{NodeKind.EXAMPLE}' AND x.defined_seq <= $s AND x.id IN (
            SELECT m.src FROM edges m WHERE m.seq <= $s AND {_into_version()})"""


def members_among_sql(candidates: str, at: str = "$s") -> str:
    """SQL for the examples (id, repo) of dataset version $dv as of seq `at` (a parameter,
    $s by default) that are among the nodes of relation `candidates` (column `node`): what
    `members_sql` gives, restricted to a few nodes without listing the ten million others."""
    return f"""
        SELECT x.id, x.repo FROM nodes x
        JOIN (SELECT DISTINCT c.node FROM {candidates} c JOIN edges m ON m.src = c.node
              WHERE m.seq <= {at} AND {_into_version(at)}) c ON c.node = x.id
        WHERE x.kind = '{NodeKind.EXAMPLE}' AND x.defined_seq <= {at}"""


@dataclass(frozen=True)
class MemberCounts:
    """The examples of a dataset version per source repository (None: no repository)."""

    by_repo: dict[str | None, int]

    @property
    def total(self) -> int:
        return sum(self.by_repo.values())


def member_counts(store: Store, dv: int, as_of: int) -> MemberCounts:
    """How many examples dataset version node `dv` holds as of seq `as_of`, per repository:
    what counting `members_sql` gives, from the counts the store keeps when it can, else
    counted (and kept, in a store opened for writing).

    The examples of a version only ever grow with the log (every condition is "by seq s"):
    counts kept at seq C hold for every as-of from the last change they saw up to C, and
    the counts as of a later seq are those plus the examples that joined since C, found
    among the few nodes the log changed after C."""
    kept = _kept(store, dv)
    if kept is not None:
        computed_at, changed_at, counts = kept
        if changed_at <= as_of <= computed_at:
            return counts
        if as_of > computed_at:
            joined, changed = _joined_since(store, dv, computed_at, as_of)
            by_repo = dict(counts.by_repo)
            for repo, n in joined.items():
                by_repo[repo] = by_repo.get(repo, 0) + n
            grown = MemberCounts(by_repo)
            _keep(store, dv, as_of, max(changed_at, changed), grown)
            return grown
    counts, changed_at = _count(store, dv, as_of)
    if kept is None or as_of >= kept[0]:
        _keep(store, dv, as_of, changed_at, counts)
    return counts


def _kept(store: Store, dv: int) -> tuple[int, int, MemberCounts] | None:
    if not _has_table(store):
        return None
    row = store.fetch_maybe_one(
        "SELECT computed_at, changed_at, repos, counts FROM member_counts WHERE dv = ?", [dv]
    )
    if row is None:
        return None
    computed_at, changed_at, repos, counts = row
    return computed_at, changed_at, MemberCounts(dict(zip(repos, counts, strict=True)))


def _count(store: Store, dv: int, as_of: int) -> tuple[MemberCounts, int]:
    """The counts as of `as_of`, and the newest seq that could have changed them."""
    params = {"dv": dv, "s": as_of}
    rows = store.fetch_all(
        members_sql("x.repo, count(*), max(x.defined_seq)") + " GROUP BY x.repo", params
    )
    newest_edge = store.fetch_one(
        f"SELECT max(m.seq) FROM edges m WHERE m.seq <= $s AND {_into_version()}",
        params,
    )[0]
    changed_at = max([newest_edge or 0, *(r[2] or 0 for r in rows)])
    return MemberCounts({r[0]: r[1] for r in rows}), changed_at


def _joined_since(
    store: Store, dv: int, since: int, as_of: int
) -> tuple[dict[str | None, int], int]:
    """The examples of `dv` as of `as_of` that were not as of `since`, counted per
    repository, and the newest seq among what changed. Only a node with a member edge of the
    version or of one of its shards after `since`, a member of a shard joined after it, or
    an example known before `since` but defined after it can have joined (an edge is never
    older than the nodes it joins, so an example first seen after `since` has its member
    edges after it too)."""
    changed = f"""(
        SELECT m.src AS node FROM edges m
        WHERE m.seq > $since AND m.seq <= $s AND {_into_version()}
        UNION ALL
        SELECT m.src FROM edges m
        WHERE m.kind = '{EdgeKind.MEMBER}' AND m.seq <= $s AND m.dst IN (
            SELECT s.src FROM edges s WHERE s.kind = '{EdgeKind.MEMBER}' AND s.dst = $dv
              AND s.seq > $since AND s.seq <= $s)
        UNION ALL
        SELECT x.id FROM nodes x
        WHERE x.kind = '{NodeKind.EXAMPLE}' AND x.first_seq <= $since
          AND x.defined_seq > $since AND x.defined_seq <= $s)"""
    params = {"dv": dv, "s": as_of, "since": since}
    store.execute(f"CREATE OR REPLACE TEMP TABLE _changed_nodes AS SELECT * FROM {changed}", params)
    try:
        rows = store.fetch_all(
            f"""
            SELECT j.repo, count(*) FROM ({members_among_sql("_changed_nodes")}) j
            WHERE j.id NOT IN (
                SELECT id FROM ({members_among_sql("_changed_nodes", at="$since")}))
            GROUP BY j.repo""",
            params,
        )
        newest = store.fetch_one(
            f"""SELECT greatest(
                    (SELECT max(m.seq) FROM edges m
                     WHERE m.seq > $since AND m.seq <= $s AND {_into_version()}),
                    (SELECT max(x.defined_seq) FROM nodes x JOIN _changed_nodes c
                       ON c.node = x.id WHERE x.defined_seq <= $s))""",
            params,
        )[0]
    finally:
        store.execute("DROP TABLE _changed_nodes")
    return {r[0]: r[1] for r in rows}, newest or 0


def _keep(store: Store, dv: int, computed_at: int, changed_at: int, counts: MemberCounts) -> None:
    """Keep the counts for later gates; a store opened read-only, or a table another cursor
    is writing this moment, keeps nothing (the counts are only ever a shortcut)."""
    if store.read_only or not _has_table(store):
        return
    # in one order whatever order the counts were grown in: the same counts, the same row
    repos = sorted(counts.by_repo, key=lambda r: (r is not None, r or ""))
    try:
        with store.transaction():
            store.execute("DELETE FROM member_counts WHERE dv = ?", [dv])
            store.execute(
                "INSERT INTO member_counts VALUES (?, ?, ?, ?, ?)",
                [dv, computed_at, changed_at, repos, [counts.by_repo[r] for r in repos]],
            )
    except duckdb.TransactionException:
        pass  # a concurrent gate kept the same counts first


def _has_table(store: Store) -> bool:
    """Whether the store has `member_counts` (a store made before it, opened read-only, has
    not: its counts are computed each time). Once found, it is not looked for again in this
    process (no code drops it); not found, it is, since `engine.prepare` may make it."""
    if store.memo.get("member_counts"):
        return True
    found = bool(
        store.fetch_one(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'member_counts' "
            "AND database_name = current_database()"
        )[0]
    )
    if found:
        store.memo["member_counts"] = True
    return found


def count_grown_versions(store: Store, since: int) -> list[int]:
    """Bring up to the head of the log the kept counts of every dataset version that gained
    member edges (of its own or of a shard) after seq `since`, or has none kept (an ingest
    stopped before it counted them), so that the next gate reads them rather than counting;
    returns those versions' node ids. A bulk ingest calls it once at its end."""
    if store.read_only or not _has_table(store):
        return []
    grown = [
        r[0]
        for r in store.fetch_all(
            f"""
            WITH joined AS (SELECT DISTINCT dst FROM edges
                            WHERE kind = '{EdgeKind.MEMBER}' AND seq > ?)
            SELECT d.id FROM nodes d
            WHERE d.kind = '{NodeKind.DATASET_VERSION}' AND (d.id IN (SELECT dst FROM joined)
               OR d.id IN (SELECT s.dst FROM edges s JOIN joined j ON j.dst = s.src
                           WHERE s.kind = '{EdgeKind.MEMBER}')
               OR d.id NOT IN (SELECT dv FROM member_counts))
            ORDER BY d.id""",
            [since],
        )
    ]
    head = store.log_end()
    for dv in grown:
        member_counts(store, dv, head)
    return grown
