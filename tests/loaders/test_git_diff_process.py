"""Diffs read in a process of their own: the same commits as read here, git's failures raised
as git's, a reader stopped early or asked ahead for what it then does not read."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lineage.facts import Batch, LineEnds
from lineage.loaders import git, git_log
from lineage.loaders.git_diff_process import DiffReader
from tests.loaders.helpers import nodes_of
from tests.loaders.test_git import Repo
from tests.loaders.test_git_histories import note_text


def _history(root: Path) -> tuple[Repo, list[str]]:
    repo = Repo(root)
    shas = []
    lines = [f"value_{i} = compute({i})" for i in range(50)]
    for n in range(4):
        lines[n * 7] = f"value_{n * 7} = compute({n * 7}) + adjust({n})"
        lines.append(f"extra_{n} = finish({n})")
        repo.write("src/data file.py", lines)
        repo.write(f"docs/note_{n}.md", [f"Note number {n} about the values"])
        shas.append(repo.commit(f"step {n}"))
    return repo, shas


def _plain(commit: git_log.Commit) -> list[Any]:
    """A commit's fields and changes as comparable values (arrays as lists)."""
    return [
        commit.sha,
        commit.parents,
        commit.trailers,
        [
            [
                {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(ch).items()}
                for ch in diff
            ]
            for diff in commit.changes
        ],
    ]


def _read(reader: DiffReader, repo: Repo, shas: list[str], **options: Any) -> list[Any]:
    with reader.stream(repo.root, shas, **options) as commits:
        return [_plain(c) for c in commits]


def test_commits_read_apart_are_the_commits_read_here(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path / "repo")
    with DiffReader(apart=False) as here:
        expected = _read(here, repo, shas)
    with DiffReader(apart=True) as apart:
        assert _read(apart, repo, shas) == expected
        assert _read(apart, repo, shas[2:]) == expected[2:]  # one process, many streams
    assert expected[3][3][0][0]["hunks"]  # the comparison holds real hunks


def test_git_failing_in_the_process_is_raised_as_git_failed(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path / "repo")
    blob = repo.blob(shas[2], "src/data file.py")
    (repo.root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    with DiffReader(apart=True) as reader:
        with pytest.raises(git_log.GitFailed, match=f"unable to read {blob}") as failed:
            _read(reader, repo, shas)
        assert "unable to read" in failed.value.stderr
        assert len(_read(reader, repo, shas[:1])) == 1  # the process still serves


def test_a_stream_stopped_early_or_asked_ahead_and_not_read_leaves_no_stale_commits(
    tmp_path: Path,
) -> None:
    repo, shas = _history(tmp_path / "repo")
    with DiffReader(apart=False) as here:
        expected = _read(here, repo, shas)
        without_docs = _read(here, repo, shas, exclude=["docs/note_1.md"])
    with DiffReader(apart=True) as reader:
        with reader.stream(repo.root, shas) as commits:
            assert next(commits).sha == shas[0]
        assert _read(reader, repo, shas) == expected
        reader.request(repo.root, shas)  # asked ahead, then read with other options
        assert _read(reader, repo, shas, exclude=["docs/note_1.md"]) == without_docs
        reader.request(repo.root, shas[1:])
        reader.request(repo.root, shas[3:])
        assert _read(reader, repo, shas[1:]) == expected[1:]
        assert _read(reader, repo, shas[3:]) == expected[3:]


def test_a_history_read_apart_loads_as_one_read_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader's batches are the same whether its diffs and notes are read apart or
    here, across batches asked ahead."""
    repo, shas = _history(tmp_path / "repo")
    for sha, lines in ((shas[1], "1-3"), (shas[3], "8,53")):  # notes of parts read ahead
        attestation = f'"src/data file.py"\n  s_c9883b05a2487d::t_9f8e7d6c5b4a32 {lines}\n'
        note = note_text(attestation, {"s_c9883b05a2487d": "claude"})
        repo.git("notes", "--ref=ai", "add", "-m", note, sha)
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 1)
    monkeypatch.setattr(git, "DIFFS_APART_FROM", 10**9)
    here = list(git.load([repo.root]))
    monkeypatch.setattr(git, "DIFFS_APART_FROM", 0)
    read_here: list[str] = []  # blobs whose line ends the loader would read itself
    monkeypatch.setattr(git, "blob_line_ends", lambda _, blobs: iter(read_here.extend(blobs) or ()))
    apart = list(git.load([repo.root]))
    assert len(apart) == len(here) == 4
    assert read_here == []  # the process read every version's line ends beside its diffs
    assert ends_of(apart) == ends_of(here)
    assert len(ends_of(here)) == 8  # four versions of each of the two files
    assert [r.event_id for b in apart for r in b.records] == [
        r.event_id for b in here for r in b.records
    ]
    assert nodes_of(apart, "file_version") == nodes_of(here, "file_version")
    noted = nodes_of(apart, "output")
    assert noted == nodes_of(here, "output")
    assert sorted(o["call"] for o in noted.values()) == ["git-ai-note", "git-ai-note"]


def ends_of(batches: list[Batch]) -> dict[str, list[int]]:
    return {
        f.file_version: f.ends.tolist()
        for b in batches
        for r in b.records
        for f in r.facts
        if isinstance(f, LineEnds)
    }


def test_each_part_of_a_mirror_lacking_blobs_is_parsed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mirror that lacks a blob late in its history: the blobs are looked for before the
    first diff, so no part is read twice and the parts asked ahead stay in step."""
    repo, _ = _history(tmp_path / "repo")
    repo.write("assets/video.mp4", ["\x00frames\x00"])
    repo.commit("a video")
    repo.write("assets/video.mp4", ["\x00frames, recut\x00"])  # git must read the lost one
    repo.commit("recut the video")
    lost = repo.blob("HEAD~1", "assets/video.mp4")
    (repo.root / ".git/objects" / lost[:2] / lost[2:]).unlink()
    monkeypatch.setattr(git, "COMMITS_PER_BATCH", 1)
    monkeypatch.setattr(git, "DIFFS_APART_FROM", 0)
    sent: dict[str, list[list[str]]] = {}
    send = DiffReader._send

    def counted(self: DiffReader, request: tuple[Any, ...]) -> None:
        kind, _, commits, _ = request
        sent.setdefault(kind, []).append(commits)
        send(self, request)

    monkeypatch.setattr(DiffReader, "_send", counted)
    batches = list(git.load([repo.root]))
    assert sum(len(b.records) for b in batches) == 6
    parts = sorted([r.payload["commit"]] for b in batches for r in b.records)
    assert {kind: sorted(asked) for kind, asked in sent.items()} == {"log": parts, "notes": parts}
