"""The audit trail: denials (who, which tenant, which models, and why) and embed sessions
minted, refused or presented with a bad token. One JSON object per line on `cohort.audit`;
never a token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from authz.principal import Principal

log = logging.getLogger("cohort.audit")


def _who(principal: Principal) -> dict[str, Any]:
    found: dict[str, Any] = {
        "principal": principal.subject,
        "tenant": principal.tenant,
        "roles": list(principal.roles),
    }
    if principal.embed is not None:
        found["session"] = principal.embed.session
        found["minted_by"] = principal.embed.minted_by
    return found


class Audit:
    def __init__(self, on_denial: Callable[[str], None] | None = None) -> None:
        self.on_denial = on_denial  # e.g. a metrics counter, by reason kind

    def denied(self, principal: Principal, models: tuple[str, ...], reason: str, kind: str) -> None:
        record = {
            "event": "access_denied",
            **_who(principal),
            "models": list(models),
            "kind": kind,
            "reason": reason,
        }
        log.warning("%s", orjson.dumps(record).decode())
        if self.on_denial is not None:
            self.on_denial(kind)

    def event(
        self, event: str, principal: Principal | None, *, level: int = logging.INFO, **fields: Any
    ) -> None:
        """Any other audited event: `fields` must hold no secret."""
        record = {"event": event, **(_who(principal) if principal is not None else {}), **fields}
        log.log(level, "%s", orjson.dumps(record, default=str).decode())
