"""Ingestion as the app runs it: the event validator, the connection pool of the ingest
database, the group committer, and the partition maintenance in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

from api.ingest.committer import GroupCommitter
from api.ingest.settings import IngestSettings
from api.ingest.tables import maintain
from api.ingest.validation import EventValidator
from resolvers.database import DatabaseTimeouts
from schema.event_types import load_event_catalog

log = logging.getLogger("cohort.ingest")
MAINTENANCE_LOCK_TIMEOUT_MS = 5_000
MAINTENANCE_COMMAND_S = 120.0


def asyncpg_dsn(url: str) -> str:
    """A libpq-style DSN for asyncpg from a SQLAlchemy URL (`postgresql+asyncpg://...`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def server_settings(settings: IngestSettings, application_name: str = "cohort-ingest") -> dict[str, str]:
    commit_ms = str(settings.commit_timeout_ms)
    return {
        "application_name": application_name,
        # The answer promises a durable commit, whatever the server's default is.
        "synchronous_commit": "on",
        "statement_timeout": commit_ms,
        "lock_timeout": commit_ms,
        "idle_in_transaction_session_timeout": str(settings.commit_timeout_ms * 2),
    }


class Ingestion:
    def __init__(
        self,
        settings: IngestSettings,
        dsn: str,
        validator: EventValidator,
        pool: asyncpg.Pool,
        committer: GroupCommitter,
        timeouts: DatabaseTimeouts,
    ) -> None:
        self.settings = settings
        self.dsn = dsn
        self.validator = validator
        self.pool = pool
        self.committer = committer
        self.timeouts = timeouts
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(cls, settings: IngestSettings, database_url: str, timeouts: DatabaseTimeouts) -> Ingestion:
        """Reads the event types now (a bad file stops the server); connects lazily, so that
        the app starts while the ingest database is down."""
        validator = EventValidator(load_event_catalog(settings.events_file), settings.retention_days)
        dsn = asyncpg_dsn(database_url)
        pool = await asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=settings.pool_size,
            timeout=timeouts.connect_s,
            command_timeout=settings.commit_timeout_ms / 1000,
            max_inactive_connection_lifetime=60,
            server_settings=server_settings(settings),
        )
        committer = GroupCommitter(
            pool,
            max_group_events=settings.max_group_events,
            max_pending_events=settings.max_pending_events,
            queue_timeout_s=settings.queue_timeout_ms / 1000,
            commit_timeout_s=settings.commit_timeout_ms / 1000,
            retry_after_s=timeouts.retry_after_s,
        )
        return cls(settings, dsn, validator, pool, committer, timeouts)

    def start(self) -> None:
        self.committer.start()
        if self.settings.maintenance_interval_s > 0:
            self._tasks.append(
                asyncio.create_task(self._maintain_forever(), name="cohort-ingest-maintenance")
            )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.committer.close()
        try:
            async with asyncio.timeout(5):
                await self.pool.close()
        except TimeoutError:
            self.pool.terminate()

    @contextlib.asynccontextmanager
    async def maintenance_connection(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(
            self.dsn,
            timeout=self.timeouts.connect_s,
            command_timeout=MAINTENANCE_COMMAND_S,
            server_settings={
                "application_name": "cohort-ingest-maintenance",
                "lock_timeout": str(MAINTENANCE_LOCK_TIMEOUT_MS),
            },
        )
        try:
            yield conn
        finally:
            conn.terminate()

    async def maintain_once(self) -> None:
        async with asyncio.timeout(MAINTENANCE_COMMAND_S * 2), self.maintenance_connection() as conn:
            await maintain(
                conn,
                today=datetime.now(UTC).date(),
                retention_days=self.settings.retention_days,
                ahead_days=self.settings.partitions_ahead_days,
            )

    async def _maintain_forever(self) -> None:
        failing = False
        while True:
            try:
                await self.maintain_once()
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):  # no schema, or no table
                if not failing:
                    log.warning("ingestion is not set up in its database: run `cohort ingest setup`")
                failing = True
            except Exception:
                if not failing:  # once per outage
                    log.exception("ingest partition maintenance failed; tried again later")
                failing = True
            else:
                failing = False
            await asyncio.sleep(self.settings.maintenance_interval_s if not failing else 60)
