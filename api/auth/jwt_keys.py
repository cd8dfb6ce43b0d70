"""The keys JWTs are verified with, and the algorithms each key may be used with.

The algorithms come from the configuration and the key's own type, never from a token: a
shared secret only ever verifies HMAC signatures and a public key only ever verifies its own
family (RSA: RS*/PS*, EC: the ES* of its curve), which closes the "HS256 signed with the
public key" confusion. `none` is never accepted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK, PyJWTError

from api.auth import dev_secret
from api.settings import AuthSettings, SettingsError

HMAC_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}  # minimum secret bytes: the digest size
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
ASYMMETRIC_ALGORITHMS = frozenset((*RSA_ALGORITHMS, *EC_ALGORITHMS.values()))
DEFAULT_ASYMMETRIC = frozenset(("RS256", "ES256", "ES384", "ES512"))
MIN_RSA_BITS = 2048
log = logging.getLogger(__name__)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True, slots=True)
class VerificationKey:
    key: bytes | PublicKey
    algorithms: tuple[str, ...]  # what this key may verify; the token's alg must be one of them


@dataclass(frozen=True, slots=True)
class KeySet:
    default: VerificationKey | None  # the secret or PEM key; a JWKS of one key without kid
    by_kid: Mapping[str, VerificationKey]
    dev_secret: Path | None = None  # where the development secret lives, when it is in use

    def select(self, kid: object) -> VerificationKey | None:
        """A JWKS key by the token's kid (an unknown kid gets nothing); otherwise the one key."""
        if self.by_kid and isinstance(kid, str) and kid:
            return self.by_kid.get(kid)
        return self.default


def hmac_secret(settings: AuthSettings, data_dir: Path) -> tuple[bytes, Path | None]:
    """The configured secret, or the development one (and its path) when no key is configured."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.encode("utf-8"), None
    if settings.jwt_public_key_file is None and settings.jwt_jwks_file is None:
        return dev_secret.load_or_create(data_dir), dev_secret.dev_secret_path(data_dir)
    raise SettingsError("public keys are configured: there is no JWT secret")


def load_keys(settings: AuthSettings, data_dir: Path) -> KeySet:
    wanted = _configured_algorithms(settings)
    sources = [settings.jwt_secret is not None, settings.jwt_public_key_file, settings.jwt_jwks_file]
    if sum(bool(source) for source in sources) > 1:
        raise SettingsError(
            "configure one JWT key source: COHORT_JWT_SECRET, COHORT_JWT_PUBLIC_KEY_FILE "
            "or COHORT_JWT_JWKS_FILE"
        )
    if settings.jwt_public_key_file is not None:
        return KeySet(_pem_key(settings.jwt_public_key_file, wanted), {})
    if settings.jwt_jwks_file is not None:
        return _jwks(settings.jwt_jwks_file, wanted)
    secret, dev_path = hmac_secret(settings, data_dir)
    return KeySet(_secret_key(secret, wanted, dev=dev_path is not None), {}, dev_path)


def _configured_algorithms(settings: AuthSettings) -> frozenset[str] | None:
    known = HMAC_ALGORITHMS.keys() | ASYMMETRIC_ALGORITHMS
    for name in settings.jwt_algorithms:
        if name not in known:
            raise SettingsError(f"COHORT_JWT_ALGORITHMS: {name!r} is not accepted; use {sorted(known)}")
    return frozenset(settings.jwt_algorithms) or None


def _narrow(candidates: tuple[str, ...], wanted: frozenset[str] | None, what: str) -> tuple[str, ...]:
    if wanted is None:
        return candidates
    unusable = sorted(wanted - set(candidates))
    if unusable:
        raise SettingsError(f"COHORT_JWT_ALGORITHMS lists {', '.join(unusable)}, which {what} cannot verify")
    return tuple(name for name in candidates if name in wanted)


def _secret_key(secret: bytes, wanted: frozenset[str] | None, *, dev: bool) -> VerificationKey:
    candidates = ("HS256",) if dev or wanted is None else tuple(HMAC_ALGORITHMS)
    algorithms = _narrow(candidates, wanted, "the development secret" if dev else "a shared secret")
    needed = max(HMAC_ALGORITHMS[name] for name in algorithms)
    if len(secret) < needed:
        raise SettingsError(f"COHORT_JWT_SECRET must be at least {needed} bytes for {', '.join(algorithms)}")
    return VerificationKey(secret, algorithms)


def _family(key: object) -> tuple[str, ...]:
    """The algorithms a public key can verify (empty: a key type we do not accept)."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise SettingsError(f"RSA keys must have at least {MIN_RSA_BITS} bits, got {key.key_size}")
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_ALGORITHMS:
        return (EC_ALGORITHMS[key.curve.name],)
    return ()


