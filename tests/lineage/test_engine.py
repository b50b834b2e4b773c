from pathlib import Path

import pytest

from lineage import engine
from lineage.policy import parse_policy
from lineage.store import Store
from tests.conftest import EXAMPLES, FIXTURES, load_events, status

D = "code-pretrain@v1"

# The bundled scenario, example by example: (precise, strict).
EXPECTED = {
    "ex-001": ("CLEAN", "TAINTED"),  # api.py lines before Claude's edit
    "ex-002": ("TAINTED", "TAINTED"),  # the lines Claude wrote, shifted by a later commit
    "ex-003": ("CLEAN", "TAINTED"),
    "ex-004": ("TAINTED", "TAINTED"),  # retry.py written by Claude
    "ex-005": ("TAINTED", "TAINTED"),
    "ex-006": ("CLEAN", "CLEAN"),  # Copilot is not restricted
    "ex-008": ("CLEAN", "TAINTED"),  # cache.py after a human rewrote Claude's lines
    "ex-009": ("CLEAN", "TAINTED"),
    "ex-010": ("TAINTED", "TAINTED"),  # the older cache.py still had them
    "ex-011": ("CLEAN", "CLEAN"),  # waived output
    "ex-012": ("CLEAN", "CLEAN"),
    "ex-014": ("TAINTED", "TAINTED"),  # named by commit, resolved to the blob
    "ex-015": ("CLEAN", "CLEAN"),  # same file at a commit before Claude
    "ex-016": ("UNKNOWN", "UNKNOWN"),  # repository never ingested
    "ex-018": ("UNKNOWN", "UNKNOWN"),  # file version never ingested
    "ex-019": ("TAINTED", "TAINTED"),  # built from a Claude session transcript
}


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_each_verdict_in_both_modes(scenario: Store, example: str) -> None:
    precise, strict = EXPECTED[example]
    assert status(scenario, f"{D}:{example}", "precise") == precise
    assert status(scenario, f"{D}:{example}", "strict") == strict


def test_membership_does_not_carry_taint(scenario: Store) -> None:
    # ex-002 is tainted; ex-006 and ex-007 share its shard and stay clean in both modes.
    shard_of = {
        e: scenario.node(f"example:{D}:{e}").attrs["shard"] for e in ("ex-002", "ex-006", "ex-007")
    }
    assert len(set(shard_of.values())) == 1
    for mode in engine.MODES:
        assert status(scenario, f"{D}:ex-007", mode) == "CLEAN"
    run = engine.propagate_taint(scenario)
    shard = scenario.node(f"shard:{D}/shard-000")
    tainted_kinds = {
        r[0]
        for r in scenario.fetch_all(
            "SELECT n.kind FROM taint t JOIN nodes n ON n.id = t.node "
            "WHERE t.run IN (SELECT part FROM taint_parts WHERE run = ?)",
            [run.run],
        )
    }
    assert "shard" not in tainted_kinds and "dataset_version" not in tainted_kinds
    assert shard is not None


def test_derived_example_is_tainted_through_its_parent(scenario: Store) -> None:
    run = engine.propagate_taint(scenario)
    node = engine.resolve_example(scenario, "code-pretrain-dedup@v1:ex-011")  # packed, 2 parents
    verdict = engine.verdict(scenario, run, node, "precise")
    assert verdict.status == "TAINTED"
    assert verdict.sources == ["output:toolu_01A"]
    kinds = [step.edge for step in verdict.paths[0]]
    assert kinds == [None, "wrote", "chunked", "derived"]
    assert status(scenario, "code-pretrain-dedup@v1:ex-008", "precise") == "UNKNOWN"
    assert status(scenario, "code-pretrain-dedup@v1:ex-004", "strict") == "CLEAN"


def test_witness_path_has_every_step_with_span_and_event(scenario: Store) -> None:
    run = engine.propagate_taint(scenario)
    v = engine.verdict(scenario, run, engine.resolve_example(scenario, f"{D}:ex-002"), "precise")
    (path,) = v.paths
    assert [s.node for s in path] == [
        "output:toolu_01B",
        "file:github.com/acme/widgets:src/widgets/api.py@a2a2a2a2",
        "file:github.com/acme/widgets:src/widgets/api.py@a3a3a3a3",
        f"example:{D}:ex-002",
    ]
    assert [s.edge for s in path] == [None, "wrote", "revised", "chunked"]
    assert path[1].span == {"unit": "line", "start": 10, "end": 18}
    assert [(iv["start"], iv["end"]) for iv in path[2].lines] == [(12, 20)]
    assert path[3].span == {"unit": "line", "start": 12, "end": 20}
    assert all(s.event and s.event["seq"] > 0 for s in path)
    assert path[3].event["id"] == "ex-code-pretrain-v1-002"
    assert v.policy_hash == scenario.policy_at(None).hash and v.as_of == scenario.head_seq()


