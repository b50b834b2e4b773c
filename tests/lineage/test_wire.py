"""Batches on the wire: what the git loader reads of a real history survives JSON unchanged,
and what is not such a batch is refused with the field named."""

import json
from pathlib import Path

import numpy as np
import pytest

from lineage.facts import AddedLines, Batch, LineEnds, WrittenLines
from lineage.loaders import git
from lineage.wire import WireError, decode_batch, encode_batch
from tests.loaders.test_git import AI_LINES, HUMAN_HEAD, Repo


def history(tmp_path: Path) -> list[Batch]:
    """A history with every kind of git fact: an AI trailer, a modified line, a rename, a
    binary file, a merge, a revert, and a path with spaces."""
    repo = Repo(tmp_path / "demo")
    repo.write("src/a.py", HUMAN_HEAD)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES)
    repo.commit("retry\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    repo.write("src/a.py", HUMAN_HEAD + AI_LINES[:-1] + ["            sleep(3 ** attempt)"])
    repo.commit("slower retry")  # a modified line: the line map pairs it with the old one
    repo.git("checkout", "-q", "main")
    (repo.root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    repo.write("docs/read me.md", ["# widgets", "", "how to"])
    repo.commit("docs")
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    repo.git("mv", "src/a.py", "src/b.py")
    repo.commit("rename")
    repo.git("revert", "--no-edit", "HEAD")
    return list(git.load([repo.root]))


def test_a_real_history_survives_the_wire_unchanged(tmp_path: Path) -> None:
    batches = history(tmp_path)
    assert sum(len(b.records) for b in batches) == 7
    pairs = [
        h for r in batches[0].records for f in r.facts for h in getattr(f, "line_map", None) or []
    ]
    assert any(len(h) == 5 for h in pairs)  # similar line pairs went through too
    for batch in batches:
        back = decode_batch(json.loads(json.dumps(encode_batch(batch))))
        assert back == batch
        ends = [f for r in batch.records for f in r.facts if isinstance(f, LineEnds)]
        got = [f for r in back.records for f in r.facts if isinstance(f, LineEnds)]
        assert ends and len(got) == len(ends)
        for a, b in zip(ends, got, strict=True):
            assert a.file_version == b.file_version and np.array_equal(a.ends, b.ends)
            assert b.ends.dtype == a.ends.dtype
        added = [f for r in batch.records for f in r.facts if isinstance(f, AddedLines)]
        got_added = [f for r in back.records for f in r.facts if isinstance(f, AddedLines)]
        assert added and len(got_added) == len(added)
        for a, b in zip(added, got_added, strict=True):  # arrays: compared here, not by ==
            assert np.array_equal(a.lines, b.lines) and np.array_equal(a.hashes, b.hashes)
    written = [
        (f, g)
        for batch in batches
        for r, back_r in zip(
            batch.records,
            decode_batch(json.loads(json.dumps(encode_batch(batch)))).records,
            strict=True,
        )
        for f, g in zip(r.facts, back_r.facts, strict=True)
        if isinstance(f, WrittenLines)
    ]
    assert written  # the AI commit's ranges
    for a, b in written:
        assert (a.file_version, a.output, a.evidence) == (b.file_version, b.output, b.evidence)
        assert np.array_equal(a.firsts, b.firsts) and np.array_equal(a.lasts, b.lasts)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda b: b.update(wire=2), "wire version 1"),
        (lambda b: b.update(records="x"), "batch.records: expected a list"),
        (lambda b: b["records"][0].update(event_id=5), "records[0].event_id: expected a string"),
        (
            lambda b: b["records"][0]["facts"][0].update(kind="gizmo"),
            "records[0].facts[0]: 'gizmo'",
        ),
        (lambda b: b["records"][0]["facts"][0].update(fact="magic"), "unknown fact 'magic'"),
        (lambda b: b["records"][0].update(occurred_at="noon"), "not an ISO 8601 time"),
        (lambda b: b.update(ignored=True), "batch.ignored: expected an integer"),
        (lambda b: b["records"][0]["facts"].append({"fact": "edge"}), "src: expected a string"),
        (
            lambda b: b["records"][0]["facts"].append(
                {"fact": "edge", "src": "a", "dst": "b", "kind": "wrote", "span": [0, 1, "line"]}
            ),
            "bad span 0-1",
        ),
        (
            lambda b: b["records"][0]["facts"].append(
                {
                    "fact": "added_lines",
                    "file_version": "f",
                    "repo": "r",
                    "time": None,
                    "lines": [[1, "not a line hash"]],
                }
            ),
            "lines: expected [line, 16 hex digits] pairs",
        ),
        (
            lambda b: b["records"][0]["facts"].append(
                {
                    "fact": "written_lines",
                    "file_version": "f",
                    "output": "o",
                    "evidence": "trailer",
                    "ranges": [[1, 3], [9, 4]],
                }
            ),
            "bad span 9-4",
        ),
        (
            lambda b: b["records"][0]["facts"].append(
                {
                    "fact": "written_lines",
                    "file_version": "f",
                    "output": "o",
                    "evidence": "trailer",
                    "ranges": [[1, True]],
                }
            ),
            "ranges: expected [first, last] line pairs",
        ),
    ],
)
def test_what_is_not_a_loaders_batch_is_refused_naming_the_field(
    tmp_path: Path, change: object, says: str
) -> None:
    raw = json.loads(json.dumps(encode_batch(history(tmp_path)[0])))
    change(raw)  # type: ignore[operator]
    with pytest.raises(WireError, match=None) as caught:
        decode_batch(raw)
    assert says in str(caught.value)
