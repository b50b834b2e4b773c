"""The bounds of one server: what a request may send, how long it may take, how much store
work it may start, and the time budget that stops store work past its deadline.

Every limit is a module constant and a field of `Limits` (defaults are the constants), so a
test can serve with small ones. What the query itself may cost is in `api.cost`.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import TypeVar

import anyio.to_thread
import duckdb

from lineage.database import Database

MAX_BODY = 64 * 1024 * 1024  # bytes of an ingestion body (/events, /api/v1/lineage)
MAX_GRAPHQL_BODY = 1024 * 1024  # bytes of a GraphQL request body
BODY_SECONDS = 60.0  # a request's whole body must arrive within this (trickling bodies)
HEADER_SECONDS = 10.0  # a request's headers must arrive within this of connecting or of
#                        the previous response on the connection (trickling headers)
KEEP_ALIVE_SECONDS = 5  # an idle keep-alive connection is closed after this
MAX_HEADER_BYTES = 64 * 1024  # request line and headers together
MAX_CONNECTIONS = 1000  # connections and requests in flight; beyond, 503
REQUEST_SECONDS = 30.0  # the time budget of one GraphQL request's store work (reads)
REPORT_SECONDS = 900.0  # the time budget of one CLI report (/v1/gate of millions of examples)
STORE_WORKERS = 16  # requests' store work running at once (anyio's default pool has 40
#                     threads: the rest stay free for /healthz and ingestion)
MAX_AS_OF_PER_REQUEST = 4  # distinct `asOf` values one GraphQL request may ask for
INTERRUPT_EVERY = 0.05  # seconds between interrupts of store work past its deadline

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """The limits one server applies (defaults: the module constants)."""

    max_body: int = MAX_BODY
    max_graphql_body: int = MAX_GRAPHQL_BODY
    body_seconds: float = BODY_SECONDS
    header_seconds: float = HEADER_SECONDS
    keep_alive_seconds: int = KEEP_ALIVE_SECONDS
    max_header_bytes: int = MAX_HEADER_BYTES
    max_connections: int = MAX_CONNECTIONS
    request_seconds: float = REQUEST_SECONDS
    report_seconds: float = REPORT_SECONDS
    store_workers: int = STORE_WORKERS


class OverBudget(TimeoutError):
    """A request ran over its time budget; its store work was stopped."""


def over_budget(seconds: float) -> OverBudget:
    return OverBudget(
        f"the request ran over its time budget of {seconds:g} s and was "
        "stopped: ask for less (smaller pages, fewer examples, the head "
        "instead of a past asOf)"
    )


async def run_bounded(
    db: Database,
    fn: Callable[[], T],
    deadline: float,
    seconds: float,
    limiter: anyio.CapacityLimiter,
) -> T:
    """Run `fn` (store work on the handle `db`) on a worker thread; past `deadline`
    (time.monotonic) interrupt the cursor until `fn` returns, and raise OverBudget.

    DuckDB forgets an interrupt that arrives between two queries, so the interrupt repeats
    every INTERRUPT_EVERY seconds: work that runs many short queries stops at the next one.
    """
    loop = asyncio.get_running_loop()
    state = {"late": False, "done": False}

    def interrupt() -> None:
        if state["done"]:
            return
        state["late"] = True
        db.interrupt()
        loop.call_later(INTERRUPT_EVERY, interrupt)

    def guarded() -> T:
        if state["late"]:  # waited for a worker past the deadline: do not start
            raise over_budget(seconds)
        return fn()

    timer = loop.call_later(max(0.0, deadline - monotonic()), interrupt)
    try:
        return await anyio.to_thread.run_sync(guarded, limiter=limiter)
    except duckdb.InterruptException as exc:
        if state["late"]:
            raise over_budget(seconds) from exc
        raise
    finally:
        state["done"] = True
        timer.cancel()
