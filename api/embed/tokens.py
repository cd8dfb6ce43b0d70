"""Embed tokens: short-lived JWTs that Cohort signs for an embed session and verifies itself.

They are HS256 with a key of their own (`COHORT_EMBED_SECRET`, or a development secret in
the data folder), the audience `cohort-embed` and the header type `cohort-embed+jwt`: an embed
token is never accepted where a normal token is expected (other audience, other key) and
a normal token never passes here. Every token has a `jti` (the session id, in the audit
log) and an `exp` at most an hour after its `iat`. Refusals are audited with their reason
and the session id they claim, never the token.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import orjson

from api.auth import dev_secret
from api.auth.claims import check_attributes, check_roles, check_subject, check_tenant
from api.auth.errors import AuthenticationError
from api.settings import MAX_EMBED_TTL_S, EmbedSettings
from authz.audit import Audit
from authz.principal import AttributeValue, EmbedScope, LockedFilter, Principal
from schema.query import FILTER_OPS
from schema.spec import is_name

AUDIENCE = "cohort-embed"
ISSUER = "cohort"
TOKEN_TYPE = "cohort-embed+jwt"
ALGORITHM = "HS256"
LEEWAY_S = 5  # only Cohort's own servers sign and check these: their clocks agree closely
MAX_TOKEN_CHARS = 8 * 1024  # an Authorization header within common proxy limits
DEV_SECRET_FILE = "embed-dev-secret"
EXPIRED = "EMBED_SESSION_EXPIRED"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEADER = re.compile(r"[A-Za-z0-9_-]{1,512}")
_REQUIRED = ["exp", "iat", "aud", "iss", "sub", "jti"]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmbedSession:
    """What a session is for: who, in which tenant and roles, opening which dashboards."""

    user: str
    tenant: str
    roles: tuple[str, ...]
    attributes: Mapping[str, AttributeValue]
    dashboards: tuple[str, ...]
    models: frozenset[str]
    locked: tuple[LockedFilter, ...]
    minted_by: str


@dataclass(frozen=True, slots=True)
class Minted:
    token: str
    session_id: str
    issued_at: int
    expires_at: int

    @property
    def expires_at_iso(self) -> str:
        return datetime.fromtimestamp(self.expires_at, UTC).isoformat().replace("+00:00", "Z")


def is_embed_token(token: str) -> bool:
    """Whether a bearer token says it is an embed token (its header's `typ`); what it says is
    then verified, like any claim, by `EmbedTokens.verify`."""
    header = token.split(".", 1)[0]
    if not _HEADER.fullmatch(header):
        return False
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return False
    return isinstance(decoded, dict) and decoded.get("typ") == TOKEN_TYPE


class EmbedTokens:
    def __init__(
        self, secret: bytes, audit: Audit | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the embed secret must be at least 32 bytes")
        self._secret = secret
        self.audit = audit or Audit()
        self.clock = clock
        self._decoder = jwt.PyJWT()

    @classmethod
    def from_settings(
        cls,
        settings: EmbedSettings,
        data_dir: Path,
        audit: Audit | None = None,
        clock: Callable[[], float] = time.time,
    ) -> EmbedTokens:
        """The configured secret, or a development one created in the data folder (shared by
        the workers of one machine; set COHORT_EMBED_SECRET for several machines)."""
        if settings.secret is not None:
            return cls(settings.secret.encode("utf-8"), audit, clock)
        path = dev_secret.dev_secret_path(data_dir, DEV_SECRET_FILE)
        log.warning("COHORT_EMBED_SECRET is not set: embed tokens are signed with the secret in %s", path)
        return cls(dev_secret.load_or_create(data_dir, DEV_SECRET_FILE), audit, clock)

    def mint(self, session: EmbedSession, ttl_s: int) -> Minted:
        if not 0 < ttl_s <= MAX_EMBED_TTL_S:
            raise ValueError(f"an embed session lasts 1 to {MAX_EMBED_TTL_S} seconds")
        now = int(self.clock())
        session_id = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": session.user,
            "jti": session_id,
            "iat": now,
            "exp": now + ttl_s,
            "tenant": session.tenant,
            "roles": list(session.roles),
            "dashboards": list(session.dashboards),
            "models": sorted(session.models),
            "by": session.minted_by,
        }
        if session.attributes:
            claims["attrs"] = dict(session.attributes)
        if session.locked:
            claims["locked"] = [
                [lock.model, lock.member, lock.op, list(lock.values)] for lock in session.locked
            ]
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})
        return Minted(token, session_id, now, now + ttl_s)

    def verify(self, token: str) -> Principal:
        try:
            return _principal(self._claims(token))
        except AuthenticationError as error:
            self.audit.event(
                "embed_token_refused",
                None,
                level=logging.WARNING,
                reason=error.reason,
                session=_claimed_session(token),
            )
            raise

    def _claims(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthenticationError(f"the embed token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
                raise AuthenticationError("the embed token's algorithm is not accepted")
            claims: dict[str, Any] = self._decoder.decode(
                token,
                key=self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": _REQUIRED, "strict_aud": True, "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError(
                "the embed session has expired: ask the host for a new one", code=EXPIRED
            ) from None
        except jwt.InvalidSignatureError:
            raise AuthenticationError("the embed token's signature is not valid") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("the token is not an embed token") from None
        except jwt.PyJWTError as exc:
            log.debug("embed token rejected: %s", type(exc).__name__)
            raise AuthenticationError("the embed token is not valid") from None
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise AuthenticationError("the embed token is malformed") from None
        issued, expires = claims["iat"], claims["exp"]
        numbers = all(
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            for value in (issued, expires)
        )
        if not numbers or expires - issued > MAX_EMBED_TTL_S or issued > self.clock() + LEEWAY_S:
            raise AuthenticationError("the embed token's times are not valid")
        return claims


def _claimed_session(token: str) -> str | None:
    """The jti a refused token claims, for the audit log (only if it looks like one of ours)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except Exception:
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) and _SESSION_ID.fullmatch(jti) else None


def _names(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and is_name(item) for item in value):
        raise ValueError(f"{what} must be a list of names")
    return tuple(value)


def _locked(value: Any) -> tuple[LockedFilter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("locked must be a list")
    found = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 4 and isinstance(item[3], list)):
            raise ValueError("a locked filter is [model, member, op, values]")
        model, member, op, values = item
        if not (isinstance(model, str) and is_name(model) and isinstance(member, str) and op in FILTER_OPS):
            raise ValueError("a locked filter names a model, a member and an operator")
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise ValueError("locked filter values are strings, numbers or booleans")
        found.append(LockedFilter(model, member, op, tuple(values)))
    return tuple(found)


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        scope = EmbedScope(
            session=str(claims["jti"]),
            dashboards=_names(claims.get("dashboards"), "dashboards"),
            models=frozenset(_names(claims.get("models"), "models")),
            locked=_locked(claims.get("locked")),
            minted_by=str(claims.get("by") or ""),
        )
        return Principal(
            subject="embed:" + check_subject(claims["sub"]),
            tenant=check_tenant(claims.get("tenant")),
            roles=check_roles(claims.get("roles")),
            attributes=check_attributes(claims.get("attrs")),
            kind="embed",
            embed=scope,
        )
    except ValueError as exc:
        raise AuthenticationError(f"the embed token's claims are not valid: {exc}") from None
