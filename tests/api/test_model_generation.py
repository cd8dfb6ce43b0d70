"""`cohort models generate --from-db`: model files from a schema the project has never seen
pass `cohort validate --db` as written, and answer like SQL written by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli_models import write_files
from api.introspect import read_tables
from resolvers.model_check import check_database
from schema.generate import generate, model_name
from schema.query import DimensionRef, SemanticQuery
from schema.validator import load_registry
from tests.resolvers.oracle import assert_same, oracle, run

pytestmark = pytest.mark.integration

SCHEMA = "shop_gen"
DDL = f"""
create schema {SCHEMA};
create table {SCHEMA}.customers (
    id bigint primary key, "Full Name" text not null, region_code text, tenant_code text not null,
    created_at timestamptz not null, is_vip boolean not null default false);
create table {SCHEMA}.orders (
    id integer primary key, customer_id bigint not null references {SCHEMA}.customers (id),
    amount numeric(10, 2) not null, quantity integer not null, placed_on date not null,
    tenant_code text not null);
create table {SCHEMA}.order_items (
    order_id integer not null references {SCHEMA}.orders (id), line_no smallint not null,
    product text not null, price double precision, primary key (order_id, line_no));
-- named like a demo table, and a table without a key
create table {SCHEMA}.courses (code text primary key, title text);
create table {SCHEMA}.audit_log (at timestamptz, message text);
insert into {SCHEMA}.customers
    select i, 'Customer ' || i, (array['EU', 'US', null])[1 + i % 3], (array['AAA', 'BBB'])[1 + i % 2],
           timestamptz '2025-01-01' + i * interval '1 day', i % 4 = 0
    from generate_series(1, 40) i;
insert into {SCHEMA}.orders
    select i, 1 + i % 37, (i * 7 % 100) + 0.25, 1 + i % 5, date '2025-03-01' + i,
           (array['AAA', 'BBB'])[1 + (1 + i % 37) % 2]
    from generate_series(1, 300) i;
insert into {SCHEMA}.order_items
    select o, l, 'product ' || (o * l % 9), (o * l % 50) / 4.0
    from generate_series(1, 300) o, generate_series(1, 1 + 300 % 3) l where l <= 1 + o % 3;
"""  # noqa: S608 (a fixed schema name)


@pytest.fixture(scope="module")
async def shop(engine: AsyncEngine) -> AsyncIterator[str]:
    async with engine.begin() as conn:
        await conn.execute(text(f"drop schema if exists {SCHEMA} cascade"))
        for statement in DDL.split(";\n"):
            if statement.strip():
                await conn.execute(text(statement))
    yield SCHEMA
    async with engine.begin() as conn:
        await conn.execute(text(f"drop schema {SCHEMA} cascade"))


async def test_generated_models_validate_against_the_database_and_answer_correctly(
    engine: AsyncEngine, shop: str, tmp_path: Path
) -> None:
    generated = generate(await read_tables(engine, shop), tenant_columns=["tenant_code"])
    assert generated.skipped == {"audit_log": generated.skipped["audit_log"]}
    assert "primary key" in generated.skipped["audit_log"]
    written = write_files(generated, tmp_path, force=False)
    assert {p.name for p in written} == {"customers.yml", "orders.yml", "order_items.yml", "courses.yml"}

    registry = load_registry(tmp_path)  # raises with every problem if a file is invalid
    assert await check_database(registry, engine) == []

    orders = registry.model("orders")
    assert orders.table == f"{shop}.orders"
    assert orders.joins["customer"].relationship == "many_to_one"
    assert registry.model("customers").joins["orders"].relationship == "one_to_many"
    assert registry.model("order_items").key_columns == ("order_id", "line_no")
    assert orders.dimensions["quantity"].data_type == "integer"
    assert orders.dimensions["placed_on"].type == "time"
    assert orders.dimensions["tenant_code"].public is False
    assert registry.model("customers").dimensions["is_vip"].type == "boolean"
    assert registry.model("customers").dimensions["full_name"].sql == '{TABLE}."Full Name"'
    assert {"count", "customer_count", "total_amount", "avg_amount", "total_quantity"} <= set(orders.measures)
    assert "tenant_code_count" not in orders.measures

    result = await run(
        registry,
        engine,
        SemanticQuery(
            "orders",
            measures=("count", "total_amount", "customer.count", "order_items.total_price"),
            dimensions=(DimensionRef("customer.region_code"), DimensionRef("placed_on", "month")),
        ),
    )
    expected = await oracle(
        engine,
        f"""
        with g as (
            select c.region_code as region, date_trunc('month', o.placed_on::timestamp) as month,
                   o.id as order_id, c.id as customer_id, o.amount
            from {shop}.orders o join {shop}.customers c on c.id = o.customer_id)
        select region, month, count(*), sum(amount)::float8, count(distinct customer_id),
               (select sum(i.price) from {shop}.order_items i where i.order_id in (
                    select g2.order_id from g g2
                    where g2.region is not distinct from g.region and g2.month = g.month))
        from g group by region, month
        """,  # noqa: S608
    )
    assert_same(result.rows, expected, dims=2)


async def test_existing_files_are_kept_unless_forced(engine: AsyncEngine, shop: str, tmp_path: Path) -> None:
    generated = generate(await read_tables(engine, shop, only=["courses"]))
    (tmp_path / "courses.yml").write_text("model: courses  # the team's own\n")
    with pytest.raises(FileExistsError):
        write_files(generated, tmp_path, force=False)
    assert (tmp_path / "courses.yml").read_text() == "model: courses  # the team's own\n"
    write_files(generated, tmp_path, force=True)
    spec = yaml.safe_load((tmp_path / "courses.yml").read_text())
    assert spec["table"] == f"{shop}.courses" and spec["primary_key"] == "code"


async def test_unknown_tables_are_named(engine: AsyncEngine, shop: str) -> None:
    with pytest.raises(LookupError, match="no_such_table"):
        await read_tables(engine, shop, only=["orders", "no_such_table"])


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ("Orders", "orders"),
        ("OrderItems", "order_items"),
        ("order-items 2", "order_items_2"),
        ("2fa", "t_2fa"),
    ],
)
def test_table_names_become_model_names(table: str, name: str) -> None:
    assert model_name(table) == name
