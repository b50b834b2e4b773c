"""The git loader on the shapes real histories take, each built with `git`: files that return
to an earlier content, mode-only changes, hostile paths, git-ai notes, AI identities, missing
objects, shallow clones, same-second writes."""

import json
import subprocess
from pathlib import Path

import pytest

from lineage import engine
from lineage.loaders import events, git, git_log, manifest
from lineage.policy import parse_policy
from lineage.store import IngestReport, Store
from tests.loaders.test_git import AI_LINES, HUMAN_HEAD, POLICY, REPO, Repo, output_event

CLAUDE = "\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>"
MORE_AI = ["def backoff(n):", "    return min(2 ** n, 60)  # capped exponential backoff"]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "demo")


def ingest(store: Store, root: Path, **options: object) -> list:
    return [store.ingest(batch) for batch in git.load([root], **options)]  # type: ignore


def lines_of(store: Store, repo: Repo, rev: str, path: str, repo_id: str = REPO) -> set[int]:
    """The attributed line numbers of `path` at `rev`."""
    node = store.node(f"file:{repo_id}:{path}@{repo.blob(rev, path)}")
    assert node is not None, path
    count = len((repo.root / path).read_text().splitlines()) if rev == "HEAD" else 10**4
    out: set[int] = set()
    for _, start, end, *_ in store.attributions_of(node.id):
        out.update(range(start, (end if end is not None else count) + 1))
    return out


def gate_rows(store: Store, tmp_path: Path, rows: list[dict]) -> dict[str, str]:
    """Ingest `rows` as dataset d@1 and return each example's precise status."""
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"dataset": "d", "version": "1", **r}) + "\n" for r in rows))
    for batch in manifest.load([path]):
        report = store.ingest(batch)
        assert report.rejected == 0, report.rejections
    store.set_policy(parse_policy(POLICY))
    run = engine.propagate_taint(store)
    return {
        r["example_id"]: engine.verdict(
            store, run, engine.resolve_example(store, f"d@1:{r['example_id']}"), "precise"
        ).status
        for r in rows
    }


@pytest.mark.parametrize("git_first", [True, False])
def test_a_file_returning_to_earlier_content_or_changing_mode_keeps_carrying(
    repo: Repo, tmp_path: Path, git_first: bool
) -> None:
    repo.write("src/a.py", HUMAN_HEAD)
    repo.write("src/b.py", ["import os", ""])
    repo.commit("base")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.write("src/b.py", ["import os", ""] + MORE_AI)
    repo.commit("retry and backoff" + CLAUDE)
    repo.write("src/a.py", ["# a header line a person wrote"] + HUMAN_HEAD + AI_LINES)
    header = repo.commit("header")
    repo.git("revert", "--no-edit", header)  # back to the version before: a cycle of versions
    repo.git("checkout", header, "--", "src/a.py")  # and forward again by a restore
    repo.commit("restore header")
    (repo.root / "src/a.py").chmod(0o755)
    repo.commit("make it executable")  # mode only: the same blob
    repo.write("src/b.py", ["import os", ""] + MORE_AI + ["print(backoff(3))"])
    repo.commit("use backoff")
    store = Store(":memory:")
    out = output_event(tmp_path, ["value_of_everything = compute_the_answer(42)"], "toolu_x")
    steps = [
        lambda: ingest(store, repo.root),
        lambda: [store.ingest(b) for b in events.load([out])],
    ]
    for step in steps if git_first else steps[::-1]:
        step()
    assert lines_of(store, repo, "HEAD", "src/a.py") == set(range(7, 13))
    assert lines_of(store, repo, "HEAD", "src/b.py") == {3, 4}
    statuses = gate_rows(
        store,
        tmp_path,
        [
            {
                "example_id": "ai",
                "source": {
                    "repo": REPO,
                    "commit": repo.git("rev-parse", "HEAD"),
                    "path": "src/a.py",
                    "lines": [7, 9],
                },
            },
            {
                "example_id": "human",
                "source": {
                    "repo": REPO,
                    "commit": repo.git("rev-parse", "HEAD"),
                    "path": "src/a.py",
                    "lines": [1, 6],
                },
            },
        ],
    )
    assert statuses == {"ai": "TAINTED", "human": "CLEAN"}


