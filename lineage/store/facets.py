"""The attributes of a node that `nodes` repeats as columns, each defined once from the JSON
`attrs`: the store fills the columns with these expressions, and a reader of a store made
before a column reads the same expression instead."""

from lineage.model import NodeKind

# Only outputs and sessions are selected by a policy's rules: other kinds leave them NULL.
RULE_KINDS = (NodeKind.OUTPUT, NodeKind.SESSION)
RULE_KINDS_SQL = ", ".join(f"'{k}'" for k in RULE_KINDS)  # for `kind IN (...)`

_FROM_ATTRS = {
    "repo": "json_extract_string({t}.attrs, '$.repo')",
    "tool": "json_extract_string({t}.attrs, '$.tool')",
    "model": "json_extract_string({t}.attrs, '$.model')",
    "occurred_at": "TRY_CAST(json_extract_string({t}.attrs, '$.time') AS TIMESTAMPTZ)",
}
RULE_FACETS = ("tool", "model", "occurred_at")


def from_attrs(column: str, table: str, kind: str | None = None) -> str:
    """SQL for `column` of a node from the `attrs` (and `kind`, default `{table}.kind`) of
    relation `table`.

    >>> from_attrs("repo", "f")
    "json_extract_string(f.attrs, '$.repo')"
    """
    sql = _FROM_ATTRS[column].format(t=table)
    if column in RULE_FACETS:
        sql = f"CASE WHEN {kind or f'{table}.kind'} IN ({RULE_KINDS_SQL}) THEN {sql} END"
    return sql


def assignments(table: str, kind: str = "nodes.kind") -> str:
    """`col = expr, ...` of every column for an UPDATE of `nodes` from `table`'s attrs."""
    return ", ".join(f"{c} = {from_attrs(c, table, kind)}" for c in _FROM_ATTRS)


def selected(table: str) -> str:
    """`expr, ...` of every column in their order (`COLUMNS`) for an INSERT from `table`."""
    return ", ".join(from_attrs(c, table) for c in _FROM_ATTRS)


COLUMNS = tuple(_FROM_ATTRS)
