"""Access policies: Casbin rules in PostgreSQL, with a version that changes on every edit.

The app polls `cohort.policy_version` and reloads the rules when it moves, so a policy
edit takes effect within seconds, without a restart, and changes the cache keys.

The first revision of Cohort's own chain: its state lives in the `cohort` schema (the
version table too, `cohort.alembic_version`), apart from the warehouse's tables.

Revision ID: 0002
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = None
branch_labels = None
depends_on = None

_UP = [
    "create schema if not exists cohort",
    """
    create table cohort.casbin_rule (
        id     bigserial primary key,
        ptype  text not null,
        v0     text not null default '',
        v1     text not null default '',
        v2     text not null default '',
        v3     text not null default '',
        v4     text not null default '',
        v5     text not null default '',
        unique (ptype, v0, v1, v2, v3, v4, v5)
    )
    """,
    "create table cohort.policy_version (id boolean primary key default true check (id), version bigint not null)",
    "insert into cohort.policy_version (version) values (1)",
    """
    create function cohort.bump_policy_version() returns trigger language plpgsql as $$
    begin
        update cohort.policy_version set version = version + 1;
        return null;
    end $$
    """,
    """
    create trigger casbin_rule_changed after insert or update or delete or truncate
    on cohort.casbin_rule for each statement execute function cohort.bump_policy_version()
    """,
]

_DOWN = [
    "drop table if exists cohort.casbin_rule",
    "drop table if exists cohort.policy_version",
    "drop function if exists cohort.bump_policy_version()",
]


def upgrade() -> None:
    for statement in _UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DOWN:
        op.execute(statement)
