"""JWT verification: the keys and algorithms it accepts, the attacks it refuses, the dev secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from api.auth.errors import AuthenticationError
from api.auth.jwt_verifier import MAX_TOKEN_CHARS, JwtVerifier, mint_token
from api.settings import AuthSettings, SettingsError
from authz.principal import Principal

SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789"
DROP = object()  # a claim value meaning "leave the claim out"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "cohort",
        "aud": "cohort",
        "sub": "auth0|u-42",
        "tenant": "northbridge",
        "roles": ["instructor"],
        "attrs": {"instructor_id": 12},
        "iat": now,
        "exp": now + 300,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not DROP}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: Any, sign: Callable[[bytes], bytes] | None = None) -> str:
    """A token built by hand, as an attacker would."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{b64(signature)}"


def hs256(payload: Any, key: bytes = SECRET.encode()) -> str:
    return forge({"alg": "HS256", "typ": "JWT"}, payload, lambda data: hmac.digest(key, data, hashlib.sha256))


def rejected(verifier: JwtVerifier, token: str) -> AuthenticationError:
    """verify() raises AuthenticationError, whose message and challenge never repeat the token."""
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    error = caught.value
    assert error.error == "invalid_token"
    assert error.challenge.startswith('Bearer realm="cohort", error="invalid_token", error_description="')
    for piece in [token, *token.split(".")]:
        if len(piece) >= 8:
            assert piece not in error.reason and piece not in error.challenge
    assert error.reason.isascii()
    return error