def test_waiver_blocks_propagation_and_is_named(scenario: Store) -> None:
    run = engine.propagate_taint(scenario)
    v = engine.verdict(scenario, run, engine.resolve_example(scenario, f"{D}:ex-011"), "strict")
    assert v.status == "CLEAN"
    assert [w.node for w in v.waivers] == ["output:toolu_01W"]
    assert v.waivers[0].approver == "legal@acme.com"
    unrelated = engine.verdict(
        scenario, run, engine.resolve_example(scenario, f"{D}:ex-012"), "strict"
    )
    assert unrelated.waivers == []


def test_without_the_waiver_or_after_it_expires_the_example_is_tainted(scenario: Store) -> None:
    text = (EXAMPLES / "policy.toml").read_text()
    scenario.set_policy(parse_policy(text.replace("expires = 2027-06-30", "expires = 2026-01-01")))
    assert status(scenario, f"{D}:ex-011", "precise") == "TAINTED"
    scenario.set_policy(parse_policy(text.split("[[waive]]")[0]))
    assert status(scenario, f"{D}:ex-011", "precise") == "TAINTED"


def test_waiver_on_a_file_version_blocks_its_descendants(scenario: Store) -> None:
    text = (
        (EXAMPLES / "policy.toml").read_text()
        + """
[[waive]]
node = "file:github.com/acme/widgets:src/widgets/api.py@a2a2a2a2"
reason = "reviewed: the edit was reverted upstream"
approver = "cto@acme.com"
"""
    )
    scenario.set_policy(parse_policy(text))
    assert status(scenario, f"{D}:ex-002", "precise") == "CLEAN"
    assert status(scenario, f"{D}:ex-001", "strict") == "CLEAN"
    assert status(scenario, f"{D}:ex-004", "precise") == "TAINTED"  # other files unaffected


def test_policy_change_needs_no_reingest(scenario: Store) -> None:
    assert status(scenario, f"{D}:ex-006", "precise") == "CLEAN"
    scenario.set_policy(parse_policy('[[restrict]]\nmodel = "gpt-4*"\nreason = "r"\n'))
    assert status(scenario, f"{D}:ex-006", "precise") == "TAINTED"  # Copilot's gpt-4.1 lines
    assert status(scenario, f"{D}:ex-002", "precise") == "CLEAN"


@pytest.mark.parametrize(
    ("rule", "tainted"),
    [
        ('tool = "claude-code"\nsince = 2026-03-03', False),  # outputs were on March 2
        ('tool = "claude-code"\nuntil = 2026-03-02', True),  # until is inclusive
        ('tool = "claude-code"\nuntil = 2026-03-01', False),
        ('tool = "claude-*"\nrepos = ["github.com/acme/*"]', True),
        ('tool = "claude-code"\nrepos = ["github.com/other/*"]', False),
        ('model = "CLAUDE-OPUS-*"', True),  # globs match case-insensitively
    ],
)
def test_restriction_windows_and_scopes(scenario: Store, rule: str, tainted: bool) -> None:
    scenario.set_policy(parse_policy(f'[[restrict]]\n{rule}\nreason = "r"\n'))
    assert (status(scenario, f"{D}:ex-004", "precise") == "TAINTED") is tainted


def test_as_of_reproduces_an_earlier_decision(scenario: Store) -> None:
    policy_seq = scenario.policy_at(None).seq
    before_policy = policy_seq - 1
    with pytest.raises(ValueError, match="no example"):
        engine.resolve_example(scenario, "nope")
    # At the head ex-002 is tainted; before the policy existed there was nothing to restrict.
    assert status(scenario, f"{D}:ex-002", "precise") == "TAINTED"
    run = engine.propagate_taint(scenario, before_policy)
    assert run.policy is None
    # Append new history: a later version of api.py drops Claude's lines. A gate as of the old
    # seq still says TAINTED; the head now sees a new file version but the old example stands.
    seq_before = scenario.head_seq()
    scenario.set_policy(parse_policy('[[restrict]]\ntool = "copilot"\nreason = "r"\n'))
    assert status(scenario, f"{D}:ex-002", "precise") == "CLEAN"
    assert status(scenario, f"{D}:ex-002", "precise", as_of=seq_before) == "TAINTED"
    with pytest.raises(engine.EngineError, match="past the head"):
        engine.resolve_as_of(scenario, scenario.head_seq() + 5)


def test_lineage_arriving_later_turns_unknown_into_tainted_and_as_of_keeps_the_past(
    tmp_path: Path,
) -> None:
    history = (FIXTURES / "events" / "history.ndjson").read_text()
    example = tmp_path / "example.ndjson"
    example.write_text(
        '{"id":"e1","type":"example","dataset":"d","version":"v1","example":"1",'
        '"source":{"repo":"github.com/acme/w","path":"b.py","blob":"bbbb03",'
        '"lines":[5,5]}}\n'
    )
    later = tmp_path / "history.ndjson"
    later.write_text(history)
    store = Store(":memory:")
    store.set_policy(parse_policy('[[restrict]]\ntool = "claude-code"\nreason = "r"\n'))
    load_events(store, example)
    seq_example_only = store.head_seq()
    assert status(store, "d@v1:1", "precise") == "UNKNOWN"
    load_events(store, later)
    assert status(store, "d@v1:1", "precise") == "TAINTED"
    assert status(store, "d@v1:1", "precise", as_of=seq_example_only) == "UNKNOWN"
    moment = store.time_of_seq(seq_example_only).isoformat()
    assert status(store, "d@v1:1", "precise", as_of=moment) == "UNKNOWN"
    # line 5 of b.py is Claude's; line 1 is not
    other = tmp_path / "other.ndjson"
    other.write_text(
        example.read_text().replace('"1"', '"2"').replace("[5,5]", "[1,4]").replace('"e1"', '"e2"')
    )
    load_events(store, other)
    assert status(store, "d@v1:2", "precise") == "CLEAN"
    assert status(store, "d@v1:2", "strict") == "TAINTED"


