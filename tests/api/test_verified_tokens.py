"""Verified JWTs are remembered for their lifetime and not a moment longer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from api.auth.errors import AuthenticationError
from api.auth.jwt_verifier import JwtVerifier
from api.auth.verified_tokens import VerifiedTokens
from api.settings import AuthSettings
from authz.principal import Principal

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _token(**claims: Any) -> str:
    now = time.time()
    payload = {"sub": "ada", "aud": "cohort", "iss": "cohort", "tenant": "acme", "roles": ["analyst"]}
    payload.update({"exp": now + 3600, **claims})
    return jwt.encode(payload, SECRET, algorithm="HS256")


def _counting(verifier: JwtVerifier) -> list[int]:
    calls = [0]
    claims = verifier._claims

    def counted(token: str) -> dict[str, Any]:
        calls[0] += 1
        return claims(token)

    verifier._claims = counted  # type: ignore[method-assign]
    return calls


def test_a_repeated_token_is_verified_once(tmp_path: Path) -> None:
    verifier = JwtVerifier(AuthSettings(jwt_secret=SECRET), tmp_path)
    calls = _counting(verifier)
    token = _token()
    principals = [verifier.verify(token) for _ in range(5)]
    assert calls[0] == 1 and all(p is principals[0] for p in principals)
    assert principals[0].tenant == "acme" and principals[0].subject == "user:ada"


def test_a_remembered_token_is_refused_once_it_expires(tmp_path: Path) -> None:
    verifier = JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_leeway_s=0), tmp_path)
    token = _token(exp=int(time.time()) + 1)
    verifier.verify(token)
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()) + 0.05)
    with pytest.raises(AuthenticationError, match="expired"):
        verifier.verify(token)


def test_a_token_like_a_remembered_one_is_verified_itself(tmp_path: Path) -> None:
    verifier = JwtVerifier(AuthSettings(jwt_secret=SECRET), tmp_path)
    token = _token()
    verifier.verify(token)
    header, payload, signature = token.split(".")
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "tenant": "other"}, "x" * 40
    )
    with pytest.raises(AuthenticationError):
        verifier.verify(f"{forged.split('.')[0]}.{forged.split('.')[1]}.{signature}")
    with pytest.raises(AuthenticationError):
        verifier.verify(f"{header}.{payload}.{signature[:-2]}AA")


def test_invalid_tokens_are_not_remembered(tmp_path: Path) -> None:
    verifier = JwtVerifier(AuthSettings(jwt_secret=SECRET, jwt_leeway_s=0), tmp_path)
    not_yet = _token(nbf=time.time() + 60)
    for _ in range(2):
        with pytest.raises(AuthenticationError, match="not valid yet"):
            verifier.verify(not_yet)
    assert len(verifier._verified) == 0


def test_the_memo_is_bounded_and_checks_the_interval() -> None:
    now = [1_000.0]
    memo = VerifiedTokens(max_tokens=3, clock=lambda: now[0])
    principal = Principal("user:ada", "acme", ("analyst",))
    for i in range(5):
        memo.remember(f"t{i}", principal, 900.0, 1_100.0)
    assert len(memo) == 3 and memo.get("t0") is None and memo.get("t4") == principal
    memo.remember("later", principal, 1_050.0, 1_100.0)
    assert memo.get("later") is None  # not valid yet
    now[0] = 1_100.0
    assert memo.get("t4") is None and len(memo) == 1  # valid until, not at, its end; forgotten then
