"""Cache keys: made from the SQL compiled from the effective (authorized) query and its
parameters, so tenant scope is in the key by construction (tenant filters are bound
parameters); two principals share an entry only when the statements they would run,
the policy, the models and the projection are all the same."""

from __future__ import annotations

import hashlib

PREFIX = "cohort:result:"


def result_key(model: str, *parts: str) -> str:
    """`cohort:result:<model>:<sha256 of the parts>`; the model name lets `cohort cache
    flush --model` find a model's entries (it is not a Redis Cluster hash tag)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{PREFIX}{model}:{digest}"


def model_pattern(model: str | None) -> str:
    return f"{PREFIX}{model}:*" if model else f"{PREFIX}*"
