"""How a bulk load runs: reading the next batch while this one is stored, and Python's
cyclic garbage collector kept out of the way.

A history or a manifest allocates millions of small objects (lines, tuples, facts) that live
until their batch is stored. Each full collection walks every live object, so with the
default thresholds a large ingest spends a tenth of its time in collections that free
almost nothing. Reading and storing can overlap: git works in a process of its own and
DuckDB releases the GIL while it executes, so a loader thread reads batch n+1 while batch n
is stored.
"""

import gc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar, cast

FULL_COLLECTION_EVERY = 1000  # young collections between full ones (Python's default: 10)
_POLL_S = 0.1  # how often a waiting reader looks whether its consumer has stopped
_JOIN_S = 2.0  # how long a stopping consumer waits for its reader to finish an item

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def rare_full_collections() -> Iterator[None]:
    """Run the body with full collections made rare; the thresholds come back after it.

    >>> before = gc.get_threshold()
    >>> with rare_full_collections():
    ...     gc.get_threshold()[2] >= FULL_COLLECTION_EVERY
    True
    >>> gc.get_threshold() == before
    True
    """
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, max(full, FULL_COLLECTION_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(young, middle, full)
        gc.collect()


_END = object()


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of `items`, in order, each read by a thread of its own while the consumer
    works on the one before, so at most two are held at once. An error the reader meets is
    raised here, in the consumer; a consumer that stops early (or is interrupted) stops the
    reader after the item it is reading, and `items` is closed.

    The reader must not share state with the consumer's work (a loader never touches the
    store, so a loader's batches qualify).

    >>> list(read_ahead(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    handed: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(1)
    wanted = threading.Semaphore(0)  # released by the consumer when it wants the next item
    stop = threading.Event()

    def hand_over(item: object, error: BaseException | None = None) -> bool:
        while not wanted.acquire(timeout=_POLL_S):
            if stop.is_set():
                return False
        handed.put((item, error))
        return True

    def read() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(None, exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="lineage-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            wanted.release()
            item, error = handed.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield cast(T, item)
    finally:
        stop.set()
        # A reader stuck on input that never comes (a FIFO, a terminal) is not waited for:
        # it is a daemon thread, and it closes `items` itself if its input ever ends.
        reader.join(timeout=_JOIN_S)


def bulk_ingest(streams: Iterable[Iterator[T]], store: Callable[[T], R]) -> Iterator[tuple[T, R]]:
    """Each item of each stream with what `store` returned for it: the streams one after the
    other, each read ahead of the store, with full collections rare throughout. A stream is
    taken from `streams` only when the one before is spent.

    >>> [report for _, report in bulk_ingest([iter("ab"), iter("c")], str.upper)]
    ['A', 'B', 'C']
    """
    with rare_full_collections():
        for items in streams:
            for item in read_ahead(items):
                yield item, store(item)
