"""Snapshot names: a dataset cut from the trees of several commits of an ingested history."""

import json
from contextlib import nullcontext
from pathlib import Path

import pytest

from lineage import engine
from lineage.database import Database
from lineage.loaders import git, manifest
from lineage.policy import parse_policy
from lineage.store import Store, snapshots
from tests.loaders.test_git import AI_LINES, HUMAN_HEAD, POLICY, REPO, Repo

CLAUDE = "\n\nCo-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>"


def test_flatten_gives_the_deepest_entry_of_nested_ranges() -> None:
    shas, pre, post, complete = snapshots.number_forest(
        [
            ("r", None, True),
            ("a", "r", False),
            ("b", "a", False),
            ("s", "r", False),
            ("x", "gone", False),
        ]
    )
    order = dict(zip(shas, zip(pre, post, complete, strict=True), strict=True))
    assert order["r"][:2] == (0, 3) and order["a"][1] >= order["b"][0]
    assert order["x"][2] is False  # its root never recorded a whole tree
    assert snapshots.flatten([(0, 3, 1), (1, 2, None), (3, 3, 2)]) == [(0, 0, 1), (3, 3, 2)]


def history(root: Path) -> tuple[Repo, dict[str, str]]:
    """main: human file, AI lines (trailer), docs; a branch that edits the file and merges
    back; a tag on a commit that changed nothing of src/."""
    repo = Repo(root)
    at: dict[str, str] = {}
    repo.write("src/a.py", HUMAN_HEAD)
    repo.write("src/b.py", ["b = 1"])
    at["base"] = repo.commit("base")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    at["ai"] = repo.commit("retry" + CLAUDE)
    repo.write("docs/readme.md", ["# docs"])
    at["docs"] = repo.commit("docs")
    repo.git("tag", "v1")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("src/b.py", ["b = 1", "c = 2"])
    at["side"] = repo.commit("side work")
    repo.git("checkout", "-q", "main")
    repo.write("docs/readme.md", ["# docs", "more"])
    at["main"] = repo.commit("more docs")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    at["merge"] = repo.git("rev-parse", "HEAD")
    repo.git("rm", "-q", "src/b.py")
    at["removed"] = repo.commit("remove b")
    return repo, at


def rows_at(at: dict[str, str]) -> list[dict]:
    rows = []
    for name, commit in at.items():
        for path, span in (("src/a.py", [1, 5]), ("src/a.py", [6, 11]), ("src/b.py", [1, 1])):
            if name in ("base",) and span == [6, 11]:
                continue
            if name == "removed" and path == "src/b.py":
                continue
            rows.append(
                {
                    "example_id": f"{name}:{path}:{span[0]}",
                    "dataset": "d",
                    "version": "1",
                    "source": {"repo": REPO, "commit": commit, "path": path, "lines": span},
                }
            )
    return rows


