"""Snapshot names: a path at any ingested commit resolves to the file version its tree holds.

A dataset build checks out a commit (a tag, a release) and cuts every file in it, so it names
files at commits that did not change them. Each ingested commit records what its tree holds at
the paths its first-parent diff touched (`tree_entries`, or its whole tree when its first
parent was not read). Following first parents, the commits form a forest, and the version at
(commit C, path p) is the entry for p at the nearest first-parent ancestor of C (C included)
that has one: a merge's tree is its first parent's plus what the merge changed against it.

Numbered in depth-first pre-order, a commit's first-parent descendants are the contiguous range
[pre, post], so one path's entries are nested ranges; flattened into disjoint spans (the deepest
entry wins), a name resolves with one ASOF join, set-based, whatever the number of names. The
numbering is rebuilt per repository after each git ingest (it depends only on what is stored,
so the order of arrival never matters).
"""

from collections import defaultdict

import duckdb
import numpy as np
import pyarrow as pa

from lineage.model import EdgeKind, NodeKind

# A name of a file at a commit that has no resolution yet: `file:REPO:PATH@commit:SHA`.
_UNRESOLVED = f"""
    SELECT n.id, n.repo, json_extract_string(n.attrs, '$.path') AS path,
           json_extract_string(n.attrs, '$.commit') AS commit
    FROM nodes n
    WHERE n.kind = '{NodeKind.FILE_VERSION}' AND n.key LIKE '%@commit:%'
      AND json_extract_string(n.attrs, '$.blob') IS NULL
      AND NOT EXISTS (SELECT 1 FROM aliases a WHERE a.alias = n.id)"""


def number_forest(
    commits: list[tuple[str, str | None, bool]],
) -> tuple[list[str], list[int], list[int], list[bool]]:
    """Pre-order numbers of the first-parent forest of `commits` (sha, first parent, whole
    tree recorded): (shas, pre, post, complete), where [pre, post] spans a commit's
    first-parent descendants and `complete` says its root recorded a whole tree, so a path
    absent there is truly absent.

    >>> number_forest([("a", None, True), ("b", "a", False), ("c", "a", False)])
    (['a', 'b', 'c'], [0, 1, 2], [2, 1, 2], [True, True, True])
    """
    known = {sha for sha, _, _ in commits}
    children: dict[str, list[str]] = defaultdict(list)
    roots: list[str] = []
    whole = {sha: w for sha, _, w in commits}
    for sha, parent, _ in sorted(commits):
        if parent is not None and parent in known:
            children[parent].append(sha)
        else:
            roots.append(sha)
    pre: dict[str, int] = {}
    post: dict[str, int] = {}
    complete: dict[str, bool] = {}
    counter = 0
    for root in roots:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            sha, done = stack.pop()
            if done:
                post[sha] = counter - 1
                continue
            pre[sha] = counter
            complete[sha] = whole[root]
            counter += 1
            stack.append((sha, True))
            stack.extend((child, False) for child in reversed(children[sha]))
    shas = sorted(pre, key=pre.__getitem__)
    return shas, [pre[s] for s in shas], [post[s] for s in shas], [complete[s] for s in shas]


def flatten(entries: list[tuple[int, int, int | None]]) -> list[tuple[int, int, int]]:
    """Disjoint (lo, hi, version) spans of one path's nested entries (pre, post, version or
    None where the path left the tree), given sorted by pre; the deepest entry wins.

    >>> flatten([(0, 9, 1), (2, 4, 2), (3, 3, None)])
    [(0, 1, 1), (2, 2, 2), (4, 4, 2), (5, 9, 1)]
    """
    spans: list[tuple[int, int, int]] = []

    def emit(lo: int, hi: int, version: int | None) -> None:
        if lo <= hi and version is not None:
            spans.append((lo, hi, version))

    stack: list[tuple[int, int | None]] = []  # (post, version) of the open entries
    pos = 0
    for start, end, version in entries:
        while stack and stack[-1][0] < start:
            closing, value = stack.pop()
            emit(pos, closing, value)
            pos = closing + 1
        if stack:
            emit(pos, start - 1, stack[-1][1])
        stack.append((end, version))
        pos = start
    while stack:
        closing, value = stack.pop()
        emit(pos, closing, value)
        pos = closing + 1
    return spans