NAMES = ["dir with space/a b.py", "tab\tname.py", 'quo"te.py', "ünïcödé.py", "-- dashes.py"]


def test_paths_git_quotes_or_pads_and_lines_that_look_like_headers(
    repo: Repo, tmp_path: Path
) -> None:
    tricky = [
        "++ this added line starts like a header",
        "-- and so does this one",
        "--- a/not-a-header",
        "+++ b/not-a-header either",
    ]
    for name in NAMES:
        repo.write(name, ["x = 1"])
    repo.commit("human files")
    for name in NAMES:
        repo.write(name, ["x = 1"] + tricky)
    repo.commit("ai lines" + CLAUDE)
    for name in NAMES:
        repo.write(name, ["x = 1", "y = 2"] + tricky)
    repo.commit("a person adds a line")
    store = Store(":memory:")
    ingest(store, repo.root)
    head = repo.git("rev-parse", "HEAD")
    for name in NAMES:
        assert lines_of(store, repo, "HEAD", name) == {3, 4, 5, 6}, name
        node = store.node(f"file:{REPO}:{name}@{repo.blob('HEAD', name)}")
        assert node is not None and node.attrs["line_count"] == 6
    rows = [
        {
            "example_id": f"{i}-{part}",
            "source": {"repo": REPO, "commit": head, "path": name, "lines": span},
        }
        for i, name in enumerate(NAMES)
        for part, span in (("h", [1, 2]), ("ai", [3, 6]))
    ]
    statuses = gate_rows(store, tmp_path, rows)
    assert statuses == {
        r["example_id"]: "TAINTED" if r["example_id"].endswith("ai") else "CLEAN" for r in rows
    }


def note_text(attestation: str, sessions: dict[str, str]) -> str:
    return (
        attestation
        + "---\n"
        + json.dumps(
            {
                "schema_version": "authorship/3.0.0",
                "base_commit_sha": "0" * 40,
                "prompts": {},
                "humans": {"h_31dce776f88375": {"author": "Dév <dev@example.com>"}},
                "sessions": {
                    s: {"agent_id": {"tool": tool, "id": "x", "model": "some-model"}}
                    for s, tool in sessions.items()
                },
            },
            ensure_ascii=False,
        )
    )


def test_git_ai_notes_read_as_bytes_on_the_versions_of_the_commits_tree(repo: Repo) -> None:
    repo.write("ünï côde.py", [f"line_{n} = {n}" for n in range(1, 11)])
    repo.write("src/other.py", [f"other_{n} = {n}" for n in range(1, 6)])
    first = repo.commit("add files")
    repo.write("README.md", ["# notes attest files this commit did not change"])
    second = repo.commit("docs")
    session = "s_c9883b05a2487d"
    repo.git(
        "notes",
        "--ref=ai",
        "add",
        "-m",
        note_text(
            '"ünï côde.py"\n  s_c9883b05a2487d::t_9f8e7d6c5b4a32 2-4,9\n  h_31dce776f88375 5-6\n',
            {session: "claude"},
        ),
        first,
    )
    # a note on a commit that did not change src/other.py still attests its lines there
    repo.git(
        "notes",
        "--ref=ai",
        "add",
        "-m",
        note_text(
            "src/other.py\n  s_aaaaaaaaaaaaaa::t_bbbbbbbbbbbbbb 1-2\n",
            {"s_aaaaaaaaaaaaaa": "codex"},
        ),
        second,
    )
    store = Store(":memory:")
    ingest(store, repo.root)
    assert lines_of(store, repo, first, "ünï côde.py") == {2, 3, 4, 9}  # not the human 5-6
    assert lines_of(store, repo, second, "src/other.py") == {1, 2}
    tools = {
        store.node(k).attrs["tool"]
        for k, *_ in store.attributions_of(  # type: ignore
            store.node(f"file:{REPO}:src/other.py@{repo.blob(second, 'src/other.py')}").id
        )
    }  # type: ignore
    assert tools == {"codex"}


