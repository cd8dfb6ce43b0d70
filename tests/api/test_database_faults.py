"""PostgreSQL down or frozen, for real: the app talks to the test database through a TCP
proxy that the tests freeze (nothing is forwarded any more, as with a SIGSTOPped server)
or take down (connections dropped, new ones refused). Every request must be answered
within seconds with a clear code, and the app must recover by itself once the database
is back. The timeouts are short here (about 0.5 to 1 s); each request is given a deadline
well above them (`answer`), so a hang fails the test instead of stalling it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.api_tokens import ApiTokenStore
from api.settings import Settings
from authz.enforcer import PolicyEnforcer
from authz.policy_store import PolicyHolder, PolicyStore
from cache.freshness import Freshness
from resolvers.compiler import CompiledQuery
from resolvers.database import DatabaseTimeouts, DatabaseUnavailable, bounded
from resolvers.executor import Executor, create_engine
from schema.spec import Refresh
from tests.faults import PausableProxy, PrivatePostgres, pausable_proxy, private_postgres
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

DEADLINE_S = 8.0  # far above the timeouts configured below: reaching it means a hang
QUERY = "{ courses { count } }"


def short_timeouts(settings: Settings) -> Settings:
    return replace(
        settings,
        db_connect_timeout_ms=500,
        db_command_timeout_ms=500,
        db_lookup_timeout_ms=1_000,
        statement_timeout_ms=1_000,
        pool_timeout_s=1,
        pool_size=2,
        pool_max_overflow=1,
    )


async def answer(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The response, which must arrive before DEADLINE_S."""
    async with asyncio.timeout(DEADLINE_S):
        return await client.request(method, path, **kwargs)


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[PausableProxy]:
    async with pausable_proxy(database_url) as proxy:
        yield proxy


@pytest.fixture
async def api_token(engine: AsyncEngine) -> str:
    token, _ = await ApiTokenStore(engine).create(
        "faults", f"partner-{uuid.uuid4().hex[:8]}", ["platform_admin"]
    )
    return token


@pytest.fixture
async def client(
    settings: Settings, database_url: str, proxy: PausableProxy, mint: Mint
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"authorization": f"Bearer {mint()}"}
    async with serving(short_timeouts(settings), proxy.url(database_url), headers) as client:
        # Every request looks its API token up (no in-process cache), so each one meets the fault.
        client.app.state.cohort.authenticator.tokens.cache_ttl_s = 0  # type: ignore[attr-defined]
        yield client


def assert_token_lookup_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "API token" in error["message"]


def assert_query_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None or body["data"]["courses"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]


