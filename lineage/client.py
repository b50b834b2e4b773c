"""Talking to a running `lineage serve`: what the CLI asks of it with `--server URL`.

    server = Server("http://127.0.0.1:8765", token="r-secret-1")   # a running `lineage serve`
    server.gate("code-pretrain@v1").passed                         # False: as from the store

`Server` answers `gate`, `verdict` and `blame` with the same objects a local `Database` does
(read back from the JSON their `--format json` prints, the server's `/v1/` routes), so every
rendering and exit code is the same; `ingest` sends records to POST /events, `ingest_git`
reads a history here and sends what it read to POST /v1/facts.
"""

import gzip
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lineage.blame import FileBlame, blamed_file
from lineage.engine import (
    VERDICT_FILE_FORMATS,
    EngineError,
    GateReport,
    ImpactReport,
    Mode,
    RestrictedOutput,
    Verdict,
)
from lineage.facts import Batch, Rejection
from lineage.loaders import git as git_loader
from lineage.policy import Restriction
from lineage.store import IngestReport
from lineage.wire import encode_batch

MAX_FACTS_BODY = 32 * 1024 * 1024  # bytes of JSON per batch sent (the server takes 64 MiB)
REPORT_TIMEOUT = 960.0  # seconds: beyond the server's own report budget (api.limits)


class ServerError(RuntimeError):
    """The server could not be reached or refused the request; the message says why."""