@pytest.mark.parametrize("deferred", [False, True])
@pytest.mark.parametrize("git_first", [True, False])
def test_a_dataset_cut_from_snapshots_has_no_unknown(
    tmp_path: Path, git_first: bool, deferred: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch by batch, or with the snapshot index rebuilt once at the end of a history read
    in batches of two commits (as `Database.ingest` stores one)."""
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 2)
    repo, at = history(tmp_path / "demo")
    store = Store(":memory:")
    store.set_policy(parse_policy(POLICY))
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows_at(at)))

    def read_git() -> None:
        with store.deferring_snapshots() if deferred else nullcontext():
            for batch in git.load([repo.root]):
                store.ingest(batch)

    def read_manifest() -> None:
        for batch in manifest.load([path]):
            assert store.ingest(batch).rejected == 0

    for step in (read_git, read_manifest) if git_first else (read_manifest, read_git):
        step()
    run = engine.propagate_taint(store)
    report = engine.gate(store, run, "d@1", "precise")
    assert report.counts.unknown == 0, report.unknown
    statuses = {
        t.example.rsplit(":", 3)[-3] + ":" + t.example.rsplit(":", 1)[-1] for t in report.tainted
    }
    assert statuses == {f"{name}:6" for name in at if name != "base"}


def test_a_path_not_in_the_commits_tree_is_rejected_with_that_reason(tmp_path: Path) -> None:
    repo, at = history(tmp_path / "demo")
    store = Store(":memory:")
    for batch in git.load([repo.root]):
        store.ingest(batch)
    path = tmp_path / "m.jsonl"
    path.write_text(
        json.dumps(
            {
                "example_id": "gone",
                "dataset": "d",
                "version": "1",
                "source": {"repo": REPO, "commit": at["removed"], "path": "src/b.py"},
            }
        )
        + "\n"
        + json.dumps(
            {
                "example_id": "typo",
                "dataset": "d",
                "version": "1",
                "source": {"repo": REPO, "commit": at["base"], "path": "src/c.py"},
            }
        )
        + "\n"
    )
    [batch] = list(manifest.load([path]))
    report = store.ingest(batch)
    assert report.rejected == 2
    assert "src/b.py is not in the tree of commit " + at["removed"] in str(report.rejections[0])


def test_a_range_ingest_names_its_boundary_tree(tmp_path: Path) -> None:
    repo, at = history(tmp_path / "demo")
    store = Store(":memory:")
    for batch in git.load([repo.root], rev=f"{at['docs']}..main"):
        store.ingest(batch)
    store.set_policy(parse_policy(POLICY))
    path = tmp_path / "m.jsonl"
    path.write_text(
        json.dumps(
            {
                "example_id": "a",
                "dataset": "d",
                "version": "1",
                "source": {"repo": REPO, "commit": at["main"], "path": "src/a.py", "lines": [6, 8]},
            }
        )
        + "\n"
    )
    for batch in manifest.load([path]):
        assert store.ingest(batch).rejected == 0
    run = engine.propagate_taint(store)
    verdict = engine.verdict(store, run, engine.resolve_example(store, "d@1:a"), "precise")
    # the version at `main` was written before the range: known by name, its history is not
    assert verdict.status == "UNKNOWN"
    for batch in git.load([repo.root], exclude=store.commits_of(REPO)):
        store.ingest(batch)
    run = engine.propagate_taint(store)
    assert (
        engine.verdict(store, run, engine.resolve_example(store, "d@1:a"), "precise").status
        == "TAINTED"
    )


@pytest.mark.parametrize("git_first", [True, False])
def test_a_byte_span_twin_of_a_line_span_dataset_gets_the_same_verdicts(
    tmp_path: Path, git_first: bool
) -> None:
    repo = Repo(tmp_path / "demo")
    human = [
        "# ünïcödé header: bytes and characters differ",
        "import time",
        "",
        "def sleep(seconds):",
        "    time.sleep(seconds)",
        "",
    ]
    repo.write("src/a.py", human)
    repo.commit("base")
    (repo.root / "src/a.py").write_text("\n".join(human + AI_LINES), encoding="utf-8")
    head = repo.commit("retry, no newline at the end" + CLAUDE)
    raw = (repo.root / "src/a.py").read_bytes()
    starts = [0] + [i + 1 for i, b in enumerate(raw) if b == 10]
    line_count = len(raw.split(b"\n"))

    def byte_range(first: int, last: int) -> list[int]:
        end = starts[last] if last < line_count else len(raw)
        return [starts[first - 1], end]

    rows = []
    for first in range(1, line_count + 1, 2):
        last = min(first + 1, line_count)
        for unit, span in (("lines", [first, last]), ("bytes", byte_range(first, last))):
            rows.append(
                {
                    "example_id": f"{unit}-{first}",
                    "dataset": "d",
                    "version": "1",
                    "source": {"repo": REPO, "commit": head, "path": "src/a.py", unit: span},
                }
            )
    # a byte span cut inside line 6 and into line 7 touches both
    rows.append(
        {
            "example_id": "cut",
            "dataset": "d",
            "version": "1",
            "source": {
                "repo": REPO,
                "commit": head,
                "path": "src/a.py",
                "bytes": [starts[5] + 1, starts[6] + 2],
            },
        }
    )
    rows.append(
        {
            "example_id": "past",
            "dataset": "d",
            "version": "1",
            "source": {
                "repo": REPO,
                "commit": head,
                "path": "src/a.py",
                "bytes": [0, len(raw) + 1],
            },
        }
    )
    store = Store(":memory:")
    store.set_policy(parse_policy(POLICY))
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def history() -> None:
        for batch in git.load([repo.root]):
            store.ingest(batch)

    if git_first:
        history()
    [batch] = list(manifest.load([path]))
    report = store.ingest(batch)
    if git_first:  # past the end of a file whose length is known: rejected
        assert report.rejected == 1 and "outside src/a.py" in str(report.rejections[0])
    else:
        engine.propagate_taint(store)  # a run the later one must not extend blindly
        history()
    run = engine.propagate_taint(store)

    def status(example: str) -> str:
        return engine.verdict(
            store, run, engine.resolve_example(store, f"d@1:{example}"), "precise"
        ).status

    for first in range(1, line_count + 1, 2):
        assert status(f"lines-{first}") == status(f"bytes-{first}"), first
    assert status("lines-5") == "CLEAN" and status("lines-7") == "TAINTED"
    assert status("cut") == "TAINTED"  # line 7 is the first AI line


@pytest.mark.parametrize("deferred", [False, True])
@pytest.mark.parametrize("git_first", [True, False])
def test_an_agent_trace_range_at_a_revision_taints_its_lines_without_content_match(
    tmp_path: Path, git_first: bool, deferred: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineage.loaders import agent_trace

    repo = Repo(tmp_path / "demo")
    repo.write("src/view.py", [f"line_{n} = render({n})" for n in range(1, 11)])
    revision = repo.commit("a file whose lines 3-5 Cursor wrote")
    repo.write("README.md", ["# later"])
    later = repo.commit("docs")
    trace = tmp_path / "work" / ".agent-trace" / "traces.jsonl"
    trace.parent.mkdir(parents=True)
    trace.write_text(
        json.dumps(
            {
                "version": "0.1.0",
                "id": "t-9",
                "timestamp": "2026-07-20T11:38:35.042Z",
                "vcs": {"type": "git", "revision": revision},
                "tool": {"name": "cursor"},
                "files": [
                    {
                        "path": "src\\view.py",
                        "conversations": [
                            {
                                "contributor": {
                                    "type": "ai",
                                    "model_id": "anthropic/claude-opus-4-8",
                                },
                                "ranges": [
                                    {"start_line": 3, "end_line": 5, "content_hash": "sha256:bb5e"}
                                ],
                            },
                            {
                                "contributor": {"type": "human"},
                                "ranges": [{"start_line": 6, "end_line": 9}],
                            },
                        ],
                    }
                ],
            }
        )
        + "\n"
    )
    store = Store(":memory:")
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 1)

    def history() -> None:
        with store.deferring_snapshots() if deferred else nullcontext():
            for batch in git.load([repo.root]):
                store.ingest(batch)

    def traces() -> None:
        for batch in agent_trace.load([trace], repo=REPO):
            assert store.ingest(batch).accepted == 1

    for step in (history, traces) if git_first else (traces, history):
        step()
    store.set_policy(parse_policy(POLICY))
    rows = tmp_path / "m.jsonl"
    rows.write_text(
        "".join(
            json.dumps(
                {
                    "example_id": name,
                    "dataset": "d",
                    "version": "1",
                    "source": {"repo": REPO, "commit": later, "path": "src/view.py", "lines": span},
                }
            )
            + "\n"
            for name, span in (("ai", [4, 4]), ("human", [6, 10]))
        )
    )
    for batch in manifest.load([rows]):
        store.ingest(batch)
    run = engine.propagate_taint(store)
    status = {
        name: engine.verdict(store, run, engine.resolve_example(store, f"d@1:{name}"), "precise")
        for name in ("ai", "human")
    }
    assert status["ai"].status == "TAINTED" and status["human"].status == "CLEAN"
    assert "agent-trace" in json.dumps([s.__dict__ for s in status["ai"].paths[0]], default=str)


def test_content_identifiers_resolve_to_the_ingested_version(tmp_path: Path) -> None:
    repo, at = history(tmp_path / "demo")
    store = Store(":memory:")
    for batch in git.load([repo.root]):
        store.ingest(batch)
    store.set_policy(parse_policy(POLICY))
    blob = repo.blob(at["main"], "src/a.py")
    tree = repo.git("rev-parse", f"{at['main']}^{{tree}}")
    origin = f"https://{REPO}"
    swhids = {
        "rev": f"swh:1:cnt:{blob};origin={origin};anchor=swh:1:rev:{at['main']};"
        "path=/src/a.py;lines=6-8",
        "dir": f"swh:1:cnt:{blob};path=/src/a.py;anchor=swh:1:dir:{tree};origin={origin};lines=6-8",
        "snp": f"swh:1:cnt:{blob};origin={origin};anchor=swh:1:snp:{'5' * 40};path=/src/a.py;"
        "lines=1-5",
    }
    rows = [
        {"example_id": k, "dataset": "d", "version": "1", "source": {"swhid": v}}
        for k, v in swhids.items()
    ]
    rows.append(
        {
            "example_id": "stack",
            "dataset": "d",
            "version": "1",
            "blob_id": blob,
            "repo_name": "acme/demo",
            "path": "/src/a.py",
            "directory_id": tree,
            "revision_id": at["main"],
            "content_id": "x",
            "language": "Python",
        }
    )
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for batch in manifest.load([path]):
        assert store.ingest(batch).rejected == 0
    run = engine.propagate_taint(store)
    status = {
        r["example_id"]: engine.verdict(
            store, run, engine.resolve_example(store, f"d@1:{r['example_id']}"), "precise"
        ).status
        for r in rows
    }
    assert status == {"rev": "TAINTED", "dir": "TAINTED", "snp": "CLEAN", "stack": "TAINTED"}


def test_a_deferred_index_is_rebuilt_once_whatever_the_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Database.ingest of a history in batches of one commit rebuilds the snapshot index
    once, at its end; stored batch by batch, once per batch."""
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 1)
    repo, at = history(tmp_path / "demo")
    rebuilt: list[list[str]] = []
    reindex = snapshots.reindex
    monkeypatch.setattr(
        snapshots, "reindex", lambda con, repos: (rebuilt.append(repos), reindex(con, repos))
    )
    with Database(tmp_path / "s.duckdb") as db:
        db.ingest("git", repo.root)
        assert rebuilt == [[REPO]]
        assert all(db.store.commit_ingested(REPO, sha) for sha in at.values())
    rebuilt.clear()
    store = Store(":memory:")
    for batch in git.load([repo.root]):
        store.ingest(batch)
    assert len(rebuilt) == len(at) > 1


