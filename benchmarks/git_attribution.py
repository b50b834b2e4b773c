"""Benchmark: line attribution of a repository's history, next to `git log -p` (the floor)
and to the loader's own git pass (the `git diff-tree` runs the loader makes, no parsing),
and to what the loader read before it patched merges only where they changed a file from
every parent (`-m -p`: every merge diffed in full against every parent).

    python benchmarks/git_attribution.py --commits 5000        # a generated repository
    python benchmarks/git_attribution.py ~/src/some-checkout   # any local repository

With no repository it builds one
Builds a repository with `git fast-import`: FILES files, COMMITS commits that each insert and
delete lines in one to three files, 1% with a Claude co-author trailer, and canonical `output`
events for the lines of 2% of the commits (so content-match has work to do). Then times
`git log -p` over the history, the loader (`loaders.git`), and the store's ingest (facts,
content-match, carrying intervals through every diff), and prints `name: value` lines.
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import timed, timed_ingest  # noqa: E402

from lineage.loaders import events, git, git_log  # noqa: E402
from lineage.store import Store  # noqa: E402

REPO = "github.com/bench/history"


def build(root: Path, commits: int, files: int, rng: random.Random) -> list[dict]:
    """The repository at `root`; returns the output events to ingest beside it."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(
        ["git", "-C", str(root), "remote", "add", "origin", f"https://{REPO}.git"], check=True
    )
    contents: dict[str, list[str]] = {}
    outputs: list[dict] = []
    stream: list[bytes] = []
    clock = 1_700_000_000
    counter = 0

    def data(text: str) -> None:
        raw = text.encode()
        stream.append(f"data {len(raw)}\n".encode() + raw + b"\n")

    for n in range(1, commits + 1):
        clock += 600
        trailer = (
            "\n\nCo-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>"
            if rng.random() < 0.01
            else ""
        )
        stream.append(
            f"commit refs/heads/main\nmark :{n}\n"
            f"committer Dev <dev@example.com> {clock} +0000\n".encode()
        )
        data(f"change {n}{trailer}")
        if n > 1:
            stream.append(f"from :{n - 1}\n".encode())
        for _ in range(rng.randint(1, 3)):
            path = f"src/pkg{rng.randrange(files) % 20}/mod{rng.randrange(files)}.py"
            lines = contents.setdefault(path, [])
            if lines and rng.random() < 0.5:
                at = rng.randrange(len(lines))
                del lines[at : at + rng.randint(1, 5)]
            at = rng.randint(0, len(lines))
            new = []
            for _ in range(rng.randint(2, 12)):
                counter += 1
                new.append(f"    value_{counter} = compute({counter}, {rng.randrange(10**6)})")
            lines[at:at] = new
            if rng.random() < 0.02:
                outputs.append(
                    {
                        "type": "output",
                        "output": f"toolu_{n}_{at}",
                        "tool": "claude-code",
                        "model": "claude-sonnet-4-5",
                        "repo": REPO,
                        "path": path,
                        "text": new,
                        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock - 60)),
                    }
                )
            stream.append(f"M 100644 inline {path}\n".encode())
            data("\n".join(lines) + "\n")
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(stream), check=True
    )
    subprocess.run(["git", "-C", str(root), "reset", "-q", "--hard", "main"], check=True)
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "repo", nargs="?", type=Path, help="a local repository to measure (default: generate one)"
    )
    parser.add_argument(
        "--rev",
        help="the history to read, as `lineage ingest git --rev` takes it (default: HEAD, every "
        "branch and tag, as an ingest reads); the floors read the same commits",
    )
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--files", type=int, default=400)
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        if args.repo is not None:
            root = args.repo.resolve()
            outputs: list[dict] = []
        else:
            root = Path(tmp) / "repo"
            outputs = build(root, args.commits, args.files, rng)
        out_file = Path(tmp) / "outputs.ndjson"
        out_file.write_text("".join(json.dumps(o) + "\n" for o in outputs))
        revs = git.history_revs(root, args.rev)
        commits = subprocess.run(
            ["git", "-C", str(root), "rev-list", "--topo-order", "--reverse", *revs, "--"],
            capture_output=True,
            check=True,
        ).stdout
        # `git log -p` dies on the first blob a partial clone or mirror lacks: the floors are
        # measured without the paths of such blobs (the loader records them instead).
        shas = commits.decode().split()
        lacking = git.paths_of_blobs(root, shas, git.missing_blobs(root, shas))
        exclude = [f":(exclude,literal){path}" for path in sorted(lacking)]
        pathspec = ["--", *exclude] if exclude else []
        floor_s, _ = timed(
            lambda: subprocess.run(
                ["git", "-C", str(root), "log", "-p", "--no-color", *revs, *(pathspec or ["--"])],
                stdout=subprocess.DEVNULL,  # held in memory it would be our peak RSS
                check=True,
            )
        )
        # The loader's own git pass: the diff-tree runs it makes (merges patched only
        # where they changed a file from every parent), each to /dev/null.
        passes = git_log.git_passes(root, shas, exclude=sorted(lacking))
        same_s, _ = timed(
            lambda: [
                subprocess.run(
                    ["git", "-C", str(root), *args],
                    input=feed,
                    stdout=subprocess.DEVNULL,
                    check=True,
                )
                for args, feed in passes
            ]
        )
        # What the loader read before: every merge diffed in full against every parent.
        full_s, _ = timed(
            lambda: subprocess.run(
                [
                    "git",
                    "-C",
                    str(root),
                    "diff-tree",
                    "--stdin",
                    "--root",
                    "-m",
                    "--always",
                    "-r",
                    "--raw",
                    "-z",
                    "--no-abbrev",
                    "-M",
                    "-p",
                    "-U0",
                    "--no-color",
                    *pathspec,
                ],
                input=commits,
                stdout=subprocess.DEVNULL,
                check=True,
            )
        )
        store = Store(Path(tmp) / "git.duckdb")
        for batch in events.load([out_file]):
            store.ingest(batch)
        read_s, ingest_s, report = timed_ingest(store, git.load([root], rev=args.rev))
        attributed = store.fetch_maybe_one(
            "SELECT count(*), count(*) FILTER (WHERE evidence = 'content-match' AND NOT carried)"
            ", count(*) FILTER (WHERE evidence = 'trailer' AND NOT carried) "
            "FROM attributions"
        )
        store.close()
    total = read_s + ingest_s
    figures = {
        "commits": report.accepted,
        "paths_missing_from_clone": len(exclude),
        "outputs": len(outputs),
        "git_log_p_s": f"{floor_s:.2f}",
        "git_pass_loader_s": f"{same_s:.2f}",
        "git_pass_full_merge_diffs_s": f"{full_s:.2f}",
        "loader_wait_s": f"{read_s:.2f}",
        "store_ingest_s": f"{ingest_s:.2f}",
        "total_s": f"{total:.2f}",
        "commits_per_s": f"{report.accepted / total:,.0f}",
        "x_git_log_p": f"{total / floor_s:.1f}",
        "x_loader_git_pass": f"{total / same_s:.1f}",
        "x_full_merge_diffs_pass": f"{total / full_s:.1f}",
        "attribution_rows": attributed[0],
        "content_match_rows": attributed[1],
        "trailer_rows": attributed[2],
        "peak_rss_mb": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
    }
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
