"""The `lineage` command line: a thin layer over the store, the loaders and the engine.

Exit codes: 0 success (the gate passed), 1 the gate failed, 2 usage or input error.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TextIO

from lineage import engine, progress, report, w3c_prov
from lineage.client import Server, ServerError
from lineage.database import Database, UsageError, check_source
from lineage.facts import Batch
from lineage.loaders import LOADERS, RECORD_SOURCES, SPLITS_FILES, SUFFIXES
from lineage.loaders.files import InputError, expand_paths
from lineage.policy import PolicyError, Restriction
from lineage.store import (
    IngestReport,
    NoStoreError,
    StoreError,
    StoreLockedError,
    default_db_path,
)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it: never a pass


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


MAIN_EPILOG = """\
examples:
  lineage demo                                   # the bundled scenario, end to end
  lineage ingest events examples/events.ndjson   # canonical NDJSON events
  lineage policy set examples/policy.toml        # which tools are restricted
  lineage gate code-pretrain@v1                  # exit 1 if any example is tainted
  lineage explain code-pretrain@v1:ex-003        # witness path with its evidence
  lineage verify                                 # recompute the event log's hash chain

The store is a DuckDB file: --db PATH, else $LINEAGE_DB, else ./lineage.duckdb.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lineage",
        formatter_class=_formatter,
        epilog=MAIN_EPILOG,
        description="Does any training example descend from a restricted AI-tool output?",
    )
    parser.add_argument(
        "--db",
        default=None,
        metavar="PATH",
        help="store file (default: $LINEAGE_DB or ./lineage.duckdb)",
    )
    parser.add_argument(
        "--memory-limit",
        default=os.environ.get("LINEAGE_MEMORY_LIMIT"),
        metavar="SIZE",
        help="cap the store's memory, e.g. 2GB: big ingests spill to disk "
        "(default: $LINEAGE_MEMORY_LIMIT, else 80%% of RAM)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "ingest",
        formatter_class=_formatter,
        help="load records of one source into the store",
        description="Load records into the store, one transaction per file. "
        "Bad records are rejected with file, line and reason and kept; the rest "
        "loads. Ingesting the same input twice changes nothing.",
        epilog="examples:\n  lineage ingest events examples/events.ndjson\n"
        "  lineage ingest events exports/   # a directory is walked\n"
        "  lineage ingest claude-code ~/.claude/projects ~/.lineage/spool\n"
        "  lineage ingest codex ~/.codex/sessions\n"
        "  lineage ingest cursor ~/.lineage/spool/cursor.jsonl   # gemini-cli, copilot too\n"
        "  lineage ingest agent-trace .agent-trace/traces.jsonl "
        "--repo github.com/acme/widgets\n"
        "  lineage ingest manifest build/manifest/*.parquet\n"
        "  lineage ingest git ~/src/widgets            # only new commits\n"
        "  lineage ingest git mirror.git --repo github.com/acme/widgets\n\n"
        "exit status: 0 when something loaded (or all was already loaded), "
        "1 with --strict when any record was rejected, 2 when nothing could "
        "be read",
    )
    p.add_argument(
        "source",
        choices=sorted(LOADERS),
        metavar="SOURCE",
        help=f"input format: {', '.join(sorted(LOADERS))}",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    p.add_argument(
        "--repo",
        metavar="URL",
        help="agent sources: the repository of paths that no local git checkout or "
        "capture enrichment resolves (paths are then taken relative to the cwd); "
        "git: the repository's name when its `origin` does not say it (a mirror)",
    )
    p.add_argument(
        "--rev",
        metavar="RANGE",
        help="git: the revisions to read (default HEAD, every branch and tag); "
        "commits already in the store are never read again",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    _server_args(p, "send the records (of a git history, what was read of it here) to", "ingester")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any record was rejected (for CI); the rest still loads",
    )
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser(
        "policy",
        help="set or show the restriction policy",
        formatter_class=_formatter,
        epilog="examples:\n  lineage policy set examples/policy.toml\n"
        "  lineage policy show --format json",
    )
    psub = p.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    ps = psub.add_parser("set", help="store a new policy version from a TOML file")
    ps.add_argument("file", metavar="FILE")
    ps.add_argument(
        "--strict",
        action="store_true",
        help="refuse the policy when a rule can match nothing (a tool or model "
        "glob matching no known tool or ingested output) instead of warning",
    )
    ps.set_defaults(run=cmd_policy_set)
    ps = psub.add_parser("show", help="print the policy in force and its history")
    ps.add_argument("--format", choices=["text", "json"], default="text")
    ps.set_defaults(run=cmd_policy_show)

    p = sub.add_parser(
        "gate",
        formatter_class=_formatter,
        help="check every example of a dataset version (exit 1 on taint)",
        description="Check every example of a dataset version against the "
        "policy. Fails closed: UNKNOWN lineage fails unless --allow-unknown.",
        epilog="examples:\n  lineage gate code-pretrain@v1\n"
        "  lineage gate code-pretrain@v1 --mode strict --format json\n"
        "  lineage gate code-pretrain@v1 --as-of 2026-03-01 --format markdown\n"
        "  lineage gate code-pretrain@v1 --out verdicts.jsonl\n"
        "  lineage gate code-pretrain@v1 --server http://lineage:8765 --token $READER_TOKEN\n"
        "  lineage gate code-pretrain@v1 --engine spark --out verdicts.parquet\n"
        "  lineage gate code-pretrain@v1 --engine spark --export /shared/export \\\n"
        "      --spark-master spark://spark-master:7077\n\n"
        "exit status: 0 passed, 1 failed, 2 usage or input error",
    )
    p.add_argument("dataset", metavar="DATASET[@VERSION]")
    _mode_args(p)
    p.add_argument(
        "--allow-unknown",
        action="store_true",
        help="pass even when some examples have unknown lineage",
    )
    p.add_argument(
        "--format",
        choices=["text", "json", "markdown", "junit"],
        default="text",
        help="junit: a JUnit XML report, a failing test case per failing example",
    )
    p.add_argument(
        "--out",
        metavar="FILE.jsonl|FILE.parquet",
        help="write every example's verdict (example, key, status, sources) as "
        "JSON lines or Parquet, by the file's suffix, in the order the examples "
        "were ingested",
    )
    p.add_argument(
        "--max-paths",
        type=int,
        default=20,
        metavar="N",
        help="witness paths to include (default 20)",
    )
    _server_args(p, "ask", "reader")
    spark = p.add_argument_group(
        "Apache Spark",
        "the same propagation and gate as PySpark jobs over an export "
        "(`lineage export parquet DIR`); needs `pip install 'lineage[spark]'` and Java 17",
    )
    spark.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb: the store itself (default); spark: Spark jobs, no witness paths "
        "(`lineage explain` shows one); --out then names a directory of part files",
    )
    spark.add_argument(
        "--spark-master",
        metavar="URL",
        help="local[*], spark://HOST:7077, yarn, k8s://... (default: spark-submit's "
        "--master, else local[*])",
    )
    spark.add_argument(
        "--export",
        metavar="DIR",
        help="the export to gate, on storage every Spark node reads (required on a "
        "cluster); default: export the store (--db) to a temporary directory",
    )
    spark.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting, e.g. spark.driver.memory=8g (repeatable)",
    )
    p.set_defaults(run=cmd_gate)

    p = sub.add_parser(
        "datasets",
        formatter_class=_formatter,
        help="every dataset version with its example count and gate status",
        description="List every dataset version the store holds: its examples, how many are "
        "tainted, unknown and clean, and whether its gate passes, under the policy in force "
        "(exit 0 whatever the gates decide; `lineage gate` fails a build).",
        epilog="examples:\n  lineage datasets\n  lineage datasets --mode strict --format json",
    )
    _mode_args(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    _server_args(p, "ask", "reader")
    p.set_defaults(run=cmd_datasets)

    p = sub.add_parser(
        "outputs",
        formatter_class=_formatter,
        help="the outputs the policy restricts, by tool, model, repository and time",
        description="List every output (and session) the policy in force restricts, by tool, "
        "model, repository and time, with whether a waiver lifts it and how many examples "
        "it taints.",
        epilog="examples:\n  lineage outputs\n  lineage outputs --as-of 2026-03-01 --format json",
    )
    _mode_args(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    _server_args(p, "ask", "reader")
    p.set_defaults(run=cmd_outputs)

    p = sub.add_parser(
        "impact",
        formatter_class=_formatter,
        help="every training example given outputs reach (after an incident)",
        description="The reverse of a gate: which examples, by dataset version, do these "
        "outputs reach, in precise and strict modes? Name them as NODEs (an output, a session "
        "with its outputs, a commit with the outputs its trailers, author or git-ai note "
        "name), or select them by tool (a model, a time window, a repository), or both (the "
        "named ones of that tool). Computed by the same propagation as a gate, from those "
        "outputs only, exact and without a depth cap; waivers do not apply.",
        epilog="examples:\n  lineage impact --tool codex --repo github.com/acme/widgets "
        "--since 2026-11-01\n  lineage impact --tool claude-code --model 'claude-opus-*' "
        "--format json --paths 5\n  lineage impact output:toolu_01B session:sess-claude-1\n"
        "  lineage impact commit:github.com/acme/widgets@4f2a... --out reached.parquet",
    )
    p.add_argument(
        "nodes",
        nargs="*",
        metavar="NODE",
        help="an output, a session or a commit, by key (output:ID, session:ID, commit:REPO@SHA)",
    )
    p.add_argument("--tool", help="the tool (a glob, as in a policy)")
    p.add_argument("--model", help="the model (a glob)")
    p.add_argument("--since", metavar="TIME", help="outputs from this date or time on")
    p.add_argument("--until", metavar="TIME", help="outputs up to this date or time")
    p.add_argument("--repo", action="append", default=[], help="a repository (a glob; repeat)")
    p.add_argument(
        "--paths", type=int, default=0, metavar="N", help="witness paths of the first N examples"
    )
    p.add_argument(
        "--out",
        metavar="FILE.jsonl|FILE.parquet",
        help="write every example reached (dataset, example, precise, sources) as JSON lines "
        "or Parquet, by the file's suffix: the whole list, however long",
    )
    _as_of_arg(p, "with outputs and examples as they stood then")
    p.add_argument("--format", choices=["text", "json"], default="text")
    _server_args(p, "ask", "reader")
    p.set_defaults(run=cmd_impact)

    p = sub.add_parser(
        "explain",
        formatter_class=_formatter,
        help="why an example is TAINTED, UNKNOWN or CLEAN",
        epilog="examples:\n  lineage explain code-pretrain@v1:ex-003\n"
        "  lineage explain ex-003 --mode strict --format json",
    )
    p.add_argument(
        "example", metavar="EXAMPLE", help="DATASET@VERSION:ID, or a bare ID when it is unique"
    )
    _mode_args(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    _server_args(p, "ask", "reader")
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser(
        "blame",
        formatter_class=_formatter,
        help="each line of a file with the AI outputs it is attributed to",
        description="Like git blame: every line of PATH at REV in the checkout "
        "REPO, with the tool, model, output and evidence of each attribution. "
        "Ingest the repository first (`lineage ingest git REPO`).",
        epilog="examples:\n  lineage blame ~/src/widgets src/widgets/api.py\n"
        "  lineage blame . src/app.py --rev v1.2 --format json",
    )
    p.add_argument("repo", metavar="REPO", help="a local checkout of the repository")
    p.add_argument("path", metavar="PATH", help="repo-relative path of the file")
    p.add_argument("--rev", default="HEAD", help="the revision to show (default HEAD)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    _server_args(p, "ask (the file is read from REPO here)", "reader")
    p.set_defaults(run=cmd_blame)

    p = sub.add_parser(
        "export",
        formatter_class=_formatter,
        help="hand evidence on in a standard format (W3C PROV)",
        description="Write what the store knows in a standard format.",
    )
    esub = p.add_subparsers(dest="format_name", metavar="FORMAT", required=True)
    pe = esub.add_parser(
        "prov",
        formatter_class=_formatter,
        help="an example's lineage or a gate's witness paths as W3C PROV-JSON",
        description="Write W3C PROV-JSON (read back with the prov package's prov.read): "
        "entities, activities and agents with wasDerivedFrom, wasGeneratedBy and "
        "wasAttributedTo along each witness path, the verdict (status, mode, policy hash, "
        "as of) on each example and, with --dataset, the gate's counts and hadMember.",
        epilog="examples:\n  lineage export prov code-pretrain@v1:ex-014 --out ex-014.prov.json\n"
        "  lineage export prov --dataset code-pretrain@v1 --out gate.prov.json",
    )
    target = pe.add_mutually_exclusive_group(required=True)
    target.add_argument("example", metavar="EXAMPLE", nargs="?", help="DATASET@VERSION:ID")
    target.add_argument("--dataset", metavar="DATASET", help="a dataset version's gate")
    pe.add_argument("--out", required=True, metavar="FILE", help="the PROV-JSON file to write")
    _mode_args(pe)
    pe.set_defaults(run=cmd_export_prov)
    pe = esub.add_parser(
        "parquet",
        formatter_class=_formatter,
        help="what propagation and the gate read, as partitioned Parquet (for Spark)",
        description="Write the nodes, derivation edges with their spans, the lines restricted "
        "outputs wrote, the restricted roots under the policy in force (and its hash), the "
        "active waivers and the examples of every dataset version, as of a point of the log, "
        "as Parquet in DIR (nodes/ and edges/ partitioned by kind=, members/ by "
        "dataset_version=), with export.json saying "
        "what it holds. `lineage gate --engine spark --export DIR` gates it.",
        epilog="examples:\n  lineage export parquet lineage-export\n"
        "  lineage export parquet /shared/lineage-2026-03-01 --as-of 2026-03-01",
    )
    pe.add_argument("directory", metavar="DIR", help="a new (or empty) directory")
    _as_of_arg(pe, "under the policy and waivers in force then")
    pe.set_defaults(run=cmd_export_parquet)

    p = sub.add_parser(
        "verify",
        help="recompute the event log's hash chain",
        description="Recompute every event's hash and the chain of ingest "
        "batches; exit 1 and name the rows when anything was altered.",
    )
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser(
        "capture",
        formatter_class=_formatter,
        help="hook command for Claude Code, Codex, Cursor, Gemini CLI, Copilot CLI",
        description="Read one hook payload on stdin, add capture time, git "
        "toplevel, remote, HEAD and user, and append it to the spool. Always "
        "exits 0 quickly, so it never slows down or breaks the agent.",
        epilog="hook setup, one line per agent:\n"
        "  Claude Code, .claude/settings.json:\n"
        '    {"hooks": {"PostToolUse": [{"matcher": "Write|Edit|MultiEdit|NotebookEdit|Bash", '
        '"hooks": [{"type": "command", "command": "lineage capture claude-code"}]}]}}\n'
        "  Codex, ~/.codex/hooks.json: the same, with `lineage capture codex`\n"
        "  Cursor, .cursor/hooks.json:\n"
        '    {"version": 1, "hooks": {"afterFileEdit": [{"command": "lineage capture cursor"}], '
        '"sessionStart": [{"command": "lineage capture cursor"}]}}\n'
        "  Gemini CLI, .gemini/settings.json:\n"
        '    {"hooks": {"AfterTool": [{"matcher": "write_file|replace|run_shell_command", '
        '"hooks": [{"type": "command", "command": "lineage capture gemini-cli"}]}]}}\n'
        "  Copilot CLI, .github/hooks/lineage.json:\n"
        '    {"version": 1, "hooks": {"postToolUse": [{"type": "command", '
        '"bash": "lineage capture copilot --event postToolUse"}]}}\n\n'
        "then: lineage ingest TOOL ~/.lineage/spool/TOOL.jsonl",
    )
    p.add_argument("tool", choices=["claude-code", "codex", "cursor", "gemini-cli", "copilot"])
    p.add_argument(
        "--event",
        metavar="NAME",
        help="the hook event, for agents whose payload does not name it (Copilot CLI's "
        "camelCase hooks: `--event postToolUse`)",
    )
    p.add_argument(
        "--spool",
        metavar="PATH",
        help="spool file (default $LINEAGE_SPOOL or ~/.lineage/spool/TOOL.jsonl)",
    )
    p.add_argument(
        "--server",
        metavar="URL",
        help="post to a running `lineage serve` instead (default $LINEAGE_SERVER); "
        "spooled when it cannot be reached",
    )
    p.add_argument("--token", metavar="T", help="ingester token (default $LINEAGE_TOKEN)")
    p.set_defaults(run=cmd_capture)

    p = sub.add_parser(
        "serve",
        formatter_class=_formatter,
        help="run the dashboard, GraphQL and ingestion server",
        description="Serve the dashboard at / (it reads the GraphQL API), GraphQL at "
        "/graphql (GraphiQL in a browser), bulk "
        "ingestion at POST /events, the OpenLineage HTTP transport at POST "
        "/api/v1/lineage, the CLI's reports under /v1/ (`lineage gate|explain|blame|datasets|"
        "outputs|impact --server URL`, `lineage ingest --server URL git REPO`) and GET "
        "/healthz. The server holds the store file.",
        epilog="tokens: LINEAGE_TOKENS='reader:r-secret,ingester:i-secret,"
        "admin:a-secret' or --tokens FILE (one ROLE:TOKEN per line).\n"
        "Without tokens the server binds loopback only and is read-only.\n\n"
        "examples:\n  lineage serve\n"
        "  LINEAGE_TOKENS=... lineage serve --host 0.0.0.0 --port 8080",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--tokens", metavar="FILE", help="token file (default $LINEAGE_TOKENS)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser(
        "demo",
        help="run the bundled example scenario in a temporary store",
        description="Build a fresh store from examples/, set its policy, gate "
        "the dataset and explain one witness path. Nothing outside a temporary "
        "directory is touched.",
    )
    p.add_argument("--keep", metavar="DIR", help="build the store in DIR and keep it")
    p.set_defaults(run=cmd_demo)
    return parser


def _mode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mode",
        choices=engine.MODES,
        default="precise",
        help="precise: restricted lines must reach the example (default); "
        "strict: any restricted ancestor",
    )
    _as_of_arg(p, "under the policy in force then")


def _as_of_arg(p: argparse.ArgumentParser, then: str) -> None:
    """`--as-of SEQ|TIME`; `then` says what else holds at that point."""
    p.add_argument(
        "--as-of",
        metavar="SEQ|TIME",
        default=None,
        help=f"answer with only the events up to this seq or time, {then}",
    )


def _server_args(p: argparse.ArgumentParser, verb: str, role: str) -> None:
    """`--server URL` and `--token T`, for commands a running `lineage serve` answers."""
    p.add_argument(
        "--server",
        metavar="URL",
        help=f"{verb} a running `lineage serve` (which holds the store) instead of "
        "opening the store file (default $LINEAGE_SERVER, unless --db is given)",
    )
    p.add_argument(
        "--token", metavar="T", help=f"a {role} token for --server (default $LINEAGE_TOKEN)"
    )


def _server(args: argparse.Namespace) -> Server | None:
    """The server to ask: --server, else $LINEAGE_SERVER unless --db names a store file;
    None for the local store."""
    url = args.server or (None if args.db else os.environ.get("LINEAGE_SERVER"))
    if not url:
        return None
    return Server(url, args.token or os.environ.get("LINEAGE_TOKEN"))


def _database(
    args: argparse.Namespace, *, read_only: bool = False, create: bool = False
) -> Database:
    """The store named by --db or $LINEAGE_DB; only commands that write records create one,
    so a mistyped path is an error, never an empty store that answers."""
    path = args.db or default_db_path()
    try:
        return Database(path, read_only=read_only, memory_limit=args.memory_limit, create=create)
    except NoStoreError as exc:
        raise UsageError(
            f"{exc} (`lineage --db {path} ingest events FILE`), or name the store with "
            "--db PATH or $LINEAGE_DB"
        ) from exc
    except StoreLockedError as exc:
        raise UsageError(
            f"{exc}. While `lineage serve` holds the store, ask it: `--server URL` "
            "(gate, explain, blame, datasets, outputs, impact, ingest); or use another --db"
        ) from exc


def cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    check_source(args.source, args.repo, args.rev)
    server = _server(args)
    if server is not None and args.source in RECORD_SOURCES:
        total = server.ingest(
            args.source, expand_paths(args.paths, SUFFIXES[args.source]), args.repo
        )
        return _ingest_summary(args, total, out)
    files = (
        None
        if args.source in SPLITS_FILES  # None: count batches
        else len(expand_paths(args.paths, SUFFIXES[args.source]))
    )
    with progress.counting(f"ingest {args.source}", files) as advance:

        def told(batch: Batch, rep: IngestReport) -> None:
            advance()
            print(
                f"{batch.input or args.source}: {rep.accepted} accepted, "
                f"{rep.duplicate} duplicate, {rep.rejected} rejected, "
                f"{rep.ignored} ignored{_kinds(rep)}",
                file=sys.stderr,
            )
            for rejection in rep.rejections[:MAX_REJECTIONS_SHOWN]:
                print(f"  rejected {rejection}", file=sys.stderr)
            if len(rep.rejections) > MAX_REJECTIONS_SHOWN:
                print(
                    f"  ... and {len(rep.rejections) - MAX_REJECTIONS_SHOWN} more "
                    "rejected (every one is kept with its reason in the store's "
                    "`rejected` table)",
                    file=sys.stderr,
                )

        if server is not None:  # a git history: read here, stored by the server
            total = server.ingest_git(args.paths, repo=args.repo, rev=args.rev, on_batch=told)
        else:
            with _database(args, create=True) as db:
                total = db.ingest(
                    args.source, *args.paths, repo=args.repo, rev=args.rev, on_batch=told
                )
    return _ingest_summary(args, total, out)


MAX_REJECTIONS_SHOWN = 20  # per input file, on stderr


def _kinds(report: IngestReport) -> str:
    """` (kind: n, ...)` for what was ignored, most first; empty when nothing was."""
    if not report.ignored_kinds:
        return ""
    ranked = sorted(report.ignored_kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    return " (" + ", ".join(f"{kind}: {n}" for kind, n in ranked) + ")"


def _ingest_summary(args: argparse.Namespace, total: IngestReport, out: TextIO) -> int:
    if args.format == "json":
        print(json.dumps(total.as_dict(), indent=2), file=out)
    else:
        print(
            f"{total.accepted} accepted, {total.duplicate} duplicate, {total.rejected} rejected"
            f", {total.ignored} ignored{_kinds(total)}",
            file=out,
        )
        for note in total.notes:
            print(f"note: {note}", file=out)
    if total.accepted == 0 and total.duplicate == 0 and total.rejected:
        return EXIT_USAGE
    if args.strict and total.rejected:
        print(f"--strict: {total.rejected} record(s) rejected", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def cmd_policy_set(args: argparse.Namespace, out: TextIO) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the policy file ({exc.strerror})") from exc
    with _database(args, create=True) as db:
        version = db.set_policy(text, str(path), strict=args.strict)
        policy = version.policy
        warnings = db.policy_warnings(policy)
    print(
        f"policy version {version.version} in force, hash {version.hash} "
        f"({len(policy.restrict)} restrictions, {len(policy.waive)} waivers)",
        file=out,
    )
    for warning in warnings:
        print(f"warning: {path}: {warning}", file=sys.stderr)
    return EXIT_OK


def cmd_policy_show(args: argparse.Namespace, out: TextIO) -> int:
    with _database(args, read_only=True) as db:
        versions = db.policy_versions()
    if not versions:
        raise UsageError("no policy set yet: run `lineage policy set FILE.toml`")
    current = versions[-1]
    if args.format == "json":
        print(
            json.dumps(
                {
                    "version": current.version,
                    "hash": current.hash,
                    "seq": current.seq,
                    "set_at": current.set_at.isoformat(),
                    "toml": current.policy.toml,
                    "history": [
                        {
                            "version": v.version,
                            "hash": v.hash,
                            "seq": v.seq,
                            "set_at": v.set_at.isoformat(),
                        }
                        for v in versions
                    ],
                },
                indent=2,
            ),
            file=out,
        )
        return EXIT_OK
    print(
        f"# policy version {current.version}, hash {current.hash}, set at "
        f"{current.set_at.isoformat()} (event {current.seq})",
        file=out,
    )
    print(current.policy.toml.rstrip(), file=out)
    if len(versions) > 1:
        print("# history: " + ", ".join(f"v{v.version} {v.hash}" for v in versions), file=out)
    return EXIT_OK


def cmd_gate(args: argparse.Namespace, out: TextIO) -> int:
    server = _server(args)
    if args.engine == "spark":
        rep = _spark_gate(args, server)
    elif server is not None:
        with progress.phase(f"gating {args.dataset} on {server.url}"):
            rep = server.gate(
                args.dataset,
                args.mode,
                allow_unknown=args.allow_unknown,
                max_paths=args.max_paths,
                as_of=args.as_of,
            )
        if args.out:
            with progress.phase(f"writing {args.out}"):
                server.write_verdicts(args.dataset, args.out, args.mode, as_of=args.as_of)
    else:
        with _database(args) as db:
            with progress.phase("propagating taint"):
                snapshot = db.as_of(args.as_of)
            with progress.phase(f"gating {args.dataset}"):
                rep = snapshot.gate(
                    args.dataset,
                    args.mode,
                    allow_unknown=args.allow_unknown,
                    max_paths=args.max_paths,
                )
            if args.out:
                with progress.phase(f"writing {args.out}"):
                    snapshot.write_verdicts(args.dataset, args.out, args.mode)
    args.outcome = EXIT_OK if rep.passed else EXIT_FAIL  # kept if the reader leaves
    if args.format == "json":
        print(json.dumps(rep.as_dict(), indent=2, default=str), file=out)
    elif args.format == "markdown":
        print(report.gate_markdown(rep), file=out, end="")
    elif args.format == "junit":
        print(report.gate_junit(rep), file=out)
    else:
        print(report.gate_text(rep), file=out)
    return args.outcome


def _spark_gate(args: argparse.Namespace, server: Server | None) -> engine.GateReport:
    """`lineage gate --engine spark`: the gate of lineage.spark over --export, or over an
    export of the store to a temporary directory."""
    if server is not None and args.server:
        raise UsageError("--engine spark gates an export, not a server: drop --server")
    if args.export and args.as_of is not None:
        raise UsageError(
            "an export is as of the point it was written at: drop --as-of, or write an "
            "export as of it (`lineage export parquet DIR --as-of ...`)"
        )
    try:
        from lineage import spark as spark_engine
    except ImportError as exc:
        raise UsageError(
            f"--engine spark needs pyspark ({exc}): pip install 'lineage[spark]' (pyspark 4, "
            "which runs on Java 17)"
        ) from exc
    conf = dict(_setting(item) for item in args.spark_conf)
    with contextlib.ExitStack() as stack:
        with progress.phase("starting Spark"):
            spark = spark_engine.session(args.spark_master, conf)
        if spark_engine.is_local(spark):
            spark.sparkContext.setLogLevel("ERROR")  # a cluster's operators keep its logs
        directory = args.export
        if directory is None:
            if not spark_engine.is_local(spark):
                raise UsageError(
                    f"on a cluster ({spark.sparkContext.master}) the executors read the "
                    "export: write it where they all see it (`lineage export parquet DIR`) "
                    "and name it with --export DIR"
                )
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="lineage-"))
            directory = os.path.join(scratch, "export")
            with _database(args, read_only=True) as db, progress.phase("exporting the store"):
                db.export_parquet(directory, args.as_of)
        gate = spark_engine.SparkGate(spark, directory)
        stack.callback(gate.close)
        with progress.phase(f"gating {args.dataset} on Spark ({spark.sparkContext.master})"):
            rep = gate.gate(args.dataset, args.mode, allow_unknown=args.allow_unknown)
        if args.out:
            with progress.phase(f"writing {args.out}"):
                gate.write_verdicts(args.dataset, args.out, args.mode)
    # A note for a person: under spark-submit stderr joins stdout, which may be the JSON.
    if rep.tainted and progress.interactive():
        print(
            "lineage: the Spark gate lists no witness paths: `lineage explain EXAMPLE` shows "
            "one from the store",
            file=sys.stderr,
        )
    return rep


def _setting(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise UsageError(f"--spark-conf {item!r}: write KEY=VALUE (spark.driver.memory=8g)")
    return key, value


def cmd_datasets(args: argparse.Namespace, out: TextIO) -> int:
    server = _server(args)
    if server is not None:
        reports = server.dataset_gates(args.mode, as_of=args.as_of)
    else:
        with _database(args) as db:
            with progress.phase("propagating taint"):
                snapshot = db.as_of(args.as_of)
            reports = snapshot.dataset_gates(args.mode)
    if args.format == "json":
        rows = [
            {
                "dataset": r.dataset,
                "passed": r.passed,
                "counts": asdict(r.counts),
                "mode": str(r.mode),
                "policy_hash": r.policy_hash,
                "as_of": r.as_of,
            }
            for r in reports
        ]
        print(json.dumps(rows, indent=2), file=out)
        return EXIT_OK
    if not reports:
        print("no dataset versions: ingest a manifest (`lineage ingest manifest FILE`)", file=out)
        return EXIT_OK
    width = max(len(r.dataset) for r in reports)
    print(f"{'dataset version':<{width}}  gate    examples  tainted  unknown    clean", file=out)
    for r in reports:
        c = r.counts
        print(
            f"{r.dataset:<{width}}  {'PASSED' if r.passed else 'FAILED'}  "
            f"{c.examples:>8}  {c.tainted:>7}  {c.unknown:>7}  {c.clean:>7}",
            file=out,
        )
    first = reports[0]
    print(f"({first.mode} mode, policy {first.policy_hash}, as of event {first.as_of})", file=out)
    return EXIT_OK


MAX_IMPACT_LISTED = 100_000  # examples listed per dataset version and mode (--out: all)
MAX_REMOTE_IMPACT_LISTED = 100_000_000  # what a server lists (api.reports): --out is complete


def cmd_impact(args: argparse.Namespace, out: TextIO) -> int:
    selection = None
    if args.tool or args.model or args.since or args.until or args.repo:
        if not args.tool:
            raise UsageError("--model, --since, --until and --repo select outputs of a --tool")
        selection = Restriction(
            reason="impact",
            tool=args.tool,
            model=args.model,
            since=args.since,
            until=args.until,
            repos=tuple(args.repo),
        )
    elif not args.nodes:
        raise UsageError(
            "name what to trace: NODEs (output:ID, session:ID, commit:REPO@SHA) or --tool T"
        )
    listed = 2**62 if args.out else MAX_IMPACT_LISTED
    server = _server(args)
    if server is not None:
        found = server.impact(
            selection,
            nodes=args.nodes,
            max_paths=args.paths,
            max_listed=min(listed, MAX_REMOTE_IMPACT_LISTED),
            as_of=args.as_of,
        )
    else:
        with _database(args) as db, progress.phase("propagating from the selected outputs"):
            found = db.as_of(args.as_of).impact(
                selection, nodes=args.nodes, max_paths=args.paths, max_listed=listed
            )
    if args.out:
        written = report.write_impact(found, args.out)
        print(f"wrote {args.out}: {written} examples reached", file=sys.stderr)
        # the file has them all; the answer lists what it lists without --out
        found = replace(
            found,
            datasets=[
                replace(
                    d, precise=d.precise[:MAX_IMPACT_LISTED], strict=d.strict[:MAX_IMPACT_LISTED]
                )
                for d in found.datasets
            ],
        )
    if args.format == "json":
        print(json.dumps(found.as_dict(), indent=2, default=str), file=out)
        return EXIT_OK
    shown = {
        k: v
        for k, v in found.selection.items()
        if not (k == "nodes" and "named" in found.selection)
    }
    chosen = ", ".join(
        f"{k} {', '.join(v) if isinstance(v, list | tuple) else v}" for k, v in shown.items()
    )
    if not found.datasets:
        print(f"outputs of {chosen} reach no example (as of event {found.as_of})", file=out)
        return EXIT_OK
    print(f"outputs of {chosen} reach (as of event {found.as_of}):", file=out)
    for d in found.datasets:
        print(f"  {d.dataset}: {d.precise_count} precise, {d.strict_count} strict", file=out)
        precise = {t.example for t in d.precise}
        for t in d.strict:
            mode = "precise" if t.example in precise else "strict only"
            print(f"    {t.example} ({mode}) <- {', '.join(t.sources)}", file=out)
        for t in d.precise:
            if t.path:
                print(f"    witness path of {t.example}:", file=out)
                print("\n".join(report.path_text(t.path, "      ")), file=out)
    return EXIT_OK


def cmd_outputs(args: argparse.Namespace, out: TextIO) -> int:
    server = _server(args)
    if server is not None:
        seq, found = server.restricted_outputs(args.mode, as_of=args.as_of)
    else:
        with _database(args) as db:
            with progress.phase("propagating taint"):
                snapshot = db.as_of(args.as_of)
            seq, found = snapshot.seq, snapshot.restricted_outputs(args.mode)
    if args.format == "json":
        print(json.dumps([o.as_dict() for o in found], indent=2), file=out)
        return EXIT_OK
    if not found:
        print("no output is restricted by the policy in force", file=out)
        return EXIT_OK
    for o in found:
        waived = "  (waived)" if o.waived else ""
        print(
            f"{o.tool or '?'}  {o.model or '(model unknown)'}  {o.repo or '(no repository)'}  "
            f"{o.time or '(time unknown)'}  {o.node}: taints {o.tainted_examples} "
            f"example{'s' if o.tainted_examples != 1 else ''}{waived}",
            file=out,
        )
    print(f"({len(found)} restricted, {args.mode} mode, as of event {seq})", file=out)
    return EXIT_OK


def cmd_export_prov(args: argparse.Namespace, out: TextIO) -> int:
    with _database(args) as db:

        def attributes(key: str) -> dict[str, object]:
            node = db.node(key)
            return node.attrs if node is not None else {}

        if args.dataset:
            with progress.phase("propagating taint"):
                snapshot = db.as_of(args.as_of)
            gate = snapshot.gate(args.dataset, args.mode, max_paths=1000)
            doc = w3c_prov.gate_document(gate, attributes)
            what = f"the gate of {gate.dataset}"
        else:
            verdict = db.verdict(args.example, args.mode, as_of=args.as_of)
            doc = w3c_prov.verdict_document(verdict, attributes)
            what = f"{verdict.example} ({verdict.status})"
    Path(args.out).write_text(str(doc.serialize(format="json", indent=2)), encoding="utf-8")
    print(f"wrote {args.out}: W3C PROV-JSON of {what}, {len(doc.records)} records", file=out)
    return EXIT_OK


def cmd_export_parquet(args: argparse.Namespace, out: TextIO) -> int:
    with _database(args, read_only=True) as db, progress.phase(f"exporting to {args.directory}"):
        summary = db.export_parquet(args.directory, args.as_of)
    rows = ", ".join(f"{count} {table}" for table, count in summary.rows.items())
    policy = f"policy {summary.policy_hash}" if summary.policy_hash else "no policy in force"
    print(
        f"wrote {summary.directory}: as of event {summary.as_of} ({summary.time}), {policy}: "
        f"{rows}",
        file=out,
    )
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    server = _server(args)
    if server is not None:
        v = server.verdict(args.example, args.mode, as_of=args.as_of)
    else:
        with _database(args) as db:
            v = db.verdict(args.example, args.mode, as_of=args.as_of)
    if args.format == "json":
        print(json.dumps(v.as_dict(), indent=2, default=str), file=out)
    else:
        print(report.verdict_text(v), file=out)
    return EXIT_OK


def cmd_blame(args: argparse.Namespace, out: TextIO) -> int:
    server = _server(args)
    if server is not None:
        found = server.blame(args.repo, args.path, args.rev)
    else:
        with _database(args, read_only=True) as db:
            found = db.blame(args.repo, args.path, args.rev)
    if args.format == "json":
        print(json.dumps(found.as_dict(), indent=2), file=out)
    else:
        print(found.text(), file=out)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    with _database(args, read_only=True) as db:
        result = db.verify()
    if result.ok:
        print(
            f"ok: {result.events} events in {result.batches} batches, hash chain intact", file=out
        )
        return EXIT_OK
    print(f"FAILED: the event log was altered ({len(result.problems)} problems)", file=out)
    for problem in result.problems:
        print(f"  {problem}", file=out)
    return EXIT_FAIL


def cmd_capture(args: argparse.Namespace, out: TextIO) -> int:
    from lineage.capture import main as capture_main

    return capture_main(args.tool, args.spool, args.server, args.token, args.event)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from lineage.api.auth import TokenError, load_tokens
    from lineage.api.serve import serve

    try:
        tokens = load_tokens(args.tokens)
    except TokenError as exc:
        raise UsageError(str(exc)) from exc
    if not tokens.configured and args.host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError(
            f"refusing to serve on {args.host} without tokens: set LINEAGE_TOKENS "
            "or --tokens, or bind 127.0.0.1"
        )
    with _database(args, create=True) as db:
        print(
            f"lineage: serving {db.store.path}: dashboard http://{args.host}:{args.port}/, "
            f"GraphQL http://{args.host}:{args.port}/graphql "
            f"({'tokens required' if tokens.configured else 'loopback, read-only'})",
            file=sys.stderr,
        )
        serve(db, tokens, args.host, args.port)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from lineage.demo import run_demo

    return run_demo(out, keep=args.keep)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace, TextIO], int] = args.run
    try:
        return command(args, out)
    except BrokenPipeError:
        # `lineage gate ... | head`: the reader left. That is no reason to pass: a command
        # whose answer was a failure (a gate that found taint) still fails, and one that
        # never got to say is a failure too.
        with contextlib.suppress(OSError, ValueError):  # no real stdout (embedded): fine
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return getattr(args, "outcome", EXIT_FAIL)
    except (
        UsageError,
        StoreError,
        PolicyError,
        engine.EngineError,
        InputError,
        ServerError,
    ) as exc:
        print(f"lineage: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "lineage: interrupted: what was stored before stays (each batch is one "
            "transaction); run the same command again to go on, ingesting again adds only "
            "what is missing",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
