"""lineage: a provenance graph store for AI-training-data compliance.

Does any training example descend from a restricted AI-tool output? ::

    import lineage

    db = lineage.open("lineage.duckdb")
    db.ingest("events", "examples/events.ndjson")
    db.set_policy(open("examples/policy.toml").read())
    report = db.gate("code-pretrain@v1")          # report.passed, report.counts, report.tainted
    verdict = db.verdict("code-pretrain@v1:ex-002")  # status, sources, witness paths, evidence
    graph = db.lineage("example:code-pretrain@v1:ex-002")  # a networkx.DiGraph of its ancestry
    past = db.as_of("2026-03-01T00:00:00Z").gate("code-pretrain@v1")

The names below are the public API (`lineage.database` documents each). They are imported on
first use, so `lineage capture`, which runs inside every agent tool call, stays fast.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "open": "lineage.database",
    "Database": "lineage.database",
    "Snapshot": "lineage.database",
    "UsageError": "lineage.database",
    "Mode": "lineage.engine",
    "Status": "lineage.engine",
    "GateReport": "lineage.engine",
    "Counts": "lineage.engine",
    "ToolCount": "lineage.engine",
    "RepoCount": "lineage.engine",
    "TaintedExample": "lineage.engine",
    "UnknownExample": "lineage.engine",
    "WaiverUse": "lineage.engine",
    "Verdict": "lineage.engine",
    "Step": "lineage.engine",
    "EngineError": "lineage.engine",
    "NoPolicyError": "lineage.engine",
    "ExportError": "lineage.export",
    "ExportSummary": "lineage.export",
    "IngestReport": "lineage.store",
    "PolicyVersion": "lineage.store",
    "StoreError": "lineage.store",
    "ImpactReport": "lineage.engine",
    "Policy": "lineage.policy",
    "Restriction": "lineage.policy",
    "Server": "lineage.client",
    "ServerError": "lineage.client",
    "PolicyError": "lineage.policy",
    "parse_policy": "lineage.policy",
    "Rejection": "lineage.facts",
    "VerifyResult": "lineage.eventlog",
    "InputError": "lineage.loaders.files",
}
__all__ = [
    "Counts",
    "ToolCount",
    "RepoCount",
    "TaintedExample",
    "UnknownExample",
    "WaiverUse",
    "EXAMPLES",
    "Database",
    "EngineError",
    "ExportError",
    "ExportSummary",
    "GateReport",
    "ImpactReport",
    "IngestReport",
    "InputError",
    "Mode",
    "NoPolicyError",
    "Policy",
    "PolicyError",
    "PolicyVersion",
    "Rejection",
    "Restriction",
    "Server",
    "ServerError",
    "Snapshot",
    "Status",
    "Step",
    "StoreError",
    "UsageError",
    "Verdict",
    "VerifyResult",
    "__version__",
    "open",
    "parse_policy",
]

if TYPE_CHECKING:
    from pathlib import Path

    from lineage.client import Server, ServerError
    from lineage.database import Database, Snapshot, UsageError, open
    from lineage.engine import (
        Counts,
        EngineError,
        GateReport,
        ImpactReport,
        Mode,
        NoPolicyError,
        RepoCount,
        Status,
        Step,
        TaintedExample,
        ToolCount,
        UnknownExample,
        Verdict,
        WaiverUse,
    )
    from lineage.eventlog import VerifyResult
    from lineage.export import ExportError, ExportSummary
    from lineage.facts import Rejection
    from lineage.loaders.files import InputError
    from lineage.policy import Policy, PolicyError, Restriction, parse_policy
    from lineage.store import IngestReport, PolicyVersion, StoreError

    EXAMPLES: Path


def __getattr__(name: str) -> Any:
    if name == "EXAMPLES":  # the bundled example scenario (events, manifests, policy)
        from importlib.resources import files
        from pathlib import Path

        return Path(str(files("lineage.examples")))
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lineage' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
