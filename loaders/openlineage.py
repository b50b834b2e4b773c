"""Loader `openlineage`: OpenLineage events (spec 2-0-2), as JSON or NDJSON.

A run becomes a `build_run` node; its input dataset versions are `used` by it and its output
dataset versions are `generated` by it (dataset-level lineage, for browsing: it never carries
taint). The events of one run (START, RUNNING, COMPLETE, FAIL...) are one run: its node holds
the state of the latest by `eventTime`, and each dataset it used or generated is so once. A
DatasetEvent records its dataset version; a JobEvent (a job's static lineage, no run) is
ignored, with a note saying so. A dataset's version is its `version` facet's `datasetVersion`
(else `unversioned`).
Example-level lineage rides in the custom output facet `lineageExamples`
(schema/openlineage-examples-facet.json): `{"examples": [manifest rows]}`, each row in the
manifest format with `dataset` and `version` defaulting to the output dataset's.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lineage import model
from lineage.eventlog import content_id
from lineage.facts import Batch, Edge, Fact, Node, Record, Rejection
from lineage.loaders import fields, manifest
from lineage.loaders.files import (
    JsonLine,
    RecordError,
    collect,
    expand_paths,
    json_objects,
    parse_time,
)
from lineage.model import EdgeKind, NodeKind

SOURCE = "openlineage"
SUFFIXES = (".json", ".ndjson", ".jsonl")
FACET = "lineageExamples"
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")


def load(paths: Iterable[str | Path]) -> Iterator[Batch]:
    """One batch per file."""
    for path in expand_paths(paths, SUFFIXES):
        batch = Batch(SOURCE, input=str(path))
        groups: list[tuple[str, list[Any]]] = []
        for item in json_objects(path, batch, "an OpenLineage event"):
            kind = event_kind(item.value)
            if kind == "JobEvent":
                batch.ignore("JobEvent")
                job = item.value.get("job") or {}
                batch.notes.append(
                    f"{item.file}:{item.line}: a JobEvent (job {job.get('namespace')}/"
                    f"{job.get('name')}) describes a job, not a run: nothing recorded"
                )
                continue
            accepted = len(batch.records)
            collect(batch, item, parse_dataset_event if kind == "DatasetEvent" else parse_run_event)
            if len(batch.records) > accepted:
                groups += _examples(item, batch)
        if groups:
            part = manifest.read_rows(groups)
            batch.rejections += part.rejections
            batch.examples = part.examples
        yield batch


def _dataset(d: dict[str, Any]) -> tuple[str, str]:
    version = fields.obj(fields.obj(d, "facets"), "version", "facets.version").get("datasetVersion")
    if isinstance(version, dict | list):
        raise RecordError("`facets.version.datasetVersion` must be a string")
    return str(d["name"]), str(version) if version is not None else "unversioned"


def event_kind(v: dict[str, Any]) -> str:
    """RunEvent, DatasetEvent or JobEvent: by the spec's `schemaURL` when it names one, else
    by shape (a run; a dataset and no job; a job and no run)."""
    url = v.get("schemaURL")
    if isinstance(url, str):
        for kind in ("RunEvent", "DatasetEvent", "JobEvent"):
            if url.endswith(f"/{kind}"):
                return kind
    if "run" in v:
        return "RunEvent"
    if "dataset" in v and "job" not in v:
        return "DatasetEvent"
    return "JobEvent" if "job" in v else "RunEvent"


def parse_dataset_event(item: JsonLine) -> Record | Rejection:
    v = item.value
    d = v.get("dataset")
    if not _named(d):
        return Rejection(
            item.file, item.line, "a DatasetEvent needs dataset.namespace and dataset.name", None
        )
    if parse_time(v.get("eventTime")) is None:
        return Rejection(item.file, item.line, "a DatasetEvent needs eventTime as ISO 8601", None)
    name, version = _dataset(d)
    key = model.dataset_version_key(name, version)
    return Record(
        event_id=f"openlineage:dataset:{content_id(v)[7:23]}",
        type="dataset_event",
        payload=v,
        facts=[
            Node(
                key,
                NodeKind.DATASET_VERSION,
                {"dataset": name, "version": version, "namespace": d["namespace"]},
            )
        ],
        occurred_at=parse_time(v["eventTime"]),
    )


def parse_run_event(item: JsonLine) -> Record | Rejection:
    v = item.value
    problem = _check(v)
    if problem:
        return Rejection(item.file, item.line, problem, item.text or None)
    run_id, job = str(v["run"]["runId"]), v["job"]
    run_key = model.build_run_key(run_id)
    facts: list[Fact] = [
        Node(
            run_key,
            NodeKind.BUILD_RUN,
            {
                "run": run_id,
                "job": f"{job['namespace']}/{job['name']}",
                "event_type": v.get("eventType"),
                "time": v["eventTime"],
                "producer": v.get("producer"),
            },
            latest=True,
        )
    ]
    for d in fields.objects(v, "inputs"):
        name, version = _dataset(d)
        key = model.dataset_version_key(name, version)
        facts += [
            Node(
                key,
                NodeKind.DATASET_VERSION,
                {"dataset": name, "version": version, "namespace": d["namespace"]},
                defines=False,
            ),
            Edge(key, run_key, EdgeKind.USED),
        ]
    for d in fields.objects(v, "outputs"):
        name, version = _dataset(d)
        key = model.dataset_version_key(name, version)
        facts += [
            Node(
                key,
                NodeKind.DATASET_VERSION,
                {"dataset": name, "version": version, "namespace": d["namespace"]},
            ),
            Edge(run_key, key, EdgeKind.GENERATED),
        ]
    event_id = f"openlineage:{run_id}:{v.get('eventType', 'OTHER')}:{content_id(v)[7:23]}"
    return Record(
        event_id=event_id,
        type="run_event",
        payload=v,
        facts=facts,
        occurred_at=parse_time(v["eventTime"]),
    )


def _named(value: object) -> bool:
    """Whether `value` is a job or dataset as the spec names one: an object with a non-empty
    string `namespace` and `name`."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("namespace"), str)
        and isinstance(value.get("name"), str)
        and bool(value["namespace"])
        and bool(value["name"])
    )


