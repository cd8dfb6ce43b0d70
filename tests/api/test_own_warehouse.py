"""The README's "Your own warehouse" walk-through, step by step, on a warehouse the project
has never seen: a restaurant chain (not learning analytics), with a table named like a
demo table (`courses`: a menu's courses), integer tenant ids in one table (restaurants)
and upper-case tenant codes in another (delivery regions). Every number is checked
against SQL written by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner, Result

from api.cli import app
from api.settings import Settings
from tests.databases import scratch_database
from tests.resolvers.oracle import oracle
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

WAREHOUSE = """
create table restaurants (id integer primary key, name text not null, city text not null);
create table courses (id integer primary key, name text not null, kind text not null);
create table orders (
    id bigint primary key, restaurant_id integer not null references restaurants (id),
    course_id integer not null references courses (id), amount numeric(8, 2) not null,
    ordered_at timestamptz not null);
create table deliveries (
    id bigint primary key, order_id bigint not null references orders (id),
    region_code text not null, minutes integer not null, delivered_at timestamptz not null);
insert into restaurants select i, 'Restaurant ' || i, (array['Lyon', 'Porto', 'Gdansk'])[1 + i % 3]
    from generate_series(1, 6) i;
insert into courses select i, 'Dish ' || i, (array['starter', 'main', 'dessert'])[1 + i % 3]
    from generate_series(1, 9) i;
insert into orders select i, 1 + i % 6, 1 + i % 9, 5 + (i * 37 % 400) / 10.0,
    timestamptz '2026-01-01' + i * interval '97 minutes' from generate_series(1, 2400) i;
insert into deliveries select i, i, (array['NORTH', 'SOUTH', 'EAST'])[1 + i % 3], 10 + i * 13 % 50,
    timestamptz '2026-01-01' + i * interval '97 minutes' + interval '40 minutes'
    from generate_series(1, 2400) i where i % 4 <> 0
"""

# What the data team adds by hand after generating (the walk-through's edit step).
EDIT = """  late: {type: count, filter: "{TABLE}.minutes > 45", title: Late deliveries}
  late_rate: {type: ratio, numerator: late, denominator: count, format: percent}
