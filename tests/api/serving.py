"""A real server for tests: uvicorn on a free loopback port, in a thread, configured as
`lineage serve` configures it (api.serve.config), and raw-socket helpers for what httpx
will not send (trickles, chunked bodies, odd headers)."""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from starlette.types import ASGIApp

from lineage.api.limits import Limits
from lineage.api.serve import config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app: ASGIApp, limits: Limits | None = None) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL. Logging is left to pytest
    (no dictConfig), so caplog sees the server's records."""
    port = free_port()
    srv = uvicorn.Server(config(app, "127.0.0.1", port, limits, log_config=None))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0