def test_an_ingest_that_fails_midway_indexes_what_it_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A history whose reading fails after some batches were stored: those commits resolve
    names at once; an ingest killed before its end leaves the repository marked stale, and
    the next ingest, of anything, rebuilds its index."""
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 1)
    repo, at = history(tmp_path / "demo")
    store = Store(tmp_path / "s.duckdb")
    batches = git.load([repo.root])
    with pytest.raises(RuntimeError, match="git went away"), store.deferring_snapshots():
        store.ingest(next(batches))
        store.ingest(next(batches))
        raise RuntimeError("git went away")
    assert store.commit_ingested(REPO, at["ai"])
    assert not store.commit_ingested(REPO, at["docs"])
    # killed: the block never ends
    killed = store.deferring_snapshots()
    killed.__enter__()
    for batch in batches:
        store.ingest(batch)
    store.close()
    with Database(tmp_path / "s.duckdb") as db:
        assert not db.store.commit_ingested(REPO, at["removed"])
        db.set_policy(POLICY)
        rows = tmp_path / "m.jsonl"
        rows.write_text("".join(json.dumps(r) + "\n" for r in rows_at(at)))
        report = db.ingest("manifest", rows)
        assert report.rejected == 0, report.rejections
        assert db.store.commit_ingested(REPO, at["removed"])
        run = engine.propagate_taint(db.store)
        assert engine.gate(db.store, run, "d@1", "precise").counts.unknown == 0


def test_a_run_after_a_killed_ingest_resolves_what_the_ingest_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dataset named at commits, then its history, killed before the ingest's end: the
    first propagation resolves the names (a run kept without them would be reused at the
    same point of the log after a later ingest resolved them)."""
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 1)
    repo, at = history(tmp_path / "demo")
    path = tmp_path / "s.duckdb"
    rows = tmp_path / "m.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in rows_at(at)))
    with Database(path) as db:
        db.set_policy(POLICY)
        assert db.ingest("manifest", rows).rejected == 0
    store = Store(path)
    killed = store.deferring_snapshots()  # killed: the block never ends
    killed.__enter__()
    for batch in git.load([repo.root]):
        store.ingest(batch)
    store.close()
    with Store(path) as store:
        assert snapshots.stale_repos(store._con) == [REPO]
        run = engine.propagate_taint(store)
        assert engine.gate(store, run, "d@1", "precise").counts.unknown == 0
