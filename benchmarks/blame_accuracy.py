"""Benchmark: the git loader's line attribution at HEAD against `git blame` ground truth.

    python benchmarks/blame_accuracy.py REPO_PATH [--db PATH] [--notes]
    python benchmarks/blame_accuracy.py REPO_PATH --stats-only
    python benchmarks/blame_accuracy.py REPO_PATH --db PATH --no-ingest   # evaluate a store

1. Ingests the repository with the project's git loader (`loaders.git`) into a fresh store
   (a temporary file unless --db names one; an existing --db file is refused unless
   --no-ingest), timing it and printing the report and the peak RSS. A watchdog ends the run
   when the ingest passes --limit-s seconds or its RSS passes --limit-gb.
2. Ground truth at HEAD: `git blame --line-porcelain HEAD` of every text file tracked at HEAD
   names the commit of each line; a line is AI when that commit has a `Co-authored-by` line
   (a trailer, or a line outside git's trailer block) naming an AI tool (Claude /
   noreply@anthropic.com, Codex, Aider, Copilot, Cursor, Devin, Gemini, factory-droid), or is
   by an AI author or committer identity (a name ending in "(aider)",
   codex@openai.com, noreply@anthropic.com, Copilot's bot address, claude[bot], Devin AI,
   copilot-swe-agent[bot], Cursor Agent, google-labs-jules[bot]), or its message has the
   line a tool writes into a commit it made (`Generated with Claude Code`, opencode, Crush,
   Codex, Aider, Copilot, Cursor, Gemini CLI). With --notes a line is also
   AI when the git-ai note (refs/notes/ai) of the commit blame names covers the line's original
   number in that commit's version of the file for a key whose session or prompt names an
   agent tool.
3. The store's attribution of each file version at HEAD (`file:{repo}:{path}@{blob}`): a line
   is flagged when any attribution interval covers it. File versions the store lacks are
   counted apart as missing.
4. Prints line and 25-line-chunk recall and precision, false positives by evidence, the
   missing file versions and the files with most false negatives.

Binary files (numstat "-"), symlinks and submodules are skipped. Paths are read NUL-separated,
so spaces and non-ASCII names are handled.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lineage.loaders import git  # noqa: E402
from lineage.store import Store  # noqa: E402

CHUNK = 25
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
AI_COAUTHOR = re.compile(
    r"\b(?:claude|codex|aider|copilot|cursor|devin|gemini)\b|noreply@anthropic\.com"
    r"|factory-droid|windsurf-bot|roomote|ellipsis-dev|coderabbitai|amazon-q-developer"
    r"|lovable-dev|gpt-engineer-app|ampcode\.com|kiro\.dev|tabnine",
    re.I,
)
AI_EMAILS = {
    "codex@openai.com",
    "noreply@anthropic.com",
    "198982749+copilot@users.noreply.github.com",
    "cursoragent@cursor.com",
}
AI_NAMES = {
    "claude",
    "claude[bot]",
    "devin ai",
    "devin-ai-integration[bot]",
    "copilot-swe-agent[bot]",
    "copilot",
    "cursor agent",
    "codex",
    "openai codex",
    "factory-droid[bot]",
    "gemini-code-assist[bot]",
    "google-labs-jules[bot]",
}
_BLAME_HEADER = re.compile(rb"^([0-9a-f]{40}) (\d+) (\d+)(?: \d+)?$")
_COAUTHOR_LINE = re.compile(r"(?im)^\s*co-authored-by:\s*(.+)$")
_GENERATED_LINE = re.compile(
    r"(?im)^\W*generated (?:with|by) \[?(?:claude code|opencode|crush|codex|aider|copilot"
    r"|cursor|gemini cli)\b"
)


# -- git ------------------------------------------------------------------------------------


def run_git(repo: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "core.quotePath=false", *args],
        input=stdin,
        capture_output=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def unquote(path: str) -> str:
    """A C-quoted git path (as blame's `filename` prints one) as text."""
    if len(path) > 1 and path.startswith('"') and path.endswith('"'):
        raw = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        return raw.encode("latin-1").decode("utf-8", "replace")
    return path


@dataclass
class TrackedFile:
    path: str
    blob: str
    mode: str


def head_files(repo: Path) -> tuple[list[TrackedFile], Counter[str]]:
    """Text files at HEAD, and counts of what was skipped and why."""
    skipped: Counter[str] = Counter()
    files: dict[str, TrackedFile] = {}
    for entry in run_git(repo, "ls-tree", "-r", "-z", "--full-tree", "HEAD").split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, blob = meta.decode().split()
        path = name.decode("utf-8", "surrogateescape")
        if kind != "blob":
            skipped["submodule"] += 1
        elif mode == "120000":
            skipped["symlink"] += 1
        else:
            files[path] = TrackedFile(path, blob, mode)
    # a blob this clone lacks (a partial clone, an incomplete mirror) cannot be blamed and
    # would fail the numstat below: count it apart and leave its path out
    wanted = "".join(f"{f.blob}\n" for f in files.values()).encode()
    check = run_git(repo, "cat-file", "--batch-check", stdin=wanted).decode()
    absent = {line.split()[0] for line in check.splitlines() if line.endswith(" missing")}
    lacking = sorted(p for p, f in files.items() if f.blob in absent)
    for path in lacking:
        del files[path]
        skipped["missing blob"] += 1
    excluded = [f":(exclude,literal){p}" for p in lacking]
    numstat = run_git(
        repo, "diff", "--numstat", "-z", "--no-renames", EMPTY_TREE, "HEAD", "--", ".", *excluded
    )
    for entry in numstat.split(b"\0"):
        added, _, rest = entry.partition(b"\t")
        _, _, name = rest.partition(b"\t")
        path = name.decode("utf-8", "surrogateescape")
        if added == b"-" and path in files:
            del files[path]
            skipped["binary"] += 1
    return sorted(files.values(), key=lambda f: f.path), skipped


@dataclass
class BlamedLine:
    commit: str
    orig_line: int
    orig_path: str


def blame(repo: Path, path: str) -> list[BlamedLine] | None:
    """The origin of each line of `path` at HEAD, or None when git blame fails."""
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "core.quotePath=false",
            "blame",
            "--line-porcelain",
            "HEAD",
            "--",
            path,
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    out: list[BlamedLine] = []
    current: tuple[str, int] | None = None
    filename = path
    for raw in done.stdout.split(b"\n"):
        if current is None:
            match = _BLAME_HEADER.match(raw)
            if match:
                current = (match.group(1).decode(), int(match.group(2)))
            continue
        if raw.startswith(b"\t"):
            out.append(BlamedLine(current[0], current[1], filename))
            current = None
        elif raw.startswith(b"filename "):
            filename = unquote(raw[len(b"filename ") :].decode("utf-8", "surrogateescape"))
    return out


# -- ground truth -----------------------------------------------------------------------------


@dataclass
class History:
    commits: int = 0
    merges: int = 0
    ai: dict[str, str] = field(default_factory=dict)  # sha -> why
    by_trailer: int = 0
    by_author: int = 0
    by_committer_only: int = 0
    body_only: int = 0  # AI commits by co-author lines git does not parse as trailers
    generated_only: int = 0  # AI commits by a `Generated with <tool>` line alone
    reverts: int = 0
    mode_only: int = 0
    tools: Counter[str] = field(default_factory=Counter)


def ai_identity(name: str, email: str) -> bool:
    lname, lemail = name.strip().lower(), email.strip().lower()
    return (
        lname.endswith("(aider)")
        or lemail in AI_EMAILS
        or lname in AI_NAMES
        or "copilot@users.noreply.github.com" in lemail
    )


def _tool(text: str) -> str:
    match = re.search(
        r"claude|anthropic|codex|aider|copilot|cursor|devin|gemini|jules|factory-droid",
        text,
        re.I,
    )
    name = match.group(0).lower() if match else "other"
    return "claude" if name == "anthropic" else name


def read_history(repo: Path) -> History:
    """One `git log` over HEAD's history: AI commits and the counts the report prints."""
    fmt = (
        "%H%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00"
        "%(trailers:key=Co-authored-by,valueonly,separator=%x01)%x00%B%x00"
    )
    out = run_git(repo, "log", f"--format=\x1e{fmt}", "HEAD").decode("utf-8", "replace")
    hist = History()
    for record in out.split("\x1e"):
        if not record:
            continue
        sha, parents, an, ae, cn, ce, trailers, body, _ = record.split("\0", 8)
        hist.commits += 1
        hist.merges += len(parents.split()) > 1
        if body.startswith('Revert "') or "This reverts commit" in body:
            hist.reverts += 1
        values = [v for v in trailers.strip().split("\x01") if v.strip()]
        ai_values = [v for v in values if AI_COAUTHOR.search(v)]
        body_values = [v for v in _COAUTHOR_LINE.findall(body) if AI_COAUTHOR.search(v)]
        why = None
        if ai_values:
            why = f"Co-authored-by: {ai_values[0].strip()}"
            hist.by_trailer += 1
        elif ai_identity(an, ae):
            why = f"author {an} <{ae}>"
            hist.by_author += 1
        elif ai_identity(cn, ce):
            why = f"committer {cn} <{ce}>"
            hist.by_committer_only += 1
        elif body_values:
            # a co-author line outside git's trailer block (Copilot CLI's message ends with a
            # `Copilot-Session:` paragraph; a squash merge lists its commits' trailers)
            why = f"Co-authored-by (message body): {body_values[0].strip()}"
            hist.body_only += 1
        elif generated := _GENERATED_LINE.search(body):
            # the line a tool writes into a commit it made, its co-author trailer dropped
            why = f"message: {generated.group(0).strip()}"
            hist.generated_only += 1
        if why:
            hist.ai[sha] = why
            hist.tools[_tool(why)] += 1
    raw = run_git(repo, "log", "--format=", "--raw", "--no-renames", "--no-abbrev", "-z", "HEAD")
    for entry in raw.split(b"\0"):
        if entry.startswith(b":"):
            parts = entry[1:].split()
            if (
                len(parts) >= 5
                and parts[0] != parts[1]
                and parts[2] == parts[3]
                and parts[0] != b"000000"
                and parts[1] != b"000000"
            ):
                hist.mode_only += 1
    return hist


NoteRanges = dict[tuple[str, str], list[tuple[int, int]]]  # (commit, path) -> AI line ranges


def read_notes(repo: Path, commits: set[str]) -> tuple[NoteRanges, dict[str, int]]:
    """AI line ranges of the git-ai notes (refs/notes/ai) on `commits`, and note counts."""
    listing = run_git(repo, "notes", "--ref=ai", "list", check=False).decode()
    pairs = [line.split() for line in listing.splitlines() if len(line.split()) == 2]
    counts = {"notes": len(pairs), "on_head_history": 0, "with_ai_ranges": 0, "unparsed": 0}
    pairs = [(blob, commit) for blob, commit in pairs if commit in commits]
    counts["on_head_history"] = len(pairs)
    ranges: NoteRanges = {}
    if not pairs:
        return ranges, counts
    data = run_git(
        repo, "cat-file", "--batch", stdin="".join(f"{blob}\n" for blob, _ in pairs).encode()
    )
    pos = 0
    for _, commit in pairs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3:
            counts["unparsed"] += 1
            continue
        size = int(header[2])
        text = data[pos : pos + size].decode("utf-8", "replace")
        pos += size + 1
        parsed = parse_note(text)
        if parsed is None:
            counts["unparsed"] += 1
            continue
        if parsed:
            counts["with_ai_ranges"] += 1
        for path, spans in parsed.items():
            ranges.setdefault((commit, path), []).extend(spans)
    return ranges, counts


def parse_note(text: str) -> dict[str, list[tuple[int, int]]] | None:
    """path -> line ranges an agent wrote, from a git-ai authorship note (None: unreadable)."""
    if text.startswith("---"):
        attestation, meta_text = "", text[3:]
    else:
        attestation, sep, meta_text = text.partition("\n---\n")
        if not sep:
            return None
    try:
        meta = json.loads(meta_text.strip() or "{}")
    except json.JSONDecodeError:
        return None
    agents = set()
    for section in ("sessions", "prompts"):
        for key, value in (meta.get(section) or {}).items():
            if isinstance(value, dict) and (value.get("agent_id") or {}).get("tool"):
                agents.add(key)
    out: dict[str, list[tuple[int, int]]] = {}
    path: str | None = None
    for line in attestation.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            path = unquote(line.strip())
            continue
        key, _, spans = line.strip().partition(" ")
        if path is None or (key not in agents and key.split("::", 1)[0] not in agents):
            continue
        for part in spans.split(","):
            first, _, last = part.strip().partition("-")
            if first.isdigit():
                out.setdefault(path, []).append(
                    (int(first), int(last) if last.isdigit() else int(first))
                )
    return out


# -- the store ---------------------------------------------------------------------------------


class Watchdog:
    """Ends the process when the ingest runs too long or grows too large."""

    def __init__(self, limit_s: float, limit_gb: float) -> None:
        self.limit_s, self.limit_kb = limit_s, limit_gb * 1024 * 1024
        self.peak_kb = 0
        self.done = threading.Event()
        self.start = time.monotonic()

    def __enter__(self) -> "Watchdog":
        threading.Thread(target=self._watch, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()

    def _watch(self) -> None:
        while not self.done.wait(0.5):
            rss = _rss_kb()
            self.peak_kb = max(self.peak_kb, rss)
            elapsed = time.monotonic() - self.start
            if elapsed > self.limit_s or rss > self.limit_kb:
                why = (
                    f"{elapsed:.0f} s > {self.limit_s:.0f} s"
                    if elapsed > self.limit_s
                    else f"RSS {rss / 2**20:.1f} GB > {self.limit_kb / 2**20:.1f} GB"
                )
                print(
                    f"\nABORTED ingest: {why} (peak RSS {self.peak_kb / 1024:.0f} MB)", flush=True
                )
                os._exit(3)


def _rss_kb() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def ingest(
    store: Store, repo: Path, limit_s: float, limit_gb: float, rev: str | None = None
) -> bool:
    start = time.monotonic()
    ok = True
    try:
        with Watchdog(limit_s, limit_gb):
            for batch in git.load([repo], rev=rev):
                loaded = time.monotonic()
                print(
                    f"loader: {len(batch.records)} records, {len(batch.notes)} notes, "
                    f"{loaded - start:.1f} s",
                    flush=True,
                )
                report = store.ingest(batch)
                print(
                    f"ingest: accepted {report.accepted}, rejected {report.rejected}, "
                    f"duplicate {report.duplicate}, ignored {report.ignored}, "
                    f"{time.monotonic() - loaded:.1f} s"
                )
                for rejection in report.rejections[:10]:
                    print(f"  rejected: {rejection}")
                notes = Counter(re.sub(r"@[0-9a-f]{12}", "@…", n) for n in report.notes)
                for note, n in notes.most_common(10):
                    print(f"  note ({n}x): {note}")
    except Exception as exc:  # a benchmark reports the crash and goes on
        ok = False
        frames = traceback.extract_tb(exc.__traceback__)
        print(f"INGEST FAILED: {type(exc).__name__}: {exc}")
        for frame in frames[-4:]:
            print(f"  at {Path(frame.filename).name}:{frame.lineno} in {frame.name}: {frame.line}")
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"ingest_total_s: {time.monotonic() - start:.1f}")
    print(f"peak_rss_mb: {usage / 1024:.0f} (largest git child {children / 1024:.0f})")
    return ok


Rows = list[tuple[str, int, int | None, str, int, bool]]


def store_rows(store: Store, repo_id: str, files: list[TrackedFile]) -> dict[str, Rows | None]:
    """path -> attribution rows of its HEAD version (None when the store lacks the version)."""
    keys = {f.path: f"file:{repo_id}:{f.path}@{f.blob}" for f in files}
    ids = store.node_ids(keys.values())
    return {
        path: (store.attributions_of(ids[key]) if key in ids else None)
        for path, key in keys.items()
    }


# -- scoring ---------------------------------------------------------------------------------


@dataclass
class Score:
    lines: int = 0
    ai: int = 0
    flagged: int = 0
    tp: int = 0
    chunks: int = 0
    ai_chunks: int = 0
    flagged_chunks: int = 0
    tp_chunks: int = 0
    fp_by_evidence: Counter[str] = field(default_factory=Counter)
    tp_by_evidence: Counter[str] = field(default_factory=Counter)
    fp_open_ended: int = 0  # false positives covered only by rows with no end (whole file)
    fn_by_file: Counter[str] = field(default_factory=Counter)
    fp_by_file: Counter[str] = field(default_factory=Counter)
    missing_files: int = 0
    missing_lines: int = 0
    missing_ai: int = 0
    missing_examples: list[str] = field(default_factory=list)
    blame_failed: int = 0

    def add_file(self, path: str, truth: list[bool], rows: Rows) -> None:
        n = len(truth)
        evidence: list[set[str]] = [set() for _ in range(n)]
        bounded = [False] * n
        for _, start, end, ev, _, _ in rows:
            last = n if end is None else min(end, n)
            for i in range(max(start, 1) - 1, last):
                evidence[i].add(ev)
                bounded[i] = bounded[i] or end is not None
        for i, is_ai in enumerate(truth):
            flagged = bool(evidence[i])
            self.lines += 1
            self.ai += is_ai
            self.flagged += flagged
            key = "+".join(sorted(evidence[i]))
            if is_ai and flagged:
                self.tp += 1
                self.tp_by_evidence[key] += 1
            elif is_ai:
                self.fn_by_file[path] += 1
            elif flagged:
                self.fp_by_evidence[key] += 1
                self.fp_by_file[path] += 1
                self.fp_open_ended += not bounded[i]
        for first in range(0, n, CHUNK):
            is_ai = any(truth[first : first + CHUNK])
            flagged = any(evidence[first : first + CHUNK])
            self.chunks += 1
            self.ai_chunks += is_ai
            self.flagged_chunks += flagged
            self.tp_chunks += is_ai and flagged


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def evaluate(
    repo: Path, store: Store | None, use_notes: bool, hist: History, notes: NoteRanges
) -> Score:
    files, skipped = head_files(repo)
    print(f"files at HEAD: {len(files)} text, skipped {dict(skipped) or 'none'}")
    repo_id = git.repo_id(repo)
    rows = store_rows(store, repo_id, files) if store is not None else {}
    score = Score()
    start = time.monotonic()

    def truth_of(f: TrackedFile) -> tuple[TrackedFile, list[bool] | None]:
        blamed = blame(repo, f.path)
        if blamed is None:
            return f, None
        out = []
        for b in blamed:
            is_ai = b.commit in hist.ai
            if not is_ai and use_notes:
                spans = notes.get((b.commit, b.orig_path), ())
                is_ai = any(a <= b.orig_line <= z for a, z in spans)
            out.append(is_ai)
        return f, out

    with ThreadPoolExecutor(2) as pool:
        for f, truth in pool.map(truth_of, files):
            if truth is None:
                score.blame_failed += 1
                continue
            got = rows.get(f.path)
            if got is None:
                score.missing_files += 1
                score.missing_lines += len(truth)
                score.missing_ai += sum(truth)
                if len(score.missing_examples) < 5:
                    score.missing_examples.append(f.path)
                continue
            score.add_file(f.path, truth, got)
    print(f"blame_s: {time.monotonic() - start:.1f}")
    return score


def print_score(score: Score, label: str) -> None:
    fp = score.flagged - score.tp
    print(f"\n== accuracy at HEAD ({label})")
    print(
        f"lines: {score.lines}  ai_lines: {score.ai}  flagged: {score.flagged}  "
        f"tp: {score.tp}  fp: {fp}  fn: {score.ai - score.tp}"
    )
    print(f"line recall: {ratio(score.tp, score.ai)}  precision: {ratio(score.tp, score.flagged)}")
    print(
        f"chunks({CHUNK}): {score.chunks}  ai: {score.ai_chunks}  "
        f"flagged: {score.flagged_chunks}  tp: {score.tp_chunks}  "
        f"recall: {ratio(score.tp_chunks, score.ai_chunks)}  "
        f"precision: {ratio(score.tp_chunks, score.flagged_chunks)}"
    )
    print(f"fp lines with evidence only 'modified': {score.fp_by_evidence.get('modified', 0)}")
    print(f"fp lines covered only by open-ended (whole-file) rows: {score.fp_open_ended}")
    print(f"fp by evidence: {dict(score.fp_by_evidence.most_common(6)) or '{}'}")
    print(f"tp by evidence: {dict(score.tp_by_evidence.most_common(6)) or '{}'}")
    examples = f" e.g. {', '.join(score.missing_examples)}" if score.missing_examples else ""
    print(
        f"missing file versions: {score.missing_files} ({score.missing_lines} lines, "
        f"{score.missing_ai} AI){examples}"
    )
    if score.blame_failed:
        print(f"blame failed: {score.blame_failed} files")
    print("top false negatives:")
    for path, n in score.fn_by_file.most_common(10):
        print(f"  {n:6d}  {path}")
    print("top false positives:")
    for path, n in score.fp_by_file.most_common(10):
        print(f"  {n:6d}  {path}")


def print_history(repo: Path, hist: History, note_counts: dict[str, int]) -> None:
    names = run_git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD").split(b"\0")
    spaces = sum(b" " in n for n in names)
    non_ascii = sum(any(c > 127 for c in n) for n in names)
    print(f"== history of {repo} (origin {git.repo_id(repo)})")
    print(
        f"commits: {hist.commits}  merges: {hist.merges}  ai_commits: {len(hist.ai)} "
        f"(trailer {hist.by_trailer}, author {hist.by_author}, "
        f"committer-only {hist.by_committer_only})  tools: {dict(hist.tools)}"
    )
    print(f"ai commits by co-author lines outside git's trailer block: {hist.body_only}")
    print(f"ai commits by a 'Generated with <tool>' line alone: {hist.generated_only}")
    print(f"git-ai notes: {note_counts}")
    print(
        f"paths at HEAD with spaces: {spaces}, non-ASCII: {non_ascii}  "
        f"mode-only changes: {hist.mode_only}  reverts: {hist.reverts}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repo", type=Path)
    parser.add_argument("--db", type=Path, help="store file (default: a temporary one)")
    parser.add_argument(
        "--notes",
        action="store_true",
        help="also count lines git-ai notes attribute to an agent as AI",
    )
    parser.add_argument(
        "--rev",
        help="the history to ingest (default: HEAD, every branch and tag, as `lineage ingest "
        "git` reads); a line whose version a branch's commit or note attributes is flagged, "
        "while the truth knows HEAD's history only: --rev HEAD measures against the same history",
    )
    parser.add_argument("--no-ingest", action="store_true", help="evaluate an existing --db")
    parser.add_argument("--stats-only", action="store_true", help="print history stats only")
    parser.add_argument("--limit-s", type=float, default=300.0, help="ingest time limit")
    parser.add_argument("--limit-gb", type=float, default=8.0, help="ingest RSS limit")
    args = parser.parse_args()
    repo = args.repo.resolve()
    hist = read_history(repo)
    notes, note_counts = read_notes(repo, set(_all_commits(repo)))
    print_history(repo, hist, note_counts)
    if args.stats_only:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "store.duckdb"
        if args.no_ingest and not db.exists():
            parser.error(f"--no-ingest: no store at {db}")
        if not args.no_ingest and db.exists():
            parser.error(f"{db} exists: remove it or pass --no-ingest")
        store = Store(db)
        ok = True
        if not args.no_ingest:
            print("\n== ingest")
            ok = ingest(store, repo, args.limit_s, args.limit_gb, args.rev)
        print("\n== ground truth (git blame)")
        score = evaluate(repo, store, args.notes, hist, notes)
        print_score(score, "trailers, identities" + (", git-ai notes" if args.notes else ""))
        store.close()
    return 0 if ok else 1


def _all_commits(repo: Path) -> Iterator[str]:
    yield from run_git(repo, "rev-list", "HEAD").decode().split()


if __name__ == "__main__":
    sys.exit(main())
