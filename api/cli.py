"""The `cohort` command line: validate models, migrate, seed the demo, query, run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli_cache import cache_app
from api.cli_database import with_engine
from api.cli_ingest import ingest_app
from api.cli_models import models_app
from api.cli_output import FormatOption, OutputFormat, emit
from api.cli_policies import policies_app
from api.cli_query import query
from api.cli_rollups import rollups_app
from api.cli_tokens import dev_token, tokens_app
from api.settings import Settings
from schema.issues import ModelValidationError
from schema.registry import Registry
from schema.validator import load_registry

app = typer.Typer(help="Cohort: a self-serve analytics API for learning platforms.", no_args_is_help=True)
console = Console()
app.add_typer(tokens_app, name="tokens")
app.add_typer(policies_app, name="policies")
app.add_typer(cache_app, name="cache")
app.add_typer(models_app, name="models")
app.add_typer(ingest_app, name="ingest")
app.add_typer(rollups_app, name="rollups")
app.command("query")(query)
app.command("dev-token")(dev_token)
T = TypeVar("T")
DEMO_MODELS = (Path(__file__).resolve().parents[1] / "schema" / "models").resolve()
DEMO_PRINCIPAL = "a university admin of northbridge-university"


def _registry(
    models: Path | None,
    settings: Settings,
    output: OutputFormat = OutputFormat.auto,
    dashboards: Path | None = None,
) -> Registry:
    """The models (and the dashboards beside them) or, with every problem printed, exit 1."""
    if dashboards is None:
        dashboards = models.parent / "dashboards" if models is not None else settings.dashboards
    try:
        registry = load_registry(models or settings.models_dir, dashboards)
        from resolvers.dashboard_check import check_tiles

        issues = check_tiles(registry)
        if issues:
            raise ModelValidationError(issues)
        return registry
    except ModelValidationError as exc:
        _print_issues(exc, output)
        raise typer.Exit(1) from None


def _print_issues(error: ModelValidationError, output: OutputFormat = OutputFormat.auto) -> None:
    rows = [(issue.file, issue.member, issue.reason) for issue in error.issues]
    emit(("file", "member", "problem"), rows, output, title=f"{len(error.issues)} problem(s)")


ModelsOption = Annotated[Path | None, typer.Option("--models", help="Folder of model files.")]
DashboardsOption = Annotated[
    Path | None,
    typer.Option("--dashboards", help="Folder of dashboard files (default: dashboards beside the models)."),
]


@app.command()
def validate(
    models: ModelsOption = None,
    dashboards: DashboardsOption = None,
    db: Annotated[
        bool, typer.Option("--db", help="Also check tables, columns and types in the database.")
    ] = False,
    output: FormatOption = OutputFormat.auto,
) -> None:
    """Check the model and dashboard files; report every problem at once."""
    settings = Settings.from_env()
    registry = _registry(models, settings, output, dashboards)
    if db:
        from resolvers.model_check import check_database

        issues = with_engine(settings, lambda engine: check_database(registry, engine))
        if issues:
            _print_issues(ModelValidationError(issues), output)
            raise typer.Exit(1)
    where = "files and database" if db else "files"
    if output is OutputFormat.json:
        counts = {"models": len(registry.models), "dashboards": len(registry.dashboards)}
        emit(("file", "member", "problem"), [], output, extra=counts)
        return
    console.print(
        f"[green]{len(registry.models)} models and {len(registry.dashboards)} dashboards valid[/green] "
        f"({where}); version {registry.version}"
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    from api.migrations import upgrade

    with_engine(Settings.from_env(), upgrade, bulk=True, state=True)
    console.print("[green]migrated[/green]")


@app.command()
def seed(
    scale: Annotated[
        str | None, typer.Option(help="tiny, default, large or population (100M+ events, by PostgreSQL).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same data.")] = None,
) -> None:
    """Load the demo warehouse (replacing what is there)."""
    from api.demo.load import seed_demo
    from api.migrations import upgrade

    settings = Settings.from_env()

    async def work(engine: AsyncEngine) -> dict[str, int]:
        await upgrade(engine)
        return await seed_demo(
            engine,
            scale=scale or settings.demo_scale,
            seed=settings.demo_seed if seed is None else seed,
            progress=True,
        )

    counts = with_engine(settings, work, bulk=True)
    console.print(f"[green]seeded[/green] {sum(counts.values()):,} rows in {len(counts)} tables")


def _serve(settings: Settings, services: Any, registry: Registry) -> None:
    import os

    from api.banner import banner
    from api.server import run_server

    # Workers are separate processes: they find the databases through the environment.
    os.environ["DATABASE_URL"] = services.database_url
    os.environ["COHORT_STATE_DATABASE_URL"] = services.state_database_url
    os.environ["REDIS_URL"] = services.redis_url
    base = f"http://{settings.host}:{settings.port}"
    demo = settings.models_dir.resolve() == DEMO_MODELS
    token = _demo_token(settings) if demo else None
    for line in banner(base, registry, token, DEMO_PRINCIPAL, settings.graphiql):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    try:
        run_server(settings.host, settings.port, settings.workers)
    finally:
        services.close()  # the embedded PostgreSQL and Redis stop with the server


def _demo_token(settings: Settings) -> str | None:
    from api.auth.jwt_verifier import mint_token
    from api.settings import SettingsError

    try:
        return mint_token(
            settings.auth,
            settings.data_dir,
            subject="demo",
            tenant="northbridge-university",
            roles=["university_admin"],
            expires_in_s=12 * 3600,
        )
    except SettingsError:
        return None  # verification with public keys only: tokens come from the identity provider


@app.command()
def serve() -> None:
    """Serve the GraphQL API (uses DATABASE_URL, or starts the embedded PostgreSQL)."""
    from api.migrations import state_is_current
    from api.services import start_services

    settings = Settings.from_env()
    registry = _registry(None, settings)
    services = start_services(settings)
    if not with_engine(settings, state_is_current, services, state=True):
        console.print(
            "Cohort's own tables (schema cohort) are missing or older than this version: "
            "run `cohort migrate` first (it creates only Cohort's schema, never warehouse tables)",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    _serve(settings, services, registry)


@app.command()
def run() -> None:
    """What `make run` does: databases, migrations, demo data on first start, then serve."""
    from api.demo.load import is_seeded, seed_demo
    from api.migrations import upgrade
    from api.services import start_services
    from authz.policy_store import PolicyStore

    settings = Settings.from_env()
    registry = _registry(None, settings)

    async def warehouse(engine: AsyncEngine) -> None:
        if not await is_seeded(engine):
            console.print(f"seeding the demo warehouse ({settings.demo_scale} scale)...")
            await seed_demo(engine, scale=settings.demo_scale, seed=settings.demo_seed, progress=True)

    async def state(engine: AsyncEngine) -> None:
        await upgrade(engine)
        if await PolicyStore(engine).seed():
            console.print("loaded the demo access policy (authz/policies/default.csv)")

    services = start_services(settings)
    with_engine(settings, state, services, bulk=True, state=True)
    with_engine(settings, warehouse, services, bulk=True)
    if settings.ingest.enabled:
        from api.cli_ingest import setup_ingestion

        setup_ingestion(settings, services)
    if settings.rollups.enabled:
        from api.cli_rollups import build_demo_rollups

        build_demo_rollups(settings, services)
    _serve(settings, services, registry)


@app.command("export-schema")
def export_schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")
    ] = None,
    models: ModelsOption = None,
) -> None:
    """Print the GraphQL schema (SDL) generated from the model files, for code generation."""
    from schema.graphql_types import build_schema

    async def unused(*_args: Any) -> list[Any]:
        raise RuntimeError("export-schema does not run queries")

    sdl = str(build_schema(_registry(models, Settings.from_env()), unused)) + "\n"
    if output is None:
        typer.echo(sdl, nl=False)
    else:
        output.write_text(sdl, encoding="utf-8")
        console.print(f"wrote {output}")
