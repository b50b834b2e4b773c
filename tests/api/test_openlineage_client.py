"""The real OpenLineage client (openlineage-python) against a real server over a socket, its
HTTP transport compressed and not: every event type is answered, and the START, RUNNING and
COMPLETE of one run make one run, in its latest state, with each edge once."""

import gzip as gz
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

import lineage
from lineage.api.app import create_app
from lineage.api.auth import Tokens
from tests.api.serving import running

TOKENS = Tokens.parse("reader:reader-token-1,ingester:ingest-token-1")
PRODUCER = "https://github.com/acme/dataset-builder"


def client(url: str, compression: HttpCompression | None) -> OpenLineageClient:
    config = HttpConfig(
        url=url,
        auth=ApiKeyTokenProvider({"apiKey": "ingest-token-1"}),
        compression=compression,
        retry={"total": 0},  # a refused event must fail the test, not be retried
    )
    return OpenLineageClient(transport=HttpTransport(config))


def now() -> str:
    return datetime.now(UTC).isoformat()


@pytest.mark.parametrize("compression", [None, HttpCompression.GZIP])
def test_the_real_client_sends_a_run_and_every_event_type(
    tmp_path: Path, compression: HttpCompression | None
) -> None:
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace="builds", name="code-pretrain")
    inputs = [InputDataset(namespace="s3://corpus", name="raw-code")]
    outputs = [OutputDataset(namespace="s3://corpus", name="code-pretrain")]
    with lineage.open(tmp_path / "ol.duckdb") as db, running(create_app(db, TOKENS)) as url:
        ol = client(url, compression)
        for state in (RunState.START, RunState.RUNNING, RunState.COMPLETE):
            ol.emit(
                RunEvent(
                    eventType=state,
                    eventTime=now(),
                    run=run,
                    job=job,
                    producer=PRODUCER,
                    inputs=inputs,
                    outputs=outputs,
                )
            )
        ol.emit(
            DatasetEvent(
                eventTime=now(),
                producer=PRODUCER,
                dataset=StaticDataset(namespace="s3://corpus", name="licences"),
            )
        )
        ol.emit(JobEvent(eventTime=now(), producer=PRODUCER, job=job, inputs=inputs, outputs=[]))
        node = db.node(f"build_run:{run.runId}")
        assert node is not None
        assert node.attrs["event_type"] == "COMPLETE"  # the run's latest state
        edges = db.store.fetch_all(
            "SELECT e.kind, count(*) FROM edges e JOIN nodes n ON n.id IN (e.src, e.dst) "
            "WHERE n.key = ? GROUP BY e.kind ORDER BY 1",
            [f"build_run:{run.runId}"],
        )
        assert edges == [("generated", 1), ("used", 1)]
        licences = db.node("dataset:licences@unversioned")
        assert licences is not None and licences.kind == "dataset_version"
        assert [r.type for r in db.events("openlineage", 0, 10)] == ["run_event"] * 3 + [
            "dataset_event"
        ]  # the JobEvent is ignored (its note says so: test_a_job_event_is_ignored_with_a_note)


def post(
    url: str, body: bytes, gzip: bool = False, path: str = "/api/v1/lineage"
) -> httpx.Response:
    headers = {"Authorization": "Bearer ingest-token-1", "Content-Type": "application/json"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
        body = gz.compress(body)
    return httpx.post(url + path, content=body, headers=headers, timeout=30)


def run_event(run_id: str, state: str, time: str) -> dict:
    return {
        "eventType": state,
        "eventTime": time,
        "run": {"runId": run_id},
        "job": {"namespace": "builds", "name": "nightly"},
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "outputs": [{"namespace": "s3://corpus", "name": "nightly"}],
    }


def test_a_job_event_is_ignored_with_a_note_and_late_events_keep_the_latest_state(
    tmp_path: Path,
) -> None:
    run_id = str(uuid.uuid4())
    job_event = {
        "eventTime": now(),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": "builds", "name": "nightly"},
    }
    with lineage.open(tmp_path / "ol.duckdb") as db, running(create_app(db, TOKENS)) as url:
        r = post(url, json.dumps(job_event).encode())
        assert r.status_code == 200
        report = r.json()
        assert report["ignored"] == 1 and report["ignored_kinds"] == {"JobEvent": 1}
        assert "JobEvent" in report["notes"][0]
        assert "builds/nightly" in report["notes"][0]
        # COMPLETE delivered before START (two batches, gzip): the run keeps COMPLETE
        late, early = "2026-12-02T10:05:00Z", "2026-12-02T10:00:00Z"
        assert (
            post(url, json.dumps(run_event(run_id, "COMPLETE", late)).encode(), True).status_code
            == 200
        )
        assert (
            post(url, json.dumps(run_event(run_id, "START", early)).encode(), True).status_code
            == 200
        )
        node = db.node(f"build_run:{run_id}")
        assert node is not None and node.attrs["event_type"] == "COMPLETE"
        assert node.attrs["time"] == late
        # gzip on the bulk endpoint too; unreadable or oversized bodies are refused, not 500
        line = json.dumps(run_event(str(uuid.uuid4()), "START", early)).encode() + b"\n"
        assert post(url, line, True, "/events?source=openlineage").status_code == 200
        broken = post(url, b"not gzip at all", path="/events?source=openlineage")
        assert broken.status_code == 400
        bad = httpx.post(
            url + "/api/v1/lineage",
            content=b"\x1f\x8b\x08\x00garbage",
            headers={"Authorization": "Bearer ingest-token-1", "Content-Encoding": "gzip"},
        )
        assert bad.status_code == 400 and "gzip" in bad.json()["error"]
        bomb = gz.compress(b" " * (80 << 20))  # 80 MiB of spaces in 80 KiB
        big = httpx.post(
            url + "/api/v1/lineage",
            content=bomb,
            headers={"Authorization": "Bearer ingest-token-1", "Content-Encoding": "gzip"},
            timeout=60,
        )
        assert big.status_code == 413
