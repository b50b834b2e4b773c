import json
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import pytest

import lineage
from lineage.cli import main
from tests.conftest import EXAMPLES, FIXTURES


def run(*argv: str) -> tuple[int, str]:
    out = StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "l.duckdb")
    assert run("--db", path, "ingest", "events", str(EXAMPLES / "events.ndjson"))[0] == 0
    assert run("--db", path, "policy", "set", str(EXAMPLES / "policy.toml"))[0] == 0
    return path


def test_gate_json_has_exactly_the_contract_fields(db: str) -> None:
    code, out = run("--db", db, "gate", "code-pretrain@v1", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert {
        "dataset",
        "mode",
        "policy_hash",
        "as_of",
        "passed",
        "counts",
        "tainted",
        "unknown",
    } <= set(report)
    assert report["counts"] == {"examples": 22, "tainted": 6, "unknown": 3, "clean": 13}
    assert report["dataset"] == "code-pretrain@v1" and report["mode"] == "precise"
    assert report["passed"] is False
    first = report["tainted"][0]
    assert set(first) == {"example", "sources", "path"}
    assert {"node", "kind", "edge", "span", "event"} <= set(first["path"][-1])
    assert set(report["unknown"][0]) == {"example", "reason"}


def test_gate_exit_codes(db: str, tmp_path: Path) -> None:
    assert run("--db", db, "gate", "code-pretrain@v1")[0] == 1
    assert run("--db", db, "gate", "nope@v1")[0] == 2
    assert run("--db", db, "gate", "code-pretrain@v1", "--as-of", "yesterday-ish")[0] == 2
    clean_only = tmp_path / "clean.toml"
    clean_only.write_text('[[restrict]]\ntool = "windsurf"\nreason = "r"\n')
    assert run("--db", db, "policy", "set", str(clean_only))[0] == 0
    assert run("--db", db, "gate", "code-pretrain@v1")[0] == 1  # UNKNOWN fails closed
    assert run("--db", db, "gate", "code-pretrain@v1", "--allow-unknown")[0] == 0


def test_gate_out_writes_one_line_per_example(db: str, tmp_path: Path) -> None:
    out = tmp_path / "verdicts.jsonl"
    run("--db", db, "gate", "code-pretrain@v1", "--mode", "strict", "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 22
    events = [json.loads(line) for line in (EXAMPLES / "events.ndjson").read_text().splitlines()]
    ingested = [
        e["example"] for e in events if e["type"] == "example" and e["dataset"] == "code-pretrain"
    ]
    assert [r["example"] for r in rows] == ingested  # in the order they were ingested
    assert set(rows[0]) == {"example", "key", "status", "sources"}
    by_id = {r["example"]: r for r in rows}
    assert by_id["ex-001"] == {
        "example": "ex-001",
        "key": "example:code-pretrain@v1:ex-001",
        "status": "TAINTED",
        "sources": ["output:toolu_01B"],
    }
    assert by_id["ex-016"]["status"] == "UNKNOWN"


def test_gate_out_parquet_has_every_verdict(db: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "verdicts.parquet"
    code, _ = run("--db", db, "gate", "code-pretrain@v1", "--out", str(out))
    assert code == 1
    table = pq.read_table(out)
    assert table.num_rows == 22 and table.column_names == ["example", "key", "status", "sources"]
    statuses = table.column("status").to_pylist()
    assert (statuses.count("TAINTED"), statuses.count("UNKNOWN")) == (6, 3)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_gate_out_read_a_few_ids_at_a_time_writes_the_same_file_contents(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    import pyarrow.parquet as pq

    from lineage import engine

    def written(name: str) -> list[dict]:
        out = tmp_path / f"{name}{suffix}"
        assert run("--db", db, "gate", "code-pretrain@v1", "--out", str(out))[0] == 1
        if suffix == ".parquet":
            return pq.read_table(out).to_pylist()
        return [json.loads(line) for line in out.read_text().splitlines()]

    whole = written("whole")
    monkeypatch.setattr(engine, "VERDICT_CHUNK", 3)  # 22 examples: eight ranges, some empty
    assert written("chunked") == whole and len(whole) == 22
    assert not list(tmp_path.glob("*.part"))


def test_gate_out_with_an_unknown_suffix_is_a_usage_error(db: str, tmp_path: Path) -> None:
    code, _ = run("--db", db, "gate", "code-pretrain@v1", "--out", str(tmp_path / "v.csv"))
    assert code == 2


def test_ingest_manifest_then_gate_the_derived_dataset(db: str) -> None:
    code, out = run("--db", db, "ingest", "manifest", str(EXAMPLES / "manifest.jsonl"))
    assert code == 0 and out.startswith("9 accepted")
    code, out = run("--db", db, "gate", "code-sft@v1", "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert report["counts"] == {"examples": 9, "tainted": 4, "unknown": 1, "clean": 4}


def test_gate_of_an_unknown_dataset_lists_the_known_ones(db: str, capsys) -> None:
    code, _ = run("--db", db, "gate", "nope@v9")
    assert code == 2
    assert "code-pretrain@v1" in capsys.readouterr().err


def test_gate_without_a_version_when_several_exist_is_a_usage_error(
    db: str, tmp_path: Path, capsys
) -> None:
    rows = tmp_path / "v2.jsonl"
    rows.write_text(
        json.dumps(
            {
                "example_id": "stray",
                "dataset": "code-pretrain",
                "version": "v2",
                "source": {"session": "s1"},
            }
        )
        + "\n"
    )
    assert run("--db", db, "ingest", "manifest", str(rows))[0] == 0
    code, _ = run("--db", db, "gate", "code-pretrain")
    assert code == 2
    err = capsys.readouterr().err
    assert "code-pretrain@v1" in err and "code-pretrain@v2" in err
    assert run("--db", db, "gate", "code-pretrain@v2", "--allow-unknown")[0] == 0


def test_gate_markdown_has_a_mermaid_witness_path(db: str) -> None:
    code, out = run("--db", db, "gate", "code-pretrain@v1", "--format", "markdown")
    assert code == 1
    assert "| 22 | 6 | 3 | 13 |" in out
    assert "```mermaid" in out and '-->|"wrote [lines 10-18]"|' in out


def test_explain_json_fields(db: str) -> None:
    code, out = run("--db", db, "explain", "ex-014", "--format", "json")
    assert code == 0
    v = json.loads(out)
    assert {"example", "status", "mode", "policy_hash", "as_of", "paths"} <= set(v)
    assert v["status"] == "TAINTED"
    assert [s["edge"] for s in v["paths"][0]] == [None, "wrote", "revised", "chunked"]
    code, out = run("--db", db, "explain", "code-pretrain@v1:ex-001", "--mode", "strict")
    assert code == 0 and "TAINTED" in out and "witness path 1 from output:toolu_01B" in out
    assert run("--db", db, "explain", "ex-999")[0] == 2


def test_ingest_reports_counts_and_exit_codes(tmp_path: Path) -> None:
    db = str(tmp_path / "l.duckdb")
    code, out = run("--db", db, "ingest", "events", str(FIXTURES / "events"), "--format", "json")
    assert code == 0
    report = json.loads(out)
    # the two files share two events (same ids): accepted once, then counted as duplicates
    assert (report["accepted"], report["duplicate"], report["rejected"]) == (5, 2, 4)
    assert any(":4: unknown event type" in r for r in report["rejections"])
    code, out = run("--db", db, "ingest", "events", str(FIXTURES / "events"))
    assert code == 0 and out.startswith("0 accepted, 7 duplicate, 4 rejected")
    garbage = tmp_path / "garbage.ndjson"
    garbage.write_text("nope\n")
    assert run("--db", db, "ingest", "events", str(garbage))[0] == 2
    assert run("--db", db, "ingest", "events", str(tmp_path / "missing.ndjson"))[0] == 2


def test_bad_policy_and_missing_policy_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = str(tmp_path / "l.duckdb")
    run("--db", db, "ingest", "events", str(EXAMPLES / "events.ndjson"))
    assert run("--db", db, "gate", "code-pretrain@v1")[0] == 2
    assert "lineage policy set" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[restrict]]\ntool = "[claude"\nreason = "r"\n')
    assert run("--db", db, "policy", "set", str(bad))[0] == 2
    assert "never closed" in capsys.readouterr().err
    assert run("--db", db, "policy", "set", str(tmp_path / "none.toml"))[0] == 2


def test_policy_show(db: str) -> None:
    code, out = run("--db", db, "policy", "show", "--format", "json")
    shown = json.loads(out)
    assert code == 0 and shown["version"] == 1 and 'tool = "claude-code"' in shown["toml"]


def test_verify_passes_then_fails_on_a_tampered_store(db: str) -> None:
    code, out = run("--db", db, "verify")
    assert code == 0 and "hash chain intact" in out
    import duckdb

    con = duckdb.connect(db)
    con.execute("UPDATE events SET payload = replace(payload, 'alice', 'mallory')")
    con.close()
    code, out = run("--db", db, "verify")
    assert code == 1 and "FAILED" in out


def test_locked_store_exits_2_with_a_fix(db: str, capsys: pytest.CaptureFixture) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({db!r})
            print("locked", flush=True)
            time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run("--db", db, "gate", "code-pretrain@v1")[0] == 2
        assert "locked by another process" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_help_shows_real_examples() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["gate", "--help"])
    assert exc.value.code == 0


def test_demo_in_a_clean_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lineage.cli", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "22 examples: 6 tainted, 3 unknown, 13 clean" in out
    assert "TAINTED example:code-pretrain@v1:ex-002" in out
    assert "UNKNOWN example:code-pretrain@v1:ex-016" in out
    assert "--wrote [lines 10-18]-->" in out
    assert (
        "(code-sft@v1: every source form, SWHID, The Stack row, parents, agent session), "
        "precise: 4 tainted, 1 unknown, 4 clean" in out
    )
    assert (
        "code-snapshot@v1: every file cut at release commit c4c4c4c4, most of them changed "
        "earlier), precise: 4 tainted, 0 unknown, 11 clean" in out
    )
    assert "snapshot.jsonl:16: src/widgets/retries.py is not in the tree of commit" in out
    assert "event log: 79 events, hash chain intact" in out
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_memory_limit_caps_the_store_and_a_bad_size_is_explained(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run("--db", db, "--memory-limit", "300MB", "gate", "code-pretrain@v1")
    assert code == 1 and "TAINTED" in out
    assert run("--db", db, "--memory-limit", "lots", "gate", "code-pretrain@v1")[0] == 2
    assert "memory limit 'lots'" in capsys.readouterr().err


def test_a_failing_gate_whose_reader_leaves_still_fails(db: str) -> None:
    class Closed(StringIO):  # `lineage gate ... | head`: the pipe closes under the writer
        def write(self, text: str) -> int:
            raise BrokenPipeError

    assert main(["--db", db, "gate", "code-pretrain@v1"], out=Closed()) == 1
    assert (
        main(
            ["--db", db, "gate", "code-pretrain@v1", "--allow-unknown", "--mode", "precise"],
            out=Closed(),
        )
        == 1
    )


@pytest.mark.parametrize(
    "command", [["gate", "code-pretrain@v1"], ["explain", "ex-001"], ["verify"], ["policy", "show"]]
)
def test_reading_a_store_that_does_not_exist_is_an_error_not_an_empty_store(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.duckdb"
    assert run("--db", str(missing), *command)[0] == 2
    assert f"no lineage store at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_ingest_strict_fails_when_any_record_was_rejected_and_still_loads_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "l.duckdb")
    mixed = FIXTURES / "events" / "one_bad_record.ndjson"
    assert run("--db", db, "ingest", "events", str(mixed))[0] == 0
    code, out = run("--db", str(tmp_path / "m.duckdb"), "ingest", "--strict", "events", str(mixed))
    assert code == 1 and out.startswith("3 accepted, 0 duplicate, 4 rejected")
    assert "--strict: 4 record(s) rejected" in capsys.readouterr().err
    assert run("--db", db, "ingest", "--strict", "events", str(EXAMPLES / "events.ndjson"))[0] == 0


def test_policies_that_restrict_nothing_are_refused_or_flagged(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('name = "nothing"\n')
    assert run("--db", db, "policy", "set", str(policy))[0] == 2
    assert "no [[restrict]] rule" in capsys.readouterr().err
    policy.write_text(
        '[[restrict]]\ntool = "codex"\nsince = 2026-02-01\nuntil = 2026-01-01\nreason = "r"\n'
    )
    assert run("--db", db, "policy", "set", str(policy))[0] == 2
    assert "since 2026-02-01 is after until 2026-01-01" in capsys.readouterr().err
    policy.write_text('[[restrict]]\ntool = "claud-code"\nreason = "typo"\n')
    before = run("--db", db, "policy", "show", "--format", "json")[1]
    assert run("--db", db, "policy", "set", "--strict", str(policy))[0] == 2
    assert "tool 'claud-code' matches no known tool" in capsys.readouterr().err
    assert run("--db", db, "policy", "show", "--format", "json")[1] == before  # not set
    assert run("--db", db, "policy", "set", str(policy))[0] == 0
    assert "warning: " in capsys.readouterr().err


def test_an_interrupted_ingest_exits_130_keeps_what_it_stored_and_can_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from lineage.store import Store

    db = str(tmp_path / "l.duckdb")
    real_ingest = Store.ingest
    stored: list[int] = []

    def interrupted_on_the_second_batch(self: Store, batch):  # noqa: ANN001, ANN202
        if stored:
            raise KeyboardInterrupt
        stored.append(1)
        return real_ingest(self, batch)

    monkeypatch.setattr(Store, "ingest", interrupted_on_the_second_batch)
    code, _ = run("--db", db, "ingest", "events", str(FIXTURES / "events"))
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(Store, "ingest", real_ingest)
    code, out = run("--db", db, "verify")
    assert code == 0 and out.startswith("ok: ") and not out.startswith("ok: 0 events")
    code, out = run("--db", db, "ingest", "events", str(FIXTURES / "events"), "--format", "json")
    assert code == 0 and json.loads(out)["accepted"] >= 1  # the rest, once
    code, out = run("--db", db, "ingest", "events", str(FIXTURES / "events"), "--format", "json")
    assert json.loads(out)["accepted"] == 0


def test_datasets_lists_every_version_with_its_gate(db: str, tmp_path: Path) -> None:
    assert run("--db", db, "ingest", "manifest", str(EXAMPLES / "manifest.jsonl"))[0] == 0
    code, out = run("--db", db, "datasets", "--format", "json")
    assert code == 0  # a listing, not a gate: failing datasets do not fail it
    listed = json.loads(out)
    assert len(listed) >= 2
    for row in listed:
        gate = json.loads(run("--db", db, "gate", row["dataset"], "--format", "json")[1])
        assert row["counts"] == gate["counts"] and row["passed"] == gate["passed"]
        assert row["policy_hash"] == gate["policy_hash"] and row["mode"] == "precise"
    code, text = run("--db", db, "datasets", "--mode", "strict")
    assert code == 0
    assert [line.split()[0] for line in text.splitlines()[1:-1]] == [r["dataset"] for r in listed]
    assert "(strict mode, policy" in text
    empty = tmp_path / "empty.duckdb"
    with lineage.open(empty) as bare:
        bare.set_policy((EXAMPLES / "policy.toml").read_text())
    code, text = run("--db", str(empty), "datasets")
    assert code == 0 and "no dataset versions" in text


def test_gate_junit_is_a_test_report_with_a_failing_case_per_failing_example(db: str) -> None:
    from xml.etree import ElementTree

    gate = json.loads(run("--db", db, "gate", "code-pretrain@v1", "--format", "json")[1])
    code, out = run("--db", db, "gate", "code-pretrain@v1", "--format", "junit")
    assert code == 1  # the same exit code as every other format
    suite = ElementTree.fromstring(out).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failing = gate["counts"]["tainted"] + gate["counts"]["unknown"]
    assert int(suite.get("failures", "")) == failing == len(cases)
    by_type: dict[str, list[str]] = {}
    for case in cases:
        failure = case.find("failure")
        assert failure is not None
        by_type.setdefault(failure.get("type", ""), []).append(case.get("name", ""))
    assert sorted(by_type["TAINTED"]) == sorted(t["example"] for t in gate["tainted"])
    assert sorted(by_type["UNKNOWN"]) == sorted(u["example"] for u in gate["unknown"])
    traced = next(c for c in cases if c.get("name") == gate["tainted"][0]["example"])
    assert "--wrote" in (traced.findtext("failure") or "")  # its witness path
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["policy_hash"] == gate["policy_hash"]


def test_outputs_lists_what_the_policy_restricts(db: str) -> None:
    code, out = run("--db", db, "outputs", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    keys = {o["node"] for o in listed}
    assert {"output:toolu_01A", "output:toolu_01B", "output:toolu_01W"} <= keys
    assert all(o["tool"] in ("claude-code", "codex") for o in listed)  # what the policy names
    waived = {o["node"] for o in listed if o["waived"]}
    assert waived == {"output:toolu_01W"}  # examples/policy.toml's one waiver
    gate = json.loads(run("--db", db, "gate", "code-pretrain@v1", "--format", "json")[1])
    sources = {s for t in gate["tainted"] for s in t["sources"]}
    assert sources <= {o["node"] for o in listed if o["tainted_examples"]}
    code, text = run("--db", db, "outputs")
    assert code == 0 and f"({len(listed)} restricted, precise mode" in text
    assert "output:toolu_01W: taints 0 examples  (waived)" in text


def test_ingest_says_what_kinds_of_records_it_ignored(tmp_path: Path) -> None:
    db = str(tmp_path / "k.duckdb")
    transcript = FIXTURES / "claude" / "transcript.jsonl"
    code, out = run("--db", db, "ingest", "claude-code", str(transcript), "--format", "json")
    report = json.loads(out)
    kinds = report["ignored_kinds"]
    assert sum(kinds.values()) == report["ignored"] > 0
    assert {"summary", "file-history-snapshot", "brand-new-record-kind"} <= set(kinds)
    _, text = run("--db", str(tmp_path / "t.duckdb"), "ingest", "claude-code", str(transcript))
    assert f"{report['ignored']} ignored (assistant: " in text


def test_impact_finds_every_example_a_tools_outputs_reach(db: str) -> None:
    assert run("--db", db, "ingest", "manifest", str(EXAMPLES / "manifest.jsonl"))[0] == 0
    code, out = run(
        "--db", db, "impact", "--tool", "claude-code", "--format", "json", "--paths", "1"
    )
    assert code == 0
    found = json.loads(out)
    assert found["selection"] == {"tool": "claude-code"}
    by_dataset = {d["dataset"]: d for d in found["datasets"]}
    for dataset, d in by_dataset.items():
        gate = json.loads(run("--db", db, "gate", dataset, "--format", "json")[1])
        precise = {t["example"] for t in d["precise"]}
        strict = {t["example"] for t in d["strict"]}
        assert precise <= strict
        assert d["counts"] == {"precise": len(precise), "strict": len(strict)}
        # every example the gate finds tainted by a Claude output is reached
        claude = {
            t["example"] for t in gate["tainted"] if any("toolu_01" in s for s in t["sources"])
        }
        assert claude <= precise, dataset
        assert d["precise"][0]["path"]  # --paths 1: the first carries its witness path
    # the waived output's examples are reached too: an incident ignores waivers
    sources = {s for d in by_dataset.values() for t in d["precise"] for s in t["sources"]}
    assert "output:toolu_01W" in sources
    code, text = run("--db", db, "impact", "--tool", "codex", "--since", "2030-01-01")
    assert code == 0 and "reach no example" in text


def impact_sets(out: str, by: str = "strict") -> dict[str, dict[str, set[str]]]:
    """{dataset: {example: sources}} of an impact's JSON."""
    return {
        d["dataset"]: {t["example"]: set(t["sources"]) for t in d[by]}
        for d in json.loads(out)["datasets"]
    }


def test_impact_from_named_nodes_is_the_tool_impact_restricted_to_their_outputs(
    db: str, tmp_path: Path
) -> None:
    whole = {
        by: impact_sets(
            run("--db", db, "impact", "--tool", "claude-code", "--format", "json")[1], by
        )
        for by in ("precise", "strict")
    }
    session_outputs = {"session:sess-claude-1"} | {
        n["node"] for n in json.loads(run("--db", db, "outputs", "--format", "json")[1])
    }
    for named, roots in (
        (["output:toolu_01B"], {"output:toolu_01B"}),
        (["toolu_01B", "output:toolu_01C"], {"output:toolu_01B", "output:toolu_01C"}),
    ):
        code, out = run("--db", db, "impact", *named, "--format", "json")
        assert code == 0
        assert json.loads(out)["selection"]["named"] == named
        for by in ("precise", "strict"):
            expected = {
                d: {e: s & roots for e, s in examples.items() if s & roots}
                for d, examples in whole[by].items()
            }
            assert impact_sets(out, by) == {d: x for d, x in expected.items() if x}, (named, by)
    # a session stands for itself and the outputs it generated
    code, out = run("--db", db, "impact", "session:sess-claude-1", "--format", "json")
    reached = {s for x in impact_sets(out).values() for srcs in x.values() for s in srcs}
    assert code == 0 and "session:sess-claude-1" in reached and "output:toolu_01B" in reached
    assert reached <= session_outputs
    # --out writes the whole list
    code, _ = run("--db", db, "impact", "output:toolu_01B", "--out", str(tmp_path / "r.jsonl"))
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert code == 0 and {r["example"] for r in rows} == {
        e for x in whole["strict"].values() for e, s in x.items() if "output:toolu_01B" in s
    }
    assert {r["example"] for r in rows if r["precise"]} == {
        e for x in whole["precise"].values() for e, s in x.items() if "output:toolu_01B" in s
    }


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["nope"], "no node 'nope'"),
        (["example:code-pretrain@v1:ex-002"], "node of kind example"),
        ([], "NODEs"),
        (["--model", "x"], "of a --tool"),
    ],
)
def test_impact_refuses_what_it_cannot_trace(
    db: str, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--db", db, "impact", *argv)[0] == 2
    assert says in capsys.readouterr().err


def test_the_spark_engine_without_pyspark_says_how_to_install_it(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the extra were not installed
    monkeypatch.delitem(sys.modules, "lineage.spark", raising=False)
    monkeypatch.delattr(lineage, "spark", raising=False)
    assert run("--db", db, "gate", "code-pretrain@v1", "--engine", "spark")[0] == 2
    assert "pip install 'lineage[spark]'" in capsys.readouterr().err
