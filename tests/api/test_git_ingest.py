"""POST /v1/facts and GET /v1/commits over a real socket: a client's git batches are stored
once, what is not a git loader's batch is refused saying why, and only ingesters may send."""

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import lineage
from lineage.api.app import create_app
from lineage.api.auth import Tokens
from lineage.loaders import git
from lineage.wire import encode_batch
from tests.api.serving import running
from tests.loaders.test_git import AI_LINES, HUMAN_HEAD, REPO, Repo

TOKENS = Tokens.parse("reader:reader-token-1,ingester:ingest-token-1")
INGESTER = {"Authorization": "Bearer ingest-token-1"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with lineage.open(tmp_path / "served.duckdb") as db, running(create_app(db, TOKENS)) as url:
        yield url


def batch_body(tmp_path: Path) -> dict:
    repo = Repo(tmp_path / "demo")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("add retry")
    [batch] = git.load([repo.root])
    return encode_batch(batch)


def test_a_batch_is_stored_once_and_its_commits_are_then_known(server: str, tmp_path: Path) -> None:
    body = batch_body(tmp_path)
    sent = gzip.compress(json.dumps(body).encode())
    headers = INGESTER | {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    first = httpx.post(f"{server}/v1/facts", content=sent, headers=headers)
    assert first.status_code == 200 and first.json()["accepted"] == 1
    again = httpx.post(f"{server}/v1/facts", content=sent, headers=headers)
    assert again.json()["accepted"] == 0 and again.json()["duplicate"] == 1
    known = httpx.get(f"{server}/v1/commits", params={"repo": REPO}, headers=INGESTER).json()
    assert len(known["commits"]) == 1 and body["records"][0]["event_id"].endswith(
        known["commits"][0]
    )


def test_what_is_not_a_git_batch_is_refused(server: str, tmp_path: Path) -> None:
    body = batch_body(tmp_path)

    def post(content: bytes) -> httpx.Response:
        return httpx.post(f"{server}/v1/facts", content=content, headers=INGESTER)

    r = post(b"{not json")
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = post(json.dumps(body | {"ignored": "many"}).encode())
    assert r.status_code == 400 and "batch.ignored: expected an integer" in r.json()["error"]
    r = post(json.dumps(body | {"source": "events"}).encode())
    assert r.status_code == 400 and "POST /events" in r.json()["error"]
    undeclared = body | {
        "records": [
            body["records"][0]
            | {"facts": [{"fact": "alias", "alias": "file:x@commit:c", "target": "file:nope"}]}
        ]
    }
    r = post(json.dumps(undeclared).encode())
    assert r.status_code == 400 and "never declare: ['file:nope'" in r.json()["error"]
    assert httpx.get(f"{server}/v1/commits", headers=INGESTER).status_code == 400
    reader = {"Authorization": "Bearer reader-token-1"}
    r = httpx.post(f"{server}/v1/facts", content=json.dumps(body).encode(), headers=reader)
    assert r.status_code == 403 and "ingester role" in r.json()["error"]
    r = httpx.get(f"{server}/v1/commits", params={"repo": REPO}, headers=reader)
    assert r.status_code == 403
    # nothing of the refused batches was stored
    known = httpx.get(f"{server}/v1/commits", params={"repo": REPO}, headers=INGESTER).json()
    assert known["commits"] == []
