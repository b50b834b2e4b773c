"""`lineage demo`: the bundled scenario end to end in a fresh, temporary store."""

import tempfile
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path
from typing import TextIO

from lineage import engine, report
from lineage.policy import parse_policy
from lineage.store import Store
from loaders import events, manifest

DATASET = "code-pretrain@v1"
SFT = "code-sft@v1"
SNAPSHOT = "code-snapshot@v1"
DERIVED = "code-pretrain-dedup@v1"
EXPLAINED = f"{DATASET}:ex-014"


def _counts(gate: engine.GateReport) -> str:
    c = gate.counts
    return f"{c['tainted']} tainted, {c['unknown']} unknown, {c['clean']} clean"


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
        with Store(db) as store:
            for batch in events.load([ndjson]):
                rep = store.ingest(batch)
                print(f"ingested {ndjson.name}: {rep.accepted} events accepted, "
                      f"{rep.duplicate} already present, {rep.rejected} rejected", file=out)
            version = store.set_policy(parse_policy(policy_text, "policy.toml"))
            print(f"policy {version.hash} set: claude-code and codex outputs are restricted, "
                  "one output is waived\n", file=out)
            run = engine.propagate_taint(store)
            precise = engine.gate(store, run, DATASET, "precise", max_paths=1)
            print(report.gate_text(precise), end="\n\n", file=out)
            strict = engine.gate(store, run, DATASET, "strict", max_paths=0)
            print("strict mode (any restricted ancestor, not just surviving lines): "
                  + _counts(strict), file=out)
            derived = engine.gate(store, run, DERIVED, "precise", max_paths=0)
            print(f"derived dataset {DERIVED} (dedup of {DATASET}), precise: "
                  + _counts(derived), file=out)
            for batch in manifest.load([manifest_file]):
                store.ingest(batch)
            run = engine.propagate_taint(store)
            sft = engine.gate(store, run, SFT, "precise", max_paths=0)
            print(f"manifest {manifest_file.name} ({SFT}: every source form, SWHID, The Stack "
                  "row, parents, agent session), precise: " + _counts(sft) + "\n", file=out)
            for batch in manifest.load([snapshot_file]):
                rep = store.ingest(batch)
                for rejection in rep.rejections:
                    print(f"  rejected {snapshot_file.name}:{rejection.line}: "
                          f"{rejection.reason}", file=out)
            run = engine.propagate_taint(store)
            snap = engine.gate(store, run, SNAPSHOT, "precise", max_paths=0)
            print(f"manifest {snapshot_file.name} ({SNAPSHOT}: every file cut at release commit "
                  "c4c4c4c4, most of them changed earlier), precise: " + _counts(snap) + "\n",
                  file=out)
            example = engine.resolve_example(store, EXPLAINED)
            print(f"explain {EXPLAINED} (named by commit, not blob):", file=out)
            print(report.verdict_text(engine.verdict(store, run, example, "precise")), file=out)
            verified = store.verify()
            print(f"\nevent log: {verified.events} events, hash chain "
                  f"{'intact' if verified.ok else 'BROKEN'}", file=out)
        where = f"--db {db}" if keep else "--db lineage.duckdb"
        print(f"""
try next:
  lineage {where} ingest events {'examples/events.ndjson' if not keep else ndjson}
  lineage {where} policy set examples/policy.toml
  lineage {where} gate {DATASET} --mode strict --format markdown
  lineage {where} explain {DATASET}:ex-014 --format json
  lineage {where} gate {DERIVED} --allow-unknown""", file=out)
    return 0
