from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from lineage import engine
from lineage.loaders import events
from lineage.policy import parse_policy
from lineage.store import Store

EXAMPLES = Path(str(files("lineage.examples")))
FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


def load_events(store: Store, *paths: Path) -> None:
    for batch in events.load(paths):
        store.ingest(batch)


@pytest.fixture
def scenario() -> Iterator[Store]:
    """The bundled example scenario, ingested, with its policy set."""
    store = Store(":memory:")
    load_events(store, EXAMPLES / "events.ndjson")
    store.set_policy(parse_policy((EXAMPLES / "policy.toml").read_text()))
    yield store
    store.close()


def status(store: Store, example: str, mode: str, as_of: str | int | None = None) -> str:
    run = engine.propagate_taint(store, as_of)
    return engine.verdict(store, run, engine.resolve_example(store, example), mode).status


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-minutes",
        type=float,
        default=0,
        help="run the loaders' fuzz suite this many minutes more (a night run)",
    )
