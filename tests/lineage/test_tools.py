"""The one table of AI identities in git: the tools' own names and addresses, never a person
who works at the company that makes the tool."""

import pytest

from lineage.tools import ai_identity_tool, generated_with_tools


@pytest.mark.parametrize(
    ("name", "email", "tool"),
    [
        ("Claude", "noreply@anthropic.com", "claude-code"),
        ("claude[bot]", "41898282+claude[bot]@users.noreply.github.com", "claude-code"),
        ("Paul Gauthier (aider)", "paul@example.org", "aider"),
        ("aider (gpt-5.4)", "aider@aider.chat", "aider"),
        ("aider (vertex_ai/gemini-2.5-pro)", "noreply@aider.dev", "aider"),
        ("Cursor Agent", "cursoragent@cursor.com", "cursor"),
        ("Some Name", "cursoragent@cursor.com", "cursor"),
        ("gpt-5 (planning)", "189301087+windsurf-bot[bot]@users.noreply.github.com", "windsurf"),
        ("OpenCode (glm-5)", "noreply@opencode.ai", "opencode"),
        ("openhands", "openhands@all-hands.dev", "openhands"),
        ("Devin AI", "158243242+devin-ai-integration[bot]@users.noreply.github.com", "devin"),
        ("Codex", "codex@openai.com", "codex"),
        (
            "gemini-code-assist[bot]",
            "1+gemini-code-assist[bot]@users.noreply.github.com",
            "gemini-cli",
        ),
        (
            "zen-ai-roo-gemini-2.5-pro",
            "219738659+roomote[bot]@users.noreply.github.com",
            "roo-code",
        ),
        ("ellipsis-dev[bot]", "65095814+ellipsis-dev[bot]@users.noreply.github.com", "ellipsis"),
        ("coderabbitai[bot]", "136622811+coderabbitai[bot]@users.noreply.github.com", "coderabbit"),
        ("Amp", "amp@ampcode.com", "amp"),
        ("Kiro", "noreply@kiro.dev", "kiro"),
        ("Tabnine CLI", "noreply@tabnine.com", "tabnine"),
        ("Copilot", "copilot@github.com", "copilot"),
        ("Crush", "crush@charm.land", "crush"),
        # the tool's address decides over a name that is its model's
        ("Claude Opus 4.1 via Crush", "crush@charm.land", "crush"),
    ],
)
def test_a_tools_own_identity_is_that_tool(name: str, email: str, tool: str) -> None:
    assert ai_identity_tool(name, email) == tool


@pytest.mark.parametrize(
    ("name", "email"),
    [
        ("Paul Gauthier", "paul@aider.chat"),  # aider's author, 3,231 commits of Aider-AI/aider
        ("Jane Doe", "jane@cursor.com"),
        ("Jo Smith", "jo@codeium.com"),
        ("Graham", "graham@all-hands.dev"),
        ("Dax", "dax@opencode.ai"),
        ("Claude Dupont", "claude.dupont@example.fr"),
        ("Devin Booker", "devin@example.com"),
        ("Sam", "123+samv0@users.noreply.github.com"),
        ("Roo", "roo@example.com"),
    ],
)
def test_a_person_at_a_tools_company_is_a_person(name: str, email: str) -> None:
    assert ai_identity_tool(name, email) is None


@pytest.mark.parametrize(
    ("message", "tools"),
    [
        ("Fix\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)", ["claude-code"]),
        ("Fix\n\n🤖 Generated with Claude Code", ["claude-code"]),
        ("Fix\n\n🤖 Generated with [opencode](https://opencode.ai)", ["opencode"]),
        ("Fix\n\n💘 Generated with Crush", ["crush"]),
        ("Squash (#3)\n\n* one\n\n- Generated with Claude Code", ["claude-code"]),
        ("Remove the 'Generated with Claude Code' footer", []),  # a mention, not the line
        ("Generated with Sphinx", []),
        ("Generated with gpt-4", []),  # a model, not a tool
        ("Generated with Claude Code.", ["claude-code"]),
        ("Generated with [Claude Code", ["claude-code"]),
        ("Generated with Claude Code (https://claude.ai/code)!", ["claude-code"]),
        ("Generated with Claude Code, mostly", []),
        ("Generated with a" + " ." * 20000 + "(", []),  # hostile: once seconds of backtracking
    ],
)
def test_a_generated_with_line_names_the_tool_that_made_the_commit(
    message: str, tools: list[str]
) -> None:
    assert [tool for tool, _ in generated_with_tools(message)] == tools
