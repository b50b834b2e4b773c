"""Policy versions: each policy set is an event of the log, so the policy in force is known
at every point of it."""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from lineage.facts import (
    Record,
)
from lineage.policy import Policy, parse_policy
from lineage.rows import maybe_one, one
from lineage.store.log import EventLog


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    hash: str
    seq: int
    set_at: datetime
    policy: Policy


@lru_cache(maxsize=64)
def _parsed_policy(toml: str) -> Policy:
    """Stored policies were validated when set; parse each text once per process."""
    return parse_policy(toml)


class PolicyVersions(EventLog):
    """The part of `Store` that records and reads policy versions."""

    def set_policy(self, policy: Policy) -> PolicyVersion:
        """Store a new policy version (a no-op when it is the one in force)."""
        current = self.policy_at(None)
        if current is not None and current.hash == policy.hash:
            return current
        record = Record(
            event_id=f"policy:{policy.hash}:{self.head_seq() + 1}",
            type="policy",
            payload={"hash": policy.hash, "toml": policy.toml},
            facts=[],
        )
        with self.transaction():
            seq = self.head_seq() + 1
            now = datetime.now(UTC)
            batch_no = self._append_events("policy", [record], [seq])
            self._chain_batch(batch_no, "policy", now)
            version = one(self._con, "SELECT coalesce(max(version), 0) + 1 FROM policies")[0]
            self._con.execute(
                "INSERT INTO policies VALUES (?, ?, ?, ?, ?)",
                [version, policy.hash, seq, policy.toml, now],
            )
        return PolicyVersion(version, policy.hash, seq, now, policy)

    def policy_at(self, as_of: int | None) -> PolicyVersion | None:
        """The policy in force at seq `as_of` (None: the latest)."""
        row = maybe_one(
            self._con,
            "SELECT version, hash, seq, set_at, toml FROM policies WHERE seq <= ? "
            "ORDER BY version DESC LIMIT 1",
            [as_of if as_of is not None else 2**62],
        )
        if row is None:
            return None
        return PolicyVersion(row[0], row[1], row[2], row[3], _parsed_policy(row[4]))

    def policy_versions(self) -> list[PolicyVersion]:
        rows = self._con.execute(
            "SELECT version, hash, seq, set_at, toml FROM policies ORDER BY version"
        ).fetchall()
        return [PolicyVersion(v, h, s, t, _parsed_policy(x)) for v, h, s, t, x in rows]
