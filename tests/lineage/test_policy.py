import pytest

from lineage.policy import PolicyError, parse_policy


def test_parses_restrictions_and_waivers_with_canonical_tool_names() -> None:
    policy = parse_policy("""
[[restrict]]
tool = "Claude Code"
since = 2026-01-01
until = 2026-06-30
repos = ["github.com/acme/*"]
reason = "terms"

[[restrict]]
model = "gpt-5*"
reason = "terms"

[[waive]]
node = "output:x"
reason = "header"
approver = "legal@acme.com"
expires = 2027-01-01
""")
    assert policy.restrict[0].tool == "claude-code"
    assert policy.restrict[0].since == "2026-01-01"
    assert policy.restrict[1].tool is None and policy.restrict[1].model == "gpt-5*"
    assert policy.waive[0].expires == "2027-01-01"


def test_hash_ignores_formatting_but_not_content() -> None:
    a = parse_policy('[[restrict]]\ntool = "codex"\nreason = "r"\n')
    b = parse_policy('# comment\n[[restrict]]\nreason="r"\ntool="codex"\n')
    c = parse_policy('[[restrict]]\ntool = "cursor"\nreason = "r"\n')
    assert a.hash == b.hash != c.hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[restrict]]\nreason = "r"\n', "needs `tool` or `model`"),
        ('[[restrict]]\ntool = "a[b"\nreason = "r"\n', "never closed"),
        ('[[restrict]]\ntool = "codex"\nsince = "last week"\nreason = "r"\n', "not a date"),
        ('[[restrict]]\ntool = "codex"\n', "'reason' is a required property"),
        ('[[waive]]\nnode = "x"\nreason = "r"\n', "'approver' is a required property"),
        ("[[restrict]\n", "not valid TOML"),
        ('colour = "red"\n', "'colour' was unexpected"),
    ],
)
def test_bad_policies_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match="policy.toml") as exc:
        parse_policy(text, "policy.toml")
    assert message in str(exc.value)
