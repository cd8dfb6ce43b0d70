"""`cohort ingest setup|maintain|check`: the tables ingested events go to, their partitions,
and the event types file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import asyncpg
import typer
from rich.console import Console

from api.cli_database import with_connection
from api.cli_output import FormatOption, OutputFormat, emit
from api.ingest import tables
from api.ingest.service import asyncpg_dsn
from api.settings import Settings
from schema.event_types import load_event_catalog
from schema.issues import ModelValidationError

ingest_app = typer.Typer(
    help="Event ingestion (POST /events): its tables, partitions and event types.", no_args_is_help=True
)
console = Console()
notes = Console(stderr=True)
T = TypeVar("T")


def ingest_database_url(settings: Settings, services: object | None = None) -> str:
    """COHORT_INGEST_DATABASE_URL, else the warehouse (configured or embedded)."""
    from api.services import asyncpg_url, start_services

    if settings.ingest.database_url:
        return asyncpg_url(settings.ingest.database_url)
    found = services or start_services(settings)
    return str(found.database_url)  # type: ignore[attr-defined]


def _on_connection(
    settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]], services: object | None = None
) -> T:
    return with_connection(
        asyncpg_dsn(ingest_database_url(settings, services)),
        work,
        connect_s=settings.database_timeouts.connect_s,
        what="the ingest database",
        missing="ingestion is not set up in this database: run `cohort ingest setup`",
    )


def setup_ingestion(
    settings: Settings, services: object | None = None, grant_read: list[str] | None = None
) -> None:
    async def work(conn: asyncpg.Connection) -> None:
        await tables.setup(
            conn,
            today=datetime.now(UTC).date(),
            retention_days=settings.ingest.retention_days,
            ahead_days=settings.ingest.partitions_ahead_days,
        )
        for role in grant_read or ():
            await tables.grant_read(conn, role)

    _on_connection(settings, work, services)


@ingest_app.command()
def setup(
    grant_read: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-read", help="A role that reads the events (the warehouse's reader); repeatable."
        ),
    ] = None,
) -> None:
    """Create the `cohort_ingest` schema, its tables and the partitions of the retention window,
    in COHORT_INGEST_DATABASE_URL (default: the warehouse). Idempotent."""
    setup_ingestion(Settings.from_env(), grant_read=grant_read)
    console.print(f"[green]ingestion set up[/green] (schema {tables.SCHEMA})")


@ingest_app.command()
def maintain() -> None:
    """Create the partitions ahead and drop those past COHORT_INGEST_RETENTION_DAYS (the server
    does it every COHORT_INGEST_MAINTENANCE_S too)."""
    settings = Settings.from_env()

    async def work(conn: asyncpg.Connection) -> tables.Maintenance | None:
        return await tables.maintain(
            conn,
            today=datetime.now(UTC).date(),
            retention_days=settings.ingest.retention_days,
            ahead_days=settings.ingest.partitions_ahead_days,
        )

    done = _on_connection(settings, work)
    if done is None:
        console.print("another process is maintaining the partitions now; nothing done")
        return
    days = ", ".join(f"{day:%Y-%m-%d}" for day in done.created) or "none"
    gone = ", ".join(f"{day:%Y-%m-%d}" for day in done.dropped) or "none"
    console.print(
        f"partitions created: {days}; dropped: {gone}; old bookkeeping rows deleted: {done.deleted_rows}"
    )


@ingest_app.command()
def check(output: FormatOption = OutputFormat.auto) -> None:
    """Check the event types file (COHORT_EVENTS_FILE); report every problem at once."""
    settings = Settings.from_env()
    try:
        catalog = load_event_catalog(settings.ingest.events_file)
    except ModelValidationError as error:
        rows = [(issue.file, issue.member, issue.reason) for issue in error.issues]
        emit(("file", "member", "problem"), rows, output, title=f"{len(rows)} problem(s)")
        raise typer.Exit(1) from None
    if output is OutputFormat.json:
        emit(("file", "member", "problem"), [], output, extra={"event_types": len(catalog.events)})
        return
    console.print(f"[green]{len(catalog.events)} event types valid[/green] ({settings.ingest.events_file})")
