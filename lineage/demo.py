"""`lineage demo`: the bundled scenario end to end in a fresh, temporary store."""

import tempfile
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path
from typing import TextIO

from lineage import engine, report
from lineage.database import Database
from lineage.engine import Mode

DATASET = "code-pretrain@v1"
SFT = "code-sft@v1"
SNAPSHOT = "code-snapshot@v1"
DERIVED = "code-pretrain-dedup@v1"
EXPLAINED = f"{DATASET}:ex-014"


def _counts(gate: engine.GateReport) -> str:
    c = gate.counts
    return f"{c.tainted} tainted, {c.unknown} unknown, {c.clean} clean"


def run_demo(out: TextIO, keep: str | None = None) -> int:
    """Ingest examples/events.ndjson, set examples/policy.toml, gate both datasets in both
    modes and explain one example. Returns 0 (the demo ran), whatever the gate decided."""
    with ExitStack() as stack:
        scenario = files("lineage.examples")
        ndjson = stack.enter_context(as_file(scenario.joinpath("events.ndjson")))
        manifest_file = stack.enter_context(as_file(scenario.joinpath("manifest.jsonl")))
        snapshot_file = stack.enter_context(as_file(scenario.joinpath("snapshot.jsonl")))
        policy_text = scenario.joinpath("policy.toml").read_text(encoding="utf-8")
        workdir = Path(keep) if keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        db = workdir / "demo.duckdb"
        with Database(db) as lineage_db:
            rep = lineage_db.ingest("events", ndjson)
            print(
                f"ingested {ndjson.name}: {rep.accepted} events accepted, "
                f"{rep.duplicate} already present, {rep.rejected} rejected",
                file=out,
            )
            version = lineage_db.set_policy(policy_text, "policy.toml")
            print(
                f"policy {version.hash} set: claude-code and codex outputs are restricted, "
                "one output is waived\n",
                file=out,
            )
            now = lineage_db.as_of()
            print(
                report.gate_text(now.gate(DATASET, Mode.PRECISE, max_paths=1)), end="\n\n", file=out
            )
            strict = now.gate(DATASET, Mode.STRICT, max_paths=0)
            print(
                "strict mode (any restricted ancestor, not just surviving lines): "
                + _counts(strict),
                file=out,
            )
            derived = now.gate(DERIVED, max_paths=0)
            print(
                f"derived dataset {DERIVED} (dedup of {DATASET}), precise: " + _counts(derived),
                file=out,
            )
            lineage_db.ingest("manifest", manifest_file)
            sft = lineage_db.gate(SFT, max_paths=0)
            print(
                f"manifest {manifest_file.name} ({SFT}: every source form, SWHID, The Stack "
                "row, parents, agent session), precise: " + _counts(sft) + "\n",
                file=out,
            )
            rep = lineage_db.ingest("manifest", snapshot_file)
            for rejection in rep.rejections:
                print(
                    f"  rejected {snapshot_file.name}:{rejection.line}: {rejection.reason}",
                    file=out,
                )
            snap = lineage_db.gate(SNAPSHOT, max_paths=0)
            print(
                f"manifest {snapshot_file.name} ({SNAPSHOT}: every file cut at release commit "
                "c4c4c4c4, most of them changed earlier), precise: " + _counts(snap) + "\n",
                file=out,
            )
            print(f"explain {EXPLAINED} (named by commit, not blob):", file=out)
            print(report.verdict_text(lineage_db.verdict(EXPLAINED)), file=out)
            verified = lineage_db.verify()
            print(
                f"\nevent log: {verified.events} events, hash chain "
                f"{'intact' if verified.ok else 'BROKEN'}",
                file=out,
            )
        where = f"--db {db}" if keep else "--db lineage.duckdb"
        print(
            f"""
try next:
  lineage {where} ingest events {"examples/events.ndjson" if not keep else ndjson}
  lineage {where} policy set examples/policy.toml
  lineage {where} gate {DATASET} --mode strict --format markdown
  lineage {where} explain {DATASET}:ex-014 --format json
  lineage {where} gate {DERIVED} --allow-unknown""",
            file=out,
        )
    return 0