def _check(v: dict[str, Any]) -> str | None:
    if (
        not isinstance(v.get("run"), dict)
        or not isinstance(v["run"].get("runId"), str)
        or not (v["run"]["runId"])
    ):
        return "a RunEvent needs run.runId (a string)"
    if not _named(v.get("job")):
        return "a RunEvent needs job.namespace and job.name (strings)"
    if parse_time(v.get("eventTime")) is None:
        return "a RunEvent needs eventTime as an ISO 8601 time"
    if v.get("eventType") not in (None, *EVENT_TYPES):
        return f"unknown eventType {v['eventType']!r}; expected one of {', '.join(EVENT_TYPES)}"
    for side in ("inputs", "outputs"):
        for d in fields.items(v, side):
            if not _named(d):
                return f"each of {side} needs namespace and name (strings)"
    return None


def _examples(item: JsonLine, batch: Batch) -> list[tuple[str, list[Any]]]:
    """The example rows of the `lineageExamples` facet of each output, as manifest rows
    under their origin."""
    groups = []
    for d in fields.objects(item.value, "outputs"):
        facet = next(
            (
                f[FACET]
                for f in (d.get("facets"), d.get("outputFacets"))
                if isinstance(f, dict) and f.get(FACET)
            ),
            None,
        )
        if not facet:
            continue
        rows = facet.get("examples") if isinstance(facet, dict) else None
        if not isinstance(rows, list):
            batch.rejections.append(
                Rejection(item.file, item.line, f"facet {FACET}.examples must be a list", None)
            )
            continue
        name, version = _dataset(d)
        groups.append(
            (
                f"{item.file}:{item.line}:{FACET}",
                [
                    {"dataset": name, "version": version} | r if isinstance(r, dict) else r
                    for r in rows
                ],
            )
        )
    return groups
