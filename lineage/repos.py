"""Repository identity: every path becomes (repo, repo-relative POSIX path).

A repo's id is its normalized remote URL (``github.com/acme/widgets``) or, with no remote, its
root path. A working directory is resolved by the git repository that contains it when that
path exists on this machine, else by the enrichment `lineage capture` recorded, else by a
`--repo` given on the command line; what cannot be resolved stays unresolved, never guessed.
"""

import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath, PureWindowsPath

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")
_WINDOWS = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def normalize_remote(url: str) -> str:
    """One spelling per repository: host/owner/name, lower-case host, no scheme, user or .git.

    >>> normalize_remote("git@github.com:acme/widgets.git")
    'github.com/acme/widgets'

    """
    text = url.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
        text = text.rsplit("@", 1)[-1] if "@" in text.split("/", 1)[0] else text
    else:
        match = _SCP_LIKE.match(text)
        if match and not _WINDOWS.match(text):
            text = f"{match.group(1)}/{match.group(2)}"
    text = text.rstrip("/")
    text = text.removesuffix(".git")
    host, _, rest = text.partition("/")
    host = host.split(":", 1)[0] if re.fullmatch(r"[\w.-]+:\d+", host) else host
    return f"{host.lower()}/{rest}" if rest else host.lower()


def is_windows_path(path: str) -> bool:
    return bool(_WINDOWS.match(path)) or ("\\" in path and "/" not in path)


def is_absolute(path: str) -> bool:
    return path.startswith("/") or bool(_WINDOWS.match(path))


def posix_path(path: str) -> str:
    """A path with forward slashes (Windows separators and drive letters kept as text)."""
    if is_windows_path(path):
        return PureWindowsPath(path).as_posix()
    return path


def relative_to(path: str, root: str) -> str | None:
    """`path` relative to `root` as POSIX text, or None when it lies outside.
    Windows paths compare case-insensitively."""
    p, r = posix_path(path), posix_path(root).rstrip("/")
    if is_windows_path(path) or is_windows_path(root):
        p_cmp, r_cmp = p.lower(), r.lower()
    else:
        p_cmp, r_cmp = p, r
    if p_cmp == r_cmp:
        return ""
    if p_cmp.startswith(r_cmp + "/"):
        return p[len(r) + 1 :]
    return None


def _git(cwd: str, *args: str, timeout: float = 2.0) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", cwd, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@dataclass(frozen=True)
class LocalRepo:
    """What git says about a directory on this machine."""

    toplevel: str
    remote: str | None
    head: str | None

    @property
    def repo_id(self) -> str:
        return normalize_remote(self.remote) if self.remote else self.toplevel


def local_repo(path: str, timeout: float = 2.0) -> LocalRepo | None:
    """The git repository containing `path` (a worktree resolves to its own toplevel and
    the shared remote), or None when the path does not exist here or is not in a repo.
    git is asked once per directory, however many files of it are named."""
    directory = Path(path)
    while not directory.exists():
        if directory.parent == directory:
            return None
        directory = directory.parent
    if directory.is_file():
        directory = directory.parent
    return _repo_of_directory(str(directory), timeout)


@cache
def _repo_of_directory(directory: str, timeout: float) -> LocalRepo | None:
    top = _git(directory, "rev-parse", "--show-toplevel", timeout=timeout)
    if not top:
        return None
    remote = _git(top, "remote", "get-url", "origin", timeout=timeout)
    if remote is None:
        remotes = (_git(top, "remote", timeout=timeout) or "").split()
        remote = _git(top, "remote", "get-url", remotes[0], timeout=timeout) if remotes else None
    return LocalRepo(top, remote, _git(top, "rev-parse", "HEAD", timeout=timeout))


@dataclass(frozen=True)
class Location:
    """A file named by an agent, normalized. `repo` None means unresolved."""

    repo: str | None
    path: str  # repo-relative POSIX path when resolved, else the path as given (POSIX)
    how: str  # local-git | capture | command-line | unresolved


class RepoResolver:
    """Turns (cwd, file path) pairs into `Location`s by the rule in this module's docstring."""

    def __init__(self, repo: str | None = None, *, local_git: bool = True) -> None:
        """`local_git` False never looks at this machine's files (records received over the
        network name paths of their producer's machine, not ours)."""
        self.cli_repo = normalize_remote(repo) if repo else None
        self.local_git = local_git

    def locate(
        self, file_path: str, cwd: str | None, enrichment: dict[str, str] | None = None
    ) -> Location:
        absolute = file_path
        if not is_absolute(file_path) and cwd:
            absolute = f"{posix_path(cwd).rstrip('/')}/{posix_path(file_path)}"
        for anchor in (absolute, cwd) if self.local_git else ():
            if anchor and not is_windows_path(anchor) and anchor.startswith("/"):
                local = local_repo(anchor)
                if local is not None:
                    rel = relative_to(absolute, local.toplevel)
                    if rel is not None:
                        return Location(local.repo_id, rel, "local-git")
        if enrichment and enrichment.get("git_toplevel"):
            top = enrichment["git_toplevel"]
            rel = relative_to(absolute, top)
            if rel is not None:
                remote = enrichment.get("remote_url")
                return Location(normalize_remote(remote) if remote else top, rel, "capture")
        if self.cli_repo:
            rel = relative_to(absolute, cwd) if cwd else None
            if rel is None and not is_absolute(absolute):
                rel = posix_path(absolute)
            if rel is not None:
                return Location(self.cli_repo, rel, "command-line")
        return Location(None, str(PurePosixPath(posix_path(absolute))), "unresolved")
