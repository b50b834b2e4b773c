"""The starlette app: GraphQL at /graphql (GraphiQL on GET, served from the package), bulk
ingestion at POST /events, the OpenLineage HTTP transport at POST /api/v1/lineage, and
GET /healthz. Every route but /healthz and the static IDE needs a valid bearer token when
tokens are configured.
"""

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from api.auth import Tokens, allows, bearer
from api.schema import Context, schema
from api.service import Service
from lineage.store import Store
from loaders import RECORD_SOURCES
from loaders.files import InputError

MAX_BODY = 64 * 1024 * 1024
MAX_GRAPHQL_BODY = 1024 * 1024
STATIC = Path(str(files("api") / "static"))
PUBLIC = ("/healthz", "/static/")

GRAPHIQL_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lineage GraphiQL</title>
<link rel="stylesheet" href="/static/graphiql/graphiql.min.css">
<style>body{margin:0;height:100vh}#graphiql{height:100vh}</style></head>
<body><div id="graphiql">Loading GraphiQL...</div>
<script src="/static/graphiql/react.production.min.js"></script>
<script src="/static/graphiql/react-dom.production.min.js"></script>
<script src="/static/graphiql/graphiql.min.js"></script>
<script>
const fetcher = GraphiQL.createFetcher({url: '/graphql'});
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {fetcher, defaultEditorToolsVisibility: true,
    defaultHeaders: '{"Authorization": "Bearer YOUR-TOKEN"}',
    defaultQuery: '{ stats { headSeq headTime nodesByKind { kind count } } }'}));
</script></body></html>
"""


class TokenGate:
    """401 for requests without a valid token (when tokens are configured); sets the role."""

    def __init__(self, app: ASGIApp, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        ide = path == "/graphql" and scope["method"] == "GET"
        if not self.tokens.configured:
            role: str | None = "reader"
        else:
            role = self.tokens.role_of(bearer(headers.get("authorization")))
        if role is None and not ide and not path.startswith(PUBLIC):
            await JSONResponse({"error": "a valid bearer token is required "
                                "(Authorization: Bearer TOKEN)"}, status_code=401,
                               headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        scope.setdefault("state", {})["role"] = role
        await self.app(scope, receive, send)


class LineageGraphQL(GraphQL):
    def __init__(self, service: Service) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self.service = service

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        role = request.scope.get("state", {}).get("role")
        return {"request": request, "response": response,
                "lineage": Context(self.service, self.service.reader(), role)}

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(GRAPHIQL_HTML)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length and int(length) > MAX_GRAPHQL_BODY:
            await _too_large(MAX_GRAPHQL_BODY)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"request body over {limit} bytes; split it"},
                        status_code=413)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is over `limit` bytes."""
    if int(request.headers.get("content-length") or 0) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _forbidden(role: str | None, needed: str) -> JSONResponse:
    return JSONResponse({"error": f"this needs the {needed} role; your token has "
                         f"{role or 'no'} role"}, status_code=403)


def create_app(store: Store, tokens: Tokens | None = None) -> Starlette:
    """The server over an open store (the server process holds the DuckDB file)."""
    service = Service(store)
    tokens = tokens or Tokens()

    async def healthz(request: Request) -> JSONResponse:
        reader = service.reader()
        head = await anyio.to_thread.run_sync(reader.head_seq)
        return JSONResponse({"ok": True, "head_seq": head})

    async def events(request: Request) -> Response:
        role = request.scope["state"]["role"]
        if not allows(role, "ingester"):
            return _forbidden(role, "ingester")
        source = request.query_params.get("source", "events")
        if source not in RECORD_SOURCES:
            return JSONResponse({"error": f"cannot take {source!r} records here; expected "
                                 f"one of {', '.join(RECORD_SOURCES)}"}, status_code=400)
        body = await _body(request, MAX_BODY)
        if body is None:
            return _too_large(MAX_BODY)
        parquet = "parquet" in request.headers.get("content-type", "")
        label = request.query_params.get("name") or f"POST /events?source={source}"
        try:
            report = await anyio.to_thread.run_sync(lambda: service.ingest(
                source, body, label, suffix=".parquet" if parquet else ".jsonl",
                repo=request.query_params.get("repo")))
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        status = 400 if report.rejected and not (report.accepted or report.duplicate) else 200
        return JSONResponse(report.as_dict() | {"head_seq": service.reader().head_seq()},
                            status_code=status)

    async def openlineage(request: Request) -> Response:
        role = request.scope["state"]["role"]
        if not allows(role, "ingester"):
            return _forbidden(role, "ingester")
        body = await _body(request, MAX_BODY)
        if body is None:
            return _too_large(MAX_BODY)
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            return JSONResponse({"error": f"not JSON: {exc.msg}"}, status_code=400)
        values = value if isinstance(value, list) else [value]
        data = "".join(json.dumps(v) + "\n" for v in values).encode()
        report = await anyio.to_thread.run_sync(
            lambda: service.ingest("openlineage", data, "POST /api/v1/lineage"))
        return JSONResponse(report.as_dict(), status_code=400 if report.rejected else 200)

    graphql = LineageGraphQL(service)
    app = Starlette(routes=[
        Route("/healthz", healthz),
        Route("/events", events, methods=["POST"]),
        Route("/api/v1/lineage", openlineage, methods=["POST"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    app.add_middleware(TokenGate, tokens=tokens)
    return app
