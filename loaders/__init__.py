"""Loaders: one module per real input format, each turning raw records into facts.

`LOADERS` maps the SOURCE name of `lineage ingest SOURCE PATH...` to a function that reads
paths and yields one `lineage.facts.Batch` per input (the store ingests each in one
transaction). Loaders never touch SQL.
"""

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from lineage.facts import Batch
from loaders import events

Loader = Callable[[Iterable[str | Path]], Iterator[Batch]]

LOADERS: dict[str, Loader] = {
    "events": events.load,
}
