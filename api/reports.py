"""The CLI's reports over HTTP, for `lineage gate|explain|blame|datasets|outputs|impact
--server`: each answers with the JSON of the report the command renders (`GateReport`,
`Verdict`, `FileBlame`, `RestrictedOutput`, `ImpactReport` as_dict), from which the client
renders every format, so a report reads the same from a server as from a local store.

- GET /v1/gate?dataset=D[&mode=M][&as_of=A][&allow_unknown=true][&max_paths=N]
- GET /v1/verdicts?dataset=D&format=jsonl|parquet[&mode=M][&as_of=A]: `gate --out`'s file
- GET /v1/explain?example=E[&mode=M][&as_of=A]
- GET /v1/datasets[?mode=M][&as_of=A], GET /v1/outputs[?mode=M][&as_of=A]
- GET /v1/impact?node=K...|tool=T[&model=M][&since=D][&until=D][&repo=R...][&paths=N]
  [&listed=N][&as_of=A]
- POST /v1/blame {repo, path, rev, blob, text, checkout}: the client reads its checkout

Each needs the reader role. A question the store cannot answer is 400 with the message the
local command prints; store work past the report budget is stopped (503).
"""

import json
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from time import monotonic
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from lineage import engine
from lineage.api.auth import Tokens, allows
from lineage.api.limits import Limits, OverBudget, run_bounded
from lineage.api.requests import forbidden, read_body
from lineage.api.service import Service
from lineage.database import Database, Snapshot, UsageError
from lineage.loaders.files import InputError
from lineage.policy import PolicyError, Restriction
from lineage.store import StoreError

MAX_REPORT_PATHS = 1000  # witness paths one gate or impact report may ask for
MAX_IMPACT_LISTED = 100_000_000  # examples an impact lists per dataset and mode (`--out`)
MAX_BLAME_BODY = 64 * 1024 * 1024  # bytes of a file's text sent to be blamed
VERDICT_FORMATS = {"jsonl": ".jsonl", "parquet": ".parquet"}
_ANSWERABLE = (engine.EngineError, UsageError, InputError, StoreError, PolicyError)


class BadRequest(ValueError):
    """A request's parameters do not ask a question (a missing or malformed one)."""


def _json(value: Any, status: int = 200) -> Response:
    # as the CLI prints it: a value JSON cannot hold (a time in evidence) as its str
    return Response(
        json.dumps(value, default=str), status_code=status, media_type="application/json"
    )


def _param(request: Request, name: str, default: str | None = None) -> str:
    value = request.query_params.get(name, default)
    if value is None or value == "":
        raise BadRequest(f"missing query parameter {name!r}")
    return value


def _mode(request: Request) -> str:
    mode = request.query_params.get("mode", engine.Mode.PRECISE.value)
    if mode not in engine.MODES:
        raise BadRequest(f"mode must be one of {', '.join(engine.MODES)}, not {mode!r}")
    return mode


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false, not {value!r}")
    return value in ("true", "1")


