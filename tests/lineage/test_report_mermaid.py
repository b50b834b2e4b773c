"""The Markdown report's witness-path diagram renders in Mermaid 11 (what GitHub renders in a
pull request), in a real browser with the Mermaid the package ships."""

from pathlib import Path

import pytest

from lineage.engine import Step
from lineage.report import mermaid
from tests.browser import browser_page
from tests.lineage.test_cli import db, run  # noqa: F401  (the demo store fixture)

MERMAID_JS = Path(__file__).resolve().parents[2] / "api" / "static" / "mermaid" / "mermaid.min.js"


def render(page: object, diagram: str) -> dict:
    """Mermaid's parse and render of `diagram` in `page`: {"ok", "error", "svg"}."""
    return page.evaluate(  # type: ignore[attr-defined]
        """async (text) => {
            try {
                await mermaid.parse(text);
                const id = "d" + Math.random().toString(36).slice(2);
                const { svg } = await mermaid.render(id, text);
                return { ok: true, error: null, svg };
            } catch (e) {
                return { ok: false, error: String(e && e.message || e), svg: null };
            }
        }""",
        diagram,
    )


def diagram_of(markdown: str) -> str:
    block = markdown.split("```mermaid\n", 1)[1]
    return block.split("\n```", 1)[0]


@pytest.mark.browser
def test_the_gate_reports_witness_path_renders_in_mermaid_11(db: str, tmp_path: Path) -> None:  # noqa: F811
    code, out = run("--db", db, "gate", "code-pretrain@v1", "--format", "markdown")
    assert code == 1
    diagram = diagram_of(out)
    page_file = tmp_path / "page.html"
    page_file.write_text(
        f'<!doctype html><script src="{MERMAID_JS.as_uri()}"></script>'
        "<script>mermaid.initialize({startOnLoad: false});</script>"
    )
    with browser_page() as page:
        page.goto(page_file.as_uri())
        page.wait_for_function("typeof mermaid !== 'undefined'")
        result = render(page, diagram)
        assert result["ok"], f"{result['error']}\n{diagram}"
        assert "wrote [lines 10-18]" in result["svg"]
        # the form the report wrote before: Mermaid 11 refuses square brackets unquoted
        broken = diagram.replace('-->|"', "-->|").replace('"| ', "| ")
        refused = render(page, broken)
        assert not refused["ok"] and "Parse error" in refused["error"]
        # labels with the characters a node key or a reason can hold
        odd = mermaid(
            [
                Step(
                    node='output:toolu_1 "quoted" <tag> #5; a|b',
                    kind="output",
                    edge=None,
                    span=None,
                    event=None,
                    lines=[],
                ),
                Step(
                    node="file:repo:path with spaces@abc",
                    kind="file_version",
                    edge="wrote",
                    span={"unit": "line", "start": 1, "end": None},
                    event=None,
                    lines=[],
                ),
            ]
        )
        assert render(page, diagram_of(odd))["ok"]
