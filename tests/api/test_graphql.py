import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

import lineage
from lineage.api.app import create_app
from lineage.api.auth import Tokens
from lineage.api.schema import schema
from tests.conftest import EXAMPLES, FIXTURES, ROOT

TOKENS = Tokens.parse("reader:reader-secret,ingester:ingester-secret,admin:admin-secret")
AS = {role: {"Authorization": f"Bearer {role}-secret"} for role in ("reader", "ingester", "admin")}


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The example scenario (events, then its policy, then its manifest) served."""
    with lineage.open(":memory:") as db:
        db.ingest("events", EXAMPLES / "events.ndjson")
        db.set_policy((EXAMPLES / "policy.toml").read_text())
        db.ingest("manifest", EXAMPLES / "manifest.jsonl")
        with TestClient(create_app(db, TOKENS)) as c:
            yield c


def gql(client: TestClient, query: str, role: str = "reader", **variables: object) -> dict:
    r = client.post("/graphql", json={"query": query, "variables": variables}, headers=AS[role])
    assert r.status_code == 200, r.text
    return r.json()


def test_sdl_on_disk_matches_the_code() -> None:
    on_disk = (ROOT / "schema" / "schema.graphql").read_text()
    assert on_disk == schema.as_str() + "\n", (
        "schema/schema.graphql drifted: regenerate it with "
        'python -c "from api.schema import schema; print(schema.as_str())" '
        "> schema/schema.graphql"
    )


def test_verdict_with_witness_path_and_evidence(client: TestClient) -> None:
    data = gql(
        client,
        """{ verdict(example: "code-pretrain@v1:ex-002") {
        example status mode policyHash asOf sources
        paths { steps { node { key kind } edge span { start end unit }
                        evidence { seq source origin } } } } }""",
    )["data"]["verdict"]
    assert data["status"] == "TAINTED" and data["mode"] == "PRECISE"
    assert data["sources"] == ["output:toolu_01B"] and data["asOf"] > 0
    steps = data["paths"][0]["steps"]
    assert [s["node"]["kind"] for s in steps] == [
        "output",
        "file_version",
        "file_version",
        "example",
    ]
    assert steps[-1]["edge"] == "chunked" and steps[-1]["span"] == {
        "start": 12,
        "end": 20,
        "unit": "line",
    }
    assert steps[0]["evidence"]["source"] == "events"


def test_verdict_strict_mode_and_unknown_reason(client: TestClient) -> None:
    q = "query($e: String!, $m: Mode) { verdict(example: $e, mode: $m) { status reason } }"
    ex = "code-pretrain@v1:ex-003"  # a file Claude touched, lines it did not write
    assert gql(client, q, e=ex, m="STRICT")["data"]["verdict"]["status"] == "TAINTED"
    assert gql(client, q, e=ex, m="PRECISE")["data"]["verdict"]["status"] == "CLEAN"
    unknown = gql(client, q, e="code-pretrain@v1:ex-016")["data"]["verdict"]
    assert unknown["status"] == "UNKNOWN" and "github.com/acme/legacy" in unknown["reason"]


def test_verdicts_batch_matches_single_verdicts(client: TestClient) -> None:
    names = [f"code-pretrain@v1:ex-{i:03d}" for i in range(1, 23)]
    batch = gql(
        client,
        "query($x: [String!]!) { verdicts(examples: $x) { example status "
        "waivers { node approver } } }",
        x=names,
    )["data"]["verdicts"]
    waived = {v["example"]: v["waivers"] for v in batch if v["waivers"]}
    assert waived == {
        "example:code-pretrain@v1:ex-011": [
            {"node": "output:toolu_01W", "approver": "legal@acme.com"}
        ]
    }
    single = [
        gql(client, "query($e: String!) { verdict(example: $e) { status } }", e=n)["data"][
            "verdict"
        ]["status"]
        for n in names
    ]
    assert [v["status"] for v in batch] == single
    assert single.count("TAINTED") == 6 and single.count("UNKNOWN") == 3


def test_gate_counts_breakdowns_and_pagination(client: TestClient) -> None:
    q = """query($after: String) { gate(dataset: "code-pretrain@v1") {
        dataset passed asOf policyHash counts { examples tainted unknown clean }
        byTool { tool model examples } byRepo { repo tainted unknown clean }
        tainted(first: 4, after: $after) { nodes { example sources path { steps { node { key } } } }
                                           pageInfo { hasNextPage endCursor } }
        unknown(first: 10) { nodes { example reason } pageInfo { hasNextPage } } } }"""
    first = gql(client, q)["data"]["gate"]
    assert first["passed"] is False
    assert first["counts"] == {"examples": 22, "tainted": 6, "unknown": 3, "clean": 13}
    assert first["byTool"] == [
        {"tool": "claude-code", "model": "claude-opus-4-5-20251101", "examples": 6}
    ]
    page1 = first["tainted"]
    assert len(page1["nodes"]) == 4 and page1["pageInfo"]["hasNextPage"] is True
    assert page1["nodes"][0]["path"]["steps"][0]["node"]["key"].startswith("output:")
    page2 = gql(client, q, after=page1["pageInfo"]["endCursor"])["data"]["gate"]["tainted"]
    assert len(page2["nodes"]) == 2 and page2["pageInfo"]["hasNextPage"] is False
    keys = [n["example"] for n in page1["nodes"] + page2["nodes"]]
    assert len(set(keys)) == 6
    assert len(first["unknown"]["nodes"]) == 3


def test_gate_as_of_and_unknown_dataset(client: TestClient) -> None:
    q = 'query($a: String) { gate(dataset: "code-sft@v1", asOf: $a) { counts { examples } } }'
    assert gql(client, q)["data"]["gate"]["counts"]["examples"] == 9
    early = gql(client, q, a="10")  # before the policy: no verdict, never a pass
    assert early["data"] is None and early["errors"][0]["message"] == (
        "no policy in force as of event 10: run `lineage policy set FILE.toml` first"
    )
    unknown = gql(client, '{ gate(dataset: "nope@v1") { passed } }')
    assert unknown["data"] is None and "unknown dataset" in unknown["errors"][0]["message"]


def test_node_parents_children_and_lineage(client: TestClient) -> None:
    q = """{ node(key: "file:github.com/acme/widgets:src/widgets/api.py@a3a3a3a3") {
        kind defined attributes
        parents(first: 5) { edge node { key } }
        children(first: 50) { edge span { start end } node { key kind } } } }"""
    node = gql(client, q)["data"]["node"]
    assert node["kind"] == "file_version" and node["defined"] is True
    assert node["attributes"]["line_count"] == 42
    assert {p["edge"] for p in node["parents"]} >= {"revised", "committed"}
    chunked = [c for c in node["children"] if c["edge"] == "chunked"]
    assert {c["node"]["key"] for c in chunked} >= {
        "example:code-pretrain@v1:ex-002",
        "example:code-sft@v1:sft-002",
    }
    lin = gql(
        client,
        """{ lineage(key: "example:code-sft@v1:sft-006", direction: UPSTREAM,
        depth: 6, kinds: ["derived", "chunked", "revised", "wrote"]) {
        nodes { key } edges { src dst kind } truncated asOf } }""",
    )["data"]["lineage"]
    keys = {n["key"] for n in lin["nodes"]}
    assert "output:toolu_01B" in keys and "example:code-pretrain@v1:ex-002" in keys
    assert lin["truncated"] is False
    small = gql(
        client,
        """{ lineage(key: "example:code-sft@v1:sft-006", direction: UPSTREAM,
        depth: 6, first: 2) { nodes { key } truncated } }""",
    )["data"]["lineage"]
    assert small["truncated"] is True and len(small["nodes"]) <= 3


def test_stats_policy_and_events(client: TestClient) -> None:
    stats = gql(
        client,
        """{ stats { headSeq headTime asOf policyHash
        nodesByKind { kind count } taintedByTool { tool examples }
        taintedByDataset { dataset tainted examples } } }""",
    )["data"]["stats"]
    assert stats["headSeq"] == stats["asOf"] > 60
    by_dataset = {d["dataset"]: d for d in stats["taintedByDataset"]}
    assert by_dataset["code-pretrain@v1"]["tainted"] == 6
    assert by_dataset["code-sft@v1"] == {"dataset": "code-sft@v1", "tainted": 4, "examples": 9}
    policy = gql(client, "{ policy { version hash toml } }")["data"]["policy"]
    assert policy["version"] == 1 and "claude-code" in policy["toml"]
    events = gql(
        client,
        """{ events(source: "manifest", first: 5) {
        events { seq type origin payload } pageInfo { hasNextPage endCursor } headSeq } }""",
    )
    page = events["data"]["events"]
    assert len(page["events"]) == 5 and page["pageInfo"]["hasNextPage"] is True
    assert page["events"][0]["payload"]["example_id"] == "sft-001"


def test_auth_matrix(client: TestClient) -> None:
    query = {"query": "{ stats { headSeq } }"}
    assert client.post("/graphql", json=query).status_code == 401
    assert (
        client.post(
            "/graphql", json=query, headers={"Authorization": "Bearer wrong-token"}
        ).status_code
        == 401
    )
    assert client.post("/graphql", json=query, headers=AS["reader"]).status_code == 200
    mutation = {"query": 'mutation { ingest(source: "events", records: []) { accepted } }'}
    denied = client.post("/graphql", json=mutation, headers=AS["reader"]).json()
    assert "needs the ingester role" in denied["errors"][0]["message"]
    assert client.post("/graphql", json=mutation, headers=AS["ingester"]).json()["data"]
    policy = {
        "query": "mutation($t: String!) { setPolicy(toml: $t) { version } }",
        "variables": {"t": (EXAMPLES / "policy.toml").read_text()},
    }
    denied = client.post("/graphql", json=policy, headers=AS["ingester"]).json()
    assert "needs the admin role" in denied["errors"][0]["message"]
    assert client.post("/graphql", json=policy, headers=AS["admin"]).json()["data"]
    body = (FIXTURES / "manifests" / "bad.jsonl").read_bytes()
    assert (
        client.post("/events?source=manifest", content=body, headers=AS["reader"]).status_code
        == 403
    )
    assert client.post("/events?source=manifest", content=body).status_code == 401
    assert client.get("/healthz").status_code == 200


def test_depth_and_page_limits(client: TestClient) -> None:
    deep = "children { node { " * 30 + "key" + " } }" * 30
    r = gql(client, '{ node(key: "dataset:code-pretrain@v1") { ' + deep + " } }")
    assert r["data"] is None and "exceeds maximum operation depth" in r["errors"][0]["message"]
    r = gql(
        client,
        '{ gate(dataset: "code-pretrain@v1") { tainted(first: 100000) { nodes { example } } } }',
    )
    assert "first must be between 0 and 500" in r["errors"][0]["message"]
    big = client.post("/graphql", content=b"x" * (2 * 1024 * 1024), headers=AS["reader"])
    assert big.status_code == 413


def test_ingest_mutation_and_events_endpoint(client: TestClient) -> None:
    record = {"type": "output", "output": "toolu_new", "tool": "claude-code", "model": "m"}
    r = gql(
        client,
        """mutation($r: [JSON!]!) { ingest(source: "events", records: $r) {
        accepted duplicate rejected rejections headSeq } }""",
        role="ingester",
        r=[record, {"type": "nope"}],
    )["data"]["ingest"]
    assert (r["accepted"], r["rejected"]) == (1, 1)
    assert "graphql ingest:2" in r["rejections"][0]
    body = (FIXTURES / "manifests" / "bad.jsonl").read_bytes()
    resp = client.post(
        "/events?source=manifest&name=bad.jsonl", content=body, headers=AS["ingester"]
    )
    rep = resp.json()
    assert resp.status_code == 200 and rep["accepted"] == 1 and rep["rejected"] == 10
    assert any(x.startswith("bad.jsonl:2: no source") for x in rep["rejections"])
    again = client.post(
        "/events?source=manifest&name=bad.jsonl", content=body, headers=AS["ingester"]
    ).json()
    assert again["accepted"] == 0 and again["duplicate"] == 1


def test_openlineage_transport_with_example_facet(client: TestClient) -> None:
    event = json.loads((FIXTURES / "openlineage" / "run-complete.json").read_text())
    r = client.post("/api/v1/lineage", json=event, headers=AS["ingester"])
    assert r.status_code == 200, r.text
    q = "query($e: String!) { verdict(example: $e) { status } }"
    assert gql(client, q, e="mixed@2026-11:m-1")["data"]["verdict"]["status"] == "TAINTED"
    assert gql(client, q, e="mixed@2026-11:m-2")["data"]["verdict"]["status"] == "CLEAN"
    run = gql(
        client,
        '{ node(key: "build_run:0196a1d2-0000-7000-8000-000000000001") { '
        "kind parents { edge node { key } } children { edge node { key } } } }",
    )
    node = run["data"]["node"]
    assert node["kind"] == "build_run"
    assert [p["node"]["key"] for p in node["parents"]] == ["dataset:code-pretrain@v1"]
    assert [c["node"]["key"] for c in node["children"]] == ["dataset:mixed@2026-11"]


def test_graphiql_is_served_from_the_package(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "/static/graphiql/graphiql.min.js" in page.text
    assert "unpkg" not in page.text and "cdn" not in page.text.lower()
    js = client.get("/static/graphiql/graphiql.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000


def test_sources_that_cannot_be_posted_and_unreadable_bodies_are_400(client: TestClient) -> None:
    r = client.post("/events?source=git", content=b"{}", headers=AS["ingester"])
    assert r.status_code == 400 and "cannot take 'git' records" in r.json()["error"]
    r = client.post(
        "/events?source=manifest",
        content=b"not parquet",
        headers=AS["ingester"] | {"Content-Type": "application/vnd.apache.parquet"},
    )
    assert r.status_code == 400 and "not a readable Parquet file" in r.json()["error"]


IMPACT = """query($nodes: [String!], $tool: String, $first: Int!) {
  impact(nodes: $nodes, tool: $tool, first: $first) {
    selection asOf datasets { dataset counts { precise strict }
      precise { example sources } strict { example sources } } } }"""


def test_impact_answers_what_lineage_impact_answers(client: TestClient) -> None:
    with lineage.open(":memory:") as db:
        db.ingest("events", EXAMPLES / "events.ndjson")
        db.set_policy((EXAMPLES / "policy.toml").read_text())
        db.ingest("manifest", EXAMPLES / "manifest.jsonl")
        snapshot = db.as_of()
        expected = {
            "tool": snapshot.impact(lineage.Restriction(reason="impact", tool="claude-code")),
            "nodes": snapshot.impact(nodes=["session:sess-claude-1", "output:toolu_01C"]),
        }
    for how, variables in (
        ("tool", {"tool": "claude-code"}),
        ("nodes", {"nodes": ["session:sess-claude-1", "output:toolu_01C"]}),
    ):
        got = gql(client, IMPACT, first=20, **variables)["data"]["impact"]
        want = expected[how].as_dict()
        assert got["selection"] == want["selection"] and got["asOf"] == want["as_of"]
        assert [
            {
                "dataset": d["dataset"],
                "counts": d["counts"],
                "precise": [
                    {"example": t["example"], "sources": t["sources"]} for t in d["precise"]
                ],
                "strict": [{"example": t["example"], "sources": t["sources"]} for t in d["strict"]],
            }
            for d in want["datasets"]
        ] == got["datasets"]
        assert got["datasets"], how
    # a page: exact counts, the first examples only
    paged = gql(client, IMPACT, first=1, tool="claude-code")["data"]["impact"]["datasets"]
    assert all(len(d["strict"]) == 1 and d["counts"]["strict"] >= 1 for d in paged)
    errors = gql(client, IMPACT, first=5)["errors"]
    assert "name what to trace" in errors[0]["message"]
    errors = gql(client, IMPACT, first=5, nodes=["nope"])["errors"]
    assert "no node 'nope'" in errors[0]["message"]