def _count(request: Request, name: str, default: int, most: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not raw.isdigit() or int(raw) > most:
        raise BadRequest(f"{name} must be a whole number from 0 to {most}, not {raw!r}")
    return int(raw)


def report_routes(service: Service, tokens: Tokens, limits: Limits) -> list[Route]:
    """The routes of the reports, over `service`'s store."""

    async def answer(request: Request, work: Callable[[Database], Any]) -> Any | Response:
        """`work` on a cursor of its own in a worker thread, within the report budget; the
        response refusing the request when it cannot be answered."""
        role = request.scope["state"]["role"]
        if not allows(role, "reader"):
            return forbidden(role, "reader", tokens.configured)
        reader = service.reader()
        try:
            return await run_bounded(
                reader,
                lambda: work(reader),
                monotonic() + limits.report_seconds,
                limits.report_seconds,
                anyio.to_thread.current_default_thread_limiter(),
            )
        except (BadRequest, *_ANSWERABLE) as exc:
            return _json({"error": str(exc)}, 400)
        except OverBudget as exc:
            return _json({"error": str(exc)}, 503)
        finally:
            reader.close()

    def snapshot_of(reader: Database, as_of: str | None, work: Callable[[Snapshot], Any]) -> Any:
        budget = limits.report_seconds
        snapshot = service.snapshot(reader, as_of, monotonic() + budget, budget)
        try:
            return work(snapshot)
        finally:
            service.release([snapshot.run.run])

    def snapshot_route(
        ask: Callable[[Request], Callable[[Snapshot], Any]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A route that answers, as JSON, what the work `ask` reads from the request's
        parameters (BadRequest: 400) does on the snapshot at its `as_of`."""

        async def route(request: Request) -> Response:
            try:
                work = ask(request)
            except BadRequest as exc:
                return _json({"error": str(exc)}, 400)
            found = await answer(
                request,
                lambda reader: snapshot_of(reader, request.query_params.get("as_of"), work),
            )
            return found if isinstance(found, Response) else _json(found)

        return route

    def gate(request: Request) -> Callable[[Snapshot], Any]:
        dataset = _param(request, "dataset")
        mode = _mode(request)
        allow_unknown = _flag(request, "allow_unknown")
        max_paths = _count(request, "max_paths", 20, MAX_REPORT_PATHS)
        return lambda s: s.gate(
            dataset, mode, allow_unknown=allow_unknown, max_paths=max_paths
        ).as_dict()

    def explain(request: Request) -> Callable[[Snapshot], Any]:
        example, mode = _param(request, "example"), _mode(request)
        return lambda s: s.verdict(example, mode).as_dict()

    def datasets(request: Request) -> Callable[[Snapshot], Any]:
        mode = _mode(request)
        return lambda s: [r.as_dict() for r in s.dataset_gates(mode)]

    def outputs(request: Request) -> Callable[[Snapshot], Any]:
        mode = _mode(request)
        return lambda s: {
            "as_of": s.seq,
            "outputs": [o.as_dict() for o in s.restricted_outputs(mode)],
        }

    async def verdicts(request: Request) -> Response:
        try:
            dataset = _param(request, "dataset")
            mode = _mode(request)
            fmt = _param(request, "format")
            if fmt not in VERDICT_FORMATS:
                raise BadRequest(f"format must be jsonl or parquet, not {fmt!r}")
        except BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        folder = tempfile.TemporaryDirectory(prefix="lineage-verdicts-")
        path = Path(folder.name) / f"verdicts{VERDICT_FORMATS[fmt]}"
        written = await answer(
            request,
            lambda reader: snapshot_of(
                reader,
                request.query_params.get("as_of"),
                lambda s: s.write_verdicts(dataset, path, mode),
            ),
        )
        if isinstance(written, Response):
            folder.cleanup()
            return written
        return FileResponse(
            path,
            media_type="application/x-ndjson"
            if fmt == "jsonl"
            else "application/vnd.apache.parquet",
            headers={"X-Lineage-Rows": str(written)},
            background=BackgroundTask(folder.cleanup),
        )

    async def impact(request: Request) -> Response:
        query = request.query_params
        try:
            nodes = query.getlist("node")
            tool = query.get("tool")
            scoped = [query.get(k) for k in ("model", "since", "until")] + query.getlist("repo")
            if any(scoped) and not tool:
                raise BadRequest("model, since, until and repo select outputs of a tool")
            if not (nodes or tool):
                raise BadRequest("name what to trace: node=KEY (repeat) or tool=T")
            selection = (
                Restriction(
                    reason="impact",
                    tool=tool,
                    model=query.get("model"),
                    since=query.get("since"),
                    until=query.get("until"),
                    repos=tuple(query.getlist("repo")),
                )
                if tool
                else None
            )
            paths = _count(request, "paths", 0, MAX_REPORT_PATHS)
            listed = _count(request, "listed", 100_000, MAX_IMPACT_LISTED)
        except BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        budget = limits.report_seconds
        found = await answer(
            request,
            lambda reader: service.impact(
                reader,
                selection,
                nodes,
                query.get("as_of"),
                listed,
                monotonic() + budget,
                budget,
                max_paths=paths,
            ).as_dict(),
        )
        return found if isinstance(found, Response) else _json(found)

    async def blame(request: Request) -> Response:
        body = await read_body(request, min(limits.max_body, MAX_BLAME_BODY))
        if isinstance(body, Response):
            return body
        try:
            asked = _blame_request(body)
        except BadRequest as exc:
            return _json({"error": str(exc)}, 400)
        found = await answer(
            request,
            lambda reader: reader.blame_file(
                asked["repo"],
                asked["path"],
                asked["rev"],
                asked["blob"],
                asked["text"],
                checkout=asked.get("checkout"),
            ).as_dict(),
        )
        return found if isinstance(found, Response) else _json(found)

    return [
        Route("/v1/gate", snapshot_route(gate)),
        Route("/v1/verdicts", verdicts),
        Route("/v1/explain", snapshot_route(explain)),
        Route("/v1/datasets", snapshot_route(datasets)),
        Route("/v1/outputs", snapshot_route(outputs)),
        Route("/v1/impact", impact),
        Route("/v1/blame", blame, methods=["POST"]),
    ]


def _blame_request(body: bytes) -> dict[str, Any]:
    """The file a client asks to blame: strings repo, path, rev and blob, text a list of
    strings or null, checkout (how the client names its checkout, for messages) optional."""
    try:
        asked = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from exc
    if not isinstance(asked, dict):
        raise BadRequest("the body must be a JSON object {repo, path, rev, blob, text}")
    for name in ("repo", "path", "rev", "blob"):
        if not isinstance(asked.get(name), str) or not asked[name]:
            raise BadRequest(f"{name} must be a non-empty string")
    text = asked.get("text")
    if text is not None and not (isinstance(text, list) and all(isinstance(t, str) for t in text)):
        raise BadRequest("text must be a list of the file's lines (strings), or null")
    if not isinstance(asked.get("checkout"), str | None):
        raise BadRequest("checkout must be a string")
    return asked
