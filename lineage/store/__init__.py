"""The store: a DuckDB file holding the event log, the provenance graph and line attributions.

`Store.ingest` writes one loader batch in one transaction: new events get the next seqs and
join the hash chain, their facts become nodes, edges, aliases and attributions, rejected
records are kept with their reason. Events already in the log are recognized by id and skipped,
so ingesting the same input twice changes nothing.

The store owns its tables; one module per concern:

- `connection`: opening the file (created, migrated by `migrations`), cursors, transactions
  and the query surface the engine reads through;
- `log`: the hash-chained event log and the rejected records;
- `ingest`: one batch in one transaction, in the order of its input;
- `fact_ingest`, `example_ingest`: loader facts and example rows into the graph's tables;
- `content_match`, `snapshots`, `carrying`: what ingest derives (lines matched by content,
  files named at a commit, attributions carried through history);
- `reads`: lookups of nodes, edges and what the store holds;
- `policies`: policy versions, each an event of the log.
"""

from lineage.store.connection import DEFAULT_DB, default_db_path
from lineage.store.errors import NoStoreError, StoreError, StoreLockedError, UndeclaredNodes
from lineage.store.ingest import Ingest, IngestReport
from lineage.store.log import LoggedEvent
from lineage.store.policies import PolicyVersion, PolicyVersions
from lineage.store.reads import StoredEdge, StoredNode


class Store(Ingest, PolicyVersions):
    """A lineage store in one DuckDB file (or in memory with ``":memory:"``).

    >>> with Store(":memory:") as store:
    ...     store.head_seq()
    0
    """


__all__ = [
    "DEFAULT_DB",
    "IngestReport",
    "LoggedEvent",
    "NoStoreError",
    "PolicyVersion",
    "Store",
    "StoreError",
    "StoreLockedError",
    "UndeclaredNodes",
    "StoredEdge",
    "StoredNode",
    "default_db_path",
]