@pytest.fixture(scope="module")
def hs_verifier(tmp_path_factory: pytest.TempPathFactory) -> JwtVerifier:
    return JwtVerifier(AuthSettings(jwt_secret=SECRET), tmp_path_factory.mktemp("hs"))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_pem(rsa_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rsa") / "public.pem"
    path.write_bytes(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture(scope="module")
def rs_verifier(rsa_pem: Path) -> JwtVerifier:
    return JwtVerifier(AuthSettings(jwt_public_key_file=rsa_pem), rsa_pem.parent)


@pytest.fixture(scope="module")
def ec_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {kid: ec.generate_private_key(ec.SECP256R1()) for kid in ("k1", "k2")}


@pytest.fixture(scope="module")
def jwks_file(
    ec_keys: dict[str, ec.EllipticCurvePrivateKey], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    keys = [
        {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig"}
        for kid, key in ec_keys.items()
    ]
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": keys}))
    return path


@pytest.fixture(scope="module")
def es_verifier(jwks_file: Path) -> JwtVerifier:
    return JwtVerifier(AuthSettings(jwt_jwks_file=jwks_file), jwks_file.parent)


EXPECTED = Principal(
    subject="user:auth0|u-42",
    tenant="northbridge",
    roles=("instructor",),
    attributes={"instructor_id": 12},
    kind="jwt",
)


# --- valid tokens ----------------------------------------------------------------------------


def test_hs256_token_gives_the_principal(hs_verifier: JwtVerifier) -> None:
    assert hs_verifier.verify(jwt.encode(claims(), SECRET, algorithm="HS256")) == EXPECTED


def test_rs256_token_verified_with_the_pem_public_key(
    rs_verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert rs_verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256")) == EXPECTED


def test_es256_tokens_select_their_jwks_key_by_kid(
    es_verifier: JwtVerifier, ec_keys: dict[str, ec.EllipticCurvePrivateKey]
) -> None:
    for kid, key in ec_keys.items():
        token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": kid})
        assert es_verifier.verify(token) == EXPECTED


def test_optional_attrs_roles_deduplicated_and_string_attributes(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(
        claims(attrs=DROP, roles=["instructor", "analyst", "instructor"]), SECRET, algorithm="HS256"
    )
    principal = hs_verifier.verify(token)
    assert principal.roles == ("instructor", "analyst") and dict(principal.attributes) == {}
    token = jwt.encode(claims(attrs={"enterprise_id": "acme-corp"}), SECRET, algorithm="HS256")
    assert dict(hs_verifier.verify(token).attributes) == {"enterprise_id": "acme-corp"}


# --- key and algorithm confusion -------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_tokens_are_refused(
    alg: str, hs_verifier: JwtVerifier, rs_verifier: JwtVerifier, es_verifier: JwtVerifier
) -> None:
    for verifier in (hs_verifier, rs_verifier, es_verifier):
        token = forge({"alg": alg, "typ": "JWT", "kid": "k1"}, claims())
        assert "algorithm" in rejected(verifier, token).reason


def test_hs256_signed_with_the_public_key_pem_is_refused(rs_verifier: JwtVerifier, rsa_pem: Path) -> None:
    token = hs256(claims(), key=rsa_pem.read_bytes())
    assert rejected(rs_verifier, token).reason == "the token's algorithm is not accepted"
    # With the PEM's trailing newline stripped too: the usual variant of the attack.
    assert rejected(rs_verifier, hs256(claims(), key=rsa_pem.read_bytes().strip()))


def test_hs256_signed_with_the_jwks_public_key_is_refused(es_verifier: JwtVerifier, jwks_file: Path) -> None:
    jwk = json.loads(jwks_file.read_text())["keys"][0]
    token = forge(
        {"alg": "HS256", "kid": "k1"},
        claims(),
        lambda data: hmac.digest(json.dumps(jwk).encode(), data, hashlib.sha256),
    )
    assert rejected(es_verifier, token).reason == "the token's algorithm is not accepted"


def test_an_algorithm_the_key_does_not_use_is_refused(
    rs_verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey, hs_verifier: JwtVerifier
) -> None:
    # RS512 is the right key family but not pinned (the default is RS256).
    assert rejected(rs_verifier, jwt.encode(claims(), rsa_key, algorithm="RS512"))
    assert rejected(hs_verifier, jwt.encode(claims(), SECRET * 2, algorithm="HS512"))


def test_unknown_kid_and_wrong_key_are_refused(
    es_verifier: JwtVerifier, ec_keys: dict[str, ec.EllipticCurvePrivateKey]
) -> None:
    token = jwt.encode(claims(), ec_keys["k1"], algorithm="ES256", headers={"kid": "k9"})
    assert rejected(es_verifier, token).reason == "the token's key id (kid) is not known"
    # Two keys in the set: a token without kid matches none of them.
    assert rejected(es_verifier, jwt.encode(claims(), ec_keys["k1"], algorithm="ES256"))
    token = jwt.encode(claims(), ec_keys["k2"], algorithm="ES256", headers={"kid": "k1"})
    assert rejected(es_verifier, token).reason == "the token's signature is not valid"
    token = forge({"alg": "ES256", "kid": 5}, claims(), lambda data: b"x" * 64)
    assert rejected(es_verifier, token)


def test_wrong_secret_is_refused(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(), SECRET + "x", algorithm="HS256")
    assert rejected(hs_verifier, token).reason == "the token's signature is not valid"


# --- claims ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FromNow:
    seconds: int


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": _FromNow(-120)}, "the token has expired"),
        ({"exp": DROP}, "the token lacks the exp claim"),
        ({"aud": DROP}, "the token lacks the aud claim"),
        ({"iss": DROP}, "the token lacks the iss claim"),
        ({"sub": DROP}, "the token lacks the sub claim"),
        ({"tenant": DROP}, "the token lacks the tenant claim"),
        ({"roles": DROP}, "the token lacks the roles claim"),
        ({"aud": "someone-else"}, "the token is meant for another audience"),
        ({"aud": ["cohort", "someone-else"]}, "the token is meant for another audience"),
        ({"iss": "https://evil.example"}, "the token comes from an issuer that is not trusted"),
        ({"nbf": _FromNow(120)}, "the token is not valid yet"),
        ({"iat": _FromNow(120)}, "the token is not valid yet"),
    ],
)
def test_claim_checks(hs_verifier: JwtVerifier, overrides: dict[str, Any], reason: str) -> None:
    # Times are taken when the test runs, not when it is collected (minutes earlier in a full run).
    resolved = {
        k: int(time.time()) + v.seconds if isinstance(v, _FromNow) else v for k, v in overrides.items()
    }
    assert rejected(hs_verifier, hs256(claims(**resolved))).reason == reason


@pytest.mark.parametrize(
    "overrides",
    [
        {"roles": "instructor"},
        {"roles": []},
        {"roles": [1]},
        {"roles": ["instructor,admin"]},
        {"roles": ["role:admin"]},
        {"roles": {"instructor": True}},
        {"tenant": "acme,*"},
        {"tenant": "*"},
        {"tenant": "a:b"},
        {"tenant": ""},
        {"tenant": 7},
        {"tenant": ["northbridge"]},
        {"sub": 42},
        {"sub": ""},
        {"sub": "has space"},
        {"attrs": ["instructor_id", 12]},
        {"attrs": {"instructor_id": 1.5}},
        {"attrs": {"instructor_id": True}},
        {"attrs": {"instructor_id": {"$gt": 0}}},
        {"attrs": {"instructor_id": 2**64}},
        {"attrs": {"Bad-Key": 1}},
        {"exp": str(int(time.time()) + 300)},
        {"exp": True},
        {"nbf": "0"},
        {"iat": "yesterday"},
    ],
    ids=repr,
)
def test_invalid_claim_values_are_invalid_tokens(hs_verifier: JwtVerifier, overrides: dict[str, Any]) -> None:
    error = rejected(hs_verifier, hs256(claims(**overrides)))
    for value in ("acme,*", "a:b", "role:admin", "has space", "yesterday"):
        assert value not in error.reason  # values from the token are never echoed


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "not a token at all",
        "aaaa.bbbb",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJIUzI1NiJ9..",
        "e30.e30.",  # {} header, {} payload
        "!!!!.????.####",
        "eyJhbGciOiJIUzI1NiJ9.é.abc",
        "eyJhbGciOiJIUzI1NiJ9.\udcff.abc",  # a lone surrogate: not encodable as UTF-8
        "\x00\x01\x02",
        "a" * (MAX_TOKEN_CHARS + 1024),
    ],
    ids=lambda token: repr(token[:24]),
)
def test_malformed_tokens(hs_verifier: JwtVerifier, token: str) -> None:
    rejected(hs_verifier, token)


def test_nine_kib_token_is_refused_before_parsing(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(attrs={"padding": "x" * 200}, pad=["y" * 200] * 45), SECRET, algorithm="HS256")
    assert len(token) > MAX_TOKEN_CHARS
    assert rejected(hs_verifier, token).reason == f"the token is longer than {MAX_TOKEN_CHARS} characters"


def test_valid_token_with_non_ascii_appended(hs_verifier: JwtVerifier) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert rejected(hs_verifier, token + "ü").reason == "the token is malformed"
    assert rejected(hs_verifier, token.replace(".", ".\u200b", 1)).reason == "the token is malformed"


@pytest.mark.parametrize("payload", [[], [1, 2], "text", 12, None])
def test_signed_json_that_is_not_an_object(hs_verifier: JwtVerifier, payload: Any) -> None:
    assert rejected(hs_verifier, hs256(payload)).reason == "the token is malformed"


def test_header_that_is_not_an_object(hs_verifier: JwtVerifier) -> None:
    token = f"{b64(b'[1]')}.{b64(json.dumps(claims()).encode())}.{b64(b'x' * 32)}"
    assert rejected(hs_verifier, token).reason == "the token is malformed"


def test_non_string_input_is_an_authentication_error(hs_verifier: JwtVerifier) -> None:
    with pytest.raises(AuthenticationError):
        hs_verifier.verify(b"abc.def.ghi")  # type: ignore[arg-type]


# --- leeway ----------------------------------------------------------------------------------


def test_leeway_is_honoured(tmp_path: Path) -> None:
    now = int(time.time())
    lenient = JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_leeway_s=30), tmp_path)
    strict = JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_leeway_s=0), tmp_path)
    for token in (hs256(claims(exp=now - 10)), hs256(claims(nbf=now + 10)), hs256(claims(iat=now + 10))):
        assert lenient.verify(token).tenant == "northbridge"
        rejected(strict, token)
    widest = JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_leeway_s=60), tmp_path)
    assert rejected(widest, hs256(claims(exp=now - 90))).reason == "the token has expired"
    assert rejected(widest, hs256(claims(nbf=now + 90))).reason == "the token is not valid yet"


