"""`cohort query`: a semantic query from the command line, as the data team or as a principal.

Without `--tenant`/`--role` the query runs as the data team, with no access control (the
warehouse's own numbers, for checking models). With them it runs exactly as that
principal would through the API: the policy in the database scopes it, and `--sql` shows
the effective SQL with its row filters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli_database import with_engine
from api.cli_output import FormatOption, OutputFormat, emit
from api.cli_tokens import AttrOption, parse_attributes
from api.settings import Settings
from schema.query import FILTER_OPS, Condition, DimensionRef, EffectiveQuery, SemanticQuery
from schema.spec import GRANULARITIES

console = Console(stderr=True, soft_wrap=True)


def _dimension(text: str) -> DimensionRef:
    head, _, last = text.rpartition(".")
    if head and last in GRANULARITIES:
        return DimensionRef(head, last)
    return DimensionRef(text)


def _condition(text: str) -> Condition:
    member, op, *rest = text.split(":", 2)
    if op not in FILTER_OPS:
        raise typer.BadParameter(f"{op!r} is not an operator; use one of {', '.join(FILTER_OPS)}")
    values: tuple[Any, ...] = tuple(_scalar(v) for v in rest[0].split(",")) if rest else ()
    return Condition(member, op, values)


def _scalar(text: str) -> Any:
    """Numbers and true/false as JSON; anything else (or "quoted") as text."""
    import orjson

    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, int | float | bool | str) else text


def query(
    model: str,
    measure: Annotated[list[str] | None, typer.Option("--measure", "-m")] = None,
    dimension: Annotated[
        list[str] | None, typer.Option("--dimension", "-d", help="e.g. course.subject or enrolled_at.month")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", "-w", help="member:op:value[,value], e.g. status:equals:active"),
    ] = None,
    segment: Annotated[list[str] | None, typer.Option("--segment", "-s")] = None,
    limit: Annotated[int, typer.Option(help="Rows to print (the API's default is 10,000).")] = 20,
    timezone: str = "UTC",
    tenant: Annotated[str | None, typer.Option(help="Run as a principal of this tenant.")] = None,
    role: Annotated[list[str] | None, typer.Option("--role", help="The principal's roles (repeat).")] = None,
    attr: AttrOption = None,
    show_sql: Annotated[bool, typer.Option("--sql", help="Print the SQL and its parameters too.")] = False,
    models: Annotated[Path | None, typer.Option("--models", help="Folder of model files.")] = None,
    output: FormatOption = OutputFormat.auto,
) -> None:
    """Run a semantic query against the warehouse and print the rows. Without --tenant and
    --role it runs as the data team, without access control."""
    from api.cli import _registry
    from authz.audit import Audit
    from authz.authorizer import Authorizer
    from authz.enforcer import PolicyEnforcer
    from authz.errors import AccessDenied
    from authz.policy_store import PolicyStore
    from authz.principal import Principal
    from resolvers.errors import QueryError
    from resolvers.executor import Executor
    from resolvers.service import QueryService

    if (tenant is None) != (not role):
        raise typer.BadParameter("give --tenant and --role together (or neither, to query as the data team)")
    settings = Settings.from_env()
    registry = _registry(models, settings)
    semantic = SemanticQuery(
        model=model,
        measures=tuple(measure or ()),
        dimensions=tuple(_dimension(d) for d in dimension or ()),
        filters=tuple(_condition(w) for w in where or ()),
        segments=tuple(segment or ()),
        limit=limit,
        timezone=timezone,
    )

    async def load_policy(engine: AsyncEngine) -> PolicyEnforcer:
        return await PolicyStore(engine).load()

    effective = EffectiveQuery(semantic)
    if tenant is not None and role:
        enforcer = with_engine(settings, load_policy, state=True)
        principal = Principal("user:cli", tenant, tuple(role), parse_attributes(attr))
        try:
            effective = Authorizer(lambda: enforcer, Audit()).authorize(registry, principal, semantic)
        except AccessDenied as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    else:
        console.print("[yellow]as the data team: no access control applies[/yellow]")

    async def work(engine: AsyncEngine) -> Any:
        service = QueryService(registry, Executor(engine, timeouts=settings.database_timeouts))
        compiled = service.compile(effective)
        if show_sql:
            console.print(compiled.sql, markup=False, highlight=False)
            console.print(f"parameters: {list(compiled.params)}", markup=False)
        return await service.executor.run(compiled)

    try:
        result = with_engine(settings, work)
    except (QueryError, AccessDenied) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    emit(result.columns, result.rows, output)
