"""Every loader takes any bytes: real records mixed with hostile copies of them load, the copies
are accepted or rejected with a reason, the counts add up and nothing raises or hangs.

The normal run tries a few files per loader (hypothesis, seconds). `pytest --fuzz-minutes M`
runs each loader for M minutes more over fresh seeds and prints a table of what it saw.
"""

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.loaders import LOADERS
from lineage.store import IngestReport, Store
from tests.loaders.mutations import fixtures, mutate, records

SOURCES = (
    "claude-code",
    "codex",
    "cursor",
    "gemini-cli",
    "copilot",
    "agent-trace",
    "openlineage",
    "events",
    "manifest",
)
VALID_PER_FILE = 6
MUTATED_PER_FILE = 40


@dataclass
class Outcome:
    lines: int
    report: IngestReport


def _ingest(source: str, path: Path, store: Store) -> IngestReport:
    total = IngestReport(source)
    for batch in LOADERS[source]([path]):
        total.add(store.ingest(batch))
    return total


def _event_ids(store: Store) -> set[str]:
    return {r[0] for r in store.fetch_all("SELECT event_id FROM events")}


def check_file(source: str, rng: random.Random, directory: Path) -> Outcome:
    """Write real records then hostile copies of them to one file, ingest it, and check the
    loader's promises; returns what the ingest reported."""
    valid = [r for f in fixtures(source) for r in records(f)]
    assert valid, f"no fixtures for {source}"
    good = [json.dumps(rng.choice(valid)).encode() for _ in range(VALID_PER_FILE)]
    bad = [mutate(rng.choice(valid), rng) for _ in range(MUTATED_PER_FILE)]
    directory.mkdir(parents=True, exist_ok=True)
    clean, mixed = directory / "clean.jsonl", directory / "mixed.jsonl"
    clean.write_bytes(b"\n".join(good) + b"\n")
    mixed.write_bytes(b"\n".join(good + bad) + b"\n")
    lines = sum(1 for line in good + bad if line.strip())

    with Store(":memory:") as reference, Store(":memory:") as store:
        _ingest(source, clean, reference)
        report = _ingest(source, mixed, store)
        # Every valid record loads, whatever follows it.
        assert _event_ids(reference) <= _event_ids(store)
        # Every line is accounted for: accepted, a duplicate, rejected with a reason, ignored.
        counted = report.accepted + report.duplicate + report.rejected + report.ignored
        if source == "openlineage":  # a RunEvent's facet rows are counted one by one
            assert counted >= lines
        else:
            assert counted == lines, report.as_dict()
        assert all(r.reason and r.line for r in report.rejections)
        assert store.verify().ok
        # Ingesting the same input again changes nothing.
        events = store.head_seq()
        again = _ingest(source, mixed, store)
        assert again.accepted == 0 and store.head_seq() == events
    return Outcome(lines, report)


@pytest.mark.parametrize("source", SOURCES)
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rng=st.randoms(use_true_random=False))
def test_hostile_records_never_cost_valid_ones(
    source: str, rng: random.Random, tmp_path: Path
) -> None:
    check_file(source, rng, tmp_path / f"{source}-{rng.random()}")


def test_fuzz_for_minutes(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The long run (`--fuzz-minutes M`): every loader for M minutes over fresh seeds."""
    minutes = request.config.getoption("--fuzz-minutes")
    if not minutes:
        pytest.skip("the long fuzz run needs --fuzz-minutes M")
    rows = []
    for source in SOURCES:
        end = time.monotonic() + minutes * 60 / len(SOURCES)
        files = mutated = rejected = slowest = 0
        seed = int(time.time())
        while time.monotonic() < end:
            rng = random.Random(seed)
            started = time.monotonic()
            try:
                outcome = check_file(source, rng, tmp_path / f"{source}-{seed}")
            except Exception as exc:  # report the seed that reproduces it, then fail
                raise AssertionError(f"{source}: seed {seed} fails: {exc!r}") from exc
            slowest = max(slowest, time.monotonic() - started)
            files, mutated = files + 1, mutated + MUTATED_PER_FILE
            rejected += outcome.report.rejected
            seed += 1
        rows.append(
            f"{source:12} {files:6} files {mutated:8} mutated records "
            f"{rejected:8} rejected  slowest file {slowest:5.2f} s"
        )
    print(
        "\n" + "\n".join(rows) + "\nin every file: the valid records loaded, the counts "
        "added up, nothing raised"
    )
