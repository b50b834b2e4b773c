"""How the server is run: uvicorn with the connection limits of `api.limits`.

uvicorn bounds the size of a request's headers (`h11_max_incomplete_event_size`) and how long
an idle keep-alive connection stays open (`timeout_keep_alive`), but not how long a client
may take to send its headers, nor a connection whose client keeps sending a body nobody reads.
`BoundedH11Protocol` adds both: headers must arrive within `header_seconds` of connecting or
of the previous response, and a response sent before its request's body was read closes the
connection. (The body's own size and time are bounded in the app: `api.middleware`.)

`serve` is what `lineage serve` runs; `config` is the same for a test or an embedding that
runs its own `uvicorn.Server`.
"""

import asyncio
import copy
from typing import Any

import h11
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from lineage.api.auth import Tokens
from lineage.api.limits import HEADER_SECONDS, Limits
from lineage.database import Database

_LATE = b"the request headers did not arrive in time\n"
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_LATE)).encode() + b"\r\n\r\n" + _LATE
)


class LineageConfig(uvicorn.Config):
    """uvicorn's config plus the limits it has no option for."""

    def __init__(self, app: Any, *, header_seconds: float = HEADER_SECONDS, **options: Any) -> None:
        super().__init__(app, **options)
        self.header_seconds = header_seconds


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers, and no connection
    kept open for a body the app did not read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._header_timer: asyncio.TimerHandle | None = None
        self._await_headers()

    def _await_headers(self) -> None:
        """Start the clock for the next request's headers."""
        self._stop_header_timer()
        seconds = getattr(self.config, "header_seconds", HEADER_SECONDS)
        self._header_timer = self.loop.call_later(seconds, self._headers_late)

    def _stop_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's headers are in
            self._stop_header_timer()

    def on_response_complete(self) -> None:
        unread = self.conn.their_state is h11.SEND_BODY
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if unread:  # answered before its body was read (refused): do not wait for it
            self.transport.close()
        elif self.conn.their_state is h11.IDLE:
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)


def log_config() -> dict[str, Any]:
    """uvicorn's logging plus the server's own loggers on stderr: `lineage.access` (one line
    per request) and `lineage.api`; strawberry's logs only real faults (`api.schema`)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["lineage"] = {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
    config["handlers"]["lineage"] = {
        "formatter": "lineage",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["lineage"] = {"handlers": ["lineage"], "level": "INFO", "propagate": False}
    config["loggers"]["strawberry"] = {
        "handlers": ["lineage"],
        "level": "ERROR",
        "propagate": False,
    }
    return config


def config(
    app: Any, host: str, port: int, limits: Limits | None = None, **options: Any
) -> LineageConfig:
    """The uvicorn config of the server: the connection limits, no uvicorn access log (the
    app writes its own), uvicorn's messages from warnings up."""
    limits = limits or Limits()
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": BoundedH11Protocol,
        "timeout_keep_alive": limits.keep_alive_seconds,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "limit_concurrency": limits.max_connections,
        "access_log": False,
        "log_config": log_config(),
        "log_level": "warning",
    }
    return LineageConfig(app, header_seconds=limits.header_seconds, **(settings | options))


def serve(db: Database, tokens: Tokens, host: str, port: int, limits: Limits | None = None) -> None:
    """Serve the store `db` until interrupted (what `lineage serve` runs)."""
    from lineage.api.app import create_app

    uvicorn.Server(config(create_app(db, tokens, limits), host, port, limits)).run()
