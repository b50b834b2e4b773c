"""The server bounds every request's cost (issue 14's probes, over a real socket): query
cost and fragment expansion, a time budget that leaves /healthz alone, bodies bounded
whatever the transfer encoding, header and body timeouts, one Authorization header, the
Host checked without tokens, readers that cannot grow the store, no verdict without a
policy, an access log and tracebacks only for real faults."""

import http.client
import json
import logging
import select
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import lineage
from lineage import engine
from lineage.api import cost
from lineage.api.app import create_app
from lineage.api.auth import Tokens
from lineage.api.limits import Limits
from lineage.api.schema import INTERNAL_ERROR, schema
from lineage.api.service import SERVER_KEEP_RUNS, Service, _named
from lineage.database import Database
from lineage.facts import Rejection
from lineage.store import IngestReport, Store
from tests.api.serving import connect, read_all, running, status_of
from tests.conftest import EXAMPLES

TOKENS = Tokens.parse("reader:reader-token-1,ingester:ingest-token-1,admin:admin-token-1")
READER = {"Authorization": "Bearer reader-token-1"}
GATE = '{ gate(dataset: "code-pretrain@v1") { passed counts { tainted } } }'


def doubled(times: int) -> str:
    """A query whose fragments spread the one below twice, `times` levels deep."""
    return f"query {{ ...F{times} }}\nfragment F0 on Query {{ stats {{ headSeq }} }}\n" + "".join(
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}\n" for i in range(1, times + 1)
    )


def hops(n: int, first: str = "") -> str:
    """`parents` nested `n` hops deep above a dataset (default page sizes unless `first`)."""
    inner = "key"
    for _ in range(n):
        inner = f"parents{first} {{ node {{ {inner} }} }}"
    return '{ node(key: "dataset:code-pretrain@v1") { ' + inner + " } }"


@pytest.fixture
def db() -> Iterator[Database]:
    """The example scenario with its policy in force from the first event (every seq of its
    log is an as-of point with a policy) and its manifest."""
    with lineage.open(":memory:") as db:
        db.set_policy((EXAMPLES / "policy.toml").read_text())
        db.ingest("events", EXAMPLES / "events.ndjson")
        db.ingest("manifest", EXAMPLES / "manifest.jsonl")
        yield db


@pytest.fixture
def store(db: Database) -> Store:
    """The store under `db`, to look at what the server left in it."""
    return db.store


@pytest.fixture
def served(db: Database) -> Iterator[str]:
    with running(create_app(db, TOKENS)) as url:
        yield url


def gql(url: str, query: str, headers: dict[str, str] | None = None, **variables: object) -> dict:
    r = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers=READER if headers is None else headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


def runs(store: Store) -> int:
    return store.fetch_maybe_one("SELECT count(*) FROM taint_runs")[0]


# -- 1. query complexity ----------------------------------------------------------------------


def test_fragment_doubling_is_refused_before_anything_runs(served: str, store: Store) -> None:
    for times in (20, 30):
        query = doubled(times)
        assert len(query) < 1300
        r = gql(served, query)
        assert r["data"] is None
        assert (
            "selections once its fragments are spread (at most 2,000)" in r["errors"][0]["message"]
        )
    assert runs(store) == 0  # `stats` never ran: no taint was computed
    assert httpx.get(f"{served}/healthz").json()["ok"] is True
    small = gql(served, doubled(3))  # 8 spreads: fine
    assert small["data"]["stats"]["headSeq"] == store.head_seq()


def test_nested_pages_are_refused_by_their_cost(served: str) -> None:
    four = gql(served, hops(4))  # default pages: 50^4 nodes
    assert four["data"] is None and "would resolve about" in four["errors"][0]["message"]
    big = gql(
        served,
        'query($n: Int!) { node(key: "x") { children(first: $n) { node { '
        "children(first: $n) { node { key } } } } } }",
        n=500,
    )
    assert big["data"] is None and "at most 20,000" in big["errors"][0]["message"]
    small = gql(served, hops(4, "(first: 3)"))
    assert "errors" not in small and small["data"]["node"]["parents"]


