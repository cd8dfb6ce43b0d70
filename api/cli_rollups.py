"""`cohort rollups setup|refresh|status`: the rollups declared in the model files, built and
kept in the warehouse's database (docs/rollups.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import asyncpg
import typer
from rich.console import Console

from api.cli_database import with_connection
from api.cli_output import FormatOption, OutputFormat, emit
from api.ingest.service import asyncpg_dsn
from api.rollups import refresh as refreshing
from api.rollups import tables
from api.settings import Settings
from resolvers.rollups.layout import SCHEMA, Layout, layouts
from schema.validator import load_registry

rollups_app = typer.Typer(help="Rollups: pre-aggregations that serve queries exactly.", no_args_is_help=True)
console = Console()
notes = Console(stderr=True)
T = TypeVar("T")


def rollups_database_url(settings: Settings, services: object | None = None) -> str:
    """COHORT_ROLLUPS_DATABASE_URL, else COHORT_INGEST_DATABASE_URL, else the warehouse."""
    from api.services import asyncpg_url, start_services

    configured = settings.rollups.database_url or settings.ingest.database_url
    if configured:
        return asyncpg_url(configured)
    found = services or start_services(settings)
    return str(found.database_url)  # type: ignore[attr-defined]


def on_connection(
    settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]], services: object | None = None
) -> T:
    timeout_ms = str(settings.rollups.statement_timeout_s * 1000)
    return with_connection(
        asyncpg_dsn(rollups_database_url(settings, services)),
        work,
        connect_s=settings.database_timeouts.connect_s,
        what="the rollups' database",
        missing="run `cohort rollups setup` (and `cohort seed` for the demo)",
        command_timeout=settings.rollups.statement_timeout_s + 5,
        server_settings={"application_name": "cohort-rollups", "statement_timeout": timeout_ms},
    )


def _layouts(settings: Settings, only: list[str] | None) -> list[Layout]:
    found = layouts(load_registry(settings.models_dir, settings.dashboards).models)
    if only:
        unknown = sorted(set(only) - {layout.key for layout in found})
        if unknown:
            notes.print(f"[red]no rollup named {', '.join(unknown)}[/red] (model.rollup)")
            raise typer.Exit(2)
        found = [layout for layout in found if layout.key in only]
    return found


async def refresh_all(
    conn: asyncpg.Connection, found: list[Layout], rebuild: bool, rebuild_every_s: float
) -> list[refreshing.Refreshed | tuple[str, str]]:
    """Each rollup refreshed; one whose source cannot be read (not set up, a missing
    column) is reported as (key, error) and the others go on."""
    await tables.setup(conn)
    done: list[refreshing.Refreshed | tuple[str, str]] = []
    for layout in found:
        try:
            done.append(
                await refreshing.refresh(conn, layout, rebuild=rebuild, rebuild_every_s=rebuild_every_s)
            )
        except asyncpg.PostgresError as error:
            done.append((layout.key, f"{type(error).__name__}: {error}"))
    return done


def build_demo_rollups(settings: Settings, services: object) -> None:
    """What `cohort run` does: the rollups built or brought up to date once at start (queries
    stay exact and fresh between refreshes: they read the raw rows past each watermark)."""
    found = _layouts(settings, None)

    async def work(conn: asyncpg.Connection) -> None:
        await tables.setup(conn)
        await refreshing.retire_undeclared(conn, found)
        for done in await refresh_all(conn, found, rebuild=False, rebuild_every_s=3_600):
            if isinstance(done, tuple):
                notes.print(f"[yellow]rollup {done[0]} not built[/yellow] ({done[1]})")
            elif done.action == "built":
                console.print(f"built rollup {done.key} ({done.rows_merged:,} rows, {done.seconds:.1f} s)")

    on_connection(settings, work, services)


@rollups_app.command()
def setup(
    grant_read: Annotated[
        list[str] | None,
        typer.Option("--grant-read", help="A role that reads rollups (the warehouse's reader); repeatable."),
    ] = None,
) -> None:
    """Create the `cohort_rollups` schema and its state tables (idempotent)."""

    async def work(conn: asyncpg.Connection) -> None:
        await tables.setup(conn)
        for role in grant_read or ():
            await tables.grant_read(conn, role)

    on_connection(Settings.from_env(), work)
    console.print(f"[green]rollups set up[/green] (schema {SCHEMA})")


@rollups_app.command()
def refresh(
    only: Annotated[list[str] | None, typer.Option("--only", help="model.rollup; repeatable.")] = None,
    every: Annotated[float, typer.Option(help="Seconds between refreshes; 0: once.")] = 0,
    rebuild: Annotated[bool, typer.Option(help="Build every rollup anew from the raw rows.")] = False,
    rebuild_every: Annotated[
        float, typer.Option(help="Seconds between recomputations of each rollup's recent days.")
    ] = 3_600,
) -> None:
    """Build the rollups that are missing or whose definition changed, and merge the rows
    above each one's watermark into it; once, or every `--every` seconds until stopped."""
    settings = Settings.from_env()
    found = _layouts(settings, only)
    if not found:
        console.print("no rollups are declared in the model files")
        return

    async def work(conn: asyncpg.Connection) -> bool:
        first, failed = True, False
        await tables.setup(conn)
        if not only:
            for key in await refreshing.retire_undeclared(conn, found):
                console.print(f"{key}: no longer declared; its table is retired")
        while True:
            started = time.monotonic()
            for done in await refresh_all(conn, found, rebuild and first, rebuild_every):
                if isinstance(done, tuple):
                    failed = True
                    notes.print(f"[red]{done[0]}: failed[/red] ({done[1]})")
                elif done.action != "unchanged" or first:
                    console.print(
                        f"{done.key}: {done.action}, watermark {done.watermark}, "
                        f"{done.rows_merged:,} rows written, {done.seconds:.2f} s"
                    )
            first = False
            if every <= 0:
                return not failed
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

    try:
        if not on_connection(settings, work):
            raise typer.Exit(1)
    except KeyboardInterrupt:
        notes.print("stopped")


@rollups_app.command()
def status(
    only: Annotated[list[str] | None, typer.Option("--only", help="model.rollup; repeatable.")] = None,
    output: FormatOption = OutputFormat.auto,
) -> None:
    """Each rollup: its table, whether it is built for the current definition, its watermark
    and lag (rows and seconds), its covered range and size."""
    settings = Settings.from_env()
    found = _layouts(settings, only)

    async def work(conn: asyncpg.Connection) -> list[refreshing.Status]:
        if not await tables.is_set_up(conn):
            return [refreshing.Status(layout.key) for layout in found]
        return await refreshing.status(conn, found)

    rows = [
        (
            s.key,
            s.table or "not built",
            "yes" if s.current else "no",
            s.watermark,
            s.lag_rows,
            None if s.lag_s is None else round(s.lag_s, 1),
            None if s.covered_from is None else f"{s.covered_from:%Y-%m-%d}",
            s.rows,
            None if s.bytes is None else f"{s.bytes / 1e6:.1f} MB",
        )
        for s in on_connection(settings, work)
    ]
    columns = ("rollup", "table", "current", "watermark", "lag rows", "lag s", "from", "rows", "size")
    emit(columns, rows, output, title="rollups")
