"""Witness paths as W3C PROV (the vocabulary Croissant 1.1 recommends for dataset
provenance), built with the `prov` package, for a compliance user to hand on.

Every node of a path is a PROV entity (typed by its kind) but a commit or a session, which
are activities; an AI tool is an agent. A step's edge is `wasDerivedFrom` (the later node
from the earlier, with the edge's kind and span as attributes), `wasGeneratedBy` for what a
commit or a session produced, and an output `wasAttributedTo` its tool (with its model). The
example carries its verdict: status, mode, policy hash and the event it is as of; a dataset
version its gate's counts and `hadMember` for each example listed.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lineage.engine import GateReport, Step, Verdict

if TYPE_CHECKING:
    from prov.model import ProvDocument

NAMESPACE = "urn:lineage:"
ACTIVITY_KINDS = ("commit", "session")

Attributes = Callable[[str], dict[str, Any]]  # a node key -> its stored attributes


def verdict_document(verdict: Verdict, attributes: Attributes) -> "ProvDocument":
    """The PROV document of one example's verdict and its witness paths."""
    doc = _document()
    _example(doc, verdict.example, str(verdict.status), str(verdict.mode), verdict)
    for path in verdict.paths:
        _path(doc, path, attributes)
    return doc


def gate_document(report: GateReport, attributes: Attributes) -> "ProvDocument":
    """The PROV document of a gate: the dataset version with its counts, each tainted or
    unknown example the report lists with its status, and the witness paths it holds."""
    doc = _document()
    c = report.counts
    dataset = doc.entity(
        _id("dataset:" + report.dataset),
        {
            "prov:type": "lineage:dataset_version",
            "lineage:passed": report.passed,
            "lineage:mode": str(report.mode),
            "lineage:policyHash": report.policy_hash or "",
            "lineage:asOf": report.as_of,
            "lineage:examples": c.examples,
            "lineage:tainted": c.tainted,
            "lineage:unknown": c.unknown,
            "lineage:clean": c.clean,
        },
    )
    for entry in report.tainted:
        example = _example(doc, entry.example, "TAINTED", str(report.mode), report)
        doc.hadMember(dataset, example)
        if entry.path:
            _path(doc, entry.path, attributes)
    for unknown in report.unknown:
        example = _example(doc, unknown.example, "UNKNOWN", str(report.mode), report)
        example.add_attributes({"lineage:reason": unknown.reason})
        doc.hadMember(dataset, example)
    return doc


def _document() -> "ProvDocument":
    from prov.model import ProvDocument  # imported here: `import lineage` stays light

    doc = ProvDocument()
    doc.add_namespace("lineage", NAMESPACE)
    return doc


def _id(key: str) -> str:
    return "lineage:" + key


def _example(doc: "ProvDocument", key: str, status: str, mode: str, answer: Any) -> Any:
    return doc.entity(
        _id(key),
        {
            "prov:type": "lineage:example",
            "lineage:status": status,
            "lineage:mode": mode,
            "lineage:policyHash": answer.policy_hash or "",
            "lineage:asOf": answer.as_of,
        },
    )


def _path(doc: "ProvDocument", path: list[Step], attributes: Attributes) -> None:
    previous: Step | None = None
    for step in path:
        record = _node(doc, step, attributes)
        if previous is not None:
            earlier = _id(previous.node)
            extra = {"lineage:edge": step.edge or ""}
            if step.span:
                end = step.span["end"] if step.span["end"] is not None else "end"
                extra["lineage:span"] = f"{step.span['unit']} {step.span['start']}-{end}"
            if previous.kind in ACTIVITY_KINDS:
                doc.wasGeneratedBy(record, earlier, other_attributes=extra)
            elif step.kind not in ACTIVITY_KINDS:
                doc.wasDerivedFrom(record, earlier, other_attributes=extra)
        previous = step


def _node(doc: "ProvDocument", step: Step, attributes: Attributes) -> Any:
    known = doc.get_record(_id(step.node))
    if known:  # an example already written with its verdict, a node two paths share
        return known[0]
    attrs = attributes(step.node)
    kind = {"prov:type": "lineage:" + step.kind}
    if step.kind in ACTIVITY_KINDS:
        return doc.activity(_id(step.node), other_attributes=kind)
    entity = doc.entity(_id(step.node), kind)
    if step.kind == "output" and attrs.get("tool"):
        tool = doc.agent(
            _id("tool:" + str(attrs["tool"])),
            {"prov:type": "prov:SoftwareAgent", "lineage:tool": str(attrs["tool"])},
        )
        model = {"lineage:model": str(attrs["model"])} if attrs.get("model") else {}
        doc.wasAttributedTo(entity, tool, other_attributes=model or None)
        if attrs.get("session"):
            session = doc.activity(
                _id("session:" + str(attrs["session"])),
                other_attributes={"prov:type": "lineage:session"},
            )
            doc.wasGeneratedBy(entity, session)
            doc.wasAssociatedWith(session, tool)
    return entity
