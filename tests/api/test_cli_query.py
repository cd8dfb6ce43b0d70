"""`cohort query` as the data team (no access control) and as a principal (the policy in the
database scopes it, exactly as through the API)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from api.cli import app
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration


async def _invoke(database_url: str, *args: str) -> tuple[int, list[dict[str, object]], str]:
    """The command in a thread of its own: it runs its own event loop, as from a shell."""
    env = {"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = await asyncio.to_thread(CliRunner().invoke, app, ["query", *args, "--format", "json"], env=env)
    rows = orjson.loads(result.stdout) if result.exit_code == 0 else []
    return result.exit_code, rows, result.stderr


async def test_as_a_principal_the_policy_scopes_the_query(database_url: str, engine: AsyncEngine) -> None:
    [(tenant,)] = await oracle(
        engine, "select id from organizations where kind = 'university' order by id limit 1"
    )
    code, rows, err = await _invoke(
        database_url, "enrollments", "-m", "count", "-d", "status", "--tenant", tenant,
        "--role", "university_admin", "--sql", "--limit", "100",
    )  # fmt: skip
    assert code == 0, err
    expected = await oracle(
        engine, "select status, count(*) from enrollments where partner_id = :t group by 1", t=tenant
    )
    assert sorted((r["status"], r["count"]) for r in rows) == sorted(tuple(e) for e in expected)
    assert "partner_id" in err and tenant in err  # the effective SQL and its parameters


async def test_as_the_data_team_every_row_counts_and_it_says_so(
    database_url: str, engine: AsyncEngine
) -> None:
    code, rows, err = await _invoke(database_url, "enrollments", "-m", "count")
    [(total,)] = await oracle(engine, "select count(*) from enrollments")
    assert code == 0 and rows == [{"count": total}]
    assert "no access control" in err


async def test_a_refused_query_is_a_clear_error(database_url: str) -> None:
    code, _, err = await _invoke(
        database_url, "submissions", "-m", "count", "--tenant", "x", "--role", "partner_integration"
    )
    assert code == 2 and "may not read submissions" in err


async def test_tenant_and_role_go_together(database_url: str) -> None:
    code, _, err = await _invoke(database_url, "enrollments", "-m", "count", "--tenant", "x")
    assert code == 2 and "--tenant and --role together" in err
