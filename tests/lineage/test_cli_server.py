"""`lineage gate|explain|blame|datasets|outputs|impact --server URL`: the same output, formats
and exit codes from a real `lineage serve` over a socket as from the store file it holds."""

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lineage import Database
from lineage.api.app import create_app
from lineage.api.auth import Tokens
from lineage.cli import main
from tests.api.serving import running
from tests.conftest import EXAMPLES
from tests.loaders.test_git import AI_LINES, HUMAN_HEAD, Repo, output_event

READER, INGESTER = "r-secret-token", "i-secret-token"
QUESTIONS = [
    ["gate", "code-pretrain@v1"],
    ["gate", "code-pretrain@v1", "--format", "json"],
    ["gate", "code-pretrain@v1", "--format", "markdown", "--mode", "strict"],
    ["gate", "code-pretrain@v1", "--format", "junit", "--max-paths", "2"],
    ["gate", "code-pretrain@v1", "--allow-unknown", "--format", "json", "--max-paths", "0"],
    ["gate", "code-pretrain@v1", "--as-of", "20", "--format", "json"],
    ["gate", "code-pretrain@v1", "--as-of", "1"],  # no policy yet: exit 2
    ["gate", "nope@v1"],
    ["gate", "code-pretrain@v1", "--mode", "strict", "--as-of", "2020-01-01"],
    ["explain", "code-pretrain@v1:ex-003"],
    ["explain", "code-pretrain@v1:ex-003", "--format", "json", "--mode", "strict"],
    ["explain", "code-pretrain@v1:ex-001", "--format", "json"],
    ["explain", "ex-nope"],
    ["datasets"],
    ["datasets", "--mode", "strict", "--format", "json", "--as-of", "40"],
    ["outputs"],
    ["outputs", "--format", "json", "--mode", "strict"],
    ["impact", "--tool", "claude-code"],
    [
        "impact",
        "--tool",
        "claude-*",
        "--repo",
        "github.com/acme/*",
        "--format",
        "json",
        "--paths",
        "2",
    ],
    ["impact", "output:toolu_01B", "session:sess-claude-1", "--format", "json"],
    ["impact", "output:toolu_retry"],
    ["impact", "example:code-pretrain@v1:ex-002"],
    ["impact", "--model", "x"],
    ["impact", "--tool", "codex", "--since", "notadate"],
    ["outputs", "--as-of", "yesterday-ish"],
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    out = StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Repo]:
    db = str(tmp_path / "held.duckdb")
    repo = Repo(tmp_path / "demo")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("add retry")
    for argv in (
        ["ingest", "events", str(EXAMPLES / "events.ndjson")],
        ["ingest", "events", str(output_event(tmp_path, AI_LINES))],
        ["ingest", "git", str(repo.root)],
        ["policy", "set", str(EXAMPLES / "policy.toml")],
    ):
        assert main(["--db", db, *argv], out=StringIO()) == 0
    return db, repo


@pytest.fixture
def served(store: tuple[str, Repo]) -> Iterator[str]:
    db = Database(store[0])
    try:
        with running(create_app(db, Tokens.parse(f"reader:{READER},ingester:{INGESTER}"))) as url:
            yield url
    finally:
        db.close()


def blame_questions(repo: Repo) -> list[list[str]]:
    return [
        ["blame", str(repo.root), "src/a.py"],
        ["blame", str(repo.root), "src/a.py", "--format", "json"],
        ["blame", str(repo.root), "src/missing.py"],
    ]


