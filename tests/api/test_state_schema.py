"""Cohort's state lives apart from the warehouse: `cohort migrate` creates only the `cohort`
schema, seeding the demo never replaces another warehouse's tables, and a deployment of
the old single chain (demo tables and state in one) upgrades in place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from api.cli import app
from api.demo.ddl import NotTheDemoError
from api.demo.load import seed_demo
from api.demo.tables import TABLES
from api.migrations import state_is_current, upgrade
from authz.policy_store import PolicyStore
from tests.conftest import TEST_SCALE, TEST_SEED
from tests.databases import scratch_database

pytestmark = pytest.mark.integration

_OBJECTS = """
select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'S') and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg_toast%' order by 1
"""


@pytest.fixture
async def blank(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A new, empty database for one test."""
    async with scratch_database(database_url, "state") as url:
        engine = create_async_engine(url)
        yield engine
        await engine.dispose()


async def objects(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.scalars(text(_OBJECTS))).all())


async def test_migrate_creates_only_cohorts_own_schema(blank: AsyncEngine) -> None:
    async with blank.begin() as conn:  # a warehouse with a table named like a demo table
        await conn.execute(text("create table courses (code text primary key, title text)"))
        await conn.execute(text("insert into courses values ('MATH-101', 'Algebra')"))
    await upgrade(blank)
    await upgrade(blank)  # twice: nothing left to do
    found = await objects(blank)
    assert [name for name in found if not name.startswith("cohort.")] == ["public.courses"]
    assert "cohort.alembic_version" in found and "cohort.casbin_rule" in found
    async with blank.connect() as conn:
        assert (await conn.execute(text("select * from courses"))).all() == [("MATH-101", "Algebra")]


async def test_seeding_refuses_a_warehouse_whose_tables_are_not_the_demos(blank: AsyncEngine) -> None:
    async with blank.begin() as conn:
        await conn.execute(text("create table courses (code text primary key, title text)"))
        await conn.execute(text("insert into courses values ('MATH-101', 'Algebra')"))
    with pytest.raises(NotTheDemoError, match="courses"):
        await seed_demo(blank, scale=TEST_SCALE, seed=TEST_SEED)
    assert await objects(blank) == ["public.courses"], "nothing created, nothing replaced"
    async with blank.connect() as conn:
        assert await conn.scalar(text("select count(*) from courses")) == 1


async def _legacy_layout(engine: AsyncEngine) -> None:
    """What the old single chain left: demo tables (unmarked), the state in `cohort`, and
    `alembic_version` in the default schema at 0003."""
    await seed_demo(engine, scale=TEST_SCALE, seed=TEST_SEED)
    await upgrade(engine)
    async with engine.begin() as conn:
        for table in TABLES:
            await conn.execute(text(f"comment on table {table} is null"))
        await conn.execute(text("alter table cohort.alembic_version set schema public"))
        await PolicyStore(engine).seed()  # state that must survive the upgrade
    async with engine.begin() as conn:
        await conn.execute(text("insert into cohort.casbin_rule (ptype, v0) values ('p', 'role:kept')"))


async def test_a_deployment_of_the_old_single_chain_upgrades_in_place(blank: AsyncEngine) -> None:
    await _legacy_layout(blank)
    async with blank.connect() as conn:
        rules_before = await conn.scalar(text("select count(*) from cohort.casbin_rule"))
    await upgrade(blank)
    found = await objects(blank)
    assert "public.alembic_version" not in found and "cohort.alembic_version" in found
    async with blank.connect() as conn:
        assert await conn.scalar(text("select version_num from cohort.alembic_version")) == "0003"
        assert await conn.scalar(text("select count(*) from cohort.casbin_rule")) == rules_before
    # The demo tables were marked as the demo's: seeding still replaces their rows.
    counts = await seed_demo(blank, scale=TEST_SCALE, seed=TEST_SEED)
    assert counts["enrollments"] > 0


async def test_another_applications_alembic_version_is_left_alone(blank: AsyncEngine) -> None:
    async with blank.begin() as conn:
        await conn.execute(text("create table alembic_version (version_num varchar(32) primary key)"))
        await conn.execute(text("insert into alembic_version values ('0003')"))
    await upgrade(blank)
    async with blank.connect() as conn:
        assert await conn.scalar(text("select version_num from public.alembic_version")) == "0003"
        assert await conn.scalar(text("select version_num from cohort.alembic_version")) is not None


def test_the_state_chain_has_no_demo_revision() -> None:
    from alembic.script import ScriptDirectory

    from api.migrations import _INI

    scripts = ScriptDirectory.from_config(Config(str(_INI)))
    revisions = {script.revision: script for script in scripts.walk_revisions()}
    assert "0001" not in revisions
    assert [r for r, script in revisions.items() if script.down_revision is None] == ["0002"]


async def test_serve_stops_with_one_clear_message_when_the_state_is_missing(blank: AsyncEngine) -> None:
    assert not await state_is_current(blank)
    url = blank.url.render_as_string(hide_password=False)
    env = {"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["serve"], env=env)
    assert result.exit_code == 1
    assert "run `cohort migrate` first" in result.output and "Traceback" not in result.output
    await upgrade(blank)
    assert await state_is_current(blank)
