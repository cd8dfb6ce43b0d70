"""`POST /embed/sessions`: the host's back end, with an API token, asks for an embed session.

The answer is a short-lived embed token for a user, a tenant, roles the minter's policy lets
it grant, the dashboards the session may open and locked filters (conditions on every query
of the session). Everything is decided by the policy in force (`embed` rules, see
docs/embedding.md): which roles may mint, which roles they may grant, for which tenants
besides their own. Every answer, session or refusal, is audited; the token never is.
Refreshing a session is asking for a new one before the old one expires.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from api.auth.claims import check_attributes, check_roles, check_subject, check_tenant
from api.embed.tokens import MAX_TOKEN_CHARS, EmbedSession, EmbedTokens
from api.endpoints import Refused, authenticated, json_body, json_response, within_rate_limit
from api.settings import EmbedSettings
from authz.authorizer import locked_steps
from authz.enforcer import PolicyEnforcer
from authz.principal import LockedFilter, Principal
from resolvers.errors import QueryError
from resolvers.values import check_values
from schema.query import FilterOp
from schema.registry import Registry

MAX_BODY_BYTES = 64_000
MAX_DASHBOARDS = 20
MAX_LOCKED = 20
MAX_LOCKED_VALUES = 500  # in all: they travel in the token, in every request's header
log = logging.getLogger("cohort.embed")


class _Locked(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    member: str  # model.dimension, e.g. courses.id
    op: FilterOp = "in"
    values: list[str | int | float | bool] = Field(default_factory=list)


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    user: str
    tenant: str | None = None  # default: the minting token's tenant
    roles: list[str]
    attrs: dict[str, str | int] | None = None
    dashboards: list[str] = Field(min_length=1, max_length=MAX_DASHBOARDS)
    locked_filters: list[_Locked] = Field(default_factory=list, max_length=MAX_LOCKED)
    ttl_s: int | None = None


def parse_request(body: dict[str, Any]) -> SessionRequest:
    try:
        return SessionRequest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise Refused(400, f"the session request is not valid: {problems}") from None


class _Minting:
    """One request's checks, in the order a host fixes them: who, how long, for whom, what."""

    def __init__(
        self, minter: Principal, enforcer: PolicyEnforcer, registry: Registry, settings: EmbedSettings
    ):
        self.minter = minter
        self.enforcer = enforcer
        self.registry = registry
        self.settings = settings

    def _may(self, obj: str) -> bool:
        return self.enforcer.decide(self.minter.roles, self.minter.tenant, obj, "embed") == "allow"

    def session(self, wanted: SessionRequest) -> tuple[EmbedSession, int]:
        minter = self.minter
        if minter.kind != "api_token":
            raise Refused(
                403, "embed sessions are minted with an API token, by the host's back end", "FORBIDDEN"
            )
        grants = self.enforcer.allowed_objects(minter.roles, minter.tenant, "embed")
        if not grants:
            raise Refused(403, "this token's roles may not mint embed sessions", "FORBIDDEN")
        ttl = self.settings.ttl_s if wanted.ttl_s is None else wanted.ttl_s
        if not 30 <= ttl <= self.settings.max_ttl_s:
            raise Refused(400, f"ttl_s is between 30 and {self.settings.max_ttl_s} seconds, got {ttl}")
        try:
            user = check_subject(wanted.user)
            tenant = check_tenant(wanted.tenant or minter.tenant)
            roles = check_roles(wanted.roles)
            attributes = check_attributes(wanted.attrs)
        except ValueError as error:
            raise Refused(400, str(error).replace("sub claim", "user")) from None
        if tenant != minter.tenant and not self._may(f"tenant:{tenant}"):
            raise Refused(
                403, f"this token mints embed sessions for its own tenant only ({minter.tenant})", "FORBIDDEN"
            )
        refused = [role for role in roles if not self._may(f"role:{role}")]
        if refused:
            grantable = sorted(g.removeprefix("role:") for g in grants if g.startswith("role:"))
            raise Refused(
                403,
                f"this token may not grant the role(s) {', '.join(refused)} "
                f"(it may grant: {', '.join(grantable) or 'none'})",
                "FORBIDDEN",
            )
        models = self._dashboards(wanted.dashboards, roles, tenant)
        locked = self._locked(wanted.locked_filters, models)
        session = EmbedSession(
            user,
            tenant,
            roles,
            attributes,
            tuple(dict.fromkeys(wanted.dashboards)),
            models,
            locked,
            minter.subject,
        )
        return session, ttl

    def _dashboards(self, names: list[str], roles: tuple[str, ...], tenant: str) -> frozenset[str]:
        unknown = [name for name in names if name not in self.registry.dashboards]
        if unknown:
            known = ", ".join(sorted(self.registry.dashboards)) or "none"
            raise Refused(400, f"unknown dashboard(s) {', '.join(unknown)} (dashboards: {known})")
        models: set[str] = set()
        for name in names:
            for model in sorted(self.registry.dashboards[name].models()):
                if self.enforcer.decide(roles, tenant, model, "read") != "allow":
                    raise Refused(
                        400,
                        f"the roles {', '.join(roles)} may not read {model}, which {name} queries",
                        "FORBIDDEN",
                    )
                models.add(model)
        return frozenset(models)

    def _locked(self, wanted: list[_Locked], models: frozenset[str]) -> tuple[LockedFilter, ...]:
        if sum(len(item.values) for item in wanted) > MAX_LOCKED_VALUES:
            raise Refused(400, f"locked filters take {MAX_LOCKED_VALUES} values in all at most")
        found = []
        for item in wanted:
            model, _, member = item.member.partition(".")
            spec = self.registry.models.get(model)
            dimension = spec.dimensions.get(member) if spec is not None else None
            if spec is None or dimension is None:
                raise Refused(400, f"locked filter {item.member!r}: name a dimension as model.dimension")
            try:
                check_values(item.member, dimension.type, item.op, tuple(item.values), UTC)
            except QueryError as error:
                raise Refused(400, f"locked filter: {error}") from None
            lock = LockedFilter(model, member, item.op, tuple(item.values))
            for root in sorted(models):
                if locked_steps(self.registry, self.registry.model(root), lock) is None:
                    raise Refused(
                        400,
                        f"the locked filter {item.member} cannot apply to {root}, which a dashboard queries",
                    )
            found.append(lock)
        return tuple(found)