def test_a_query_text_seen_before_is_still_costed_with_its_variables(served: str) -> None:
    """Parse and validation are cached per query text; the cost, which its variables change,
    is not: the same text is answered with small pages and refused with big ones."""
    text = (
        'query($n: Int!) { node(key: "dataset:code-pretrain@v1") { children(first: $n) '
        "{ node { children(first: $n) { node { key } } } } } }"
    )
    for _ in range(2):
        assert "errors" not in gql(served, text, n=3)
        big = gql(served, text, n=500)
        assert big["data"] is None and "at most 20,000" in big["errors"][0]["message"]
    for _ in range(2):  # a refused document stays refused once its validation is cached
        assert gql(served, doubled(20))["data"] is None
    two = gql(served, hops(2))
    assert "errors" not in two


def test_cost_counts_defaults_variables_and_list_arguments() -> None:
    from graphql import get_introspection_query, parse

    def fields(query: str, **variables: object) -> int:
        return cost.measure(schema._schema, parse(query), variables).fields

    assert fields(hops(1)) == 1 + 1 + 50 * 2  # node, parents, 50 x (node, key)
    assert (
        fields(hops(1, "(first: $n)").replace("{ node(", "query($n: Int) { node("), n=2)
        == 2 + 2 * 2
    )
    many = "query($x: [String!]!) { verdicts(examples: $x) { status } }"
    assert fields(many, x=["a"] * 100) == 1 + 100
    assert fields(many, x=["a"] * 10_000) == 1 + cost.MAX_PAGE
    assert cost.measure(schema._schema, parse(doubled(30)), {}).selections > 2**30
    ide = cost.measure(schema._schema, parse(get_introspection_query(descriptions=True)), {})
    assert cost.problems(ide, "IntrospectionQuery") == []  # GraphiQL still works


# -- 2. a time budget per request -------------------------------------------------------------


