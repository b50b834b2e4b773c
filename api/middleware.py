"""ASGI middleware every request passes before the routes: the access log, bounded bodies,
and the gate that checks the Host and Authorization headers and sets the request's role.
"""

import logging
from collections.abc import Callable
from time import monotonic, perf_counter

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lineage.api.auth import Tokens, bearer
from lineage.api.limits import Limits

PUBLIC = ("/healthz", "/static/")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")  # the names served without tokens
access_log = logging.getLogger("lineage.access")


class AccessLog:
    """One line per request on the `lineage.access` logger: method, path, role, status and
    duration in ms (status 500 when the app failed before it answered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = perf_counter(), 500

        async def logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, logged)
        finally:
            role = scope.get("state", {}).get("role")
            access_log.info(
                "%s %s role=%s status=%d %.1f ms",
                scope["method"],
                scope["path"],
                role or "-",
                status,
                (perf_counter() - start) * 1000,
            )


def error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BoundedBody:
    """Every request body bounded in size and in time, whatever its transfer encoding
    (a Content-Length or chunks): over its limit the request is answered 413, not done
    within `body_seconds` 408, here, with `Connection: close`; the app then sees the client
    gone (http.disconnect) and anything it sends is dropped. Headers over max_header_bytes
    are 431 (h11 bounds only headers that have not all arrived yet)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def limit_of(self, path: str) -> int:
        return self.limits.max_graphql_body if path.startswith("/graphql") else self.limits.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if size > self.limits.max_header_bytes:  # h11 bounds only headers still arriving
            await error(
                431,
                f"request headers over {self.limits.max_header_bytes} bytes",
                connection="close",
            )(scope, receive, send)
            return
        limit = self.limit_of(scope["path"])
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if len(declared) > 1 or (declared and not declared[0].strip().isdigit()):
            await error(400, "send one Content-Length with a number of bytes", connection="close")(
                scope, receive, send
            )
            return
        if declared and int(declared[0]) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        guard = _Guard(
            scope,
            receive,
            send,
            limit,
            monotonic() + self.limits.body_seconds,
            self.limits.body_seconds,
        )
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.answered:  # the app's own failure: not ours to hide
                raise


def _too_large(limit: int) -> JSONResponse:
    return error(413, f"request body over {limit} bytes; split it", connection="close")


class _Guard:
    """The receive and send of one request under BoundedBody."""

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        deadline: float,
        seconds: float,
    ) -> None:
        self.scope, self._receive, self._send = scope, receive, send
        self.limit, self.deadline, self.seconds = limit, deadline, seconds
        self.size, self.body_done = 0, False
        self.started = self.answered = False

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def receive(self) -> Message:
        if self.answered:
            return {"type": "http.disconnect"}
        if self.body_done:
            return await self._receive()
        message = None
        with anyio.move_on_after(max(0.0, self.deadline - monotonic())):
            message = await self._receive()
        if message is None:
            return await self._answer(
                lambda: error(
                    408,
                    f"the request body did not arrive within {self.seconds:g} s",
                    connection="close",
                )
            )
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                return await self._answer(lambda: _too_large(self.limit))
            self.body_done = not message.get("more_body", False)
        return message

    async def _answer(self, response: Callable[[], JSONResponse]) -> Message:
        self.answered = True
        if not self.started:  # else the response is under way: the connection just closes
            await response()(self.scope, self._receive, self._send)
        return {"type": "http.disconnect"}


class TokenGate:
    """Checks the headers that decide who is asking, then sets the role:

    - at most one Authorization header (400): two could disagree, and which one a proxy or
      this server reads is not something to guess;
    - without tokens (the server binds loopback only and everyone is a reader) the Host must
      be a loopback name (421): a web page on another name that resolves to 127.0.0.1 (DNS
      rebinding) cannot read the store;
    - with tokens, a valid bearer token on every route but /healthz, /static and the pages
      (the dashboard at /, the IDE), which hold no data (401).
    """

    def __init__(self, app: ASGIApp, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> JSONResponse | None:
        """The answer to a request refused here, or None (with its role set in the scope)."""
        path = scope["path"]
        auth = [v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"]
        if len(auth) > 1:
            return error(400, f"{len(auth)} Authorization headers: send exactly one")
        if not self.tokens.configured:
            host = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
            if len(host) != 1 or not loopback_host(host[0]):
                shown = repr(host[0][:100]) if len(host) == 1 else "missing"
                return error(
                    421,
                    f"this server runs without tokens and answers only to "
                    f"{', '.join(LOOPBACK_HOSTS)} (Host {shown}); serve with "
                    "LINEAGE_TOKENS or --tokens to take other names",
                )
            role: str | None = "reader"
        else:
            role = self.tokens.role_of(bearer(auth[0] if auth else None))
        # the pages (the dashboard, the IDE) hold no data: they ask for it with the token
        page = path in ("/", "/graphql") and scope["method"] == "GET"
        if role is None and not page and not path.startswith(PUBLIC):
            return error(
                401,
                "a valid bearer token is required (Authorization: Bearer TOKEN)",
                **{"WWW-Authenticate": "Bearer"},
            )
        scope.setdefault("state", {})["role"] = role
        return None


def loopback_host(value: str) -> bool:
    """Whether a Host header names this machine's loopback: localhost, 127.0.0.1 or [::1],
    with or without a port."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        name += "]"
    else:
        name, sep, rest = value.partition(":")
        rest = sep + rest
    return name in LOOPBACK_HOSTS and (rest == "" or (rest[:1] == ":" and rest[1:].isdigit()))
