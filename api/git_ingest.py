"""A git history read by the client and stored by the server, for `lineage ingest --server URL
git REPO`: git runs where the checkout is, the server holds the store.

- GET /v1/commits?repo=R: the commits of R already read completely (what the client skips)
- POST /v1/facts: one batch of the git loader (`lineage.wire`, JSON, gzip or plain); the
  answer is its ingest report, as POST /events answers

Both need the ingester role. A batch that is not one the git loader makes is 400 with the
field that is wrong, and nothing of it is stored.
"""

import json

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lineage.api.auth import Tokens, allows
from lineage.api.limits import Limits
from lineage.api.requests import forbidden, read_body
from lineage.api.service import Service
from lineage.store import UndeclaredNodes
from lineage.wire import WireError, decode_batch


def git_ingest_routes(service: Service, tokens: Tokens, limits: Limits) -> list[Route]:
    """The routes that take a client's git history into `service`'s store."""

    def refused(request: Request) -> Response | None:
        role = request.scope["state"]["role"]
        return None if allows(role, "ingester") else forbidden(role, "ingester", tokens.configured)

    async def commits(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        repo = request.query_params.get("repo")
        if not repo:
            return JSONResponse({"error": "missing query parameter 'repo'"}, status_code=400)
        reader = service.reader()
        try:
            known = await anyio.to_thread.run_sync(reader.known_commits, repo)
        finally:
            reader.close()
        return JSONResponse({"repo": repo, "commits": sorted(known)})

    async def facts(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        body = await read_body(request, limits.max_body)
        if isinstance(body, Response):
            return body
        try:
            batch = decode_batch(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return JSONResponse({"error": f"the body is not JSON: {exc}"}, status_code=400)
        except WireError as exc:
            return JSONResponse({"error": f"not a batch of facts: {exc}"}, status_code=400)
        if batch.source != "git":
            return JSONResponse(
                {
                    "error": f"facts are taken for git histories, not {batch.source!r}: "
                    "send records to POST /events"
                },
                status_code=400,
            )
        try:
            report = await anyio.to_thread.run_sync(service.ingest_batch, batch)
        except UndeclaredNodes as exc:
            return JSONResponse({"error": f"not a batch of facts: {exc}"}, status_code=400)
        return JSONResponse(report.as_dict() | {"head_seq": service.head_seq()})

    return [
        Route("/v1/commits", commits),
        Route("/v1/facts", facts, methods=["POST"]),
    ]
