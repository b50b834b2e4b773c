from typing import Any

from lineage.facts import Batch, Node


def nodes_of(batches: list[Batch], kind: str) -> dict[str, dict[str, Any]]:
    """key -> attrs of the nodes of `kind` the batches define."""
    return {
        f.key: f.attrs
        for b in batches
        for r in b.records
        for f in r.facts
        if isinstance(f, Node) and f.kind == kind and f.defines
    }
