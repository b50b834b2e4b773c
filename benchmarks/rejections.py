"""Benchmark: rejecting a record costs about what accepting it does.

    python benchmarks/rejections.py --rows 20000

Times, through the real loaders and a fresh store each: N valid manifest rows, N manifest rows
that are all rejected (a source commit that is not a git object id), N events of which every
one is rejected by the event schema, N valid events, and one OpenLineage RunEvent whose
`lineageExamples` facet holds N bad rows. Prints `name: seconds` lines, the valid input beside
its rejected twin.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lineage.loaders import LOADERS  # noqa: E402
from lineage.store import Store  # noqa: E402


def _row(i: int, commit: str) -> dict:
    return {
        "example_id": f"e{i}",
        "dataset": "d",
        "version": "v1",
        "source": {
            "repo": "github.com/acme/widgets",
            "commit": commit,
            "path": f"src/f{i % 500}.py",
            "lines": [1, 5],
        },
    }


def _inputs(directory: Path, rows: int) -> dict[str, tuple[str, Path]]:
    def jsonl(name: str, values: list[dict]) -> Path:
        path = directory / name
        path.write_text("".join(json.dumps(v) + "\n" for v in values))
        return path

    output = {"type": "output", "tool": "claude-code", "time": "2026-03-02T09:00:00Z"}
    facet_event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-20T10:15:00Z",
        "producer": "benchmark",
        "run": {"runId": "r1"},
        "job": {"namespace": "n", "name": "j"},
        "inputs": [],
        "outputs": [
            {
                "namespace": "lineage",
                "name": "d",
                "facets": {
                    "lineageExamples": {
                        "examples": [
                            {"example_id": i, "source": {"repo": "r"}} for i in range(rows)
                        ]
                    }
                },
            }
        ],
    }
    return {
        "manifest, valid rows": (
            "manifest",
            jsonl("good.jsonl", [_row(i, "c" * 40) for i in range(rows)]),
        ),
        "manifest, rejected rows": (
            "manifest",
            jsonl("bad.jsonl", [_row(i, "zz") for i in range(rows)]),
        ),
        "events, valid": (
            "events",
            jsonl("good.ndjson", [output | {"output": f"o{i}"} for i in range(rows)]),
        ),
        "events, rejected (schema)": (
            "events",
            jsonl("bad.ndjson", [output | {"output": i} for i in range(rows)]),
        ),
        "openlineage facet, rejected rows": ("openlineage", jsonl("ol.json", [facet_event])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (source, path) in _inputs(Path(tmp), args.rows).items():
            with Store(Path(tmp) / f"{path.stem}-{source}.duckdb") as store:
                started = time.perf_counter()
                accepted = rejected = 0
                for batch in LOADERS[source]([path]):
                    report = store.ingest(batch)
                    accepted, rejected = accepted + report.accepted, rejected + report.rejected
                seconds = time.perf_counter() - started
            print(f"{name}: {seconds:.2f} s ({accepted} accepted, {rejected} rejected)")


if __name__ == "__main__":
    main()
