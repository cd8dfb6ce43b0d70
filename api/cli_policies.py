"""`cohort policies seed|list|version`: the access policy in PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli_database import with_engine
from api.cli_output import FormatOption, OutputFormat, emit
from api.settings import Settings
from authz.policy_store import DEFAULT_POLICY, PolicyStore, read_policy_file

policies_app = typer.Typer(help="The access policy (Casbin rules in PostgreSQL).", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _run(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    return with_engine(Settings.from_env(), work, state=True)


@policies_app.command()
def seed(
    file: Annotated[Path, typer.Option(help="A policy file (Casbin CSV).")] = DEFAULT_POLICY,
    replace: Annotated[bool, typer.Option(help="Replace the rules in the database.")] = False,
) -> None:
    """Load a policy file into the database (only if it is empty, unless --replace)."""

    async def work(engine: AsyncEngine) -> tuple[bool, int]:
        store = PolicyStore(engine)
        loaded = await store.seed(file, replace=replace)
        return loaded, await store.version()

    loaded, version = _run(work)
    if loaded:
        console.print(f"[green]policy loaded[/green] from {file}: version {version}")
    else:
        console.print(f"the database already has a policy (version {version}); use --replace to overwrite it")


@policies_app.command("list")
def list_rules(output: FormatOption = OutputFormat.auto) -> None:
    """Print the rules in force."""

    async def work(engine: AsyncEngine) -> tuple[list[tuple[str, ...]], int]:
        store = PolicyStore(engine)
        return await store.rules(), await store.version()

    rules, version = _run(work)
    columns = ("type", "subject", "domain", "object", "action / column", "effect / attribute")
    rows = [(*rule, *([""] * (len(columns) - len(rule)))) for rule in rules]
    emit(columns, rows, output, title=f"version {version}", extra={"version": version})


@policies_app.command("check")
def check(
    file: Annotated[
        Path | None, typer.Option(help="A policy file to check (default: the rules in the database).")
    ] = None,
    models: Annotated[Path | None, typer.Option("--models", help="Folder of model files.")] = None,
    output: FormatOption = OutputFormat.auto,
) -> None:
    """Check a policy against the models: unknown models, members, columns or attributes,
    and roles that may read a model without a row rule for it. Every problem at once."""
    from authz.policy_check import check_policy
    from schema.issues import ModelValidationError
    from schema.validator import load_registry

    settings = Settings.from_env()
    try:
        registry = load_registry(models or settings.models_dir)
    except ModelValidationError as error:
        console.print(f"the model files are not valid ({len(error.issues)} problems): run cohort validate")
        raise typer.Exit(1) from None
    rules = read_policy_file(file) if file is not None else _run(lambda engine: PolicyStore(engine).rules())
    issues = check_policy(rules, registry)
    if issues or output is OutputFormat.json:
        rows = [(issue.line or "", issue.rule, issue.reason) for issue in issues]
        emit(("line", "rule", "problem"), rows, output, title=f"{len(issues)} problem(s)")
    if issues:
        raise typer.Exit(1)
    if output is not OutputFormat.json:
        console.print(f"[green]{len(rules)} rules valid[/green] against {len(registry.models)} models")
