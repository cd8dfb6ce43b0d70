"""The warehouse connection can be a role that may only read: Cohort's own state lives in a
database of its own (COHORT_STATE_DATABASE_URL), and every request still works."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.auth.api_tokens import ApiTokenStore
from api.migrations import upgrade
from api.settings import Settings
from authz.policy_store import PolicyStore
from tests.databases import scratch_database
from tests.resolvers.oracle import oracle
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

READER = f"cohort_reader_{os.getpid()}"


@pytest.fixture(scope="module")
async def reader_url(database_url: str, engine: AsyncEngine) -> AsyncIterator[str]:
    """The session's warehouse, through a role granted SELECT and nothing else."""
    database = make_url(database_url).database
    async with engine.begin() as conn:
        await conn.execute(text(f"drop role if exists {READER}"))
        await conn.execute(text(f"create role {READER} login"))
        await conn.execute(text(f'grant connect on database "{database}" to {READER}'))
        await conn.execute(text(f"grant usage on schema public to {READER}"))
        await conn.execute(text(f"grant select on all tables in schema public to {READER}"))
    yield make_url(database_url).set(username=READER, password=None).render_as_string(hide_password=False)
    async with engine.begin() as conn:
        await conn.execute(text(f"drop owned by {READER}"))
        await conn.execute(text(f"drop role {READER}"))


@pytest.fixture(scope="module")
async def state_url(database_url: str) -> AsyncIterator[str]:
    """A database of Cohort's own, migrated, with the demo policy."""
    async with scratch_database(database_url, "own_state") as url:
        state = create_async_engine(url)
        await upgrade(state)
        await PolicyStore(state).seed()
        await state.dispose()
        yield url


async def test_the_reader_role_really_cannot_write(reader_url: str) -> None:
    reader = create_async_engine(reader_url)
    try:
        async with reader.connect() as conn:
            assert await conn.scalar(text("select count(*) from enrollments")) > 0
            with pytest.raises(ProgrammingError, match="permission denied"):
                await conn.execute(text("create table written (id int)"))
    finally:
        await reader.dispose()


async def test_every_request_works_on_a_read_only_warehouse(
    settings: Settings, reader_url: str, state_url: str, engine: AsyncEngine, mint: Mint
) -> None:
    [(tenant,)] = await oracle(
        engine, "select id from organizations where kind = 'university' order by id limit 1"
    )
    expected = await oracle(
        engine, "select status, count(*) from enrollments where partner_id = :t group by 1", t=tenant
    )
    state = create_async_engine(state_url)
    try:
        token, _ = await ApiTokenStore(state).create("sync", tenant, ["partner_integration"])
    finally:
        await state.dispose()
    query = {"query": "{ enrollments { status count } }"}
    jwt = mint(tenant=tenant, roles=["university_admin"])
    async with serving(settings, reader_url, state_database_url=state_url) as client:
        for bearer in (jwt, token):
            response = await client.post(
                "/graphql", json=query, headers={"authorization": f"Bearer {bearer}"}
            )
            assert response.status_code == 200, response.text
            rows = response.json()["data"]["enrollments"]
            assert sorted((r["status"], r["count"]) for r in rows) == sorted(tuple(e) for e in expected)
        assert (await client.get("/readyz")).status_code == 200