def test_gate_counts_and_unknown_reasons(scenario: Store) -> None:
    run = engine.propagate_taint(scenario)
    report = engine.gate(scenario, run, D, "precise")
    assert report.counts == engine.Counts(examples=22, tainted=6, unknown=3, clean=13)
    assert not report.passed
    assert {u.example: u.reason for u in report.unknown}[f"example:{D}:ex-016"] == (
        "repository github.com/acme/legacy was never ingested "
        "(needed for file:github.com/acme/legacy:lib/parser.py@0a0a0a0a): "
        "`lineage ingest git CHECKOUT` where it is checked out"
    )
    strict = engine.gate(scenario, run, D, "strict")
    assert strict.counts == engine.Counts(examples=22, tainted=10, unknown=3, clean=9)
    assert report.by_tool == [engine.ToolCount("claude-code", "claude-opus-4-5-20251101", 6)]
    with pytest.raises(engine.EngineError, match="known dataset versions: code-pretrain@v1"):
        engine.gate(scenario, run, "nope@v9", "precise")


def test_a_gate_is_computed_once_per_run_and_never_goes_stale(
    scenario: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = []
    original = engine._gate
    monkeypatch.setattr(engine, "_gate", lambda *a: computed.append(a) or original(*a))
    run = engine.propagate_taint(scenario)
    first = engine.gate(scenario, run, D, "precise")
    again = engine.gate(scenario.cursor(), run, D, "precise")  # another request's cursor
    assert again is first and len(computed) == 1
    assert engine.gate(scenario, run, D, "strict").counts.tainted == 10 and len(computed) == 2
    # a new tainted example: a new run, and its answer counts it
    more = tmp_path / "more.ndjson"
    more.write_text(
        '{"id": "ex-more", "type": "example", "dataset": "code-pretrain", "version": "v1", '
        '"example": "ex-900", "source": {"repo": "github.com/acme/widgets", '
        '"path": "src/widgets/api.py", "blob": "a3a3a3a3", "lines": [12, 20]}}\n'
    )
    load_events(scenario, more)
    later = engine.propagate_taint(scenario)
    assert later.run != run.run
    assert engine.gate(scenario, later, D, "precise").counts.tainted == first.counts.tainted + 1
    assert engine.gate(scenario, run, D, "precise") is first  # the past stays as it was


def test_an_unknown_model_is_inside_a_rule_of_its_tool_and_model(tmp_path: Path) -> None:
    """Copilot's hooks never name the model: a rule of Copilot with Claude models must still
    restrict its outputs (fail closed), and a rule of a model alone restricts only outputs
    known to be of it."""
    import json as _json

    import lineage

    events = tmp_path / "outputs.ndjson"
    rows = [
        {
            "type": "output",
            "output": "o-unknown",
            "tool": "copilot",
            "repo": "github.com/a/b",
            "path": "a.py",
            "time": "2026-01-01T00:00:00Z",
            "text": ["x = 1"],
        },
        {
            "type": "output",
            "output": "o-gpt",
            "tool": "copilot",
            "model": "gpt-5",
            "repo": "github.com/a/b",
            "path": "a.py",
            "time": "2026-01-01T00:00:00Z",
            "text": ["y = 2"],
        },
        {
            "type": "output",
            "output": "o-claude",
            "tool": "copilot",
            "model": "claude-sonnet-4.5",
            "repo": "github.com/a/b",
            "path": "a.py",
            "time": "2026-01-01T00:00:00Z",
            "text": ["z = 3"],
        },
    ]
    events.write_text("".join(_json.dumps(r) + "\n" for r in rows))
    with lineage.open(":memory:") as db:
        assert db.ingest("events", events).accepted == 3

        def restricted(policy: str) -> set[str]:
            db.set_policy(policy)
            return {o.node for o in db.as_of().restricted_outputs()}

        assert restricted('[[restrict]]\ntool = "copilot"\nmodel = "claude-*"\nreason = "r"\n') == {
            "output:o-unknown",
            "output:o-claude",
        }
        assert restricted('[[restrict]]\nmodel = "claude-*"\nreason = "r"\n') == {"output:o-claude"}
        assert restricted('[[restrict]]\ntool = "copilot"\nreason = "r"\n') == {
            "output:o-unknown",
            "output:o-gpt",
            "output:o-claude",
        }
