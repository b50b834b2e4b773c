import pyarrow as pa
import pytest

from lineage import engine
from lineage.store import Store
from lineage.witness import EvidenceCache, Lookup, RunEvidence

D = "code-pretrain@v1"


def _rows(*rows: tuple) -> Lookup:
    names = [
        "node",
        "precise",
        "root",
        "pred",
        "depth",
        "blocked_by",
        "edge_kind",
        "span_start",
        "span_end",
        "span_unit",
        "edge_seq",
    ]
    return Lookup(pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}))


def test_lookup_finds_every_row_of_a_key_and_none_for_a_missing_one() -> None:
    found = Lookup(pa.table({"id": [1, 3, 3, 7], "name": ["a", "b", None, "d"]}))
    assert found.rows(3) == [(3, "b"), (3, None)]
    assert found.one(7) == (7, "d")
    assert found.rows(4) == [] and found.one(0) is None and found.one(9) is None


def test_path_prefers_the_mode_then_real_taint_then_the_shortest() -> None:
    # root 1 -> file version 2 -> example 4, and a blocked route 1 -> 3 -> 4 in precise
    evidence = RunEvidence(
        _rows(
            (1, False, 1, None, 0, None, None, None, None, None, None),
            (2, False, 1, 1, 1, None, "wrote", None, None, None, 10),
            (3, False, 1, 1, 1, 3, "wrote", None, None, None, 11),
            (4, False, 1, 3, 2, 3, "chunked", 1, 5, "line", 12),
            (4, True, 1, 2, 2, None, "chunked", 1, 5, "line", 13),
            (4, True, 9, 8, 2, None, "chunked", 1, 5, "line", 14),
        ),
        Lookup(pa.table({"id": [1]})),
        Lookup(pa.table({"seq": [1]})),
        Lookup(pa.table({"file_version": [2]})),
    )
    assert [r[0] for r in evidence.path(4, 1, "precise")] == [1, 2, 4]
    assert [r[0] for r in evidence.path(4, 1, "strict")] == [1, 3, 4]
    assert [(r[0], r[2]) for r in evidence.rows_of(4, "precise")] == [(4, 1), (4, 9)]
    assert evidence.path(4, 5, "precise") == []


def test_cache_keeps_the_newest_runs() -> None:
    cache = EvidenceCache(size=2)
    empty = RunEvidence(_rows(), _rows(), _rows(), _rows())
    for run in (1, 2, 3):
        cache.put(run, empty)
    assert cache.get(1) is None and cache.get(2) is empty and cache.get(3) is empty


class _NoQueries:
    def __getattr__(self, name: str) -> None:
        pytest.fail(f"a warm verdict queried the store ({name})")


def test_a_warm_verdict_reads_no_table_and_cursors_share_the_evidence(scenario: Store) -> None:
    run = engine.propagate_taint(scenario)
    example = engine.resolve_example(scenario, f"{D}:ex-002")
    cold = engine.verdict(scenario, run, example, "precise")
    reader = scenario.cursor()
    reader._con = _NoQueries()  # type: ignore[assignment]  # any query fails the test
    warm = engine.verdict(reader, run, example, "precise")
    assert warm.status == "TAINTED" and warm.as_dict() == cold.as_dict()
    assert [s.node for s in warm.paths[0]][-1] == f"example:{D}:ex-002"


def test_the_gate_reads_only_its_roots_evidence_and_shows_the_same_paths(scenario: Store) -> None:
    run = engine.propagate_taint(scenario)
    scoped = engine.gate(scenario, run, D, "precise")
    assert scenario.memo["evidence"].get(run.run) is None  # the run's was not read whole
    engine.run_evidence(scenario, run)
    assert engine.gate(scenario, run, D, "precise") is scoped  # answered once per run
    scenario.memo.pop("gates")  # computed again, now with the whole run's evidence
    full = engine.gate(scenario, run, D, "precise")
    assert full is not scoped
    assert scoped.tainted == full.tainted
    assert all(t.path and t.path[-1].node == t.example for t in scoped.tainted)


@pytest.mark.parametrize("example", ["ex-002", "ex-011", "ex-016", "ex-012"])
def test_one_examples_evidence_explains_it_as_the_runs_does(scenario: Store, example: str) -> None:
    # tainted; waived; unknown; clean
    run = engine.propagate_taint(scenario)
    node = engine.resolve_example(scenario, f"{D}:{example}")
    for mode in engine.MODES:
        alone = engine.verdict(
            scenario, run, node, mode, evidence=engine.evidence_of_example(scenario, run, node.id)
        )
        assert (
            scenario.memo.get("evidence") is None or scenario.memo["evidence"].get(run.run) is None
        )
        assert alone.as_dict() == engine.verdict(scenario, run, node, mode).as_dict()
        scenario.memo.clear()