def test_leeway_above_sixty_seconds_is_a_settings_error() -> None:
    with pytest.raises(SettingsError):
        AuthSettings(jwt_secret=SECRET, jwt_leeway_s=61)


# --- configuration ---------------------------------------------------------------------------


def test_secret_and_public_key_together_is_a_startup_error(rsa_pem: Path, jwks_file: Path) -> None:
    for settings in (
        AuthSettings(jwt_secret=SECRET, jwt_public_key_file=rsa_pem),
        AuthSettings(jwt_secret=SECRET, jwt_jwks_file=jwks_file),
        AuthSettings(jwt_public_key_file=rsa_pem, jwt_jwks_file=jwks_file),
    ):
        with pytest.raises(SettingsError, match="one JWT key source"):
            JwtVerifier(settings, rsa_pem.parent)


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "HS256"), ("none",), ("ES256",)])
def test_algorithms_a_public_key_cannot_use_are_startup_errors(
    rsa_pem: Path, algorithms: tuple[str, ...]
) -> None:
    with pytest.raises(SettingsError):
        JwtVerifier(AuthSettings(jwt_public_key_file=rsa_pem, jwt_algorithms=algorithms), rsa_pem.parent)


@pytest.mark.parametrize("algorithms", [("RS256",), ("none",), ("HS256", "ES256")])
def test_algorithms_a_secret_cannot_use_are_startup_errors(
    tmp_path: Path, algorithms: tuple[str, ...]
) -> None:
    with pytest.raises(SettingsError):
        JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_algorithms=algorithms), tmp_path)


