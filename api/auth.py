"""Bearer tokens and roles: reader (queries) < ingester (+ ingestion) < admin (+ setPolicy).

Tokens come from ``LINEAGE_TOKENS`` (``role:token,role:token``) or a file given to
``lineage serve --tokens`` (the same pairs, one per line or comma separated; ``#`` comments).
With no tokens configured the server binds loopback only and everyone is a reader.
"""

import hmac
import os
from dataclasses import dataclass
from pathlib import Path

ROLES = ("reader", "ingester", "admin")


class TokenError(ValueError):
    """A token list that cannot be parsed; the message says which entry and why."""


def allows(role: str | None, needed: str) -> bool:
    """Whether `role` may do what needs `needed` (roles include the ones below them)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class Tokens:
    pairs: tuple[tuple[str, str], ...] = ()  # (role, token)

    @property
    def configured(self) -> bool:
        return bool(self.pairs)

    def role_of(self, token: str | None) -> str | None:
        """The role of `token` (compared in constant time), None when it is not valid."""
        if not token:
            return None
        found = None
        for role, known in self.pairs:
            if hmac.compare_digest(known.encode(), token.encode()):
                found = role
        return found

    @classmethod
    def parse(cls, text: str, origin: str = "LINEAGE_TOKENS") -> "Tokens":
        pairs = []
        for entry in text.replace("\n", ",").split(","):
            entry = entry.split("#", 1)[0].strip()
            if not entry:
                continue
            role, sep, token = entry.partition(":")
            role, token = role.strip(), token.strip()
            if not sep or role not in ROLES or len(token) < 8:
                raise TokenError(
                    f"{origin}: bad entry {entry[:20]!r}: write ROLE:TOKEN with ROLE one of "
                    f"{', '.join(ROLES)} and a token of at least 8 characters"
                )
            pairs.append((role, token))
        return cls(tuple(pairs))


def load_tokens(file: str | None = None) -> Tokens:
    """Tokens from `file` when given, else from $LINEAGE_TOKENS, else none."""
    if file:
        try:
            return Tokens.parse(Path(file).read_text(), origin=file)
        except OSError as exc:
            raise TokenError(f"{file}: cannot read the token file: {exc.strerror}") from exc
    return Tokens.parse(os.environ.get("LINEAGE_TOKENS", ""))


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
