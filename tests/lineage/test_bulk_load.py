import threading
import time
from collections.abc import Iterator

import pytest

from lineage.bulk_load import read_ahead


def test_read_ahead_yields_every_item_in_order_and_holds_at_most_two() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for n in range(6):
            produced.append(n)
            yield n

    seen = []
    for n in read_ahead(source()):
        time.sleep(0.05)  # the reader has time to run as far ahead as it may
        assert len(produced) <= n + 2  # this item and the next one, never more
        seen.append(n)
    assert seen == list(range(6))


def test_an_error_of_the_reader_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 3: bad record")

    seen = []
    with pytest.raises(ValueError, match="line 3: bad record"):
        for n in read_ahead(source()):
            seen.append(n)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_stops_the_reader_and_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    items = read_ahead(source())
    assert next(items) == 0
    items.close()
    assert closed.is_set()
    assert not any(t.name == "lineage-read-ahead" for t in threading.enumerate())
