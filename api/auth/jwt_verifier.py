"""JWT bearer tokens (embedded dashboards): verified against configured keys, turned into a Principal.

Required claims: exp, aud (exactly the configured audience), iss (exactly the configured
issuer), sub, tenant and roles; optional attrs. nbf and iat, when present, may not lie in the
future beyond the leeway. Whatever is wrong with a token, verify() raises AuthenticationError
with a message that never repeats the token.
"""

from __future__ import annotations

import logging
import math
import re
import time
from pathlib import Path
from typing import Any

import jwt
from jwt.exceptions import InvalidSubjectError
from jwt.types import Options

from api.auth.claims import check_attributes, check_roles, check_subject, check_tenant
from api.auth.errors import AuthenticationError
from api.auth.jwt_keys import KeySet, hmac_secret, load_keys
from api.auth.verified_tokens import VerifiedTokens
from api.settings import AuthSettings, SettingsError
from authz.principal import Principal

MAX_TOKEN_CHARS = 8 * 1024
MINT_ALGORITHM = "HS256"
# Compact JWS: three base64url segments (PyJWT tolerates '=' padding, so do we). Checked before
# any parsing, so non-ASCII text, spaces and the like never reach PyJWT.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]*={0,2}", re.ASCII)
_OPTIONS: Options = {
    "require": ["exp", "aud", "iss", "sub"],
    "strict_aud": True,  # aud is a string equal to ours, not a list that happens to contain it
    "enforce_minimum_key_length": True,
}
# PyJWT's exceptions, most specific first, mapped to messages safe to show (no token, no value).
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is meant for another audience"),
    (jwt.InvalidIssuerError, "the token comes from an issuer that is not trusted"),
    (jwt.InvalidSignatureError, "the token's signature is not valid"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
    (jwt.InvalidKeyError, "the token cannot be verified with the configured key"),
    (jwt.InvalidIssuedAtError, "the token's iat claim is not a number"),
    (InvalidSubjectError, "the token's sub claim is not a string"),
    (jwt.DecodeError, "the token is malformed"),
)
_REQUIRED = ("exp", "aud", "iss", "sub", "tenant", "roles")
log = logging.getLogger(__name__)


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        known = error.claim in _REQUIRED  # never echo a name we did not ask for
        return f"the token lacks the {error.claim} claim" if known else "the token lacks a claim"
    return next((text for kind, text in _REASONS if isinstance(error, kind)), "the token is not valid")


class JwtVerifier:
    def __init__(self, settings: AuthSettings, data_dir: Path) -> None:
        self.settings = settings
        self.keys: KeySet = load_keys(settings, data_dir)
        self._decoder = jwt.PyJWT()
        self._verified = VerifiedTokens()
        if self.keys.dev_secret is not None:
            log.warning(
                "no JWT key is configured: using the development secret in %s. Set COHORT_JWT_SECRET, "
                "COHORT_JWT_PUBLIC_KEY_FILE or COHORT_JWT_JWKS_FILE before serving real users.",
                self.keys.dev_secret,
            )

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            return remembered
        claims = self._claims(token)
        principal = self._principal(claims)
        # Valid as PyJWT decides: from nbf and iat minus the leeway, until exp plus the leeway.
        leeway = self.settings.jwt_leeway_s
        starts = max((float(claims[name]) for name in ("nbf", "iat") if name in claims), default=-math.inf)
        self._verified.remember(token, principal, starts - leeway, float(claims["exp"]) + leeway)
        return principal

    def _principal(self, claims: dict[str, Any]) -> Principal:
        try:
            for name in ("tenant", "roles"):
                if claims.get(name) is None:
                    raise AuthenticationError(f"the token lacks the {name} claim")
            for name in ("exp", "nbf", "iat"):
                value = claims.get(name)
                # PyJWT would take "123" for a time; RFC 7519 says NumericDate, a JSON number.
                if name in claims and not (
                    isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                ):
                    raise AuthenticationError(f"the token's {name} claim is not a number")
            return Principal(
                subject="user:" + check_subject(claims["sub"]),
                tenant=check_tenant(claims["tenant"]),
                roles=check_roles(claims["roles"]),
                attributes=check_attributes(claims.get("attrs")),
                kind="jwt",
            )
        except ValueError as exc:  # InvalidNameError included: a bad name is a bad token, not a 500
            raise AuthenticationError(f"the token's claims are not valid: {exc}") from None

    def _claims(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise AuthenticationError("the token is empty")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthenticationError(f"the token is longer than {MAX_TOKEN_CHARS} characters")
        if not _COMPACT.fullmatch(token):
            raise AuthenticationError("the token is malformed")
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys.select(header.get("kid"))
            if key is None:
                raise AuthenticationError("the token's key id (kid) is not known")
            claims = self._decoder.decode(
                token,
                key=key.key,
                algorithms=list(key.algorithms),  # from the configuration, never from the token
                options=_OPTIONS,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_s,
            )
        except jwt.PyJWTError as exc:
            log.debug("JWT rejected: %s", type(exc).__name__)
            raise AuthenticationError(_reason(exc)) from None
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # Defence in depth: PyJWT wraps what it expects, this catches what it does not.
            log.debug("JWT rejected: %s", type(exc).__name__)
            raise AuthenticationError("the token is malformed") from None
        return claims


def mint_token(
    settings: AuthSettings,
    data_dir: Path,
    *,
    subject: str,
    tenant: str,
    roles: list[str],
    attrs: dict[str, Any] | None = None,
    expires_in_s: int = 3600,
) -> str:
    """An HS256 token signed with the configured (or development) secret, for the CLI and tests.

    Raises SettingsError when the server verifies with public keys only: it has no private key,
    tokens then come from the identity provider. Raises ValueError on an invalid claim.
    """
    if settings.jwt_public_key_file is not None or settings.jwt_jwks_file is not None:
        raise SettingsError("JWTs are verified with public keys here: the identity provider signs them")
    if settings.jwt_algorithms and MINT_ALGORITHM not in settings.jwt_algorithms:
        raise SettingsError(f"COHORT_JWT_ALGORITHMS excludes {MINT_ALGORITHM}, the one algorithm minted here")
    if expires_in_s <= 0:
        raise ValueError("expires_in_s must be positive")
    secret, _ = hmac_secret(settings, data_dir)
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": check_subject(subject),
        "tenant": check_tenant(tenant),
        "roles": list(check_roles(roles)),
        "iat": now,
        "exp": now + expires_in_s,
    }
    if attrs:
        payload["attrs"] = check_attributes(attrs)
    return jwt.encode(payload, secret, algorithm=MINT_ALGORITHM)