def test_a_request_over_its_budget_is_stopped_and_healthz_answers_meanwhile(
    db: Database, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()

    def heavy(on: Store, *args: object, **kwargs: object) -> None:
        started.set()  # a query that only an interrupt ends
        on.fetch_maybe_one("SELECT count(*) FROM range(1000000000000) t WHERE hash(t.range) = 0")
        raise AssertionError("the budget should have stopped this")

    monkeypatch.setattr(engine, "gate", heavy)
    limits = Limits(request_seconds=3, store_workers=3)
    with (
        running(create_app(db, TOKENS, limits), limits) as url,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        heavies = [pool.submit(gql, url, GATE) for _ in range(2)]
        assert started.wait(30)
        health = httpx.get(f"{url}/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["ok"] is True
        stats = gql(url, "{ stats { headSeq } }")  # other reads too
        assert stats["data"]["stats"]["headSeq"] == store.head_seq()
        assert not any(h.done() for h in heavies)  # answered while the heavy ones ran
        for h in heavies:
            r = h.result()
            assert r["data"] is None
            assert "ran over its time budget of 3 s" in r["errors"][0]["message"]
        assert httpx.get(f"{url}/healthz").status_code == 200


# -- 3. body limits whatever the transfer encoding ------------------------------------------


def send_chunked(url: str, path: str, total: int) -> tuple[bytes, int]:
    """POST up to `total` bytes in chunks (no Content-Length); stops when the server stops
    listening. Returns the response and how many body bytes went out."""
    sock = connect(url)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        "ingest-token-1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk, sent = b"[" * 16384, 0
    try:
        while sent < total:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            if select.select([sock], [], [], 0)[0]:  # the server answered already
                break
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    with sock:
        return read_all(sock), sent


def test_chunked_bodies_are_bounded_on_every_endpoint(db: Database, store: Store) -> None:
    limits = Limits(max_graphql_body=64 * 1024, max_body=256 * 1024)
    with running(create_app(db, TOKENS, limits), limits) as url:
        for path, limit in (
            ("/graphql", 64 * 1024),
            ("/events?source=events", 256 * 1024),
            ("/api/v1/lineage", 256 * 1024),
        ):
            response, sent = send_chunked(url, path, 300 * 1024 * 1024)
            assert status_of(response) == 413, response[:200]
            assert f"request body over {limit} bytes".encode() in response
            assert sent < 16 * 1024 * 1024  # refused early, not read to the end
        conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=30)
        body = json.dumps({"query": "{ stats { headSeq } }"}).encode()
        conn.request(
            "POST",
            "/graphql",
            body=iter([body[:10], body[10:]]),
            headers={**READER, "Content-Type": "application/json"},
            encode_chunked=True,
        )
        ok = conn.getresponse()
        assert ok.status == 200 and json.loads(ok.read())["data"]["stats"]["headSeq"] > 0
        conn.close()
        assert httpx.get(f"{url}/healthz").status_code == 200


# -- 4. header and body timeouts --------------------------------------------------------------


def trickle(url: str, start: bytes, more: bytes) -> bytes:
    """Send `start`, then `more` a little at a time until the server answers."""
    sock = connect(url)
    with sock:
        sock.sendall(start)
        for _ in range(200):
            if select.select([sock], [], [], 0.1)[0]:
                break
            try:
                sock.sendall(more)
            except OSError:
                break
        return read_all(sock)


def test_trickling_headers_and_bodies_are_cut_off(db: Database, store: Store) -> None:
    limits = Limits(header_seconds=1, body_seconds=1, max_header_bytes=16 * 1024)
    with running(create_app(db, TOKENS, limits), limits) as url:
        idle = [connect(url) for _ in range(30)]  # connected, silent
        headers = trickle(url, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-A: b\r\n")
        assert status_of(headers) == 408 and b"headers did not arrive" in headers
        body = trickle(
            url,
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
            b"Bearer reader-token-1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{",
            b" ",
        )
        assert status_of(body) == 408 and b"body did not arrive within 1 s" in body
        assert httpx.get(f"{url}/healthz").status_code == 200  # meanwhile, fine
        for sock in idle:
            with sock:
                assert status_of(read_all(sock)) == 408  # closed by the server
        big = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 32 * 1024
        sock = connect(url)
        with sock:  # arriving in pieces: h11 refuses what it buffers past the limit
            sock.sendall(big)
            assert status_of(read_all(sock)) == 400
        sock = connect(url)
        with sock:  # all at once: the app refuses it
            sock.sendall(big + b"\r\n\r\n")
            assert status_of(read_all(sock)) == 431


def test_a_refused_request_does_not_keep_its_connection_for_the_body(served: str) -> None:
    sock = connect(served)
    with sock:
        sock.sendall(b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n{")
        response = read_all(sock)  # returns only because the server closes
    assert status_of(response) == 401


# -- 5. one Authorization header --------------------------------------------------------------


def test_two_authorization_headers_are_refused(served: str) -> None:
    for pair in (
        ["Bearer wrong-token", "Bearer reader-token-1"],
        ["Bearer reader-token-1", "Bearer reader-token-1"],
    ):
        r = httpx.post(
            f"{served}/graphql",
            json={"query": "{ stats { headSeq } }"},
            headers=[("Authorization", v) for v in pair],
        )
        assert r.status_code == 400 and "send exactly one" in r.json()["error"]
    assert gql(served, "{ stats { headSeq } }")["data"]["stats"]["headSeq"] > 0


# -- 6. the Host header without tokens --------------------------------------------------------


def test_without_tokens_only_loopback_host_names_are_served(db: Database, store: Store) -> None:
    with running(create_app(db)) as url:
        port = url.rsplit(":", 1)[1]
        query = {"query": "{ stats { headSeq } }"}
        for host in (
            "evil.example",
            f"evil.example:{port}",
            "127.0.0.1.nip.io",
            "localhost.evil.example",
        ):
            r = httpx.post(f"{url}/graphql", json=query, headers={"Host": host})
            assert r.status_code == 421, host
            assert "runs without tokens and answers only to localhost" in r.json()["error"]
        for host in (
            "localhost",
            f"localhost:{port}",
            f"127.0.0.1:{port}",
            f"[::1]:{port}",
            "[::1]",
        ):
            r = httpx.post(f"{url}/graphql", json=query, headers={"Host": host})
            assert r.status_code == 200 and r.json()["data"]["stats"]["headSeq"] > 0, host
    with running(create_app(db, TOKENS)) as url:
        r = httpx.post(f"{url}/graphql", json=query, headers={**READER, "Host": "lineage.corp"})
        assert r.status_code == 200


# -- 7. readers cannot make the store grow ----------------------------------------------------


def test_as_of_answers_leave_a_bounded_number_of_runs(served: str, store: Store) -> None:
    head = store.head_seq()
    query = 'query($a: String) { gate(dataset: "code-pretrain@v1", asOf: $a) { asOf } }'
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda seq: gql(served, query, a=str(seq)), range(5, head + 1)))
    assert len(answers) > 3 * SERVER_KEEP_RUNS
    groups = store.fetch_maybe_one("SELECT count(DISTINCT (policy_hash, waivers)) FROM taint_runs")[
        0
    ]
    assert groups == 1
    assert runs(store) <= SERVER_KEEP_RUNS + groups
    # answers are still right, at the head and in the past
    assert gql(served, GATE)["data"]["gate"]["counts"]["tainted"] == 6
    past = gql(served, query, a=str(head))["data"]["gate"]["asOf"]
    assert past == head


def test_a_run_a_request_holds_is_never_dropped(db: Database, store: Store) -> None:
    service = Service(db)
    reader = service.reader()
    held = service.snapshot(reader, "20").run
    for seq in range(21, 45):
        run = service.snapshot(reader, str(seq)).run
        service.release([run.run])
    kept = {r[0] for r in store.fetch_all("SELECT run FROM taint_runs")}
    assert held.run in kept and len(kept) <= SERVER_KEEP_RUNS + 2
    service.release([held.run])
    for seq in range(45, 50):
        service.release([service.snapshot(reader, str(seq)).run.run])
    kept = {r[0] for r in store.fetch_all("SELECT run FROM taint_runs")}
    assert held.run not in kept and len(kept) <= SERVER_KEEP_RUNS + 1
    assert not service.pins


# -- 8. no verdict without a policy ------------------------------------------------------------


def test_no_policy_is_an_error_never_a_pass(scenario: Store) -> None:
    bare_db = lineage.open(":memory:")
    bare_db.ingest("events", EXAMPLES / "events.ndjson")
    bare_db.ingest("manifest", EXAMPLES / "manifest.jsonl")
    bare, head = bare_db.store, bare_db.head_seq()
    message = f"no policy in force as of event {head}: run `lineage policy set FILE.toml` first"
    with running(create_app(bare_db, TOKENS)) as url:
        for query in (
            GATE,
            f'{{ gate(dataset: "code-pretrain@v1", asOf: "{head}") {{ passed }} }}',
            '{ verdict(example: "code-pretrain@v1:ex-002") { status } }',
            '{ verdicts(examples: ["code-pretrain@v1:ex-002"]) { status } }',
        ):
            r = gql(url, query)
            assert r["data"] is None and r["errors"][0]["message"] == message, query
        stats = gql(url, "{ stats { policyHash asOf taintedByDataset { dataset } } }")
        assert stats["data"]["stats"] == {"policyHash": None, "asOf": head, "taintedByDataset": []}
    assert runs(bare) == 0  # nothing computed for a point without a policy
    # the engine: the same error from every verdict function (scenario: policy after events)
    with pytest.raises(engine.NoPolicyError, match="no policy in force as of event 3"):
        engine.policy_in_force(scenario, 3)
    run = engine.propagate_taint(scenario, 3)
    for ask in (
        lambda: engine.gate(scenario, run, "code-pretrain@v1", "precise"),
        lambda: engine.example_statuses(scenario, run, [1], "precise"),
        lambda: engine.verdict(scenario, run, scenario.nodes_by_ids([1])[0], "precise"),
    ):
        with pytest.raises(engine.NoPolicyError):
            ask()
    bare_db.close()


# -- 9. access log, tracebacks only for real faults, denials without tokens --------------------


def test_access_log_and_tracebacks_only_for_real_faults(
    db: Database, store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="lineage.access")
    with running(create_app(db, TOKENS)) as url:
        # the server logs a request after its response is sent: wait for the readiness probe's
        # line before clearing, or it may land among this test's lines
        for _ in range(200):
            if any(r.getMessage().startswith("GET /healthz") for r in caplog.records):
                break
            time.sleep(0.01)
        caplog.clear()
        expected = [
            'mutation { ingest(source: "events", records: []) { accepted } }',  # denied
            "{ nope }",  # validation
            '{ gate(dataset: "code-pretrain@v1") { tainted(first: 100000) { nodes { example '
            "} } } }",  # a bad argument
            '{ gate(dataset: "code-pretrain@v1", asOf: "999999") { passed } }',  # engine
            doubled(20),  # cost
        ]
        for query in expected:
            assert gql(url, query)["errors"]
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        monkeypatch.setattr(engine, "tainted_by_tool", lambda *a: 1 / 0)
        fault = gql(url, "{ stats { taintedByTool { tool } } }")
        assert fault["errors"][0]["message"] == INTERNAL_ERROR  # no internals to the client
        faults = [r for r in caplog.records if r.exc_info]
        assert len(faults) == 1 and faults[0].exc_info[0] is ZeroDivisionError
        httpx.get(f"{url}/healthz")
        httpx.post(f"{url}/graphql", json={"query": "{ stats { headSeq } }"})  # no token
    lines = [r.getMessage() for r in caplog.records if r.name == "lineage.access"]
    assert len(lines) == len(expected) + 3
    assert lines[0].startswith("POST /graphql role=reader status=200 ")
    assert lines[0].endswith(" ms")
    assert lines[-2].startswith("GET /healthz role=- status=200 ")
    assert lines[-1].startswith("POST /graphql role=- status=401 ")


def test_denials_without_tokens_do_not_speak_of_tokens_held(db: Database, store: Store) -> None:
    with running(create_app(db)) as url:
        r = httpx.post(
            f"{url}/graphql",
            json={"query": 'mutation { ingest(source: "events", records: []) { accepted } }'},
        )
        message = r.json()["errors"][0]["message"]
        assert "runs without tokens" in message and "your token" not in message
        r = httpx.post(f"{url}/events?source=events", content=b"{}")
        assert r.status_code == 403 and "runs without tokens" in r.json()["error"]
        assert "your token" not in r.json()["error"]


# -- 10. no server paths in responses ----------------------------------------------------------


def test_ingest_reports_never_name_the_servers_temporary_files() -> None:
    temp = f"{tempfile.gettempdir()}/lineage-abc123/body.jsonl"
    report = IngestReport(
        "claude-code",
        notes=[f"{temp}: 2 file(s) in no known repository"],
        rejections=[Rejection(temp, 3, f"cannot read {temp}", None)],
    )
    named = _named(report, "POST /events?source=claude-code")
    assert named.notes == ["POST /events?source=claude-code: 2 file(s) in no known repository"]
    assert (
        str(named.rejections[0])
        == "POST /events?source=claude-code:3: cannot read POST /events?source=claude-code"
    )
    assert tempfile.gettempdir() not in json.dumps(named.as_dict())


def test_server_config_carries_the_connection_limits() -> None:
    from lineage.api.serve import BoundedH11Protocol, config

    limits = Limits(
        header_seconds=2, keep_alive_seconds=3, max_header_bytes=4096, max_connections=7
    )
    c = config(object(), "127.0.0.1", 1, limits)
    assert (
        c.header_seconds,
        c.timeout_keep_alive,
        c.h11_max_incomplete_event_size,
        c.limit_concurrency,
        c.http,
        c.access_log,
    ) == (2, 3, 4096, 7, BoundedH11Protocol, False)


def test_work_left_running_after_the_answer_is_stopped_not_crashed(
    db: Database, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # `a` fails at once and nulls the whole answer; `b` is still propagating when it goes out
    query = (
        'query($a: String) { a: gate(dataset: "nope@v1") { passed } '
        'b: gate(dataset: "code-pretrain@v1", asOf: $a) { passed } }'
    )
    with running(create_app(db, TOKENS)) as url:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda seq: gql(url, query, a=str(seq)), range(20, 40)))
        assert all(r["data"] is None for r in answers)
        assert gql(url, GATE)["data"]["gate"]["counts"]["tainted"] == 6
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert runs(store) <= SERVER_KEEP_RUNS + 1 + 4 * 2  # + what requests in flight held
