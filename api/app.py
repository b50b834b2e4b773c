"""The starlette app: GraphQL at /graphql (GraphiQL on GET, served from the package), bulk
ingestion at POST /events, the OpenLineage HTTP transport at POST /api/v1/lineage, the CLI's
reports under /v1/ (`api.reports`: `lineage gate ... --server`), a client's git history at
/v1/commits and /v1/facts (`api.git_ingest`), and GET /healthz. Every route but /healthz and
the pages (the dashboard at /, the IDE, their static assets) needs a valid bearer token when
tokens are configured; without tokens only loopback Host names are served.

Around the routes, outermost first: the access log, bounded bodies (size and time, whatever
the transfer encoding) and the token gate (`api.middleware`); the limits are `api.limits`,
what a query may cost `api.cost`, how uvicorn is configured `api.serve`.
"""

import json
from importlib.resources import files
from pathlib import Path
from time import monotonic
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from lineage.api.auth import Tokens, allows
from lineage.api.git_ingest import git_ingest_routes
from lineage.api.limits import MAX_BODY, MAX_GRAPHQL_BODY, Limits
from lineage.api.middleware import AccessLog, BoundedBody, TokenGate
from lineage.api.reports import report_routes
from lineage.api.requests import forbidden, read_body
from lineage.api.schema import Context, schema
from lineage.api.service import Service
from lineage.database import Database
from lineage.loaders import RECORD_SOURCES
from lineage.loaders.files import InputError

__all__ = ["MAX_BODY", "MAX_GRAPHQL_BODY", "create_app"]
STATIC = Path(str(files("lineage.api") / "static"))
CONTEXT = "lineage.context"  # where a GraphQL request's Context waits in its scope state

GRAPHIQL_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lineage GraphiQL</title>
<link rel="stylesheet" href="/static/graphiql/graphiql.min.css">
<style>body{margin:0;height:100vh}#graphiql{height:100vh}</style></head>
<body><div id="graphiql">Loading GraphiQL...</div>
<script src="/static/graphiql/react.production.min.js"></script>
<script src="/static/graphiql/react-dom.production.min.js"></script>
<script src="/static/graphiql/graphiql.min.js"></script>
<script>
// ?query= opens that query; the token is the dashboard's (asked for once, kept in this
// browser), so no placeholder header is sent
const params = new URLSearchParams(location.search);
let token = localStorage.getItem('lineage-token');
if (token === null) {
  token = (prompt('Reader token (none on loopback without tokens)') || '').trim();
  localStorage.setItem('lineage-token', token);
}
const fetcher = GraphiQL.createFetcher({url: '/graphql'});
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {fetcher, defaultEditorToolsVisibility: true,
    defaultHeaders: token ? JSON.stringify({Authorization: 'Bearer ' + token}) : '{}',
    defaultQuery: params.get('query')
      || '{ stats { headSeq headTime nodesByKind { kind count } } }'}));
</script></body></html>
"""


class LineageGraphQL(GraphQL[dict[str, Any], None]):
    """The GraphQL endpoint: one Context per request, with the request's deadline, given
    back (its taint runs released, work still running for it stopped) once the response is
    sent."""

    def __init__(self, service: Service, tokens: bool, limits: Limits) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self.service = service
        self.tokens = tokens
        self.limits = limits
        self.limiter: anyio.CapacityLimiter | None = None

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        state = request.scope.setdefault("state", {})
        if self.limiter is None:  # made on the event loop, once
            self.limiter = anyio.CapacityLimiter(self.limits.store_workers)
        ctx = Context(
            self.service,
            self.service.reader(),
            state.get("role"),
            tokens=self.tokens,
            budget=self.limits.request_seconds,
            deadline=monotonic() + self.limits.request_seconds,
            limiter=self.limiter,
        )
        state[CONTEXT] = ctx
        return {"request": request, "response": response, "lineage": ctx}

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A browser opening /graphql gets GraphiQL, with `?query=` too (the page reads it:
        the dashboard's links); queries over GET stay refused to any other client."""
        accept = request.headers.get("accept", "")
        return request.method == "GET" and (
            "text/html" in accept or ("*/*" in accept and request.query_params.get("query") is None)
        )

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(GRAPHIQL_HTML)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            ctx = scope.get("state", {}).pop(CONTEXT, None)
            if ctx is not None:
                ctx.release()


def create_app(db: Database, tokens: Tokens | None = None, limits: Limits | None = None) -> ASGIApp:
    """The server over an open store (the server process holds the DuckDB file), with the
    limits of `api.limits` (the defaults unless `limits` says otherwise)."""
    service = Service(db)
    tokens = tokens or Tokens()
    limits = limits or Limits()

    async def dashboard(request: Request) -> FileResponse:
        """The dashboard: a page that reads only the GraphQL API (its assets under /static)."""
        return FileResponse(STATIC / "dashboard" / "index.html", media_type="text/html")

    async def healthz(request: Request) -> JSONResponse:
        reader = service.reader()
        try:
            head = await anyio.to_thread.run_sync(reader.head_seq)
        finally:
            reader.close()
        return JSONResponse({"ok": True, "head_seq": head})

    async def events(request: Request) -> Response:
        role = request.scope["state"]["role"]
        if not allows(role, "ingester"):
            return forbidden(role, "ingester", tokens.configured)
        source = request.query_params.get("source", "events")
        if source not in RECORD_SOURCES:
            return JSONResponse(
                {
                    "error": f"cannot take {source!r} records here; expected "
                    f"one of {', '.join(RECORD_SOURCES)}"
                },
                status_code=400,
            )
        body = await read_body(request, limits.max_body)
        if isinstance(body, Response):
            return body
        parquet = "parquet" in request.headers.get("content-type", "")
        label = request.query_params.get("name") or f"POST /events?source={source}"
        try:
            report = await anyio.to_thread.run_sync(
                lambda: service.ingest(
                    source,
                    body,
                    label,
                    suffix=".parquet" if parquet else ".jsonl",
                    repo=request.query_params.get("repo"),
                )
            )
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        status = 400 if report.rejected and not (report.accepted or report.duplicate) else 200
        return JSONResponse(report.as_dict() | {"head_seq": service.head_seq()}, status_code=status)

    async def openlineage(request: Request) -> Response:
        role = request.scope["state"]["role"]
        if not allows(role, "ingester"):
            return forbidden(role, "ingester", tokens.configured)
        body = await read_body(request, limits.max_body)
        if isinstance(body, Response):
            return body
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            return JSONResponse({"error": f"not JSON: {exc.msg}"}, status_code=400)
        values = value if isinstance(value, list) else [value]
        data = "".join(json.dumps(v) + "\n" for v in values).encode()
        report = await anyio.to_thread.run_sync(
            lambda: service.ingest("openlineage", data, "POST /api/v1/lineage")
        )
        return JSONResponse(report.as_dict(), status_code=400 if report.rejected else 200)

    graphql = LineageGraphQL(service, tokens.configured, limits)
    app = Starlette(
        routes=[
            Route("/", dashboard),
            Route("/healthz", healthz),
            Route("/events", events, methods=["POST"]),
            Route("/api/v1/lineage", openlineage, methods=["POST"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *report_routes(service, tokens, limits),
            *git_ingest_routes(service, tokens, limits),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.add_middleware(TokenGate, tokens=tokens)
    return AccessLog(BoundedBody(app, limits))