"""

POLICY = """\
# Restaurant managers: their restaurant's orders (tenant = the restaurant's integer id).
p, role:restaurant_manager, *, orders, read, allow
p2, role:restaurant_manager, *, orders, restaurant_id, tenant
p, role:restaurant_manager, *, restaurants, read, allow
p2, role:restaurant_manager, *, restaurants, id, tenant
p, role:restaurant_manager, *, courses, read, allow
p2, role:restaurant_manager, *, courses, *, *
p3, role:restaurant_manager, *, 1
# Region leads: deliveries of their region (tenant = an upper-case region code).
p, role:region_lead, *, deliveries, read, allow
p2, role:region_lead, *, deliveries, region_code, tenant
p, role:region_lead, *, orders, read, allow
p2, role:region_lead, *, orders, -, joined
p3, role:region_lead, *, 1
"""


@pytest.fixture(scope="module")
async def warehouse(database_url: str) -> AsyncIterator[str]:
    async with scratch_database(database_url, "restaurants") as url:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            for statement in WAREHOUSE.split(";\n"):
                await conn.execute(text(statement))
        await engine.dispose()
        yield url


@pytest.fixture(scope="module")
async def warehouse_engine(warehouse: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(warehouse)
    yield engine
    await engine.dispose()


async def cohort(warehouse: str, models: Path, *args: str) -> Result:
    """A `cohort` command as a shell would run it (its own event loop, in a thread)."""
    env = {"DATABASE_URL": warehouse, "REDIS_URL": "redis://127.0.0.1:1/0", "COHORT_MODELS_DIR": str(models)}
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result


async def test_the_walk_through(
    warehouse: str, warehouse_engine: AsyncEngine, tmp_path: Path, settings: Settings, mint: Mint
) -> None:
    models = tmp_path / "models"
    tables_before = await oracle(
        warehouse_engine, "select tablename from pg_tables where schemaname = 'public'"
    )

    # 1. migrate: Cohort's own schema only
    result = await cohort(warehouse, models, "migrate")
    assert result.exit_code == 0, result.output
    assert await oracle(warehouse_engine, "select tablename from pg_tables where schemaname = 'public'") == (
        tables_before
    )

    # 2. generate the models, tenant columns hidden
    result = await cohort(
        warehouse, models, "models", "generate", "--from-db", "--out", str(models),
        "--tenant-column", "restaurant_id", "--tenant-column", "region_code",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in models.glob("*.yml")) == [
        "courses.yml", "deliveries.yml", "orders.yml", "restaurants.yml"
    ]  # fmt: skip

    # 3. edit: two measures added by hand
    deliveries = models / "deliveries.yml"
    deliveries.write_text(deliveries.read_text() + EDIT)

    # 4. validate against the database
    result = await cohort(warehouse, models, "validate", "--db")
    assert result.exit_code == 0, result.output

    # 5. write the policy, check it, load it
    policy = tmp_path / "policy.csv"
    policy.write_text(POLICY)
    result = await cohort(warehouse, models, "policies", "check", "--file", str(policy))
    assert result.exit_code == 0, result.output
    result = await cohort(warehouse, models, "policies", "seed", "--file", str(policy), "--replace")
    assert result.exit_code == 0, result.output

    # 6. query as a tenant from the command line (an integer tenant id)
    result = await cohort(
        warehouse, models, "query", "orders", "-m", "count", "-m", "total_amount",
        "--tenant", "3", "--role", "restaurant_manager", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [(count, total)] = await oracle(
        warehouse_engine, "select count(*), sum(amount)::float8 from orders where restaurant_id = 3"
    )
    assert '"count": ' + str(count) in result.stdout and str(total) in result.stdout

    # 7. serve, and query over GraphQL as each kind of tenant
    served = replace(settings, models_dir=models)
    manager = {"authorization": f"Bearer {mint(tenant='3', roles=['restaurant_manager'])}"}
    lead = {"authorization": f"Bearer {mint(tenant='NORTH', roles=['region_lead'])}"}
    async with serving(served, warehouse) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ orders { course { kind } count totalAmount } }"},
            headers=manager,
        )
        assert response.status_code == 200, response.text
        got = sorted(
            (r["course"]["kind"], r["count"], r["totalAmount"]) for r in response.json()["data"]["orders"]
        )
        expected = await oracle(
            warehouse_engine,
            "select c.kind, count(*), sum(o.amount)::float8"
            " from orders o join courses c on c.id = o.course_id"
            " where o.restaurant_id = 3 group by 1 order by 1",
        )
        assert got == [tuple(row) for row in expected]

        response = await client.post(
            "/graphql",
            json={"query": "{ deliveries { order { orderedAt { month } } count late lateRate } }"},
            headers=lead,
        )
        assert response.status_code == 200, response.text
        rows = response.json()["data"]["deliveries"]
        expected = await oracle(
            warehouse_engine,
            "select to_char(date_trunc('month', o.ordered_at at time zone 'UTC'),"
            " 'YYYY-MM-DD\"T\"HH24:MI:SS'),"
            " count(*), count(*) filter (where d.minutes > 45),"
            " (count(*) filter (where d.minutes > 45))::float8 / count(*)"
            " from deliveries d join orders o on o.id = d.order_id where d.region_code = 'NORTH'"
            " group by 1 order by 1",
        )
        got_rows = sorted(
            (r["order"]["orderedAt"]["month"], r["count"], r["late"], r["lateRate"]) for r in rows
        )
        assert got_rows == [tuple(row) for row in expected]

        # A tenant of another kind sees nothing of the first's (and a lower-case code is another tenant).
        other = {"authorization": f"Bearer {mint(tenant='north', roles=['region_lead'])}"}
        response = await client.post("/graphql", json={"query": "{ deliveries { count } }"}, headers=other)
        assert response.json()["data"]["deliveries"] == [{"count": 0}]

    # 8. a partner token, created from the command line, used over HTTP
    result = await cohort(
        warehouse,
        models,
        "tokens",
        "create",
        "--name",
        "bi export",
        "--tenant",
        "SOUTH",
        "--role",
        "region_lead",
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    async with serving(served, warehouse) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ deliveries { count } }"},
            headers={"authorization": f"Bearer {token}"},
        )
        [(south,)] = await oracle(
            warehouse_engine, "select count(*) from deliveries where region_code = 'SOUTH'"
        )
        assert response.json()["data"]["deliveries"] == [{"count": south}], response.text
