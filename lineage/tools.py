"""Canonical AI tool names: every loader maps its spelling of a tool to one of these."""

import functools
import re

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


# Identities AI tools write into git: in co-author trailers, as author or as committer. One
# table: (tool, pattern over the e-mail, pattern over the name). Name patterns are anchored and
# strict, so a person called Claude or Devin is not an AI; e-mail patterns are the tools' own
# addresses, never a whole domain: the people who make a tool commit from its domain too
# (aider's author commits as paul@aider.chat, aider itself as aider@aider.chat).
AI_IDENTITIES: tuple[tuple[str, str, str], ...] = (
    (
        "claude-code",
        r"noreply@anthropic\.com|\+claude(\[bot\])?@users\.noreply\.github\.com"
        r"|@claude\.ai$",
        r"claude|claude (code|opus|sonnet|haiku|\d).*|claude\[bot\]|.*\(claude( code)?\)",
    ),
    (
        "codex",
        r"^codex@openai\.com$|^noreply@openai\.com$|chatgpt-codex-connector",
        r"codex|openai codex|chatgpt-codex-connector\[bot\]|codex\[bot\]|.*\(codex\)",
    ),
    ("aider", r"^aider@aider\.chat$|^noreply@aider\.(chat|dev)$", r".*\(aider\)|aider( \(.*\))?"),
    (
        "copilot",
        r"\+copilot(\[bot\])?@users\.noreply\.github\.com|copilot-swe-agent|^copilot@github\.com$",
        r"copilot|github copilot|copilot-swe-agent(\[bot\])?|.*\(copilot\)",
    ),
    (
        "cursor",
        r"^cursoragent@cursor\.com$",
        r"cursor( agent)?|cursor\[bot\]|.*\(cursor\)",
    ),
    ("devin", r"devin-ai-integration", r"devin ai|devin-ai-integration(\[bot\])?"),
    ("factory-droid", r"factory-droid", r"factory-droid(\[bot\])?|factory droid"),
    (
        "gemini-cli",
        r"gemini-code-assist|google-labs-jules|@jules\.google",
        r"gemini( cli| code assist)?|gemini-code-assist\[bot\]|google-labs-jules\[bot\]",
    ),
    ("windsurf", r"windsurf-bot(\[bot\])?@users\.noreply\.github\.com", r"windsurf|codeium"),
    ("opencode", r"^(noreply|ai)@opencode\.ai$", r"opencode(\[bot\])?"),
    ("openhands", r"^openhands@all-hands\.dev$", r"openhands(-agent)?(\[bot\])?"),
    # charmbracelet/crush: `Co-Authored-By: Crush <crush@charm.land>` or
    # `Assisted-by: <model> via Crush <crush@charm.land>`
    ("crush", r"^crush@charm\.land$", r"crush|.+ via crush"),
    ("sweep", r"sweep-ai", r"sweep(-ai)?\[bot\]"),
    ("amp", r"^amp@ampcode\.com$", r"amp"),
    ("kiro", r"^noreply@kiro\.dev$", r"kiro"),
    ("tabnine", r"^noreply@tabnine\.com$", r"tabnine( cli)?"),
    # cloud agents and review bots that commit code of their own
    ("roo-code", r"\broomote(\[bot\])?@users\.noreply\.github\.com", r"roomote(\[bot\])?"),
    (
        "ellipsis",
        r"\bellipsis-dev(\[bot\])?@users\.noreply\.github\.com",
        r"ellipsis-dev(\[bot\])?",
    ),
    (
        "coderabbit",
        r"\bcoderabbitai(\[bot\])?@users\.noreply\.github\.com",
        r"coderabbitai(\[bot\])?",
    ),
    (
        "amazon-q",
        r"\bamazon-q-developer(\[bot\])?@users\.noreply\.github\.com",
        r"amazon-q-developer(\[bot\])?|amazon q developer",
    ),
    (
        "lovable",
        r"\b(lovable-dev|gpt-engineer-app)(\[bot\])?@users\.noreply\.github\.com",
        r"(lovable-dev|gpt-engineer-app)(\[bot\])?",
    ),
    ("v0", r"\bv0(\[bot\])?@users\.noreply\.github\.com", r"v0(\[bot\])?"),
)


@functools.lru_cache(maxsize=8192)
def ai_identity_tool(name: str, email: str) -> str | None:
    """The AI tool a git identity (a trailer's `Name <email>`, an author, a committer) names,
    or None for a person (remembered per identity: a history repeats a few thousand of them).

    >>> ai_identity_tool("Claude Opus 4.6 (1M context)", "noreply@anthropic.com")
    'claude-code'
    >>> ai_identity_tool("Dev (aider)", "dev@x.org"), ai_identity_tool("Claude Dupont", "c@d.fr")
    ('aider', None)
    """

    spelled_name = " ".join(name.strip().lower().split())
    spelled_email = email.strip().lower()
    # The e-mail first, over every tool: it is the tool's own address, where the name may
    # be the model's (`Claude Opus 4 via Crush <crush@charm.land>` is Crush).
    if spelled_email:
        for tool, email_pattern, _ in AI_IDENTITIES:
            if re.search(email_pattern, spelled_email):
                return tool
    if spelled_name:
        for tool, _, name_pattern in AI_IDENTITIES:
            if re.fullmatch(name_pattern, spelled_name):
                return tool
    return None


# The line an AI tool writes into the message of a commit it made, beside a co-author trailer
# or alone (a user who drops the trailer often keeps it): `🤖 Generated with [Claude
# Code](https://claude.ai/code)`, `🤖 Generated with [opencode](https://opencode.ai)`,
# `💘 Generated with Crush`. The tool is what the line names, read as an identity's name.
_GENERATED_LINE = re.compile(
    r"^[^\w\n]*generated (?:with|by)[ \t]+([^\n]*)$", re.IGNORECASE | re.MULTILINE
)
# what may follow the name: `]`, a link in parentheses, closing punctuation
_AFTER_NAME = re.compile(r"\]?(?:\([^)\n]*\))?[ \t.!]*")
_TOOL_NAME = re.compile(r"\w[\w .-]*")


def generated_with_tools(message: str) -> list[tuple[str, str]]:
    """(tool, line) for each line of a commit message that says an AI tool generated it.

    >>> generated_with_tools("Fix\\n\\n🤖 Generated with [Claude Code](https://claude.ai/code)")
    [('claude-code', '🤖 Generated with [Claude Code](https://claude.ai/code)')]
    >>> generated_with_tools("Docs generated with Sphinx\\n\\nGenerated with Sphinx")
    []
    """
    found = []
    for match in _GENERATED_LINE.finditer(message):
        # The name is cut out by hand, not by one pattern: a pattern with a lazy name and
        # optional tails took seconds on a long line of dots and spaces (a hostile message).
        rest = match.group(1).strip().removeprefix("[")
        cut = min((i for i in (rest.find("]"), rest.find("(")) if i >= 0), default=len(rest))
        name = rest[:cut].rstrip(" \t.!")
        # a tool's name is short; a long one is not looked up (nor remembered by the cache)
        if len(name) > 64 or not _TOOL_NAME.fullmatch(name):
            continue
        if not _AFTER_NAME.fullmatch(rest[cut:]):
            continue
        tool = ai_identity_tool(name, "")
        if tool:
            found.append((tool, match.group(0).strip()))
    return found
