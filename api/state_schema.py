"""Cohort's own schema (`cohort`): where its state and its migration version live.

Before the state had its own chain, one Alembic chain created the demo warehouse (0001)
and then the state (0002, 0003), with its version table in the default schema. Such a
deployment is adopted once: the version moves to `cohort.alembic_version` and the demo
tables that revision 0001 made are marked as the demo's, so that seeding may still
replace their rows. Another application's `alembic_version` is never touched.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from api.demo.ddl import MARKER
from api.demo.tables import TABLES

STATE_SCHEMA = "cohort"
_LEGACY_REVISIONS = frozenset({"0002", "0003"})


def ensure_state_schema(conn: Connection) -> None:
    conn.execute(text(f"create schema if not exists {STATE_SCHEMA}"))


def adopt_legacy_layout(conn: Connection) -> str | None:
    """Move a legacy version row into the state schema; returns the adopted revision."""
    if conn.scalar(text("select to_regclass('cohort.alembic_version')")) is not None:
        return None
    # Resolved on the search path, as Alembic did (a role named `cohort` makes `cohort` the
    # current schema once it exists; the old table is still found in `public`).
    legacy = conn.scalar(text("select to_regclass('alembic_version')"))
    if legacy is None or conn.scalar(text("select to_regclass('cohort.casbin_rule')")) is None:
        return None
    versions = set(conn.scalars(text(f"select version_num from {legacy}")))  # noqa: S608 (a regclass)
    adopted = versions & _LEGACY_REVISIONS
    if len(adopted) != 1 or len(versions) != 1:
        return None  # not Cohort's old chain
    revision: str = adopted.pop()
    conn.execute(
        text(
            "create table cohort.alembic_version (version_num varchar(32) not null,"
            " constraint alembic_version_pkc primary key (version_num))"
        )
    )
    conn.execute(text("insert into cohort.alembic_version values (:revision)"), {"revision": revision})
    conn.execute(text(f"drop table {legacy}"))
    for table in TABLES:
        if conn.scalar(text("select to_regclass(:t)"), {"t": table}) is not None:
            conn.execute(text(f"comment on table {table} is '{MARKER}'"))
    return revision
