"""Reading git's log as it streams: every commit of a log much larger than git's pipe, a
reader that stops early, and git failing part way."""

import random
import threading
from pathlib import Path

import pytest

from lineage.loaders import git_log
from lineage.loaders.agent_outputs import line_hash
from tests.loaders.test_git import Repo


@pytest.fixture
def big_history(tmp_path: Path) -> tuple[Repo, list[str]]:
    """Six commits, each adding 40,000 lines (about 1.5 MB of patch): git's output is many
    times a pipe's 64 KiB and more than one read of BLOCK."""
    repo = Repo(tmp_path / "repo")
    shas = []
    lines: list[str] = []
    for n in range(6):
        lines += [f"value_{n}_{i} = compute({i}, {n})" for i in range(40_000)]
        repo.write("data.py", lines)
        shas.append(repo.commit(f"step {n}"))
    return repo, shas


def test_a_log_many_times_larger_than_a_pipe_is_read_whole_and_in_order(
    big_history: tuple[Repo, list[str]],
) -> None:
    repo, shas = big_history
    with git_log.stream_log(repo.root, shas) as commits:
        read = list(commits)
    assert [c.sha for c in read] == shas
    for n, commit in enumerate(read):
        (change,) = commit.changes[0]
        assert len(change.added_lines()) == len(change.hashes) == 40_000
        assert change.hashed_lines[0] == 40_000 * n + 1
        first = line_hash(f"value_{n}_0 = compute(0, {n})")
        assert format(int(change.hashes[0]), "016x") == first


def test_a_reader_that_stops_early_ends_git_and_raises_nothing(
    big_history: tuple[Repo, list[str]],
) -> None:
    repo, shas = big_history
    before = threading.active_count()
    with git_log.stream_log(repo.root, shas) as commits:
        first = next(commits)
    assert first.sha == shas[0]
    assert threading.active_count() == before  # the pipe's reader and git's feeders ended


def test_git_failing_part_way_is_raised_once_its_output_is_read(
    big_history: tuple[Repo, list[str]],
) -> None:
    repo, shas = big_history
    blob = repo.blob(shas[3], "data.py")
    (repo.root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # a clone that lacks it
    read: list[str] = []
    with (
        pytest.raises(git_log.GitFailed, match=f"unable to read {blob}"),
        git_log.stream_log(repo.root, shas) as commits,
    ):
        read += [c.sha for c in commits]
    assert read[:3] == shas[:3]  # what git wrote before it failed was parsed


def test_a_file_whose_text_is_a_patch_is_content_never_headers(tmp_path: Path) -> None:
    """Lines that imitate git's own headers (a file that is itself a diff) are content: each
    file's hunks, added line numbers and hashes come out as written, file after file."""
    repo = Repo(tmp_path / "demo")
    fake = [
        "diff --git a/src/x.py b/src/x.py",
        "index 0000000..1111111 100644",
        "--- a/src/x.py",
        "+++ b/src/x.py",
        "@@ -1,2 +1,3 @@",
        "\\ No newline at end of file",
        "rename to elsewhere.py",
        "Binary files a/x and b/x differ",
    ]
    repo.write("patches/fix.diff", fake)
    repo.write("src/real.py", ["def real():", "    return 'real value'"])
    sha = repo.commit("add a patch file")
    with git_log.stream_log(repo.root, [sha]) as commits:
        (commit,) = list(commits)
    by_path = {ch.new_path: ch for ch in commit.changes[0]}
    patch, real = by_path["patches/fix.diff"], by_path["src/real.py"]
    assert not patch.binary and patch.hunks == [[0, 0, 1, len(fake)]]
    assert patch.added_lines().tolist() == list(range(1, len(fake) + 1))
    assert [format(int(h), "016x") for h in patch.hashes] == [
        line_hash(" ".join(t.split())) for t in fake
    ]
    assert real.hunks == [[0, 0, 1, 2]] and real.hashed_lines.tolist() == [1, 2]


Lines = list[tuple[int, str]]


def _rewritten_hunk(seed: int, long_every: int) -> tuple[Lines, Lines]:
    """A large hunk: old lines, and new ones of which most are light rewrites of an old line
    near their place (some lines very long, as minified code is)."""
    rng = random.Random(seed)
    words = ["total", "price", "count", "qty", "=", "*", "+", "x", "return", "(", ")", "value"]

    def text(i: int) -> str:
        words_of_line = " ".join(rng.choice(words) for _ in range(rng.randint(2, 8)))
        return words_of_line * (300 if long_every and i % long_every == 0 else 1)

    old = [(n, text(n)) for n in range(1, rng.randint(100, 400))]
    new: list[tuple[int, str]] = []
    count = rng.randint(100, 400)
    for n in range(1, count + 1):
        base = old[(n - 1) * len(old) // count][1]
        new.append((n, base + rng.choice(["", " x", " qty"]) if rng.random() < 0.7 else text(n)))
    return old, new


@pytest.mark.parametrize("long_every", [0, 7])
def test_a_large_hunk_pairs_its_lines_as_a_small_one_does(
    long_every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large hunk's scores come a block at a time from one `cdist` call; the pairs are
    those that scoring one line at a time chooses, to the tie."""
    for seed in range(5):
        old, new = _rewritten_hunk(seed, long_every)
        by_blocks = git_log.similar_pairs(old, new)
        monkeypatch.setattr(git_log, "_PAIR_MATRIX_AT", 10**12)
        one_by_one = git_log.similar_pairs(old, new)
        monkeypatch.undo()
        assert by_blocks == one_by_one
        assert len(by_blocks) > len(new) // 3  # the rewrites were paired
