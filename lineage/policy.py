"""Policy as data: which tool outputs are restricted and which nodes are waived.

A policy is a TOML file; it is stored versioned with its hash and every verdict names that hash.
Policy decides at query time, so changing it never needs a re-ingest.

Example::

    [[restrict]]
    tool = "claude-code"
    reason = "Anthropic terms forbid training competing models on Claude output"

    [[restrict]]
    model = "gpt-5*"            # any tool, this model
    since = 2025-06-01
    repos = ["github.com/acme/*"]
    reason = "OpenAI terms"

    [[waive]]
    node = "output:toolu_01ABC"
    reason = "boilerplate license header, reviewed"
    approver = "legal@acme.com"
    expires = 2027-01-01
"""

import hashlib
import re
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema

from lineage.eventlog import canonical_json
from lineage.schema import json_schema
from lineage.tools import CANONICAL_TOOLS, canonical_tool


class PolicyError(ValueError):
    """The policy file cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Restriction:
    reason: str
    tool: str | None = None
    model: str | None = None
    since: str | None = None
    until: str | None = None
    repos: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()  # these outputs and sessions only (by key): `lineage impact`


@dataclass(frozen=True)
class Waiver:
    node: str
    reason: str
    approver: str
    expires: str | None = None

    def active_at(self, moment: datetime) -> bool:
        return self.expires is None or moment < parse_moment(self.expires, end_of_day=False)


@dataclass(frozen=True)
class Policy:
    restrict: tuple[Restriction, ...] = ()
    waive: tuple[Waiver, ...] = ()
    name: str | None = None
    toml: str = field(default="", compare=False)

    @property
    def hash(self) -> str:
        """Hash of the normalized content: reformatting the file keeps the hash."""
        body = {
            "name": self.name,
            # `nodes` only when set, so the hash of every policy file stays what it was
            "restrict": [
                {k: v for k, v in asdict(r).items() if k != "nodes" or v} for r in self.restrict
            ],
            "waive": [asdict(w) for w in self.waive],
        }
        return hashlib.sha256(canonical_json(body).encode()).hexdigest()[:16]

    def active_waivers(self, moment: datetime) -> list[Waiver]:
        return [w for w in self.waive if w.active_at(moment)]


def parse_moment(text: str, *, end_of_day: bool) -> datetime:
    """A date or RFC 3339 datetime as an aware UTC datetime; a bare date with `end_of_day`
    gives the start of the next day (so `until = 2026-03-01` includes all of March 1)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PolicyError(f"{text!r} is not a date (YYYY-MM-DD) or RFC 3339 datetime") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def glob_regex(pattern: str) -> str:
    """Translate a shell glob into an anchored regex that RE2 (DuckDB) and Python both accept.

    >>> glob_regex("claude-*")
    '^claude\\\\-.*$'
    """
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "]") else i + 1)
            if close < 0:
                raise PolicyError(f"glob {pattern!r}: '[' at position {i} is never closed")
            body = pattern[i + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(ch))
        i += 1
    return "^" + "".join(out) + "$"


def _plain(value: Any) -> Any:
    """TOML dates and datetimes become ISO text so the JSON Schema can check the rest."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate a policy's TOML text; raises PolicyError naming what is wrong."""
    try:
        data = _plain(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    errors = sorted(
        jsonschema.Draft202012Validator(json_schema("policy")).iter_errors(data),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "top level"
        message = err.message
        if err.validator == "anyOf" and list(err.absolute_path)[:1] == ["restrict"]:
            message = "a [[restrict]] table needs `tool` or `model` (a glob), or both"
        raise PolicyError(f"{source}: {where}: {message}")
    rules = []
    for n, raw in enumerate(data.get("restrict", []), 1):
        try:
            rule = Restriction(
                reason=raw["reason"],
                tool=canonical_tool(raw["tool"]) if "tool" in raw else None,
                model=raw.get("model"),
                since=raw.get("since"),
                until=raw.get("until"),
                repos=tuple(raw.get("repos", ())),
            )
            for pattern in (rule.tool, rule.model, *rule.repos):
                if pattern is not None:
                    glob_regex(pattern)
            for moment in (rule.since, rule.until):
                if moment is not None:
                    parse_moment(moment, end_of_day=False)
            if (
                rule.since
                and rule.until
                and parse_moment(rule.since, end_of_day=False)
                >= parse_moment(rule.until, end_of_day=True)
            ):
                raise PolicyError(
                    f"since {rule.since} is after until {rule.until}: the rule "
                    "would restrict nothing"
                )
        except PolicyError as exc:
            raise PolicyError(f"{source}: restrict #{n}: {exc}") from exc
        rules.append(rule)
    waivers = []
    for n, raw in enumerate(data.get("waive", []), 1):
        waiver = Waiver(
            node=raw["node"],
            reason=raw["reason"],
            approver=raw["approver"],
            expires=raw.get("expires"),
        )
        if waiver.expires is not None:
            try:
                parse_moment(waiver.expires, end_of_day=False)
            except PolicyError as exc:
                raise PolicyError(f"{source}: waive #{n}: {exc}") from exc
        waivers.append(waiver)
    if not rules:
        raise PolicyError(
            f"{source}: the policy has no [[restrict]] rule, so it restricts "
            "nothing and every gate would pass; add at least one, e.g. "
            '[[restrict]] tool = "claude-code" reason = "..."'
        )
    return Policy(tuple(rules), tuple(waivers), data.get("name"), text)


def lint_policy(policy: Policy, outputs: list[tuple[str | None, str | None]]) -> list[str]:
    """Warnings for rules that can match nothing: a tool glob that names no known tool and no
    ingested output's tool, a model glob that matches no ingested output's model. `outputs`
    are the (tool, model) pairs of the outputs in the store. A misspelled tool (`claud-code`)
    would otherwise let every gate pass.

    >>> lint_policy(parse_policy('[[restrict]]\\ntool = "claud-code"\\nreason = "r"'), [])
    ["restrict #1: tool 'claud-code' matches no known tool (claude-code, codex, cursor, \
copilot, aider, gemini-cli, windsurf) and no ingested output"]
    """
    tools = set(CANONICAL_TOOLS) | {t for t, _ in outputs if t}
    models = {m for _, m in outputs if m}
    warnings = []
    for n, rule in enumerate(policy.restrict, 1):
        if rule.tool is not None and not _matches_any(rule.tool, tools):
            warnings.append(
                f"restrict #{n}: tool {rule.tool!r} matches no known tool "
                f"({', '.join(CANONICAL_TOOLS)}) and no ingested output"
            )
        if rule.model is not None and not _matches_any(rule.model, models):
            warnings.append(
                f"restrict #{n}: model {rule.model!r} matches no ingested output's model (yet)"
            )
    return warnings


def _matches_any(glob: str, names: set[str]) -> bool:
    pattern = re.compile(glob_regex(glob))
    return any(pattern.match(name) for name in names)