async def assert_served(client: httpx.AsyncClient, token: str | None = None) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await answer(client, "POST", "/graphql", json={"query": QUERY}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["courses"][0]["count"] > 0


@pytest.mark.parametrize("fault", ["down", "frozen"])
async def test_api_token_lookup_is_503_with_retry_after_then_recovers(
    client: httpx.AsyncClient, proxy: PausableProxy, api_token: str, fault: str
) -> None:
    await assert_served(client, api_token)
    if fault == "down":
        await proxy.down()
    else:
        proxy.freeze()
    headers = {"authorization": f"Bearer {api_token}"}
    for _ in range(2):  # the second meets the pool's broken or frozen connections too
        response = await answer(client, "POST", "/graphql", json={"query": QUERY}, headers=headers)
        assert_token_lookup_unavailable(response)
    await proxy.up()
    proxy.resume()
    await assert_served(client, api_token)  # the same app, not restarted


@pytest.mark.parametrize("fault", ["down", "frozen"])
async def test_a_query_gets_service_unavailable_then_recovers(
    client: httpx.AsyncClient, proxy: PausableProxy, fault: str
) -> None:
    await assert_served(client)
    if fault == "down":
        await proxy.down()
    else:
        proxy.freeze()
    for _ in range(2):
        assert_query_unavailable(await answer(client, "POST", "/graphql", json={"query": QUERY}))
    ready = await answer(client, "GET", "/readyz")
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    await proxy.up()
    proxy.resume()
    await assert_served(client)
    assert (await answer(client, "GET", "/readyz")).status_code == 200


async def test_concurrent_requests_on_a_frozen_database_are_all_answered(
    client: httpx.AsyncClient, proxy: PausableProxy
) -> None:
    """More requests than the pool has connections (2 + 1 overflow here): the ones waiting
    for a connection are answered too."""
    await assert_served(client)
    proxy.freeze()
    responses = await asyncio.gather(
        *(answer(client, "POST", "/graphql", json={"query": QUERY}) for _ in range(12))
    )
    for response in responses:
        assert_query_unavailable(response)
    proxy.resume()
    await assert_served(client)


async def test_the_app_starts_on_a_frozen_database_and_recovers_by_itself(
    settings: Settings, database_url: str, proxy: PausableProxy, mint: Mint
) -> None:
    """Start-up cannot read the policy: queries are refused (SERVICE_UNAVAILABLE, never
    another tenant's data) until the reload loop reads it, once the database is back."""
    proxy.freeze()
    started = replace(short_timeouts(settings), policy_reload_interval_s=0.2)
    headers = {"authorization": f"Bearer {mint()}"}
    async with asyncio.timeout(DEADLINE_S):
        context = serving(started, proxy.url(database_url), headers)
        client = await context.__aenter__()
    try:
        assert_query_unavailable(await answer(client, "POST", "/graphql", json={"query": QUERY}))
        proxy.resume()
        for _ in range(50):
            response = await answer(client, "POST", "/graphql", json={"query": QUERY})
            if "errors" not in response.json():
                break
            await asyncio.sleep(0.1)
        await assert_served(client)
    finally:
        await context.__aexit__(None, None, None)


# --- the pieces on their own ------------------------------------------------------------


TIMEOUTS = DatabaseTimeouts(connect_s=0.5, command_s=0.5, statement_s=1.0, pool_s=1.0, lookup_s=1.0)


@pytest.fixture
async def proxied_engine(database_url: str, proxy: PausableProxy) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(proxy.url(database_url), TIMEOUTS, pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_a_query_frozen_midway_is_given_up_after_the_statement_timeout(
    proxied_engine: AsyncEngine, proxy: PausableProxy
) -> None:
    """The server would cancel it at the statement timeout, but a frozen server cancels
    nothing: the client gives up a command timeout later and drops the connection."""
    executor = Executor(proxied_engine, timeouts=TIMEOUTS)
    slow = CompiledQuery("select 1 as one from pg_sleep(0.3)", (), ("one",))
    assert (await executor.run(slow)).rows[0][0] == 1
    running = asyncio.create_task(executor.run(slow))
    await asyncio.sleep(0.1)
    proxy.freeze()
    with pytest.raises(DatabaseUnavailable) as caught:
        async with asyncio.timeout(DEADLINE_S):
            await running
    assert caught.value.code == "SERVICE_UNAVAILABLE"
    proxy.resume()
    assert (await executor.run(slow)).rows[0][0] == 1


async def test_policy_reload_on_a_frozen_database_keeps_the_policy_in_force(
    proxied_engine: AsyncEngine, proxy: PausableProxy
) -> None:
    store = PolicyStore(proxied_engine, timeout_s=TIMEOUTS.lookup_s)
    holder = PolicyHolder(store, await store.load())
    in_force = holder.current
    proxy.freeze()
    with pytest.raises(Exception) as caught:  # whatever the fault, it ends
        async with asyncio.timeout(DEADLINE_S):
            await holder.refresh()
    assert not isinstance(caught.value, asyncio.CancelledError)
    assert holder.current is in_force
    proxy.resume()
    assert await holder.refresh() is False  # read again; nothing changed meanwhile
    never_loaded = PolicyHolder(store, PolicyEnforcer([], version=-1))
    assert await never_loaded.refresh() is True


async def test_freshness_checks_on_a_frozen_database_keep_the_last_value(
    proxied_engine: AsyncEngine, proxy: PausableProxy
) -> None:
    now = [1_000.0]
    freshness = Freshness(Executor(proxied_engine, timeouts=TIMEOUTS).scalar, clock=lambda: now[0])
    rule = Refresh(sql="select count(*) from courses", check_every=10)
    first = await freshness.token("courses", rule)
    proxy.freeze()
    now[0] += 11  # due for a check
    async with asyncio.timeout(DEADLINE_S):
        during = await freshness.token("courses", rule)
    assert during.value == first.value  # cached results keep being served
    with pytest.raises(DatabaseUnavailable):  # nothing known yet: the fault is reported
        async with asyncio.timeout(DEADLINE_S):
            await freshness.token("enrollments", Refresh(sql="select count(*) from enrollments"))
    proxy.resume()
    now[0] += 6  # past the retry delay
    assert (await freshness.token("courses", rule)).value == first.value


# --- a real server, every process of it stopped with SIGSTOP --------------------------------


@pytest.fixture(scope="module")
def stoppable() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


async def test_a_postgres_stopped_with_sigstop_is_answered_then_recovered(stoppable: PrivatePostgres) -> None:
    engine = create_engine(stoppable.url, TIMEOUTS, pool_size=2, max_overflow=0)
    executor = Executor(engine, timeouts=TIMEOUTS)
    one = CompiledQuery("select 1 as one", (), ("one",))
    try:
        assert (await executor.run(one)).rows[0][0] == 1
        stoppable.freeze()
        try:
            for _ in range(2):  # a pooled connection (pre-ping), then a new one
                with pytest.raises(DatabaseUnavailable):
                    async with asyncio.timeout(DEADLINE_S):
                        await executor.run(one)
            with pytest.raises(DatabaseUnavailable):
                async with asyncio.timeout(DEADLINE_S), bounded(engine, TIMEOUTS, "lookup") as conn:
                    await conn.exec_driver_sql("select 1")
        finally:
            stoppable.thaw()
        assert (await executor.run(one)).rows[0][0] == 1
    finally:
        await engine.dispose()
