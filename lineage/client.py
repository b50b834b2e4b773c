"""Talking to a running `lineage serve`: what `lineage ingest --server` sends."""

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from lineage.facts import Rejection
from lineage.store import IngestReport


class ServerError(RuntimeError):
    """The server could not be reached or refused the request; the message says why."""


def ingest_remote(
    server: str, token: str | None, source: str, paths: list[Path], repo: str | None = None
) -> IngestReport:
    """POST each file to /events (Parquet as Parquet, the rest as NDJSON); sum the reports."""
    total = IngestReport(source)
    for path in paths:
        query = {"source": source, "name": str(path)} | ({"repo": repo} if repo else {})
        parquet = path.suffix == ".parquet"
        request = urllib.request.Request(
            f"{server.rstrip('/')}/events?{urllib.parse.urlencode(query)}",
            method="POST",
            data=path.read_bytes(),
            headers={
                "Content-Type": "application/vnd.apache.parquet"
                if parquet
                else "application/x-ndjson",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            if exc.code != 400:
                raise ServerError(f"{server}: {exc.code} {exc.reason}: {detail}") from exc
            body = json.loads(detail)
        except (urllib.error.URLError, OSError) as exc:
            raise ServerError(f"cannot reach {server}: {exc}; is `lineage serve` running?") from exc
        total.add(
            IngestReport(
                source,
                body["accepted"],
                body["duplicate"],
                body["rejected"],
                body["ignored"],
                [Rejection(None, None, text, None) for text in body["rejections"]],
                body["notes"],
            )
        )
    return total
