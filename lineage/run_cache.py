"""Answers a database's cursors share: a taint run is never rewritten, so what was computed
from one never goes stale (a dropped run just ages out of the cache)."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RunCache(Generic[K, V]):
    """The newest `size` values by key (a run, or a run and a question), thread-safe.

    >>> cache: RunCache[int, str] = RunCache(size=1)
    >>> cache.answer(1, lambda: "one"), cache.answer(1, lambda: "again")
    ('one', 'one')
    >>> cache.put(2, "two"); cache.get(1) is None
    True
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[K, threading.Lock] = {}

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def answer(self, key: K, compute: Callable[[], V]) -> V:
        """The value of `key`, computed by `compute` when missing; callers asking for the same
        key at once wait for one computation."""
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            found = self.get(key)
            if found is None:  # the first to ask (or the one before failed): compute it
                found = compute()
                self.put(key, found)
        with self._lock:
            self._computing.pop(key, None)
        return found