def mark_stale(con: duckdb.DuckDBPyConnection, repos: list[str]) -> None:
    """Record that `repos` gained commits their snapshot index does not hold yet."""
    if repos:
        con.execute(
            """INSERT INTO snapshot_stale SELECT DISTINCT r FROM unnest(?::VARCHAR[]) t(r)
               WHERE r NOT IN (SELECT repo FROM snapshot_stale)""",
            [repos],
        )


def stale_repos(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The repositories whose snapshot index is to be rebuilt (`mark_stale`)."""
    rows = con.execute("SELECT DISTINCT repo FROM snapshot_stale ORDER BY repo").fetchall()
    return [r[0] for r in rows]


def reindex(con: duckdb.DuckDBPyConnection, repos: list[str]) -> None:
    """Rebuild `commit_order` and `snapshot_spans` of `repos` from their stored tree entries
    (a handful of queries whatever the number of repos)."""
    if not repos:
        return
    con.execute("DELETE FROM snapshot_stale WHERE repo IN (SELECT unnest(?::VARCHAR[]))", [repos])
    con.execute("DELETE FROM commit_order WHERE repo IN (SELECT unnest(?::VARCHAR[]))", [repos])
    con.execute("DELETE FROM snapshot_spans WHERE repo IN (SELECT unnest(?::VARCHAR[]))", [repos])
    commits = con.execute(
        """
        SELECT repo, commit, max(first_parent), bool_or(whole) FROM commit_trees
        WHERE repo IN (SELECT unnest(?::VARCHAR[])) GROUP BY repo, commit ORDER BY repo""",
        [repos],
    ).fetchall()
    by_repo: dict[str, list[tuple[str, str | None, bool]]] = defaultdict(list)
    for repo, commit, parent, whole in commits:
        by_repo[repo].append((commit, parent, whole))
    columns: dict[str, list[object]] = {
        k: [] for k in ("repo", "commit", "pre", "post", "complete")
    }
    for repo, rows in by_repo.items():
        shas, pre, post, complete = number_forest(rows)
        columns["repo"] += [repo] * len(shas)
        columns["commit"] += shas
        columns["pre"] += pre
        columns["post"] += post
        columns["complete"] += complete
    if not columns["commit"]:
        return
    con.register(
        "_order",
        pa.table(
            {
                "repo": pa.array(columns["repo"], pa.string()),
                "commit": pa.array(columns["commit"], pa.string()),
                "pre": pa.array(columns["pre"], pa.int64()),
                "post": pa.array(columns["post"], pa.int64()),
                "complete": pa.array(columns["complete"], pa.bool_()),
            }
        ),
    )
    try:
        con.execute("INSERT INTO commit_order SELECT repo, commit, pre, post, complete FROM _order")
        spans = con.execute("""
            SELECT t.repo, t.path, o.pre, o.post, max(t.file_version) AS file_version
            FROM tree_entries t JOIN _order o USING (repo, commit)
            GROUP BY ALL ORDER BY t.repo, t.path, o.pre""").fetchnumpy()
    finally:
        con.unregister("_order")
    # as lists: a masked array read an element at a time costs microseconds a row
    repo_col, paths = spans["repo"].tolist(), spans["path"].tolist()
    versions = spans["file_version"]
    mask = (
        np.ma.getmaskarray(versions)
        if isinstance(versions, np.ma.MaskedArray)
        else np.zeros(len(paths), dtype=bool)
    )
    entries = list(
        zip(
            spans["pre"].tolist(),
            spans["post"].tolist(),
            np.ma.getdata(versions).tolist(),
            mask.tolist(),
            strict=True,
        )
    )
    out: dict[str, list[object]] = {k: [] for k in ("repo", "path", "lo", "hi", "version")}
    i, n = 0, len(paths)
    while i < n:
        j = i
        while j < n and paths[j] == paths[i] and repo_col[j] == repo_col[i]:
            j += 1
        group = [(lo, hi, None if gone else v) for lo, hi, v, gone in entries[i:j]]
        for lo, hi, version in flatten(group):
            out["repo"].append(repo_col[i])
            out["path"].append(paths[i])
            out["lo"].append(lo)
            out["hi"].append(hi)
            out["version"].append(version)
        i = j
    con.register(
        "_spans",
        pa.table(
            {
                "repo": pa.array(out["repo"], pa.string()),
                "path": pa.array(out["path"], pa.string()),
                "lo": pa.array(out["lo"], pa.int64()),
                "hi": pa.array(out["hi"], pa.int64()),
                "file_version": pa.array(out["version"], pa.int64()),
            }
        ),
    )
    try:
        con.execute(
            "INSERT INTO snapshot_spans SELECT repo, path, lo, hi, file_version "
            "FROM _spans ORDER BY repo, path, lo"
        )
    finally:
        con.unregister("_spans")


def resolve_sql(names: str) -> str:
    """SQL resolving the relation `names` (id, repo, path, commit): one row per name whose
    commit was ingested, with `target` the file version there (NULL when the commit's tree
    does not hold the path) and `complete` whether that absence is certain."""
    return f"""
        WITH placed AS (
            SELECT x.*, o.pre, o.complete FROM ({names}) x
            JOIN commit_order o ON o.repo = x.repo AND o.commit = x.commit)
        SELECT p.id, p.repo, p.path, p.commit, p.complete,
               CASE WHEN p.pre <= s.hi THEN s.file_version END AS target
        FROM placed p ASOF LEFT JOIN snapshot_spans s
          ON s.repo = p.repo AND s.path = p.path AND p.pre >= s.lo"""


def resolve_names(
    con: duckdb.DuckDBPyConnection,
    seq: int,
    repos: list[str] | None = None,
    since: int | None = None,
) -> set[int]:
    """Give every unresolved file-at-commit name (of `repos`, or first seen from seq `since`)
    whose commit's tree holds it an alias to its version, asserted at `seq`. What was
    attributed to a name (an Agent Trace range anchored at a revision) moves to the version:
    returns the versions that gained attributions that way."""
    where = []
    params: list[object] = []
    if repos is not None:
        where.append("n.repo IN (SELECT unnest(?::VARCHAR[]))")
        params.append(repos)
    if since is not None:
        where.append("n.first_seq >= ?")
        params.append(since)
    names = _UNRESOLVED + "".join(f" AND {w}" for w in where)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolved AS
        SELECT id, target FROM ({resolve_sql(names)}) WHERE target IS NOT NULL""",
        params,
    )
    con.execute("INSERT INTO aliases SELECT id, target, ? FROM _resolved", [seq])
    con.execute(
        """
        INSERT INTO attributions
        SELECT r.target, a.output, a.line_start, a.line_end, a.evidence, greatest(a.seq, $s),
               false
        FROM attributions a JOIN _resolved r ON r.id = a.file_version WHERE NOT a.carried""",
        {"s": seq},
    )
    con.execute(
        f"""
        INSERT INTO edges
        SELECT e.src, r.target, e.kind, greatest(e.seq, $s), e.span_start, e.span_end,
               e.span_unit, e.line_map
        FROM edges e JOIN _resolved r ON r.id = e.dst WHERE e.kind = '{EdgeKind.WROTE}'""",
        {"s": seq},
    )
    gained = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT r.target FROM _resolved r JOIN attributions a ON a.file_version = r.id"
        ).fetchall()
    }
    con.execute("DROP TABLE _resolved")
    return gained