def _refresh_in(ttl_s: int) -> int:
    """When the host should ask for the next session: a minute (at most a fifth) early."""
    return ttl_s - min(60, ttl_s // 5)


async def create_session(request: Request) -> Response:
    state = request.app.state.cohort
    audit = state.authorizer.audit
    minter: Principal | None = None
    try:
        minter = await authenticated(request)
        headers = await within_rate_limit(request, minter)
        wanted = parse_request(await json_body(request, MAX_BODY_BYTES))
        minting = _Minting(minter, state.authorizer.enforcer(), state.runtime.registry, state.settings.embed)
        session, ttl = minting.session(wanted)
        tokens: EmbedTokens = state.authenticator.embed
        minted = tokens.mint(session, ttl)
        if len(minted.token) > MAX_TOKEN_CHARS:
            raise Refused(400, "the session is too large for a token: fewer locked values or dashboards")
    except Refused as refused:
        audit.event(
            "embed_session_refused",
            minter,
            level=logging.WARNING,
            status=refused.status,
            reason=refused.message,
        )
        return refused.response()
    audit.event(
        "embed_session_created",
        minter,
        session=minted.session_id,
        user=session.user,
        for_tenant=session.tenant,
        granted=list(session.roles),
        dashboards=list(session.dashboards),
        locked=[
            f"{lock.model}.{lock.member} {lock.op} ({len(lock.values)} values)" for lock in session.locked
        ],
        expires_at=minted.expires_at_iso,
    )
    body = {
        "token": minted.token,
        "session_id": minted.session_id,
        "expires_at": minted.expires_at_iso,
        "expires_in": ttl,
        "refresh_in": _refresh_in(ttl),
        "tenant": session.tenant,
        "roles": list(session.roles),
        "dashboards": list(session.dashboards),
    }
    return json_response(body, 201, headers)