class Server:
    """A running `lineage serve` at `url`, asked with `token` (a reader's for reports, an
    ingester's to ingest; none for a loopback server without tokens)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token or None

    def _request(
        self,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]],
        *,
        data: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = REPORT_TIMEOUT,
        answers_400: bool = False,
    ) -> bytes:
        """The body of the server's answer; ServerError with the server's own message when it
        refuses (a question the store cannot answer reads as it does locally). With
        `answers_400`, a 400 whose body is JSON is an answer too (an ingest report)."""
        pairs = params.items() if isinstance(params, dict) else params
        query = urllib.parse.urlencode([(k, v) for k, v in pairs if v is not None])
        sent = {"Accept": "application/json", **(headers or {})}
        if content_type:
            sent["Content-Type"] = content_type
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            f"{self.url}{path}{'?' + query if query else ''}",
            data=data,
            method="POST" if data is not None else "GET",
            headers=sent,
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            detail = raw.decode(errors="replace")
            if answers_400 and exc.code == 400 and detail.startswith("{"):
                return bytes(raw)
            try:
                message = json.loads(detail)["error"]
            except (ValueError, KeyError, TypeError):
                message = detail[:500] or exc.reason
            if exc.code == 400:
                raise ServerError(str(message)) from exc
            hint = {401: "; give a token with --token or $LINEAGE_TOKEN"}.get(exc.code, "")
            raise ServerError(f"{self.url}: {exc.code} {exc.reason}: {message}{hint}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(
                f"cannot reach {self.url}: {reason}; is `lineage serve` running there?"
            ) from exc

    def _json(
        self, path: str, params: dict[str, Any] | list[tuple[str, Any]], **kwargs: Any
    ) -> Any:
        body = self._request(path, params, **kwargs)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ServerError(f"{self.url}{path}: the answer is not JSON: {exc}") from exc

    def gate(
        self,
        dataset: str,
        mode: Mode | str = Mode.PRECISE,
        *,
        allow_unknown: bool = False,
        max_paths: int = 20,
        as_of: str | int | None = None,
    ) -> GateReport:
        """`Database.gate`, answered by the server."""
        params = {
            "dataset": dataset,
            "mode": str(mode),
            "allow_unknown": "true" if allow_unknown else "false",
            "max_paths": max_paths,
            "as_of": as_of,
        }
        return GateReport.from_dict(self._json("/v1/gate", params))

    def verdict(
        self, example: str, mode: Mode | str = Mode.PRECISE, *, as_of: str | int | None = None
    ) -> Verdict:
        """`Database.verdict`, answered by the server."""
        params = {"example": example, "mode": str(mode), "as_of": as_of}
        return Verdict.from_dict(self._json("/v1/explain", params))

    def dataset_gates(
        self, mode: Mode | str = Mode.PRECISE, *, as_of: str | int | None = None
    ) -> list[GateReport]:
        """`Snapshot.dataset_gates`, answered by the server."""
        found = self._json("/v1/datasets", {"mode": str(mode), "as_of": as_of})
        return [GateReport.from_dict(r) for r in found]

    def restricted_outputs(
        self, mode: Mode | str = Mode.PRECISE, *, as_of: str | int | None = None
    ) -> tuple[int, list[RestrictedOutput]]:
        """(as-of seq, `Snapshot.restricted_outputs`), answered by the server."""
        found = self._json("/v1/outputs", {"mode": str(mode), "as_of": as_of})
        return found["as_of"], [RestrictedOutput.from_dict(o) for o in found["outputs"]]

    def impact(
        self,
        selection: Restriction | None = None,
        *,
        nodes: Sequence[str] = (),
        max_paths: int = 0,
        max_listed: int = 100_000,
        as_of: str | int | None = None,
    ) -> ImpactReport:
        """`Snapshot.impact`, answered by the server."""
        params: list[tuple[str, Any]] = [("node", n) for n in nodes]
        if selection is not None:
            params += [
                (k, v)
                for k, v in (
                    ("tool", selection.tool),
                    ("model", selection.model),
                    ("since", selection.since),
                    ("until", selection.until),
                )
                if v
            ] + [("repo", r) for r in selection.repos]
        params += [("paths", max_paths), ("listed", max_listed)]
        if as_of is not None:
            params.append(("as_of", as_of))
        return ImpactReport.from_dict(self._json("/v1/impact", params))

    def blame(self, checkout: str | os.PathLike[str], path: str, rev: str = "HEAD") -> FileBlame:
        """`Database.blame`: the file is read from the local `checkout`, its attributions
        from the server's store."""
        repo, name, blob, text = blamed_file(checkout, path, rev)
        asked = {
            "repo": repo,
            "path": name,
            "rev": rev,
            "blob": blob,
            "text": text,
            "checkout": str(checkout),
        }
        body = json.dumps(asked).encode()
        return FileBlame.from_dict(
            self._json("/v1/blame", {}, data=body, content_type="application/json")
        )

    def write_verdicts(
        self,
        dataset: str,
        path: str | os.PathLike[str],
        mode: Mode | str = Mode.PRECISE,
        *,
        as_of: str | int | None = None,
    ) -> int:
        """`Snapshot.write_verdicts`: the server writes the file, this writes its bytes to
        `path`; returns the number of rows."""
        suffix = next((s for s in VERDICT_FILE_FORMATS if str(path).endswith(s)), None)
        if suffix is None:
            raise EngineError(f"verdicts file {path}: name a .jsonl, .ndjson or .parquet file")
        fmt = "parquet" if suffix == ".parquet" else "jsonl"
        params = {"dataset": dataset, "mode": str(mode), "as_of": as_of, "format": fmt}
        body = self._request("/v1/verdicts", params)
        try:
            Path(path).write_bytes(body)
        except OSError as exc:
            raise EngineError(f"verdicts file {path}: cannot write: {exc}") from exc
        if fmt == "jsonl":
            return body.count(b"\n")
        import pyarrow.parquet as pq

        return int(pq.read_metadata(path).num_rows)

    def ingest_git(
        self,
        checkouts: Iterable[str | os.PathLike[str]],
        *,
        repo: str | None = None,
        rev: str | None = None,
        on_batch: Callable[[Batch, IngestReport], None] | None = None,
    ) -> IngestReport:
        """`Database.ingest("git", ...)` into the server's store: each checkout's history is
        read here (only the commits the server lacks) and each batch sent as facts
        (`lineage.wire`, gzip) to POST /v1/facts; `on_batch` is told of each once stored."""
        total = IngestReport("git")

        def stored(part: Batch, sending: Future[IngestReport]) -> None:
            report = sending.result()
            total.add(report)
            if on_batch is not None:
                on_batch(part, report)

        # One batch is sent (and stored by the server) while the next is read and encoded
        # here: the two processes work at once, and the batches are told in order.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lineage-send") as sender:
            for checkout in map(Path, checkouts):
                name = git_loader.repo_id(checkout, repo)
                known = self._json("/v1/commits", {"repo": name})["commits"]
                pending: tuple[Batch, Future[IngestReport]] | None = None
                for batch in git_loader.load([checkout], rev=rev, repo=repo, exclude=known):
                    for part, body in _parts(batch):
                        sending = sender.submit(self._send_facts, body)
                        if pending is not None:
                            stored(*pending)
                        pending = (part, sending)
                if pending is not None:
                    stored(*pending)
        return total

    def _send_facts(self, body: bytes) -> IngestReport:
        answer = self._request(
            "/v1/facts",
            {},
            data=gzip.compress(body, compresslevel=5),
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )
        return _ingest_report("git", json.loads(answer))

    def ingest(self, source: str, paths: list[Path], repo: str | None = None) -> IngestReport:
        """POST each file to /events (Parquet as Parquet, the rest as NDJSON); the totals."""
        total = IngestReport(source)
        for path in paths:
            parquet = path.suffix == ".parquet"
            params = {"source": source, "name": str(path), "repo": repo}
            # a file whose every record was rejected is answered 400, with its report
            body = self._json(
                "/events",
                params,
                data=path.read_bytes(),
                content_type="application/vnd.apache.parquet"
                if parquet
                else "application/x-ndjson",
                timeout=600,
                answers_400=True,
            )
            if "error" in body:  # refused as a whole: an unknown source, an unreadable body
                raise ServerError(f"{self.url}: {body['error']}")
            total.add(_ingest_report(source, body))
        return total


def _parts(batch: Batch, most: int = MAX_FACTS_BODY) -> Iterator[tuple[Batch, bytes]]:
    """(part, its JSON): the batch, or its records cut in halves until each part's JSON is
    under `most` bytes (the server takes bodies of a bounded size; each part is stored in its
    own transaction, as a later ingest of the same history would be)."""
    body = json.dumps(encode_batch(batch)).encode()
    if len(batch.records) < 2 or len(body) <= most:
        yield batch, body
        return
    half = len(batch.records) // 2
    yield from _parts(
        Batch(
            batch.source,
            batch.input,
            batch.records[:half],
            batch.rejections,
            batch.ignored,
            batch.ignored_kinds,
            batch.notes,
        ),
        most,
    )
    yield from _parts(Batch(batch.source, batch.input, batch.records[half:]), most)


def _ingest_report(source: str, body: dict[str, Any]) -> IngestReport:
    """The server's ingest answer as the report a local ingest returns."""
    return IngestReport(
        source,
        body["accepted"],
        body["duplicate"],
        body["rejected"],
        body["ignored"],
        [Rejection(None, None, text, None) for text in body["rejections"]],
        body["notes"],
        body.get("ignored_kinds") or {},
    )