def test_every_ai_trailer_and_identity_counts(repo: Repo) -> None:
    repo.write("a.py", ["base = 0"])
    repo.commit("base")
    repo.write("a.py", ["base = 0", "by_claude_author = 1"])
    c1 = repo.commit("authored by claude", author="Claude <noreply@anthropic.com>")
    repo.write("a.py", ["base = 0", "by_claude_author = 1", "by_two_agents = 2"])
    c2 = repo.commit(
        "pair work\n\nCo-authored-by: Claude <noreply@anthropic.com>\n"
        "Co-authored-by: Devin AI <158243242+devin-ai-integration[bot]"
        "@users.noreply.github.com>"
    )
    repo.write("b.py", ["by_copilot_agent = 3"])
    c3 = repo.commit(
        "copilot", author="copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>"
    )
    repo.write("b.py", ["by_copilot_agent = 3", "by_a_person = 4"])
    c4 = repo.commit("a person named Claude", author="Claude Dupont <claude@dupont.fr>")
    # Copilot CLI: the co-author's paragraph, then its session's, which git takes as the
    # trailer block (github/github-mcp-server has twelve such commits)
    repo.write("c.py", ["by_copilot_cli = 5"])
    c5 = repo.commit(
        "fix: label content\n\nCo-authored-by: Copilot App "
        "<223556219+Copilot@users.noreply.github.com>\n\n"
        "Copilot-Session: 21420b11-5dae-49b6-ac77-965faec7f88b"
    )
    # a squash merge lists its commits' messages, their co-authors among them
    repo.write("c.py", ["by_copilot_cli = 5", "squashed_from_a_codex_commit = 6"])
    c6 = repo.commit(
        "Add a feature (#12)\n\n* first step\n\nCo-authored-by: Codex <codex@openai.com>\n\n"
        "* second step\n\nSigned-off-by: A Person <person@example.com>"
    )
    repo.write("c.py", ["by_copilot_cli = 5", "squashed_from_a_codex_commit = 6", "mine = 7"])
    c7 = repo.commit("mention, not co-authorship: the Co-authored-by: trailer is documented")
    # the other lines tools write: a bare e-mail, `Made-with:`, `Assisted-by:`
    repo.write("d.py", ["by_cursor = 8", "by_opencode = 9", "by_bare_cursor = 10"])
    c8 = repo.commit("cursor\n\nMade-with: Cursor\nAssisted-by: OpenCode <dev@opencode.ai>")
    repo.write("e.py", ["by_bare_email = 11"])
    c9 = repo.commit("bare\n\nCo-authored-by: cursoragent@cursor.com")
    # the line a tool writes when it makes the commit, its co-author trailer dropped
    # (BeehiveInnovations/zen-mcp-server has 19 such commits); Crush names the model
    # beside its own address
    repo.write("f.py", ["by_claude_no_trailer = 12"])
    c10 = repo.commit("docs: portkey\n\n🤖 Generated with [Claude Code](https://claude.ai/code)")
    repo.write("f.py", ["by_claude_no_trailer = 12", "by_crush = 13"])
    c11 = repo.commit(
        "feat: crush\n\n💘 Generated with Crush\n\n"
        "Assisted-by: Claude Opus 4.1 via Crush <crush@charm.land>"
    )
    repo.write("f.py", ["by_claude_no_trailer = 12", "by_crush = 13", "docs_built = 14"])
    c12 = repo.commit("docs generated with Sphinx\n\nGenerated with Sphinx")
    store = Store(":memory:")
    ingest(store, repo.root)

    def tools(rev: str, path: str) -> dict[int, set[str]]:
        node = store.node(f"file:{REPO}:{path}@{repo.blob(rev, path)}")
        out: dict[int, set[str]] = {}
        for key, start, end, *_ in store.attributions_of(node.id):  # type: ignore[union-attr]
            for n in range(start, (end or start) + 1):
                out.setdefault(n, set()).add(store.node(key).attrs["tool"])  # type: ignore
        return out

    assert tools(c1, "a.py") == {2: {"claude-code"}}
    assert tools(c2, "a.py") == {2: {"claude-code"}, 3: {"claude-code", "devin"}}
    assert tools(c3, "b.py") == {1: {"copilot"}}
    assert tools(c4, "b.py") == {1: {"copilot"}}  # line 2 is a person's
    assert tools(c5, "c.py") == {1: {"copilot"}}
    assert tools(c6, "c.py") == {1: {"copilot"}, 2: {"codex"}}
    assert tools(c7, "c.py") == {1: {"copilot"}, 2: {"codex"}}  # not a co-author line
    assert tools(c8, "d.py") == {n: {"cursor", "opencode"} for n in (1, 2, 3)}
    assert tools(c9, "e.py") == {1: {"cursor"}}
    assert tools(c10, "f.py") == {1: {"claude-code"}}
    assert tools(c11, "f.py") == {1: {"claude-code"}, 2: {"crush"}}
    assert tools(c12, "f.py") == {1: {"claude-code"}, 2: {"crush"}}  # Sphinx is no AI tool