def test_short_secret_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        JwtVerifier(AuthSettings(jwt_secret="short"), tmp_path)
    with pytest.raises(SettingsError, match="at least 64 bytes"):
        JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_algorithms=("HS512",)), tmp_path)


def test_algorithms_narrow_what_is_accepted(rsa_pem: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = JwtVerifier(
        AuthSettings(jwt_public_key_file=rsa_pem, jwt_algorithms=("PS256",)), rsa_pem.parent
    )
    assert verifier.verify(jwt.encode(claims(), rsa_key, algorithm="PS256")) == EXPECTED
    rejected(verifier, jwt.encode(claims(), rsa_key, algorithm="RS256"))


def test_bad_key_files_are_startup_errors(tmp_path: Path) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = tmp_path / "small.pem"
    pem.write_bytes(
        small.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    oct_set = tmp_path / "oct.json"
    oct_set.write_text(json.dumps({"keys": [{"kty": "oct", "k": b64(b"x" * 32), "kid": "s"}]}))
    private_set = tmp_path / "private.json"
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_set.write_text(
        json.dumps({"keys": [{**ECAlgorithm.to_jwk(private_key, as_dict=True), "kid": "p"}]})
    )
    for settings in (
        AuthSettings(jwt_public_key_file=pem),
        AuthSettings(jwt_public_key_file=garbage),
        AuthSettings(jwt_public_key_file=tmp_path / "missing.pem"),
        AuthSettings(jwt_jwks_file=oct_set),
        AuthSettings(jwt_jwks_file=private_set),
        AuthSettings(jwt_jwks_file=garbage),
    ):
        with pytest.raises(SettingsError):
            JwtVerifier(settings, tmp_path)


def test_a_jwks_of_one_key_accepts_tokens_without_kid(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [ECAlgorithm.to_jwk(key.public_key(), as_dict=True)]}))
    verifier = JwtVerifier(AuthSettings(jwt_jwks_file=path), tmp_path)
    assert verifier.verify(jwt.encode(claims(), key, algorithm="ES384")) == EXPECTED


# --- the development secret ------------------------------------------------------------------


