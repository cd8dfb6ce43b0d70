"""Who is asking: the authenticated principal every query is scoped to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from authz.names import check_name

AttributeValue = str | int


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str  # "user:<sub>" (JWT) or "token:<id>" (API token): never a role's name
    tenant: str  # the Casbin domain
    roles: tuple[str, ...]  # plain role names, e.g. ("instructor",)
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)  # e.g. {"instructor_id": 12}
    kind: Literal["jwt", "api_token"] = "jwt"

    def __post_init__(self) -> None:
        check_name(self.tenant, "tenant")
        if not self.roles:
            raise ValueError("a principal needs at least one role")
        for role in self.roles:
            check_name(role, "role")
