"""`lineage export prov`: W3C PROV-JSON that the prov package reads back, holding an example's
verdict and witness paths, or a gate's examples and counts."""

import json
from pathlib import Path

import prov
from prov.model import ProvAgent, ProvDerivation, ProvEntity, ProvMembership

from tests.lineage.test_cli import db, run  # noqa: F401  (the demo store fixture)

NS = "urn:lineage:"


def attrs(record: object) -> dict[str, object]:
    return {str(k.uri).removeprefix(NS): v for k, v in record.attributes}  # type: ignore[attr-defined]


def test_an_examples_prov_holds_its_verdict_and_witness_path(db: str, tmp_path: Path) -> None:  # noqa: F811
    verdict = json.loads(
        run("--db", db, "explain", "code-pretrain@v1:ex-002", "--format", "json")[1]
    )
    out = tmp_path / "ex.prov.json"
    code, said = run("--db", db, "export", "prov", verdict["example"], "--out", str(out))
    assert code == 0 and str(out) in said
    doc = prov.read(str(out), format="json")
    entities = {str(r.identifier.uri).removeprefix(NS): r for r in doc.get_records(ProvEntity)}
    example = attrs(entities[verdict["example"]])
    assert example["status"] == verdict["status"] == "TAINTED"
    assert example["policyHash"] == verdict["policy_hash"] and example["mode"] == "precise"
    derived = {
        (str(r.args[0].uri).removeprefix(NS), str(r.args[1].uri).removeprefix(NS))
        for r in doc.get_records(ProvDerivation)
    }
    steps = [s["node"] for s in verdict["paths"][0]]
    assert {(later, earlier) for earlier, later in zip(steps, steps[1:], strict=False)} <= derived
    (tool,) = list(doc.get_records(ProvAgent))
    assert str(tool.identifier.uri).endswith("tool:claude-code")
    assert len(entities) == len(set(entities))  # each node once


def test_a_gates_prov_holds_its_counts_and_members(db: str, tmp_path: Path) -> None:  # noqa: F811
    gate = json.loads(run("--db", db, "gate", "code-pretrain@v1", "--format", "json")[1])
    out = tmp_path / "gate.prov.json"
    assert (
        run("--db", db, "export", "prov", "--dataset", "code-pretrain@v1", "--out", str(out))[0]
        == 0
    )
    doc = prov.read(str(out), format="json")
    entities = {str(r.identifier.uri).removeprefix(NS): r for r in doc.get_records(ProvEntity)}
    dataset = attrs(entities["dataset:code-pretrain@v1"])
    assert dataset["tainted"] == gate["counts"]["tainted"]
    assert dataset["passed"] is False and dataset["policyHash"] == gate["policy_hash"]
    members = list(doc.get_records(ProvMembership))
    assert len(members) == len(gate["tainted"]) + len(gate["unknown"])
    statuses = {k: attrs(e).get("status") for k, e in entities.items() if k.startswith("example:")}
    assert {k for k, s in statuses.items() if s == "TAINTED"} == {
        t["example"] for t in gate["tainted"]
    }
