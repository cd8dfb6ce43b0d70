"""API tokens on the real test database: format, storage (hash only), verify, revoke, expiry,
last-used throttling, the CLI; and the Authenticator that routes a header to JWT or API token."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from api.auth.api_tokens import ApiTokenRecord, ApiTokenStore, checksum_ok, new_token, token_hash
from api.auth.authenticator import Authenticator
from api.auth.errors import AuthenticationError
from api.auth.jwt_verifier import JwtVerifier
from api.auth.token_format import CHECKSUM_CHARS, PREFIX, RANDOM_BYTES, RANDOM_CHARS, TOKEN_LENGTH
from api.cli_tokens import tokens_app
from api.settings import AuthSettings
from authz.principal import Principal

BASE62 = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789"


def tenant_name() -> str:
    """A tenant of its own per test: the session database is shared."""
    return f"partner-{uuid.uuid4().hex[:12]}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def counted_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def last_used(engine: AsyncEngine, token_id: int) -> datetime | None:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("select last_used_at from cohort.api_tokens where id = :id"), {"id": token_id}
        )
    assert value is None or isinstance(value, datetime)
    return value


# --- format ----------------------------------------------------------------------------------


def test_token_format() -> None:
    token = new_token()
    assert token.startswith("cohort_") and PREFIX == "cohort_"
    assert len(token) == TOKEN_LENGTH == len(PREFIX) + RANDOM_CHARS + CHECKSUM_CHARS == 46
    assert set(token[len(PREFIX) :]) <= BASE62
    assert checksum_ok(token)
    assert RANDOM_BYTES * 8 >= 160 and 62**RANDOM_CHARS >= 2 ** (RANDOM_BYTES * 8)
    assert len({new_token() for _ in range(2000)}) == 2000
    assert token_hash(token) == hashlib.sha256(token.encode()).digest()


def test_every_single_character_change_fails_the_checksum() -> None:
    token = new_token()
    for position in range(len(PREFIX), len(token)):
        for replacement in "0aZ9":
            if token[position] != replacement:
                assert not checksum_ok(token[:position] + replacement + token[position + 1 :])
    swapped = token[:10] + token[11] + token[10] + token[12:]
    assert swapped == token or not checksum_ok(swapped)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],
        lambda t: t + "a",
        lambda t: t[:20],
        lambda t: t.upper(),
        lambda t: "cohort-" + t[7:],
        lambda t: " " + t,
        lambda t: t[:30] + "é" + t[31:],
        lambda t: "",
    ],
)
def test_mangled_tokens_fail_the_checksum(mangle: Any) -> None:
    assert not checksum_ok(mangle(new_token()))
    assert not checksum_ok(None) and not checksum_ok(12)


# --- the store -------------------------------------------------------------------------------


async def test_a_flipped_character_is_rejected_without_a_query(engine: AsyncEngine) -> None:
    store = ApiTokenStore(engine)
    token, _ = await store.create("flip", tenant_name(), ["partner-api"])
    flipped = token[:-3] + ("a" if token[-3] != "a" else "b") + token[-2:]
    with counted_statements(engine) as statements:
        with pytest.raises(AuthenticationError, match="malformed"):
            await store.verify(flipped)
        with pytest.raises(AuthenticationError, match="malformed"):
            await store.verify(token[:-1])
    assert statements == []


async def test_create_then_verify_gives_the_principal(engine: AsyncEngine) -> None:
    tenant = tenant_name()
    store = ApiTokenStore(engine)
    expires = datetime.now(UTC) + timedelta(days=90)
    token, record = await store.create(
        "  warehouse sync  ",
        tenant,
        ["partner-api", "analyst"],
        {"partner_id": "northbridge", "region": 3},
        expires,
    )
    assert record.name == "warehouse sync" and record.tenant == tenant
    assert record.roles == ("partner-api", "analyst")
    assert dict(record.attributes) == {"partner_id": "northbridge", "region": 3}
    assert record.expires_at == expires and record.revoked_at is None and record.last_used_at is None
    assert record.display == f"cohort_...{token[-4:]}" and record.last_four == token[-4:]
    principal = await store.verify(token)
    assert principal == Principal(
        subject=f"token:{record.id}",
        tenant=tenant,
        roles=("partner-api", "analyst"),
        attributes={"partner_id": "northbridge", "region": 3},
        kind="api_token",
    )


async def test_the_database_stores_only_the_hash(engine: AsyncEngine) -> None:
    token, record = await ApiTokenStore(engine).create("hash only", tenant_name(), ["partner-api"])
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("select t::text as whole, t.token_hash from cohort.api_tokens t where id = :id"),
                {"id": record.id},
            )
        ).one()
    random_part = token[len(PREFIX) : len(PREFIX) + RANDOM_CHARS]
    for secret in (token, random_part, random_part[:16], random_part[-16:]):
        assert secret not in row.whole
    assert bytes(row.token_hash) == hashlib.sha256(token.encode()).digest()


async def test_revocation_takes_effect_after_the_cache_ttl(engine: AsyncEngine) -> None:
    clock = FakeClock()
    store = ApiTokenStore(engine, cache_ttl_s=5, clock=clock)
    elsewhere = ApiTokenStore(engine)  # another worker or the CLI
    token, record = await store.create("to revoke", tenant_name(), ["partner-api"])
    assert (await store.verify(token)).subject == f"token:{record.id}"

    assert await elsewhere.revoke(record.id) is True
    assert await elsewhere.revoke(record.id) is False  # already revoked
    with counted_statements(engine) as statements:
        clock.now += 4.9
        assert (await store.verify(token)).tenant == record.tenant  # cached: at most the TTL
    assert statements == []
    clock.now += 0.2
    with pytest.raises(AuthenticationError, match="revoked"):
        await store.verify(token)
    with pytest.raises(AuthenticationError, match="revoked"):
        await elsewhere.verify(token)


async def test_revoking_in_the_same_process_takes_effect_at_once(engine: AsyncEngine) -> None:
    store = ApiTokenStore(engine, cache_ttl_s=3600)
    token, record = await store.create("instant", tenant_name(), ["partner-api"])
    await store.verify(token)
    assert await store.revoke(record.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        await store.verify(token)
    assert await store.revoke(10**12) is False


async def test_expired_tokens_are_rejected(engine: AsyncEngine) -> None:
    store = ApiTokenStore(engine)
    token, record = await store.create(
        "short", tenant_name(), ["partner-api"], expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    async with engine.begin() as conn:
        await conn.execute(
            text("update cohort.api_tokens set expires_at = now() - interval '1 minute' where id = :id"),
            {"id": record.id},
        )
    with pytest.raises(AuthenticationError, match="expired"):
        await ApiTokenStore(engine).verify(token)


async def test_a_cached_token_still_expires_on_time(engine: AsyncEngine) -> None:
    clock = FakeClock()
    store = ApiTokenStore(engine, cache_ttl_s=3600, clock=clock)
    token, _ = await store.create(
        "soon", tenant_name(), ["partner-api"], expires_at=datetime.now(UTC) + timedelta(seconds=1.5)
    )
    await store.verify(token)
    await asyncio.sleep(1.6)
    with pytest.raises(AuthenticationError, match="expired"):
        await store.verify(token)


async def test_unknown_tokens_are_rejected(engine: AsyncEngine) -> None:
    with pytest.raises(AuthenticationError, match="not recognised") as caught:
        await ApiTokenStore(engine).verify(new_token())
    assert caught.value.error == "invalid_token"


async def test_invalid_creations_are_refused(engine: AsyncEngine) -> None:
    store = ApiTokenStore(engine)
    tenant = tenant_name()
    for kwargs in (
        {"name": "x", "tenant": "acme,*", "roles": ["partner-api"]},
        {"name": "x", "tenant": tenant, "roles": []},
        {"name": "x", "tenant": tenant, "roles": ["*"]},
        {"name": "", "tenant": tenant, "roles": ["partner-api"]},
        {"name": "x", "tenant": tenant, "roles": ["partner-api"], "attributes": {"id": 1.5}},
        {"name": "x", "tenant": tenant, "roles": ["r"], "expires_at": datetime.now(UTC) - timedelta(1)},
        {"name": "x", "tenant": tenant, "roles": ["r"], "expires_at": datetime.now() + timedelta(1)},  # naive
    ):
        with pytest.raises(ValueError):
            await store.create(**kwargs)
    assert await store.list(tenant) == []


async def test_last_used_at_is_updated_but_throttled(engine: AsyncEngine) -> None:
    uncached = ApiTokenStore(engine, cache_ttl_s=0)
    token, record = await uncached.create("busy", tenant_name(), ["partner-api"])
    assert await last_used(engine, record.id) is None

    await uncached.verify(token)
    first = await last_used(engine, record.id)
    assert first is not None
    with counted_statements(engine) as statements:
        for _ in range(5):
            await uncached.verify(token)
    assert await last_used(engine, record.id) == first
    assert len(statements) >= 5  # one lookup per verify (no cache), and no write
    assert not any(statement.lstrip().lower().startswith("update") for statement in statements)

    eager = ApiTokenStore(engine, cache_ttl_s=0, touch_interval_s=0.05)
    await asyncio.sleep(0.1)
    await eager.verify(token)
    second = await last_used(engine, record.id)
    assert second is not None and second > first


async def test_list_never_exposes_hashes(engine: AsyncEngine) -> None:
    store = ApiTokenStore(engine)
    tenant, other = tenant_name(), tenant_name()
    token_a, a = await store.create("a", tenant, ["partner-api"])
    _, b = await store.create("b", tenant, ["analyst"], {"enterprise_id": "acme"})
    await store.create("c", other, ["partner-api"])
    await store.revoke(b.id)

    records = await store.list(tenant)
    assert [record.id for record in records] == [a.id, b.id]
    assert records[1].revoked_at is not None and records[1].attributes == {"enterprise_id": "acme"}
    assert "token_hash" not in {field.name for field in fields(ApiTokenRecord)}
    for record in records:
        values = [getattr(record, field.name) for field in fields(ApiTokenRecord)]
        assert token_hash(token_a) not in values and token_a not in values
        assert not any(isinstance(value, bytes | bytearray | memoryview) for value in values)
    everything = await store.list()
    assert {a.id, b.id} <= {record.id for record in everything}


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")  # not contacted; avoids an embedded one
    monkeypatch.setenv("COHORT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "250")


async def cli(*args: str) -> Result:
    # The CLI runs its own event loop (asyncio.run): give it a thread, away from the test's loop.
    return await asyncio.to_thread(CliRunner().invoke, tokens_app, list(args))


async def test_cli_create_list_revoke(cli_env: None, engine: AsyncEngine) -> None:
    tenant = tenant_name()
    created = await cli(
        "create",
        "--tenant",
        tenant,
        "--role",
        "partner-api",
        "--role",
        "analyst",
        "--name",
        "acme sync",
        "--attr",
        "partner_id=northbridge",
        "--attr",
        "region=3",
        "--expires-in",
        "90d",
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert checksum_ok(token) and "\n" not in token
    assert "shown only once" in created.stderr

    store = ApiTokenStore(engine)
    principal = await store.verify(token)
    assert principal.tenant == tenant and principal.roles == ("partner-api", "analyst")
    assert dict(principal.attributes) == {"partner_id": "northbridge", "region": 3}
    (record,) = await store.list(tenant)
    assert record.expires_at is not None
    assert timedelta(days=89) < record.expires_at - datetime.now(UTC) <= timedelta(days=90)

    listed = await cli("list", "--tenant", tenant)
    assert listed.exit_code == 0, listed.output
    assert "acme sync" in listed.stdout and tenant in listed.stdout and str(record.id) in listed.stdout
    assert record.display in listed.stdout and token not in listed.stdout
    assert token_hash(token).hex() not in listed.stdout

    revoked = await cli("revoke", str(record.id))
    assert revoked.exit_code == 0, revoked.output
    again = await cli("revoke", str(record.id))
    assert again.exit_code == 1 and "no active API token" in again.stderr
    with pytest.raises(AuthenticationError, match="revoked"):
        await ApiTokenStore(engine).verify(token)


@pytest.mark.parametrize(
    "args",
    [
        ["--role", "partner-api", "--name", "x", "--expires-in", "5y"],
        ["--role", "partner-api", "--name", "x", "--expires-in", "0d"],
        ["--role", "part ner", "--name", "x"],
        ["--role", "partner-api", "--name", "x", "--attr", "novalue"],
        ["--role", "partner-api", "--name", "x", "--attr", "Bad-Key=1"],
        ["--name", "x"],
    ],
)
async def test_cli_refuses_bad_input(cli_env: None, args: list[str]) -> None:
    result = await cli("create", "--tenant", tenant_name(), *args)
    assert result.exit_code == 2, result.output
    assert not checksum_ok(result.stdout.strip())


# --- the Authenticator -----------------------------------------------------------------------


@pytest.fixture
def authenticator(engine: AsyncEngine, tmp_path: Path) -> Authenticator:
    return Authenticator(JwtVerifier(AuthSettings(jwt_secret=SECRET), tmp_path), ApiTokenStore(engine))


def jwt_for(tenant: str) -> str:
    now = datetime.now(UTC)
    payload = {"iss": "cohort", "aud": "cohort", "sub": "u1", "tenant": tenant, "roles": ["instructor"]}
    return jwt.encode({**payload, "exp": now + timedelta(minutes=5)}, SECRET, algorithm="HS256")


async def test_authenticator_routes_jwts_and_api_tokens(authenticator: Authenticator) -> None:
    principal = await authenticator.authenticate(f"Bearer {jwt_for('northbridge')}")
    assert principal.kind == "jwt" and principal.subject == "user:u1"
    assert (await authenticator.authenticate(f"bearer   {jwt_for('northbridge')}  ")).tenant == "northbridge"
    token, record = await authenticator.tokens.create("routed", tenant_name(), ["partner-api"])
    principal = await authenticator.authenticate(f"BEARER {token}")
    assert principal.kind == "api_token" and principal.subject == f"token:{record.id}"


@pytest.mark.parametrize("header", [None, "", "   "])
async def test_no_credentials_get_the_bare_challenge(
    authenticator: Authenticator, header: str | None
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await authenticator.authenticate(header)
    assert caught.value.error is None and caught.value.status_code == 401
    assert caught.value.challenge == 'Bearer realm="cohort"'


async def test_other_schemes_and_malformed_headers(authenticator: Authenticator) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await authenticator.authenticate("Basic dXNlcjpwYXNz")
    assert caught.value.challenge == 'Bearer realm="cohort"' and "Bearer" in caught.value.reason
    for header in ("Bearer", "Bearer a b", f"Bearer {new_token()} {new_token()}"):
        with pytest.raises(AuthenticationError) as caught:
            await authenticator.authenticate(header)
        assert caught.value.error == "invalid_request" and caught.value.status_code == 400
        assert caught.value.challenge.startswith('Bearer realm="cohort", error="invalid_request"')


async def test_rejected_tokens_get_the_invalid_token_challenge(authenticator: Authenticator) -> None:
    for header in (
        f"Bearer {jwt_for('acme,*')}",
        f"Bearer {new_token()}",
        "Bearer cohort_nope",
        "Bearer x.y.z",
    ):
        with pytest.raises(AuthenticationError) as caught:
            await authenticator.authenticate(header)
        challenge = caught.value.challenge
        assert challenge.startswith('Bearer realm="cohort", error="invalid_token", error_description="')
        assert header.split()[1] not in challenge and challenge.count('"') == 6