def test_a_mirror_missing_blobs_loads_the_rest_and_names_what_is_missing(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("logo.png", ["\x00binary\x00"])
    repo.write("src/a.py", HUMAN_HEAD)
    repo.write("src/old.py", [f"value_{n} = {n}" for n in range(30)])
    repo.commit("base")
    repo.write("logo.png", ["\x00binary 2\x00"])
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.git("mv", "src/old.py", "src/new.py")
    repo.write("src/new.py", [f"value_{n} = {n}" for n in range(31)])
    repo.commit("ai work" + CLAUDE)
    lost = [repo.blob("HEAD~1", "logo.png"), repo.blob("HEAD~1", "src/old.py")]
    for blob in lost:  # as in a mirror that left large objects out
        (repo.root / ".git/objects" / blob[:2] / blob[2:]).unlink()
    store = Store(":memory:")
    reports = ingest(store, repo.root)
    assert sum(r.accepted for r in reports) == 2
    assert any("missing" in n for r in reports for n in r.notes)
    assert lines_of(store, repo, "HEAD", "src/a.py") == set(range(6, 12))
    head = repo.git("rev-parse", "HEAD")
    statuses = gate_rows(
        store,
        tmp_path,
        [
            {
                "example_id": "ai",
                "source": {"repo": REPO, "commit": head, "path": "src/a.py", "lines": [6, 8]},
            },
            {
                "example_id": "human",
                "source": {"repo": REPO, "commit": head, "path": "src/a.py", "lines": [1, 4]},
            },
            {
                "example_id": "renamed",
                "source": {"repo": REPO, "commit": head, "path": "src/new.py", "lines": [1, 5]},
            },
        ],
    )
    # the file whose earlier blob is gone: its lineage is incomplete, not clean
    assert statuses == {"ai": "TAINTED", "human": "CLEAN", "renamed": "TAINTED"} or statuses == {
        "ai": "TAINTED",
        "human": "CLEAN",
        "renamed": "UNKNOWN",
    }
    run = engine.propagate_taint(store)
    old = engine.resolve_example(store, "d@1:renamed")
    verdict = engine.verdict(store, run, old, "precise")
    assert verdict.status != "CLEAN"


def test_blobs_missing_in_several_batches_are_each_read_around(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mirror lacking blobs that later batches name too, at their paths or at new ones
    (Aider-AI/aider's mirror lacks seven videos, renamed twice over 13,000 commits): every
    batch loads, none fails the repository, and each lacking version is named."""
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 2)
    repo.write("src/a.py", HUMAN_HEAD)
    repo.commit("base")
    lost = []
    for n in range(6):
        repo.write(f"assets/video{n}.mp4", [f"\x00frames {n}\x00"])
        repo.write("src/a.py", HUMAN_HEAD + AI_LINES[: n + 1])
        repo.commit(f"step {n}" + CLAUDE)
        if n % 2 == 1:  # commits 2, 4, 6: one in each batch of two
            lost.append(repo.blob("HEAD", f"assets/video{n}.mp4"))
    (repo.root / "media").mkdir()
    repo.git("mv", "assets/video1.mp4", "media/video1.mp4")  # a lost blob at a new path
    repo.commit("move the video")
    repo.write("media/video1.mp4", ["\x00frames 1, recut\x00"])  # git must read the lost one
    repo.commit("recut the video")
    for blob in lost:
        (repo.root / ".git/objects" / blob[:2] / blob[2:]).unlink()
    store = Store(":memory:")
    reports = ingest(store, repo.root)
    assert sum(r.accepted for r in reports) == 9
    assert sum(r.rejected for r in reports) == 0
    assert lines_of(store, repo, "HEAD", "src/a.py") == set(range(6, 12))
    for n in range(1, 6, 2):
        video = store.node(f"file:{REPO}:assets/video{n}.mp4@{lost[n // 2]}")
        assert video is not None and "git fetch" in video.attrs["missing"]
    # each batch says what the clone lacks; the total says it once
    assert sum(any("missing" in n for n in r.notes) for r in reports) > 1
    total = IngestReport("git")
    for report in reports:
        total.add(report)
    assert [n for n in total.notes if "missing" in n] == [
        f"{REPO}: 3 blobs are missing from this clone (partial clone or incomplete mirror); "
        "fetch them (`git fetch --refetch origin`) and ingest again"
    ]


def test_a_shallow_clone_is_unknown_before_its_boundary_until_unshallowed(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("ai lines" + CLAUDE)
    repo.write("README.md", ["# one"])
    repo.commit("docs")
    repo.write("README.md", ["# one", "two"])
    repo.commit("more docs")
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(shallow)], check=True
    )
    subprocess.run(
        ["git", "-C", str(shallow), "remote", "set-url", "origin", f"https://{REPO}.git"],
        check=True,
    )
    store = Store(":memory:")
    ingest(store, shallow)
    head = repo.git("rev-parse", "HEAD")
    rows = [
        {
            "example_id": "e",
            "source": {"repo": REPO, "commit": head, "path": "src/a.py", "lines": [6, 8]},
        }
    ]
    assert gate_rows(store, tmp_path, rows) == {"e": "UNKNOWN"}
    run = engine.propagate_taint(store)
    reason = engine.verdict(store, run, engine.resolve_example(store, "d@1:e"), "precise").reason
    assert "fetch --unshallow" in (reason or "")
    subprocess.run(
        ["git", "-C", str(shallow), "fetch", "-q", "--unshallow", str(repo.root)], check=True
    )
    reports = ingest(store, shallow, exclude=store.commits_of(REPO))
    assert sum(r.accepted for r in reports) == 3  # the boundary is read again, completely
    run = engine.propagate_taint(store)
    assert (
        engine.verdict(store, run, engine.resolve_example(store, "d@1:e"), "precise").status
        == "TAINTED"
    )


@pytest.mark.parametrize("git_first", [True, False])
def test_an_output_written_in_the_second_of_its_commit_matches(
    repo: Repo, tmp_path: Path, git_first: bool
) -> None:
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("same second")
    commit_s = int(repo.git("log", "-1", "--format=%ct"))
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(commit_s + 0.4, UTC).isoformat(timespec="milliseconds")
    out = output_event(tmp_path, AI_LINES, time=moment.replace("+00:00", "Z"))
    late = datetime.fromtimestamp(commit_s + 3600, UTC).isoformat().replace("+00:00", "Z")
    much_later = output_event(
        tmp_path, ["    value = compute_a_brand_new_line(1, 2, 3)"], output="toolu_later", time=late
    )
    store = Store(":memory:")
    steps = [
        lambda: ingest(store, repo.root),
        lambda: [store.ingest(b) for b in events.load([out, much_later])],
    ]
    for step in steps if git_first else steps[::-1]:
        step()
    assert lines_of(store, repo, "HEAD", "src/a.py") == set(range(6, 12))


def test_a_partial_clone_loads_its_history_and_names_what_to_fetch(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("src/a.py", HUMAN_HEAD)
    repo.commit("base")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("ai lines" + CLAUDE)
    repo.git("config", "uploadpack.allowFilter", "true")
    partial = tmp_path / "partial"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--filter=blob:none",
            "--no-checkout",
            f"file://{repo.root}",
            str(partial),
        ],
        check=True,
    )
    subprocess.run(
        ["git", "-C", str(partial), "remote", "set-url", "origin", f"https://{REPO}.git"],
        check=True,
    )  # unreachable here: nothing to fetch
    store = Store(":memory:")
    reports = ingest(store, partial)
    assert sum(r.accepted for r in reports) == 2
    assert any("fetch" in note for r in reports for note in r.notes)
    head = repo.git("rev-parse", "HEAD")
    rows = [
        {
            "example_id": "ai",
            "source": {"repo": REPO, "commit": head, "path": "src/a.py", "lines": [6, 8]},
        },
        {
            "example_id": "human",
            "source": {"repo": REPO, "commit": head, "path": "src/a.py", "lines": [1, 4]},
        },
    ]
    # the trailer still taints the file the commit wrote (which lines is unknown: all of
    # them); what cannot be read is never CLEAN
    assert gate_rows(store, tmp_path, rows) == {"ai": "TAINTED", "human": "TAINTED"}


def test_a_bare_mirror_without_origin_is_named_with_repo(repo: Repo, tmp_path: Path) -> None:
    from io import StringIO

    from lineage.cli import main

    repo.write("src/a.py", HUMAN_HEAD)
    repo.commit("base")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("ai lines" + CLAUDE)
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.root), str(mirror)], check=True)
    subprocess.run(["git", "-C", str(mirror), "remote", "remove", "origin"], check=True)
    db = str(tmp_path / "m.duckdb")
    assert (
        main(
            ["--db", db, "ingest", "git", str(mirror), "--repo", f"https://{REPO}.git"],
            out=StringIO(),
        )
        == 0
    )
    with Store(db) as store:
        assert lines_of(store, repo, "HEAD", "src/a.py") == set(range(6, 12))
        assert len(store.commits_of(REPO)) == 2


def test_a_commit_whose_diff_spans_many_read_blocks_parses_whole(repo: Repo) -> None:
    """git's output is read a megabyte at a time; one commit of about 3 MB, between two
    small ones, keeps every line and its neighbours stay separate commits."""
    repo.write("small.py", ["a = 1"])
    repo.commit("small")
    big = [
        f"generated_value_{n:07d} = {n * 7919 % 1000003}  # padding padding" for n in range(50_000)
    ]
    repo.write("big.py", big)
    repo.commit("big" + CLAUDE)
    repo.write("small.py", ["a = 1", "b = 2"])
    repo.commit("small again")
    store = Store(":memory:")
    ingest(store, repo.root)
    assert lines_of(store, repo, "HEAD", "big.py") == set(range(1, 50_001))
    assert lines_of(store, repo, "HEAD", "small.py") == set()
    commits = store.fetch_maybe_one("SELECT count(*) FROM nodes WHERE kind = 'commit'")
    assert commits == (3,)


def test_messages_and_lines_that_imitate_the_log_format_lose_nothing(repo: Repo) -> None:
    """Any byte but NUL can stand in a message or a line: separators and the header the
    loader asks git to write, in messages and in file content, cut no commit short."""
    repo.write("a.py", ["x = 1", "marker = '\x1egit-commit\x1f'"])
    repo.commit("unit\x1fseparator and \x1egit-commit\x1f header" + CLAUDE)
    repo.write("a.py", ["x = 1", "marker = '\x1egit-commit\x1f'", "y = 2"])
    repo.commit("a message that ends like the header \x1egit-commit")
    repo.write("a.py", ["x = 1", "marker = '\x1egit-commit\x1f'", "y = 2", "z = 3"])
    repo.commit("the last one" + CLAUDE)
    store = Store(":memory:")
    ingest(store, repo.root)
    commits = store.fetch_maybe_one("SELECT count(*) FROM nodes WHERE kind = 'commit'")
    assert commits == (3,)
    assert lines_of(store, repo, "HEAD", "a.py") == {1, 2, 4}


@pytest.mark.parametrize("too_many_paths", [False, True])
def test_a_merge_patches_only_the_files_it_changed_from_every_parent(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, too_many_paths: bool
) -> None:
    """A file a merge took from one parent is that parent's version, lines and all, as `git
    blame` has it; a file it changed from every parent (a conflict resolved) is diffed
    against each (the whole merge, when its paths are too many to name to git). A merge
    that keeps one side whole (`-s ours`) adds no line of its own, whichever parent's diff
    is the empty one."""
    if too_many_paths:
        monkeypatch.setattr(git_log, "MERGE_PATHSPEC_CHARS", 0)
    repo.write("src/a.py", HUMAN_HEAD)
    repo.write("src/b.py", ["B = 1"])
    repo.write("src/c.py", ["C = 1", "", "def c_value():", "    return C"])
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.write("src/c.py", ["C = 1", "", "def c_value():", "    return C", "C_AI = c_value() * 2"])
    repo.commit("feature: retry and c" + CLAUDE)
    repo.write("src/c.py", ["C = 10", "", "def c_value():", "    return C", "C_AI = c_value() * 2"])
    repo.commit("feature: ten")
    repo.git("checkout", "-q", "main")
    repo.write("src/b.py", ["B = 2  # main's value"])
    repo.write("src/c.py", ["C = 20", "", "def c_value():", "    return C"])
    repo.commit("main: b and c")
    subprocess.run(["git", "-C", str(repo.root), "merge", "-q", "feature"], capture_output=True)
    repo.write(
        "src/c.py",
        ["C = 30  # both sides reconciled", "", "def c_value():"]
        + [
            "    return C",
            "C_AI = c_value() * 2",
        ],
    )
    merge = repo.commit("merge feature, conflict resolved" + CLAUDE)
    repo.git("checkout", "-q", "-b", "other", "main~1")
    repo.write("src/b.py", ["B = 3  # other's value"])
    repo.commit("other: b")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "-s", "ours", "-m", "keep ours" + CLAUDE, "other")

    with git_log.stream_log(repo.root, [merge]) as log:
        (read,) = list(log)
    by_path = [{ch.new_path: ch for ch in diff} for diff in read.changes]
    assert len(read.parents) == len(read.changes) == 2
    assert by_path[0]["src/a.py"].taken and not by_path[0]["src/a.py"].hunks  # feature's a.py
    assert by_path[1]["src/b.py"].taken and not by_path[1]["src/b.py"].hunks  # main's b.py
    assert not by_path[0]["src/c.py"].taken and by_path[0]["src/c.py"].hunks
    assert not by_path[1]["src/c.py"].taken and by_path[1]["src/c.py"].hunks

    store = Store(":memory:")
    ingest(store, repo.root)
    ai_block = set(range(len(HUMAN_HEAD) + 1, len(HUMAN_HEAD) + len(AI_LINES) + 1))
    assert lines_of(store, repo, "HEAD", "src/a.py") == ai_block  # carried from feature's
    assert lines_of(store, repo, "HEAD", "src/c.py") == {1, 5}  # the resolution; feature's
    assert lines_of(store, repo, "HEAD", "src/b.py") == set()  # `-s ours` wrote nothing
    # what a merge did not take still derives into it, for strict lineage: both merges took
    # feature's a.py over the base's (the second kept its first parent's)
    base_a, feature_a = (
        store.node(f"file:{REPO}:src/a.py@{repo.blob(r, 'src/a.py')}") for r in ("main~2", merge)
    )
    assert base_a is not None and feature_a is not None
    assert store.fetch_maybe_one(
        "SELECT count(*) FROM edges WHERE kind = 'merged' AND src = ? AND dst = ?",
        [base_a.id, feature_a.id],
    ) == (2,)


def test_a_version_a_merge_did_not_take_taints_it_strictly_not_precisely(
    repo: Repo, tmp_path: Path
) -> None:
    """A merge that kept a person's rewrite over an AI branch's version of the file: no AI
    line is in it (precise: CLEAN), yet it descends from the AI version (strict: TAINTED)."""
    repo.write("src/a.py", HUMAN_HEAD)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("feature: retry" + CLAUDE)
    repo.git("checkout", "-q", "main")
    repo.write("src/a.py", ["# rewritten by a person", *HUMAN_HEAD])
    repo.commit("main: header")
    repo.git("merge", "-q", "-s", "ours", "-m", "merge feature, keep ours", "feature")
    head = repo.git("rev-parse", "HEAD")
    store = Store(":memory:")
    ingest(store, repo.root)
    rows = [{"example_id": "e", "source": {"repo": REPO, "commit": head, "path": "src/a.py"}}]
    assert gate_rows(store, tmp_path, rows) == {"e": "CLEAN"}
    run = engine.propagate_taint(store)
    example = engine.resolve_example(store, "d@1:e")
    assert engine.verdict(store, run, example, "strict").status == "TAINTED"


def test_damaged_git_ai_notes_cost_only_themselves(repo: Repo, tmp_path: Path) -> None:
    """Notes truncated, not UTF-8, nested past any parser's depth or with a huge line sit
    beside a sound one: every commit loads, each unreadable note is named, the sound one
    attributes its lines."""
    repo.write("src/a.py", [f"value_{n} = compute({n})" for n in range(1, 11)])
    shas = [repo.commit("add a")]
    for n in range(4):
        repo.write(f"src/f{n}.py", [f"other_{n} = {n}"])
        shas.append(repo.commit(f"add f{n}"))
    sound = note_text(
        "src/a.py\n  s_c9883b05a2487d::t_9f8e7d6c5b4a32 2-4\n", {"s_c9883b05a2487d": "claude"}
    ).encode()
    damaged = [
        b"src/f0.py\n  s_aaaaaaaaaaaaaa::t_bbbbbbbbbbbbbb 1\n",  # truncated: no metadata
        b'src/f1.py\n  s_aaaaaaaaaaaaaa 1\n---\n{"sessions": "\xff\xfe',  # not UTF-8, cut
        b"src/f2.py\n  s_aaaaaaaaaaaaaa 1\n---\n" + b"[" * 100_000 + b"]" * 100_000,
        b"src/f3.py\n  " + b"x" * 2_000_000 + b" 1\n---\n{}",  # huge, yet readable
    ]
    for sha, data in zip(shas, [sound, *damaged], strict=True):
        note = tmp_path / f"{sha}.note"
        note.write_bytes(data)
        repo.git("notes", "--ref=ai", "add", "-F", str(note), sha)
    store = Store(":memory:")
    reports = ingest(store, repo.root)
    assert sum(r.accepted for r in reports) == len(shas)
    assert sum(r.rejected for r in reports) == 0
    assert lines_of(store, repo, shas[0], "src/a.py") == {2, 3, 4}
    problems = [n for r in reports for n in r.notes if "git-ai note" in n]
    assert len(problems) == 3, problems  # the huge note names an agent it does not describe
