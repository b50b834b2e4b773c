"""Canonical AI tool names: every loader maps its spelling of a tool to one of these."""

CANONICAL_TOOLS: tuple[str, ...] = (
    "claude-code",
    "codex",
    "cursor",
    "copilot",
    "aider",
    "gemini-cli",
    "windsurf",
)

_SPELLINGS: dict[str, str] = {
    "claude": "claude-code",
    "claude code": "claude-code",
    "claude_code": "claude-code",
    "claudecode": "claude-code",
    "codex cli": "codex",
    "codex_cli_rs": "codex",
    "codex-cli": "codex",
    "codex desktop": "codex",
    "codex_vscode": "codex",
    "openai codex": "codex",
    "cursor agent": "cursor",
    "cursoragent": "cursor",
    "github copilot": "copilot",
    "copilot coding agent": "copilot",
    "gemini": "gemini-cli",
    "gemini cli": "gemini-cli",
    "windsurf cascade": "windsurf",
    "codeium": "windsurf",
}


def canonical_tool(name: str) -> str:
    """Map a tool's spelling to its canonical name; unknown tools are lower-cased and kept.

    >>> canonical_tool("Claude Code"), canonical_tool("codex_cli_rs"), canonical_tool("opencode")
    ('claude-code', 'codex', 'opencode')
    """
    spelled = " ".join(name.strip().lower().split())
    if spelled in CANONICAL_TOOLS:
        return spelled
    return _SPELLINGS.get(spelled, spelled)
