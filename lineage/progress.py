"""Progress on long runs: a bar on stderr when it is a terminal, nothing when piped."""

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

T = TypeVar("T")


def interactive(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield `items`, drawing a progress bar while a person watches."""
    if not interactive():
        yield from items
        return
    from rich.progress import track as rich_track

    yield from rich_track(
        items, description=description, total=total, transient=True, console=_console()
    )


@contextmanager
def counting(description: str, total: int | None = None) -> Iterator[Callable[[], None]]:
    """A bar advanced by calling what it yields (once per item done), for work that reports
    its steps through a callback."""
    if not interactive():
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress(transient=True, console=_console()) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


@contextmanager
def phase(description: str) -> Iterator[None]:
    """A spinner with elapsed time around one long step (a propagation, a gate query)."""
    if not interactive():
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
        console=_console(),
    ) as bar:
        bar.add_task(description, total=None)
        yield


def _console():  # noqa: ANN202 - rich is imported lazily, only on a terminal
    from rich.console import Console

    return Console(stderr=True)
