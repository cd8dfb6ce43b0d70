"""Cache keys: made from the SQL compiled from the effective (authorized) query and its
parameters, so tenant scope is in the key by construction (tenant filters are bound
parameters); two principals share an entry only when the statements they would run,
the policy, the models and the projection are all the same.

One query has three keys, all carrying the query's digest as a Redis Cluster hash tag
(`{...}`), so they live in one slot: the lease script reads the result and takes the lease
in one call, which a cluster only allows for keys of one slot. Different queries still
spread over the slots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

PREFIX = "cohort:result:"
LEASE_PREFIX = "cohort:lease:"


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class QueryKeys:
    model: str
    digest: str  # of everything but the freshness tokens

    def result(self, tokens: Sequence[str]) -> str:
        """The result for these freshness tokens: new data, new key."""
        return f"{PREFIX}{self.model}:{{{self.digest}}}:{_digest(tokens)[:32]}"

    @property
    def latest(self) -> str:
        """The last result stored, whatever its tokens (for stale-while-revalidate)."""
        return f"{PREFIX}{self.model}:{{{self.digest}}}:latest"

    def lease(self, tokens: Sequence[str]) -> str:
        """Who is computing the result for these tokens (cache/lease.py)."""
        return f"{LEASE_PREFIX}{self.model}:{{{self.digest}}}:{_digest(tokens)[:32]}"


def query_keys(model: str, *parts: str) -> QueryKeys:
    """`cohort:result:<model>:{<sha256 of the parts>}:...`; the model name lets `cohort cache
    flush --model` find a model's entries."""
    return QueryKeys(model, _digest(parts))


def model_pattern(model: str | None) -> str:
    return f"{PREFIX}{model}:*" if model else f"{PREFIX}*"
