"""Language-neutral contracts shipped with lineage: the DuckDB DDL and the JSON Schemas."""

import json
from functools import cache
from importlib.resources import files
from typing import Any


def ddl(name: str = "ddl") -> str:
    """DuckDB DDL (idempotent `CREATE ... IF NOT EXISTS` statements): the store's tables
    (``ddl``), or the engine's (``"engine"``, ``"membership"``), which the engine creates
    itself."""
    return files(__name__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


@cache
def json_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in this package, e.g. ``json_schema("event")``."""
    text = files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