def test_dev_secret_is_created_once_private_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = JwtVerifier(AuthSettings(), tmp_path)
    path = tmp_path / "jwt-dev-secret"
    assert first.keys.dev_secret == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(path.read_text().strip())) == 32
    assert any("development secret" in record.getMessage() for record in caplog.records)
    content, modified = path.read_bytes(), path.stat().st_mtime_ns

    token = mint_token(AuthSettings(), tmp_path, subject="dev", tenant="northbridge", roles=["instructor"])
    second = JwtVerifier(AuthSettings(), tmp_path)
    assert path.read_bytes() == content and path.stat().st_mtime_ns == modified
    assert second.verify(token).subject == "user:dev"
    assert first.verify(token).tenant == "northbridge"
    assert [p.name for p in tmp_path.iterdir()] == ["jwt-dev-secret"]  # no temporary files left


def test_a_readable_dev_secret_is_made_private(tmp_path: Path) -> None:
    JwtVerifier(AuthSettings(), tmp_path)
    path = tmp_path / "jwt-dev-secret"
    os.chmod(path, 0o644)
    JwtVerifier(AuthSettings(), tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_corrupt_dev_secret_is_a_startup_error(tmp_path: Path) -> None:
    (tmp_path / "jwt-dev-secret").write_text("not hex")
    os.chmod(tmp_path / "jwt-dev-secret", 0o600)
    with pytest.raises(SettingsError, match="delete it"):
        JwtVerifier(AuthSettings(), tmp_path)


def test_a_configured_secret_uses_no_dev_secret(tmp_path: Path) -> None:
    verifier = JwtVerifier(AuthSettings(jwt_secret=SECRET), tmp_path)
    assert verifier.keys.dev_secret is None and not (tmp_path / "jwt-dev-secret").exists()


# --- mint_token ------------------------------------------------------------------------------


def test_mint_token_signs_with_the_configured_secret(hs_verifier: JwtVerifier, tmp_path: Path) -> None:
    token = mint_token(
        AuthSettings(jwt_secret=SECRET),
        tmp_path,
        subject="auth0|u-42",
        tenant="northbridge",
        roles=["instructor"],
        attrs={"instructor_id": 12},
        expires_in_s=60,
    )
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert hs_verifier.verify(token) == EXPECTED


def test_mint_token_refuses_asymmetric_setups_and_bad_names(rsa_pem: Path, tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        mint_token(AuthSettings(jwt_public_key_file=rsa_pem), tmp_path, subject="a", tenant="t", roles=["r"])
    with pytest.raises(ValueError):
        mint_token(AuthSettings(jwt_secret=SECRET), tmp_path, subject="a", tenant="acme,*", roles=["r"])
    with pytest.raises(ValueError):
        mint_token(AuthSettings(jwt_secret=SECRET), tmp_path, subject="a", tenant="t", roles=[])


def test_dev_token_command_prints_a_verifiable_jwt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from api.cli_tokens import dev_token

    for name in (
        "COHORT_JWT_SECRET",
        "COHORT_JWT_PUBLIC_KEY_FILE",
        "COHORT_JWT_JWKS_FILE",
        "COHORT_JWT_ALGORITHMS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COHORT_DATA_DIR", str(tmp_path))
    app = typer.Typer()
    app.command()(dev_token)
    args = [
        "--tenant",
        "northbridge",
        "--role",
        "instructor",
        "--attr",
        "instructor_id=12",
        "--expires-in",
        "2h",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    principal = JwtVerifier(AuthSettings(), tmp_path).verify(result.stdout.strip())
    assert principal == Principal("user:dev", "northbridge", ("instructor",), {"instructor_id": 12})
    assert jwt.decode(result.stdout.strip(), options={"verify_signature": False})["exp"] > time.time() + 7000

    result = CliRunner().invoke(app, ["--tenant", "Bad*", "--role", "instructor"])
    assert result.exit_code == 2
    monkeypatch.setenv("COHORT_JWT_JWKS_FILE", str(tmp_path / "jwks.json"))
    result = CliRunner().invoke(app, ["--tenant", "northbridge", "--role", "instructor"])
    assert result.exit_code == 1 and "public keys" in result.stderr


def test_each_data_folder_gets_its_own_dev_secret(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    JwtVerifier(AuthSettings(), a)
    JwtVerifier(AuthSettings(), b)
    assert (a / "jwt-dev-secret").read_text() != (b / "jwt-dev-secret").read_text()
