"""The dashboard at `/` in a real browser (Debian's headless Chromium, driven by Playwright)
against a real server over a real socket, on the demo store: the counts it shows are the CLI
gate's, a tainted example's witness path is drawn with its nodes, and each step opens its raw
evidence. Screenshots land in the test's temporary directory."""

import json
from io import StringIO
from pathlib import Path

import pytest

import lineage
from lineage.api.app import create_app
from lineage.cli import main
from lineage.demo import run_demo
from tests.api.serving import running
from tests.browser import browser_page
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.browser


def cli_gate(db: Path, dataset: str) -> dict:
    out = StringIO()
    main(["--db", str(db), "gate", dataset, "--format", "json"], out=out)
    return json.loads(out.getvalue())


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    run_demo(StringIO(), keep=str(tmp_path / "demo"))
    return tmp_path / "demo" / "demo.duckdb"


def test_the_dashboard_shows_the_gates_counts_and_draws_a_witness_path(
    demo: Path, tmp_path: Path
) -> None:
    with lineage.open(demo, read_only=True) as db:
        datasets = [d.dataset for d in db.as_of().tainted_by_dataset()]
    expected = {d: cli_gate(demo, d) for d in datasets}
    assert len(expected) >= 2
    tainted = next(r for r in expected.values() if r["tainted"])["tainted"][0]
    with lineage.open(demo) as db, running(create_app(db)) as url, browser_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.wait_for_selector("body[data-loaded]", timeout=30_000)
        page.screenshot(path=str(tmp_path / "datasets.png"), full_page=True)
        for dataset, report in expected.items():
            row = page.locator(f'#datasets tr[data-dataset="{dataset}"]')
            shown = {
                name: int(row.locator(f'td[data-count="{name}"]').inner_text())
                for name in ("examples", "tainted", "unknown", "clean")
            }
            assert shown == report["counts"], dataset
            assert row.locator(".status").inner_text() == (
                "PASSED" if report["passed"] else "FAILED"
            )
        assert "head event" in page.locator("#freshness").inner_text()
        page.fill("#example", tainted["example"])
        page.click("#example-form button")
        page.wait_for_selector("body[data-loaded=example]", timeout=30_000)
        page.wait_for_selector("#witness-drawing svg")
        page.screenshot(path=str(tmp_path / "example.png"), full_page=True)
        assert "TAINTED" in page.locator("#verdicts").inner_text()
        drawing = page.locator("#witness-drawing").inner_text()
        for step in tainted["path"]:
            assert step["node"] in drawing, step["node"]
        page.locator("#witness button").first.click()
        page.wait_for_selector("#evidence:not([hidden])")
        event = json.loads(page.locator("#evidence").inner_text())
        assert event["seq"] == next(s["event"]["seq"] for s in tainted["path"] if s["event"])
        policy = page.locator("#policy").inner_text()
        assert "waivers" in policy and "in force: version" in policy
        assert not errors, errors


def test_graphiql_opens_a_linked_query_and_asks_for_the_token(demo: Path) -> None:
    with lineage.open(demo) as db, running(create_app(db)) as url, browser_page() as page:
        asked: list[str] = []

        def answer(dialog: object) -> None:
            asked.append(dialog.message)  # type: ignore[attr-defined]
            dialog.accept("")  # type: ignore[attr-defined]

        page.on("dialog", answer)
        page.goto(url + "/graphql?query=" + "%7B%20stats%20%7B%20headSeq%20%7D%20%7D")
        page.wait_for_selector(".graphiql-container", timeout=30_000)
        assert asked and "token" in asked[0].lower()
        page.wait_for_function("document.body.innerText.includes('headSeq')")
        assert "YOUR-TOKEN" not in page.content()


def test_with_tokens_the_page_asks_for_one_and_flags_expired_waivers(demo: Path) -> None:
    from lineage.api.auth import Tokens

    tokens = Tokens.parse("reader:reader-token-1,admin:admin-token-1")
    lapsed = (EXAMPLES / "policy.toml").read_text().replace("2027-06-30", "2026-01-31")
    with lineage.open(demo) as db:
        db.set_policy(lapsed)
        with running(create_app(db, tokens)) as url, browser_page() as page:
            page.goto(url + "/")
            page.wait_for_selector("#error:not([hidden])", timeout=30_000)
            assert "token" in page.locator("#error").inner_text().lower()
            page.fill("#token", "reader-token-1")
            page.click("#token-form button")
            page.wait_for_selector("#datasets tr[data-dataset]", timeout=30_000)
            assert page.locator("#error").is_hidden()
            expired = page.locator("#waivers .expired")
            assert "2026-01-31 (expired)" in expired.inner_text()
            assert "version 2" in page.locator("#policy").inner_text()
