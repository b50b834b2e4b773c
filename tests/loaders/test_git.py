"""The git loader on real repositories built with `git` in a temporary directory."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from lineage import engine
from lineage.loaders import events, git, manifest
from lineage.policy import Restriction, parse_policy
from lineage.store import Store

REPO = "github.com/acme/demo"
POLICY = "".join(
    f'[[restrict]]\ntool = "{t}"\nreason = "terms"\n' for t in ("claude-code", "aider", "cursor")
)

AI_LINES = [
    "def retry(fn, attempts=3):",
    "    for attempt in range(attempts):",
    "        try:  # transient errors",
    "            return fn()",
    "        except Exception:",
    "            sleep(2 ** attempt)",
]
HUMAN_HEAD = ["import time", "", "def sleep(seconds):", "    time.sleep(seconds)", ""]


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = 1_767_000_000
        root.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", f"https://{REPO}.git")

    def git(self, *args: str, author: str = "Dev <dev@example.com>") -> str:
        name, email = author.rstrip(">").split(" <")
        self.clock += 60
        env = os.environ | {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_AUTHOR_DATE": f"{self.clock} +0000",
            "GIT_COMMITTER_DATE": f"{self.clock} +0000",
        }
        return subprocess.run(
            ["git", "-C", str(self.root), *args],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def write(self, path: str, lines: list[str]) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")

    def commit(self, message: str, author: str = "Dev <dev@example.com>") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")

    def blob(self, rev: str, path: str) -> str:
        return self.git("rev-parse", f"{rev}:{path}")


def output_event(
    tmp: Path, lines: list[str], output: str = "toolu_retry", time: str = "2025-12-01T00:00:00Z"
) -> Path:
    path = tmp / f"{output}.ndjson"
    path.write_text(
        json.dumps(
            {
                "type": "output",
                "output": output,
                "tool": "claude-code",
                "model": "claude-opus-4-5",
                "repo": REPO,
                "path": "src/a.py",
                "time": time,
                "text": lines,
            }
        )
        + "\n"
    )
    return path


def spans(store: Store, repo: Repo, rev: str, path: str) -> list[tuple]:
    node = store.node(f"file:{REPO}:{path}@{repo.blob(rev, path)}")
    assert node is not None, path
    return [
        (out, start, end, evidence)
        for out, start, end, evidence, *_ in store.attributions_of(node.id)
    ]


def ingest_all(store: Store, repo: Repo, outputs: list[Path], git_first: bool) -> None:
    def agents() -> None:
        for batch in events.load(outputs):
            store.ingest(batch)

    def history() -> None:
        for batch in git.load([repo.root]):
            store.ingest(batch)

    for step in (history, agents) if git_first else (agents, history):
        step()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "demo")


@pytest.mark.parametrize("git_first", [False, True])
def test_ai_lines_survive_move_and_rename_in_either_order(
    repo: Repo, tmp_path: Path, git_first: bool
) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    c1 = repo.commit("add retry")
    repo.write("src/a.py", ["# header comment for the module"] + HUMAN_HEAD + AI_LINES)
    c2 = repo.commit("header")
    repo.write("src/a.py", HUMAN_HEAD)  # the AI block moves to b.py
    repo.write("src/b.py", ["import time", ""] + AI_LINES[:4])
    c3 = repo.commit("move retry to b")
    repo.git("mv", "src/b.py", "src/c.py")
    repo.write("src/c.py", ["import time", "", ""] + AI_LINES[:4])
    c4 = repo.commit("rename b to c")
    store = Store(":memory:")
    ingest_all(store, repo, [output_event(tmp_path, AI_LINES)], git_first)
    out = "output:toolu_retry"
    assert spans(store, repo, c1, "src/a.py") == [(out, 6, 11, "content-match")]
    assert [(s, e, ev) for _, s, e, ev in spans(store, repo, c2, "src/a.py")] == [
        (7, 12, "content-match")
    ]
    assert spans(store, repo, c3, "src/a.py") == []  # deleted
    # moved: matched by content in the other file
    assert [(s, e) for _, s, e, _ in spans(store, repo, c3, "src/b.py")] == [(3, 6)]
    assert [(s, e) for _, s, e, _ in spans(store, repo, c4, "src/c.py")] == [(4, 7)]  # renamed
    store.close()


def test_a_slight_edit_keeps_attribution_as_modified_a_rewrite_does_not(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("add retry")
    edited = list(AI_LINES)
    edited[0] = "def retry(fn, attempts=5):"  # slightly edited
    edited[5] = "            log.warning('giving up on the remote store now')"  # rewritten
    repo.write("src/a.py", HUMAN_HEAD + edited)
    c2 = repo.commit("tune retry")
    store = Store(":memory:")
    ingest_all(store, repo, [output_event(tmp_path, AI_LINES)], git_first=False)
    assert sorted((s, e, ev) for _, s, e, ev in spans(store, repo, c2, "src/a.py")) == [
        (6, 6, "modified"),
        (7, 10, "content-match"),
    ]


def test_both_orders_give_the_same_attribution_and_verdicts(repo: Repo, tmp_path: Path) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    c1 = repo.commit("add retry")
    results = []
    for git_first in (False, True):
        store = Store(":memory:")
        ingest_all(store, repo, [output_event(tmp_path, AI_LINES)], git_first)
        store.set_policy(parse_policy(POLICY))
        rows = tmp_path / f"m{git_first}.jsonl"
        rows.write_text(
            "\n".join(
                json.dumps(
                    {
                        "example_id": f"e{i}",
                        "dataset": "d",
                        "version": "1",
                        "source": {"repo": REPO, "commit": c1, "path": "src/a.py", "lines": span},
                    }
                )
                for i, span in enumerate([[1, 5], [6, 11], [1, 11]])
            )
            + "\n"
        )
        for batch in manifest.load([rows]):
            store.ingest(batch)
        run = engine.propagate_taint(store)
        results.append(
            [
                engine.verdict(
                    store, run, engine.resolve_example(store, f"d@1:e{i}"), "precise"
                ).status
                for i in range(3)
            ]
        )
        store.close()
    assert results[0] == results[1] == ["CLEAN", "TAINTED", "TAINTED"]


def ai_feature_branch(repo: Repo) -> None:
    """main with the human file; branch `feature` adds the AI block; main checked out."""
    repo.write("src/a.py", HUMAN_HEAD)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("feature: retry")
    repo.git("checkout", "-q", "main")


def test_a_merge_unions_what_each_parent_carries(repo: Repo, tmp_path: Path) -> None:
    ai_feature_branch(repo)
    repo.write("src/a.py", ["# main's own header line"] + HUMAN_HEAD)
    repo.commit("main: header")
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merged = repo.git("rev-parse", "HEAD")
    assert (repo.root / "src/a.py").read_text().splitlines()[6:12] == AI_LINES
    store = Store(":memory:")
    ingest_all(store, repo, [output_event(tmp_path, AI_LINES)], git_first=True)
    assert [(s, e, ev) for _, s, e, ev in spans(store, repo, merged, "src/a.py")] == [
        (7, 12, "content-match")
    ]


def test_merge_and_squash_keep_attribution(repo: Repo, tmp_path: Path) -> None:
    ai_feature_branch(repo)
    repo.write("src/other.py", ["VALUE = 1"])
    repo.commit("main moves on")
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merged = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "squashed", "main~1")
    repo.git("merge", "-q", "--squash", "feature")
    squashed = repo.commit("squash feature")
    store = Store(":memory:")
    ingest_all(store, repo, [output_event(tmp_path, AI_LINES)], git_first=True)
    for batch in git.load([repo.root], rev="squashed"):
        store.ingest(batch)
    assert [(s, e) for _, s, e, _ in spans(store, repo, merged, "src/a.py")] == [(6, 11)]
    assert [(s, e) for _, s, e, _ in spans(store, repo, squashed, "src/a.py")] == [(6, 11)]


def test_trailer_aider_and_git_ai_note_attribute_added_lines(repo: Repo) -> None:
    repo.write("src/a.py", HUMAN_HEAD)
    repo.commit("base")
    repo.write("src/a.py", HUMAN_HEAD + ["x = compute()", "y = x + 1"])
    trailer = repo.commit(
        "Add compute\n\nCo-Authored-By: Claude Opus 4.6 (1M context) <noreply@anthropic.com>"
    )
    repo.write("src/b.py", ["def helper():", "    return 42"])
    aider = repo.commit("aider: add helper", author="Dev (aider) <dev@example.com>")
    repo.write("src/c.py", [f"line_{n} = {n}" for n in range(1, 13)])
    noted = repo.commit("cursor work")
    note = (
        "src/c.py\n  s_c9883b05a2487d::t_9f8e7d6c5b4a32 2-4,10\n  h_31dce776f88375 5-6\n---\n"
        + json.dumps(
            {
                "schema_version": "authorship/3.0.0",
                "prompts": {},
                "humans": {"h_31dce776f88375": {"author": "Dev"}},
                "sessions": {
                    "s_c9883b05a2487d": {
                        "agent_id": {
                            "tool": "cursor",
                            "id": "6ef2299e",
                            "model": "claude-sonnet-4-5-20250514",
                        }
                    }
                },
            }
        )
    )
    repo.git("notes", "--ref=ai", "add", "-m", note, noted)
    store = Store(":memory:")
    for batch in git.load([repo.root]):
        store.ingest(batch)
    t = spans(store, repo, trailer, "src/a.py")
    assert [(s, e, ev) for _, s, e, ev in t] == [(6, 7, "trailer")]
    claude = store.node(t[0][0])
    assert claude is not None and claude.attrs["tool"] == "claude-code"
    assert claude.attrs["model"] == "Opus 4.6 (1M context)"
    a = spans(store, repo, aider, "src/b.py")
    assert [(s, e) for _, s, e, _ in a] == [(1, 2)]
    assert store.node(a[0][0]).attrs["tool"] == "aider"  # type: ignore[union-attr]
    n = spans(store, repo, noted, "src/c.py")
    assert [(s, e, ev) for _, s, e, ev in n] == [(2, 4, "git-ai-note"), (10, 10, "git-ai-note")]
    assert store.node(n[0][0]).attrs["tool"] == "cursor"  # type: ignore[union-attr]
    # the untouched base commit has no attribution at all
    assert spans(store, repo, "HEAD~3", "src/a.py") == []


def test_trivial_lines_never_match_by_content(repo: Repo, tmp_path: Path) -> None:
    trivial = ["}", "", "    )", "end"]
    repo.write("src/a.py", ["x = 1"] + trivial + ["y = 2"])
    c1 = repo.commit("human code")
    store = Store(":memory:")
    ingest_all(
        store, repo, [output_event(tmp_path, trivial, output="toolu_trivial")], git_first=False
    )
    assert spans(store, repo, c1, "src/a.py") == []


def test_reingest_reads_only_new_commits_and_changes_nothing(repo: Repo, tmp_path: Path) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("one")
    store = Store(":memory:")
    ingest_all(store, repo, [output_event(tmp_path, AI_LINES)], git_first=False)
    counts = [
        store.fetch_maybe_one(f"SELECT count(*) FROM {t}")[0]
        for t in ("events", "nodes", "edges", "attributions")
    ]
    [again] = list(git.load([repo.root], exclude=store.commits_of(REPO)))
    assert again.records == []  # no commit is read again
    assert store.ingest(again).accepted == 0
    [same] = list(git.load([repo.root]))
    assert store.ingest(same).accepted == 0
    assert counts == [
        store.fetch_maybe_one(f"SELECT count(*) FROM {t}")[0]
        for t in ("events", "nodes", "edges", "attributions")
    ]
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES + ["print('done')"])
    repo.commit("two")
    [new] = list(git.load([repo.root], exclude=store.commits_of(REPO)))
    assert [r.type for r in new.records] == ["commit"]


def test_not_a_repository_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(git.GitError, match="not a git repository"):
        list(git.load([tmp_path / "plain"]))


def test_blame_shows_each_line_with_its_attribution(repo: Repo, tmp_path: Path) -> None:
    from io import StringIO

    from lineage.cli import main

    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("add retry")
    db = str(tmp_path / "b.duckdb")
    assert (
        main(
            ["--db", db, "ingest", "events", str(output_event(tmp_path, AI_LINES))], out=StringIO()
        )
        == 0
    )
    assert main(["--db", db, "ingest", "git", str(repo.root)], out=StringIO()) == 0
    out = StringIO()
    assert main(["--db", db, "blame", str(repo.root), "src/a.py", "--format", "json"], out=out) == 0
    lines = json.loads(out.getvalue())["lines"]
    assert len(lines) == 11 and lines[5]["text"] == AI_LINES[0]
    assert [bool(x["sources"]) for x in lines] == [False] * 5 + [True] * 6
    assert lines[5]["sources"][0] | {"carried": None} == {
        "output": "output:toolu_retry",
        "tool": "claude-code",
        "model": "claude-opus-4-5",
        "evidence": "content-match",
        "carried": None,
    }
    text = StringIO()
    main(["--db", db, "blame", str(repo.root), "src/a.py"], out=text)
    assert (
        "claude-code claude-opus-4-5 content-match output:toolu_retry | def retry"
        in text.getvalue()
    )


def store_with_example_at(repo: Repo, tmp_path: Path, commit: str) -> Store:
    """The repo and the AI output ingested, and example d@1:e1: lines 6-8 of src/a.py as
    named at `commit`."""
    store = Store(":memory:")
    ingest_all(store, repo, [output_event(tmp_path, AI_LINES)], git_first=True)
    store.set_policy(parse_policy(POLICY))
    rows = tmp_path / "m.jsonl"
    rows.write_text(
        json.dumps(
            {
                "example_id": "e1",
                "dataset": "d",
                "version": "1",
                "source": {"repo": REPO, "commit": commit, "path": "src/a.py", "lines": [6, 8]},
            }
        )
        + "\n"
    )
    for batch in manifest.load([rows]):
        store.ingest(batch)
    return store


def test_a_file_named_at_the_tip_resolves_even_if_the_tip_did_not_change_it(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("add retry")
    repo.write("README.md", ["# demo"])
    tip = repo.commit("docs only")
    store = store_with_example_at(repo, tmp_path, tip)
    run = engine.propagate_taint(store)
    v = engine.verdict(store, run, engine.resolve_example(store, "d@1:e1"), "precise")
    assert v.status == "TAINTED"
    assert v.paths[0][-2].node == f"file:{REPO}:src/a.py@{repo.blob(tip, 'src/a.py')}"


def test_a_file_at_a_commit_outside_the_ingested_history_is_unknown_until_ingested(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("add retry")
    repo.write("README.md", ["# demo"])
    pinned = repo.commit("docs only")  # the dataset was built here
    repo.write("README.md", ["# demo", "more"])
    repo.commit("later docs")
    store = Store(":memory:")
    for batch in git.load([repo.root], rev=f"{pinned}..HEAD"):
        store.ingest(batch)
    for batch in events.load([output_event(tmp_path, AI_LINES)]):
        store.ingest(batch)
    store.set_policy(parse_policy(POLICY))
    rows = tmp_path / "m.jsonl"
    rows.write_text(
        json.dumps(
            {
                "example_id": "e1",
                "dataset": "d",
                "version": "1",
                "source": {"repo": REPO, "commit": pinned, "path": "src/a.py", "lines": [6, 8]},
            }
        )
        + "\n"
    )
    for batch in manifest.load([rows]):
        assert store.ingest(batch).accepted == 1

    def verdict() -> engine.Verdict:
        run = engine.propagate_taint(store)
        return engine.verdict(store, run, engine.resolve_example(store, "d@1:e1"), "precise")

    unknown = verdict()
    assert unknown.status == "UNKNOWN"
    assert f"--rev {pinned}" in (unknown.reason or "")
    # The rest of the history later: exactly what is missing is read, nothing twice.
    reports = [store.ingest(b) for b in git.load([repo.root], exclude=store.commits_of(REPO))]
    assert sum(r.accepted for r in reports) == 2
    assert verdict().status == "TAINTED"
    again = [store.ingest(b) for b in git.load([repo.root], exclude=store.commits_of(REPO))]
    assert sum(r.accepted for r in again) == 0


def test_impact_of_a_commit_starts_from_the_outputs_its_evidence_names(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("src/a.py", HUMAN_HEAD)
    human = repo.commit("base")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    ai = repo.commit("retry\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    store = store_with_example_at(repo, tmp_path, ai)
    roots = engine.impact_roots(store, [f"commit:{REPO}@{ai}"])
    assert roots == [f"output:commit:{REPO}@{ai}:claude-code"]
    found = engine.impact(store, Restriction(reason="impact"), named=[f"commit:{REPO}@{ai}"])
    [d] = found.datasets
    assert d.dataset == "d@1" and [t.example for t in d.precise] == ["example:d@1:e1"]
    assert d.precise[0].sources == roots
    with pytest.raises(engine.EngineError, match="has no AI evidence"):
        engine.impact_roots(store, [f"commit:{REPO}@{human}"])


def test_a_vendored_tree_with_two_ai_co_authors_is_attributed_file_by_file(
    repo: Repo, tmp_path: Path
) -> None:
    """A commit that adds a whole tree (vendored dependencies) with Claude and Devin as
    co-authors: one output per tool, every line of every file attributed to each, the
    files' lines matched by content, and a later human edit of one file carries the rest."""
    repo.write("README.md", ["# demo"])
    repo.commit("base")
    files = {
        f"vendor/crate{n}/src/lib.rs": [f"pub fn f{n}_{k}() -> u32 {{ {k} }}" for k in range(40)]
        for n in range(60)
    }
    for path, lines in files.items():
        repo.write(path, lines)
    vendored = repo.commit(
        "chore: vendor dependencies\n\n"
        "Co-Authored-By: Claude Opus 4.6 <noreply@anthropic.com>\n"
        "Co-authored-by: Devin AI <158243242+devin-ai-integration[bot]@users.noreply.github.com>"
    )
    edited = dict(files)
    edited["vendor/crate7/src/lib.rs"] = ["// patched by hand"] + files["vendor/crate7/src/lib.rs"]
    repo.write("vendor/crate7/src/lib.rs", edited["vendor/crate7/src/lib.rs"])
    later = repo.commit("patch crate7")
    batches = list(git.load([repo.root]))
    record = next(r for b in batches for r in b.records if r.payload["commit"] == vendored)
    outputs = [f for f in record.facts if getattr(f, "kind", None) == "output"]
    assert sorted(o.attrs["tool"] for o in outputs) == ["claude-code", "devin"]
    store = Store(":memory:")
    for batch in batches:
        store.ingest(batch)
    for path in ("vendor/crate0/src/lib.rs", "vendor/crate59/src/lib.rs"):
        got = spans(store, repo, vendored, path)
        assert sorted((s, e, ev) for _, s, e, ev in got) == [(1, 40, "trailer")] * 2
    carried = spans(store, repo, later, "vendor/crate7/src/lib.rs")
    assert sorted((s, e) for _, s, e, _ in carried) == [(2, 41), (2, 41)]
    added = store.fetch_maybe_one("SELECT count(*), count(DISTINCT hash) FROM added_lines")
    # every significant line by its own hash: the README's, the tree's and the hand patch's
    assert added == (1 + 60 * 40 + 1, 1 + 60 * 40 + 1)
