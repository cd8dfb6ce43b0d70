"""Access-control errors. Their messages are safe to show the principal they concern."""

from __future__ import annotations


class AccessDenied(Exception):
    code = "FORBIDDEN"

    def __init__(self, message: str, models: tuple[str, ...] = (), kind: str = "policy") -> None:
        super().__init__(message)
        self.models = models
        self.kind = kind  # model, member, masked, rows: what the policy refused


class PolicyUnavailable(Exception):
    """The access policy could not be loaded (yet): every query is refused (fail closed)
    until a reload succeeds."""

    code = "SERVICE_UNAVAILABLE"
