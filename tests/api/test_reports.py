"""The /v1/ report routes (what `--server` asks) over a real socket: their JSON is the
commands' `--format json`, their refusals say what is wrong."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import lineage
from lineage.api.app import create_app
from lineage.api.auth import Tokens
from tests.api.serving import running
from tests.conftest import EXAMPLES

TOKENS = Tokens.parse("reader:reader-token-1,ingester:ingest-token-1")
READER = {"Authorization": "Bearer reader-token-1"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with lineage.open(tmp_path / "served.duckdb") as db:
        db.ingest("events", EXAMPLES / "events.ndjson")
        db.set_policy((EXAMPLES / "policy.toml").read_text())
        with running(create_app(db, TOKENS)) as url:
            yield url


def test_gate_and_explain_answer_the_json_of_the_commands(server: str, tmp_path: Path) -> None:
    with lineage.open(":memory:") as local:
        local.ingest("events", EXAMPLES / "events.ndjson")
        local.set_policy((EXAMPLES / "policy.toml").read_text())
        gate = local.gate("code-pretrain@v1", "strict", max_paths=3).as_dict()
        verdict = local.verdict("code-pretrain@v1:ex-003").as_dict()
    r = httpx.get(
        f"{server}/v1/gate",
        params={"dataset": "code-pretrain@v1", "mode": "strict", "max_paths": 3},
        headers=READER,
    )
    assert r.status_code == 200 and r.json() == gate
    r = httpx.get(
        f"{server}/v1/explain", params={"example": "code-pretrain@v1:ex-003"}, headers=READER
    )
    assert r.status_code == 200 and r.json() == verdict


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/v1/gate", {}, "missing query parameter 'dataset'"),
        ("/v1/gate", {"dataset": "code-pretrain@v1", "mode": "loose"}, "mode must be one of"),
        ("/v1/gate", {"dataset": "code-pretrain@v1", "max_paths": "5000"}, "from 0 to 1000"),
        ("/v1/gate", {"dataset": "code-pretrain@v1", "allow_unknown": "y"}, "true or false"),
        ("/v1/gate", {"dataset": "nope@v1"}, "nope"),
        ("/v1/gate", {"dataset": "code-pretrain@v1", "as_of": "soon"}, "soon"),
        ("/v1/verdicts", {"dataset": "code-pretrain@v1", "format": "csv"}, "jsonl or parquet"),
        ("/v1/explain", {"example": "code-pretrain@v1:nope"}, "nope"),
        ("/v1/datasets", {"mode": "loose"}, "mode must be one of"),
        ("/v1/outputs", {"as_of": "soon"}, "soon"),
        ("/v1/impact", {}, "name what to trace"),
        ("/v1/impact", {"model": "gpt-*"}, "outputs of a tool"),
        ("/v1/impact", {"node": "nope"}, "no node 'nope'"),
        ("/v1/impact", {"tool": "codex", "paths": "-1"}, "from 0 to 1000"),
        ("/v1/impact", {"tool": "codex", "since": "notadate"}, "'notadate' is not a date"),
    ],
)
def test_a_question_that_cannot_be_answered_is_400_saying_why(
    server: str, path: str, params: dict[str, str], says: str
) -> None:
    r = httpx.get(f"{server}{path}", params=params, headers=READER)
    assert r.status_code == 400 and says in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"repo": "r", "path": "p", "rev": "HEAD"}', "blob must be"),
        (b'{"repo": "r", "path": "p", "rev": "HEAD", "blob": "b", "text": [1]}', "text must"),
        (
            b'{"repo": "r", "path": "p", "rev": "HEAD", "blob": "abc", "text": null}',
            "not in the store",
        ),
    ],
)
def test_a_blame_request_is_checked(server: str, body: bytes, says: str) -> None:
    r = httpx.post(f"{server}/v1/blame", content=body, headers=READER)
    assert r.status_code == 400 and says in r.json()["error"]


def test_reports_need_a_token(server: str) -> None:
    r = httpx.get(f"{server}/v1/gate", params={"dataset": "code-pretrain@v1"})
    assert r.status_code == 401
    r = httpx.get(
        f"{server}/v1/verdicts", params={"dataset": "code-pretrain@v1", "format": "jsonl"}
    )
    assert r.status_code == 401
