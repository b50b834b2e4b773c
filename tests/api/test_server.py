"""End to end over a real socket: uvicorn serving a store file, the CLI and the capture hook
sending to it, and concurrent readers while an ingest writes."""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path

import httpx
import pytest

import lineage
from lineage.api.app import create_app
from lineage.api.auth import Tokens
from lineage.capture import capture
from lineage.cli import main
from tests.api.serving import running
from tests.conftest import EXAMPLES, FIXTURES

INGEST = "ingester:ingest-token-1"
TOKENS = Tokens.parse(f"reader:reader-token-1,{INGEST},admin:admin-token-1")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The server as `lineage serve` runs it (api.serve.config) over a store file."""
    with lineage.open(tmp_path / "served.duckdb") as db, running(create_app(db, TOKENS)) as url:
        yield url


def gql(url: str, query: str, token: str = "reader-token-1", **variables: object) -> dict:
    r = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def big_manifest(path: Path, n: int) -> Path:
    with path.open("w") as out:
        for i in range(n):
            out.write(
                json.dumps(
                    {
                        "example_id": f"big-{i}",
                        "dataset": "big",
                        "version": "v1",
                        "source": {
                            "repo": "github.com/acme/widgets",
                            "blob": "a3a3a3a3",
                            "path": "src/widgets/api.py",
                            "lines": [1 + i % 30, 1 + i % 30 + 5],
                        },
                    }
                )
                + "\n"
            )
    return path


def test_cli_and_hook_send_to_the_server_and_readers_keep_working(
    server: str, tmp_path: Path
) -> None:
    code = main(
        [
            "ingest",
            "--server",
            server,
            "--token",
            "ingest-token-1",
            "events",
            str(EXAMPLES / "events.ndjson"),
        ],
        out=StringIO(),
    )
    assert code == 0
    denied = main(
        [
            "ingest",
            "--server",
            server,
            "--token",
            "reader-token-1",
            "events",
            str(EXAMPLES / "events.ndjson"),
        ],
        out=StringIO(),
    )
    assert denied == 2
    policy = gql(
        server,
        "mutation($t: String!) { setPolicy(toml: $t) { hash } }",
        token="admin-token-1",
        t=(EXAMPLES / "policy.toml").read_text(),
    )
    assert policy["data"]["setPolicy"]["hash"]

    verdict = "query($e: String!) { verdict(example: $e) { status asOf } }"
    assert (
        gql(server, verdict, e="code-pretrain@v1:ex-002")["data"]["verdict"]["status"] == "TAINTED"
    )

    manifest = big_manifest(tmp_path / "big.jsonl", 20_000)
    results: list[dict] = []

    def ingest() -> int:
        return main(
            ["ingest", "--server", server, "--token", "ingest-token-1", "manifest", str(manifest)],
            out=StringIO(),
        )

    def read(i: int) -> dict:
        return gql(server, verdict, e=f"code-pretrain@v1:ex-{1 + i % 22:03d}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        writer = pool.submit(ingest)
        while not writer.done():
            results += list(pool.map(read, range(16)))
        assert writer.result() == 0
    assert results and all("errors" not in r for r in results)
    assert {r["data"]["verdict"]["status"] for r in results} == {"TAINTED", "UNKNOWN", "CLEAN"}
    gate = gql(server, '{ gate(dataset: "big@v1") { counts { examples tainted } } }')
    assert gate["data"]["gate"]["counts"]["examples"] == 20_000

    payload = (FIXTURES / "claude" / "hooks.jsonl").read_text().splitlines()[0]
    spool = tmp_path / "spool.jsonl"
    assert capture("claude-code", StringIO(payload), spool, server, "ingest-token-1") == "sent"
    assert not spool.exists()
    assert (
        capture("claude-code", StringIO(payload), spool, "http://127.0.0.1:9", "ingest-token-1")
        == "spooled"
    )
    assert spool.read_text().count("\n") == 1
    events = gql(server, '{ events(source: "claude-code") { events { type } } }')
    assert events["data"]["events"]["events"]
