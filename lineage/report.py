"""Rendering gate reports and verdicts for people: plain text for terminals, Markdown for pull
requests and audit files (with a Mermaid diagram of a witness path), JUnit XML for the test
report a CI system shows."""

import json
from typing import Any
from xml.etree import ElementTree

from lineage.engine import (
    VERDICT_FILE_FORMATS,
    EngineError,
    GateReport,
    ImpactReport,
    Step,
    Verdict,
)


def _span(span: dict[str, Any] | None) -> str:
    if not span:
        return ""
    unit = "lines" if span["unit"] == "line" else "bytes"
    end = span["end"] if span["end"] is not None else "end"
    return f" [{unit} {span['start']}-{end}]"


def _lines(step: Step) -> str:
    if not step.lines:
        return ""
    parts = [f"{iv['start']}-{iv['end'] if iv['end'] is not None else 'end'}" for iv in step.lines]
    return f" (restricted lines {', '.join(parts)}; {step.lines[0]['evidence']})"


def path_text(path: list[Step], indent: str = "  ") -> list[str]:
    out = []
    for n, step in enumerate(path):
        arrow = "" if n == 0 else f"--{step.edge}{_span(step.span)}--> "
        event = f"  (event {step.event['seq']}: {step.event['id']})" if step.event else ""
        out.append(f"{indent}{'   ' * min(n, 1)}{arrow}{step.node}{_lines(step)}{event}")
    return out


def gate_text(report: GateReport) -> str:
    c = report.counts
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"gate {report.dataset} ({report.mode} mode, policy {report.policy_hash}, "
        f"as of event {report.as_of}): {verdict}",
        f"  {c.examples} examples: {c.tainted} tainted, {c.unknown} unknown, "
        f"{c.clean} clean" + ("  (unknown allowed)" if report.allow_unknown else ""),
    ]
    if report.by_tool:
        lines.append("  tainted by tool and model:")
        lines += [
            f"    {t.tool} {t.model or '(model unknown)'}: {t.examples}" for t in report.by_tool
        ]
    if report.by_repo:
        lines.append("  by source repository (tainted/unknown/clean):")
        lines += [f"    {r.repo}: {r.tainted}/{r.unknown}/{r.clean}" for r in report.by_repo]
    for entry in report.tainted:
        lines.append(f"  TAINTED {entry.example} <- {', '.join(entry.sources)}")
    shown = next((e for e in report.tainted if e.path), None)
    if shown and shown.path:
        lines.append(f"  witness path of {shown.example}:")
        lines += path_text(shown.path, "    ")
    for unknown in report.unknown:
        lines.append(f"  UNKNOWN {unknown.example}: {unknown.reason}")
    for w in report.waivers:
        lines.append(
            f"  waiver applied: {w.node} ({w.reason}; approved by "
            f"{w.approver}{', expires ' + w.expires if w.expires else ''})"
        )
    if report.counts.unknown and not report.allow_unknown:
        lines.append(
            "  UNKNOWN examples fail the gate: ingest their sources, or pass "
            "--allow-unknown to accept them."
        )
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    """`text` for a quoted Mermaid label: the characters Mermaid would read as markup or as
    the label's end written as its entity codes (`#35;` is `#`)."""
    return "".join(f"#{ord(c)};" if c in '"#<>&' else c for c in text)


def mermaid(path: list[Step]) -> str:
    """A witness path as a Mermaid flowchart (a fenced block), every label quoted: Mermaid 11
    reads the brackets of an unquoted `[lines 10-18]` as a node shape.

    >>> print(mermaid([Step("output:toolu_1", "output", None, None, None),
    ...                Step("file:r:a.py@1f", "file_version", "wrote",
    ...                     {"unit": "line", "start": 3, "end": 9}, None)]))
    ```mermaid
    flowchart LR
      n0["output<br/>output:toolu_1"]
      n1["file_version<br/>file:r:a.py@1f"]
      n0 -->|"wrote [lines 3-9]"| n1
    ```
    """
    out = ["```mermaid", "flowchart LR"]
    for n, step in enumerate(path):
        out.append(f'  n{n}["{_mermaid_text(step.kind)}<br/>{_mermaid_text(step.node)}"]')
        if n:
            label = _mermaid_text(f"{step.edge}{_span(step.span)}")
            out.append(f'  n{n - 1} -->|"{label}"| n{n}')
    out.append("```")
    return "\n".join(out)


