"""`cohort models generate --from-db`: starter model files from the warehouse's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli_database import with_engine
from api.introspect import read_tables
from api.settings import Settings
from schema.generate import Generated, generate

models_app = typer.Typer(help="Model files: generate them from the database.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


def write_files(generated: Generated, out: Path, force: bool) -> list[Path]:
    """Write every file, or none: an existing file is kept unless `force`."""
    targets = {out / name: text for name, text in generated.files.items()}
    existing = sorted(str(path) for path in targets if path.exists())
    if existing and not force:
        raise FileExistsError(existing)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
    return sorted(targets)


@models_app.command("generate")
def generate_command(
    from_db: Annotated[bool, typer.Option("--from-db", help="Read the tables of DATABASE_URL.")] = False,
    schema: Annotated[str | None, typer.Option(help="The database schema to read (default: public).")] = None,
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="Only these tables (repeat the option).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder to write the model files to.")] = Path("models"),
    tenant_column: Annotated[
        list[str] | None,
        typer.Option("--tenant-column", help="A column that holds the tenant: generated hidden (repeat)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite model files that exist.")] = False,
) -> None:
    """Write a model file per table: dimensions, counts, sums and averages, joins from
    foreign keys. Check the result with `cohort validate --db --models OUT`."""
    if not from_db:
        console.print("say where the models come from: --from-db")
        raise typer.Exit(2)
    settings = Settings.from_env()
    try:
        found = with_engine(settings, lambda engine: read_tables(engine, schema, tables))
    except LookupError as error:
        console.print(str(error))
        raise typer.Exit(1) from None
    generated = generate(found, tenant_column or ())
    for table, reason in generated.skipped.items():
        console.print(f"skipped {table}: {reason}")
    try:
        written = write_files(generated, out, force)
    except FileExistsError as error:
        console.print(f"not overwriting {', '.join(error.args[0])}: pass --force")
        raise typer.Exit(1) from None
    for path in written:
        print(path)
    console.print(f"{len(written)} model files in {out}; check them: cohort validate --db --models {out}")
