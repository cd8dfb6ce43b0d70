"""`cohort tokens create|list|revoke` (API tokens for partner integrations) and `cohort dev-token`
(a JWT for trying the API). Tokens go to stdout alone, so `TOKEN=$(cohort ...)` works; notes go
to stderr."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.api_tokens import ApiTokenRecord, ApiTokenStore
from api.auth.claims import check_attributes
from api.auth.jwt_verifier import mint_token
from api.cli_database import with_engine
from api.cli_output import FormatOption, OutputFormat, emit
from api.settings import Settings, SettingsError
from authz.names import InvalidNameError, check_name
from authz.principal import AttributeValue

tokens_app = typer.Typer(
    help="API tokens for partner integrations: create, list, revoke.", no_args_is_help=True
)
console = Console()
notes = Console(stderr=True)
T = TypeVar("T")
_DURATION = re.compile(r"(\d+)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_UNDEFINED_TABLE = "42P01"

TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant it reads for.")]
RoleOption = Annotated[list[str], typer.Option("--role", help="A role name; repeat for several.")]
AttrOption = Annotated[
    list[str] | None, typer.Option("--attr", help="A principal attribute, key=value (repeatable).")
]


def _with_store(work: Callable[[ApiTokenStore], Awaitable[T]]) -> T:
    """Run `work` on the token store of the configured (or embedded) database."""

    async def on_engine(engine: AsyncEngine) -> T:
        try:
            return await work(ApiTokenStore(engine))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _UNDEFINED_TABLE:
                notes.print("[red]the api_tokens table is missing: run `cohort migrate` first[/red]")
                raise typer.Exit(1) from None
            raise

    return with_engine(Settings.from_env(), on_engine, state=True)


def _duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) == 0:
        raise typer.BadParameter(f"{text!r}: use a positive number of days, hours or minutes: 90d, 12h, 30m")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def parse_attributes(items: list[str] | None) -> dict[str, AttributeValue]:
    """key=value pairs; a value written as an integer (12, not 012) is an integer."""
    parsed: dict[str, AttributeValue] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: use key=value")
        parsed[key.strip()] = int(value) if re.fullmatch(r"-?(0|[1-9]\d*)", value) else value
    try:
        return check_attributes(parsed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _names(tenant: str, roles: list[str]) -> None:
    try:
        check_name(tenant, "tenant")
        for role in roles:
            check_name(role, "role")
    except InvalidNameError as exc:
        raise typer.BadParameter(str(exc)) from None


@tokens_app.command("create")
def create(
    tenant: TenantOption,
    role: RoleOption,
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. the partner's system.")],
    attr: AttrOption = None,
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="90d, 12h or 30m; without it the token does not expire."),
    ] = None,
) -> None:
    """Create an API token and print it (once: only its hash is stored)."""
    _names(tenant, role)
    attributes = parse_attributes(attr)
    expires_at = datetime.now(UTC) + _duration(expires_in) if expires_in else None

    async def work(store: ApiTokenStore) -> tuple[str, ApiTokenRecord]:
        return await store.create(name, tenant, role, attributes, expires_at)

    try:
        token, record = _with_store(work)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(token)
    notes.print(
        f"created API token {record.id} ({record.name}) for tenant {record.tenant}, "
        f"roles {', '.join(record.roles)}; expires {_when(record.expires_at, 'never')}",
        markup=False,
        highlight=False,
    )
    notes.print("[yellow]This token is shown only once: store it now, it cannot be recovered.[/yellow]")


@tokens_app.command("list")
def list_tokens(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's tokens.")] = None,
    output: FormatOption = OutputFormat.auto,
) -> None:
    """List API tokens (never the tokens themselves: they are not stored)."""
    records = _with_store(lambda store: store.list(tenant))
    columns = ("id", "name", "tenant", "roles", "created", "expires", "revoked", "last used", "token")
    rows = [
        (
            record.id,
            record.name,
            record.tenant,
            ", ".join(record.roles),
            _when(record.created_at),
            _when(record.expires_at, "never"),
            _when(record.revoked_at),
            _when(record.last_used_at, "never"),
            record.display,
        )
        for record in records
    ]
    emit(columns, rows, output)


@tokens_app.command("revoke")
def revoke(token_id: Annotated[int, typer.Argument(metavar="ID", help="The id shown by `list`.")]) -> None:
    """Revoke an API token: it stops working within seconds on every server."""
    if not _with_store(lambda store: store.revoke(token_id)):
        notes.print(f"[red]no active API token with id {token_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked API token {token_id}")


def dev_token(
    tenant: TenantOption,
    role: RoleOption,
    attr: AttrOption = None,
    expires_in: Annotated[str, typer.Option("--expires-in", help="90d, 12h or 30m.")] = "1h",
    subject: Annotated[str, typer.Option("--subject", help="The sub claim.")] = "dev",
) -> None:
    """Print a JWT signed with the configured secret (or the development one), to try the API."""
    _names(tenant, role)
    settings = Settings.from_env()
    try:
        token = mint_token(
            settings.auth,
            settings.data_dir,
            subject=subject,
            tenant=tenant,
            roles=role,
            attrs=parse_attributes(attr),
            expires_in_s=int(_duration(expires_in).total_seconds()),
        )
    except SettingsError as exc:
        notes.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(token)


def _when(moment: datetime | None, missing: str = "") -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else missing