def _pem_key(path: Path, wanted: frozenset[str] | None) -> VerificationKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"COHORT_JWT_PUBLIC_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    try:
        key: object = (
            x509.load_pem_x509_certificate(data).public_key()
            if b"-----BEGIN CERTIFICATE-----" in data
            else load_pem_public_key(data)
        )
    except ValueError:
        raise SettingsError(f"COHORT_JWT_PUBLIC_KEY_FILE: {path} holds no PEM public key") from None
    family = _family(key)
    if not family:
        raise SettingsError(f"COHORT_JWT_PUBLIC_KEY_FILE: {path}: use an RSA or an EC (P-256/384/521) key")
    if wanted is None:
        algorithms = tuple(name for name in family if name in DEFAULT_ASYMMETRIC)
    else:
        if wanted - ASYMMETRIC_ALGORITHMS:
            raise SettingsError("COHORT_JWT_ALGORITHMS lists HMAC algorithms: public keys cannot verify them")
        algorithms = tuple(name for name in family if name in wanted)
    if not algorithms:
        raise SettingsError(f"COHORT_JWT_ALGORITHMS names none of the key's algorithms ({', '.join(family)})")
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return VerificationKey(key, algorithms)


def _jwks(path: Path, wanted: frozenset[str] | None) -> KeySet:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: {path} is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: {path} is not a JWKS document ({{'keys': [...]}})")
    if wanted is not None and wanted - ASYMMETRIC_ALGORITHMS:
        raise SettingsError("COHORT_JWT_ALGORITHMS lists HMAC algorithms, which public keys cannot verify")
    allowed = wanted or DEFAULT_ASYMMETRIC
    keys: dict[str, VerificationKey] = {}
    unnamed: list[VerificationKey] = []
    for index, entry in enumerate(entries):
        loaded = _jwk(entry, allowed, f"{path} key #{index}")
        if loaded is None:
            continue
        kid, key = loaded
        if kid is None:
            unnamed.append(key)
        elif kid in keys:
            raise SettingsError(f"COHORT_JWT_JWKS_FILE: {path} has two keys with kid {kid!r}")
        else:
            keys[kid] = key
    usable = len(keys) + len(unnamed)
    if usable == 0:
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: {path} has no usable signing key")
    if unnamed and usable > 1:
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: {path}: every key needs a kid when there are several")
    # A set of exactly one key also verifies tokens without a kid.
    default = unnamed[0] if unnamed else (next(iter(keys.values())) if usable == 1 else None)
    return KeySet(default, keys)


def _jwk(entry: Any, allowed: frozenset[str], where: str) -> tuple[str | None, VerificationKey] | None:
    if not isinstance(entry, dict) or entry.get("use") == "enc":
        return None
    if entry.get("kty") == "oct":
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: {where} is a shared secret, not a public key")
    if "d" in entry:
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: {where} holds private key material")
    kid = entry.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise SettingsError(f"COHORT_JWT_JWKS_FILE: {where} has a kid that is not a string")
    try:
        jwk = PyJWK(entry)
    except PyJWTError as exc:
        log.warning("JWKS: skipping %s: %s", where, type(exc).__name__)
        return None
    family = _family(jwk.key)
    if jwk.algorithm_name not in family or jwk.algorithm_name not in allowed:
        log.warning("JWKS: skipping %s: algorithm %s is not accepted", where, jwk.algorithm_name)
        return None
    return kid, VerificationKey(jwk.key, (jwk.algorithm_name,))
