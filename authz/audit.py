"""The audit trail of denials: who, which tenant, which models, and why."""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from authz.principal import Principal

log = logging.getLogger("cohort.audit")


class Audit:
    def __init__(self, on_denial: Callable[[str], None] | None = None) -> None:
        self.on_denial = on_denial  # e.g. a metrics counter, by reason kind

    def denied(self, principal: Principal, models: tuple[str, ...], reason: str, kind: str) -> None:
        record = {
            "event": "access_denied",
            "principal": principal.subject,
            "tenant": principal.tenant,
            "roles": list(principal.roles),
            "models": list(models),
            "kind": kind,
            "reason": reason,
        }
        log.warning("%s", orjson.dumps(record).decode())
        if self.on_denial is not None:
            self.on_denial(kind)