def gate_markdown(report: GateReport) -> str:
    c = report.counts
    icon = "✅ passed" if report.passed else "❌ failed"
    out = [
        f"## Training-data gate: `{report.dataset}` {icon}",
        "",
        f"Mode **{report.mode}**, policy `{report.policy_hash}`, as of event {report.as_of}.",
        "",
        "| examples | tainted | unknown | clean |",
        "| ---: | ---: | ---: | ---: |",
        f"| {c.examples} | {c.tainted} | {c.unknown} | {c.clean} |",
    ]
    if report.by_tool:
        out += [
            "",
            "### Tainted by tool",
            "",
            "| tool | model | examples |",
            "| --- | --- | ---: |",
        ]
        out += [f"| {t.tool} | {t.model or ''} | {t.examples} |" for t in report.by_tool]
    if report.by_repo:
        out += [
            "",
            "### By source repository",
            "",
            "| repository | tainted | unknown | clean |",
            "| --- | ---: | ---: | ---: |",
        ]
        out += [f"| {r.repo} | {r.tainted} | {r.unknown} | {r.clean} |" for r in report.by_repo]
    if report.tainted:
        out += ["", "### Tainted examples", "", "| example | sources |", "| --- | --- |"]
        out += [
            f"| `{t.example}` | {', '.join(f'`{s}`' for s in t.sources)} |" for t in report.tainted
        ]
        shown = next((e for e in report.tainted if e.path), None)
        if shown and shown.path:
            out += [
                "",
                f"Witness path of `{shown.example}`:",
                "",
                mermaid(shown.path),
            ]
    if report.unknown:
        out += ["", "### Unknown lineage", "", "| example | reason |", "| --- | --- |"]
        out += [f"| `{u.example}` | {u.reason} |" for u in report.unknown]
    if report.waivers:
        out += ["", "### Waivers applied", ""]
        out += [f"- `{w.node}`: {w.reason} (approved by {w.approver})" for w in report.waivers]
    return "\n".join(out) + "\n"


def gate_junit(report: GateReport) -> str:
    """The gate as a JUnit XML report: one failing test case per TAINTED example (its
    sources, and its witness path where the report has one) and per UNKNOWN one that fails
    the gate; a gate that passes is one passing test case. Examples beyond those the report
    lists are counted in the suite's `tests` and `failures`, and named in its properties."""
    c = report.counts
    failing_unknown = 0 if report.allow_unknown else c.unknown
    suite = ElementTree.Element(
        "testsuite",
        name=f"lineage gate {report.dataset}",
        tests=str(max(1, c.tainted + failing_unknown)),
        failures=str(c.tainted + failing_unknown),
        errors="0",
        skipped="0",
    )
    props = ElementTree.SubElement(suite, "properties")
    for name, value in (
        ("mode", str(report.mode)),
        ("policy_hash", report.policy_hash or ""),
        ("as_of", str(report.as_of)),
        ("examples", str(c.examples)),
        ("tainted", str(c.tainted)),
        ("unknown", str(c.unknown)),
        ("clean", str(c.clean)),
    ):
        ElementTree.SubElement(props, "property", name=name, value=value)
    classname = f"lineage.gate.{report.dataset}"
    for entry in report.tainted:
        case = ElementTree.SubElement(suite, "testcase", name=entry.example, classname=classname)
        failure = ElementTree.SubElement(
            case, "failure", type="TAINTED", message=f"TAINTED <- {', '.join(entry.sources)}"
        )
        if entry.path:
            failure.text = "\n".join(path_text(entry.path, ""))
    if not report.allow_unknown:
        for unknown in report.unknown:
            case = ElementTree.SubElement(
                suite, "testcase", name=unknown.example, classname=classname
            )
            ElementTree.SubElement(
                case, "failure", type="UNKNOWN", message=f"UNKNOWN: {unknown.reason}"
            )
    if report.passed:
        ElementTree.SubElement(suite, "testcase", name=report.dataset, classname=classname)
    suites = ElementTree.Element("testsuites")
    suites.append(suite)
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        suites, encoding="unicode"
    )


def verdict_text(v: Verdict) -> str:
    lines = [
        f"{v.example}: {v.status} ({v.mode} mode, policy {v.policy_hash}, as of event {v.as_of})"
    ]
    if v.reason:
        lines.append(f"  {v.reason}")
    for n, path in enumerate(v.paths, 1):
        lines.append(f"  witness path {n} from {path[0].node}:")
        lines += path_text(path, "    ")
    for w in v.waivers:
        lines.append(f"  waiver {w.node} blocks taint here: {w.reason} (approved by {w.approver})")
    return "\n".join(lines)


def impact_rows(found: ImpactReport) -> list[dict[str, Any]]:
    """One row per example an impact reaches: its dataset version, whether restricted lines
    reach it (`precise`) or only a restricted ancestor, and the outputs it descends from."""
    rows = []
    for d in found.datasets:
        precise = {t.example: t for t in d.precise}
        for t in d.strict:
            rows.append(
                {
                    "dataset": d.dataset,
                    "example": t.example,
                    "precise": t.example in precise,
                    "sources": t.sources,
                }
            )
    return rows


def write_impact(found: ImpactReport, path: str) -> int:
    """Write `impact_rows` as JSON lines or Parquet, by the file's suffix (as `gate --out`);
    returns the number of rows."""
    fmt = next((f for suffix, f in VERDICT_FILE_FORMATS.items() if path.endswith(suffix)), None)
    if fmt is None:
        raise EngineError(f"impact file {path}: name a .jsonl, .ndjson or .parquet file")
    rows = impact_rows(found)
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema(
                [
                    ("dataset", pa.string()),
                    ("example", pa.string()),
                    ("precise", pa.bool_()),
                    ("sources", pa.list_(pa.string())),
                ]
            )
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        else:
            with open(path, "w", encoding="utf-8") as out:
                out.writelines(json.dumps(row) + "\n" for row in rows)
    except OSError as exc:
        raise EngineError(f"impact file {path}: cannot write: {exc}") from exc
    return len(rows)
