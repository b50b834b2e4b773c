import subprocess
from pathlib import Path

import pytest

from lineage.repos import RepoResolver, _repo_of_directory, normalize_remote


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/widgets.git",
        "git@github.com:acme/widgets",
        "github.com/acme/widgets",
        "ssh://git@GitHub.com:22/acme/widgets.git",
        "https://token@github.com/acme/widgets/",
    ],
)
def test_remote_spellings_are_one_repo(url: str) -> None:
    assert normalize_remote(url) == "github.com/acme/widgets"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def test_cwd_resolves_through_a_real_checkout_and_its_worktree(tmp_path: Path) -> None:
    repo = tmp_path / "widgets"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "remote", "add", "origin", "git@github.com:acme/widgets.git")
    (repo / "src").mkdir()
    (repo / "src" / "a.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    _repo_of_directory.cache_clear()
    resolver = RepoResolver()
    loc = resolver.locate(str(repo / "src" / "a.py"), str(repo / "src"))
    assert (loc.repo, loc.path, loc.how) == ("github.com/acme/widgets", "src/a.py", "local-git")
    in_worktree = resolver.locate("src/new.py", str(tmp_path / "wt"))
    assert (in_worktree.repo, in_worktree.path) == ("github.com/acme/widgets", "src/new.py")
    no_remote = tmp_path / "scratch"
    no_remote.mkdir()
    git(no_remote, "init", "-q")
    loc = resolver.locate(str(no_remote / "f.txt"), str(no_remote))
    assert loc.repo == str(no_remote.resolve()) and loc.path == "f.txt"


def test_unresolvable_paths_stay_unresolved() -> None:
    loc = RepoResolver().locate("/nowhere/at/all.py", "/nowhere")
    assert (loc.repo, loc.how) == (None, "unresolved")