def test_every_report_reads_the_same_from_the_server_as_from_the_store(
    store: tuple[str, Repo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, repo = store
    questions = QUESTIONS + blame_questions(repo)
    local = [run(capsys, "--db", db, *q) for q in questions]
    assert {code for code, _, _ in local} == {0, 1, 2}  # passes, failures and errors compared
    held = Database(db)
    try:
        with running(create_app(held, Tokens.parse(f"reader:{READER}"))) as url:
            remote = [run(capsys, *q, "--server", url, "--token", READER) for q in questions]
    finally:
        held.close()
    for question, (code, out, err), (rcode, rout, rerr) in zip(
        questions, local, remote, strict=True
    ):
        assert (rcode, rout) == (code, out), question
        if code == 2:  # the store's own message, as the local command prints it
            assert rerr == err and err.startswith("lineage: error: "), question


def test_gate_out_writes_the_same_verdict_files(
    store: tuple[str, Repo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = store[0]
    for suffix in ("jsonl", "parquet"):
        run(capsys, "--db", db, "gate", "code-pretrain@v1", "--out", str(tmp_path / f"l.{suffix}"))
    run(capsys, "--db", db, "impact", "--tool", "claude-code", "--out", str(tmp_path / "li.jsonl"))
    held = Database(db)
    try:
        with running(create_app(held, Tokens.parse(f"reader:{READER}"))) as url:
            for suffix in ("jsonl", "parquet"):
                code, _, _ = run(
                    capsys,
                    "gate",
                    "code-pretrain@v1",
                    "--out",
                    str(tmp_path / f"r.{suffix}"),
                    "--server",
                    url,
                    "--token",
                    READER,
                )
                assert code == 1
            assert (
                run(
                    capsys,
                    *("impact", "--tool", "claude-code", "--out", str(tmp_path / "ri.jsonl")),
                    *("--server", url, "--token", READER),
                )[0]
                == 0
            )
            code, _, err = run(
                capsys,
                "gate",
                "code-pretrain@v1",
                "--out",
                str(tmp_path / "r.csv"),
                "--server",
                url,
                "--token",
                READER,
            )
    finally:
        held.close()
    assert (tmp_path / "r.jsonl").read_bytes() == (tmp_path / "l.jsonl").read_bytes()
    assert len((tmp_path / "r.jsonl").read_bytes().splitlines()) == 22
    assert pq.read_table(tmp_path / "r.parquet").equals(pq.read_table(tmp_path / "l.parquet"))
    assert code == 2 and "name a .jsonl, .ndjson or .parquet file" in err
    assert (tmp_path / "ri.jsonl").read_bytes() == (tmp_path / "li.jsonl").read_bytes()
    assert (tmp_path / "ri.jsonl").read_bytes().count(b"\n") > 10


def test_server_and_token_come_from_the_environment_unless_db_is_given(
    tmp_path: Path,
    served: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LINEAGE_SERVER", served)
    monkeypatch.setenv("LINEAGE_TOKEN", READER)
    code, out, _ = run(capsys, "gate", "code-pretrain@v1", "--format", "json")
    assert code == 1 and '"tainted": 6' in out
    # --db names a store file: that file answers, not the server
    code, _, err = run(capsys, "--db", str(tmp_path / "none.duckdb"), "gate", "code-pretrain@v1")
    assert code == 2 and "none.duckdb" in err


def test_refusals_say_what_to_do(
    store: tuple[str, Repo], served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "gate", "code-pretrain@v1", "--server", served)
    assert (code, out) == (2, "")
    assert "401" in err and "--token" in err
    code, _, err = run(
        capsys, "gate", "code-pretrain@v1", "--server", served, "--token", "wrong-token"
    )
    assert code == 2 and "401" in err
    code, _, err = run(capsys, "gate", "code-pretrain@v1", "--server", "http://127.0.0.1:9")
    assert code == 2 and "cannot reach http://127.0.0.1:9" in err and "lineage serve" in err
    # sending a git history needs the ingester role
    code, _, err = run(
        capsys, "ingest", "git", str(store[1].root), "--server", served, "--token", READER
    )
    assert code == 2 and "403" in err and "ingester role" in err


def test_a_git_history_sent_to_the_server_is_stored_as_a_local_ingest_stores_it(
    store: tuple[str, Repo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = store[1]
    repo.git("mv", "src/a.py", "src/b.py")
    repo.write("src/b.py", ["# moved"] + HUMAN_HEAD + AI_LINES)
    repo.commit("move and edit")
    first = [
        ["ingest", "events", str(EXAMPLES / "events.ndjson")],
        ["ingest", "events", str(tmp_path / "toolu_retry.ndjson")],
        ["policy", "set", str(EXAMPLES / "policy.toml")],
    ]
    questions = QUESTIONS + blame_questions(repo) + [["blame", str(repo.root), "src/b.py"]]
    local_db, remote_db = str(tmp_path / "local.duckdb"), str(tmp_path / "remote.duckdb")
    for argv in [*first, ["ingest", "git", str(repo.root)]]:
        assert main(["--db", local_db, *argv], out=StringIO()) == 0
    local = [run(capsys, "--db", local_db, *q) for q in questions]
    for argv in first:
        assert main(["--db", remote_db, *argv], out=StringIO()) == 0
    held = Database(remote_db)
    try:
        with running(create_app(held, Tokens.parse(f"reader:{READER},ingester:{INGESTER}"))) as url:
            sent = ["ingest", "git", str(repo.root), "--server", url, "--token", INGESTER]
            code, out, err = run(capsys, *sent)
            assert (code, out) == (0, "2 accepted, 0 duplicate, 0 rejected, 0 ignored\n"), err
            assert f"{repo.root}: 2 accepted" in err  # each batch told, as a local ingest tells it
            # again: the server's commits are skipped, nothing is sent, nothing changes
            code, out, _ = run(capsys, *sent)
            assert (code, out.splitlines()[0]) == (
                0,
                "0 accepted, 0 duplicate, 0 rejected, 0 ignored",
            )
            assert "no new commits to read" in out
            remote = [run(capsys, *q, "--server", url, "--token", READER) for q in questions]
    finally:
        held.close()
    for question, (code, out, _), (rcode, rout, _) in zip(questions, local, remote, strict=True):
        assert (rcode, rout) == (code, out), question
    assert "output:toolu_retry" in local[-1][1]  # the moved AI lines are still blamed
    assert run(capsys, "--db", remote_db, "verify")[0] == 0
