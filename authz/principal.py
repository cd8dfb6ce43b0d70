"""Who is asking: the authenticated principal every query is scoped to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from authz.names import check_name
from schema.query import FilterOp, FilterValue

AttributeValue = str | int


@dataclass(frozen=True, slots=True)
class LockedFilter:
    """A condition the host of an embed session put on every query of it:
    `model.member op values` (e.g. courses.id in [3, 7]), added like a row filter."""

    model: str
    member: str  # a dimension of `model`
    op: FilterOp
    values: tuple[FilterValue, ...]


@dataclass(frozen=True, slots=True)
class EmbedScope:
    """What an embed session may do besides what its roles allow: query only the models its
    dashboards use, always under its locked filters."""

    session: str  # the embed token's jti
    dashboards: tuple[str, ...]
    models: frozenset[str]  # the root models its dashboards query
    locked: tuple[LockedFilter, ...] = ()
    minted_by: str = ""  # the principal that minted it, e.g. "token:7"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str  # "user:<sub>" (JWT), "token:<id>" (API token), "embed:<sub>": never a role's name
    tenant: str  # the Casbin domain
    roles: tuple[str, ...]  # plain role names, e.g. ("instructor",)
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)  # e.g. {"instructor_id": 12}
    kind: Literal["jwt", "api_token", "embed"] = "jwt"
    embed: EmbedScope | None = None  # set for embed sessions (kind "embed")

    def __post_init__(self) -> None:
        check_name(self.tenant, "tenant")
        if not self.roles:
            raise ValueError("a principal needs at least one role")
        for role in self.roles:
            check_name(role, "role")
        if (self.kind == "embed") != (self.embed is not None):
            raise ValueError("an embed principal, and only one, has an embed scope")
