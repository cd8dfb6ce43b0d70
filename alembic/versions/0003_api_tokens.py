"""API tokens for partner integrations: only a SHA-256 of each token is stored.

The plaintext is shown once, when the token is created. `last_four` (checksum characters,
so they reveal at most 24 bits of the 192 random ones) lets people tell tokens apart.
Verification looks a token up by its hash through the unique index; the partial index
serves listing the active tokens of a tenant.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_UP = [
    """
    create table cohort.api_tokens (
        id            bigserial primary key,
        name          text not null check (length(name) between 1 and 200),
        token_hash    bytea not null unique check (octet_length(token_hash) = 32),
        last_four     text not null,
        tenant        text not null,
        roles         text[] not null check (cardinality(roles) > 0),
        attributes    jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
        created_at    timestamptz not null default now(),
        expires_at    timestamptz,
        revoked_at    timestamptz,
        last_used_at  timestamptz
    )
    """,
    "create index api_tokens_active_by_tenant on cohort.api_tokens (tenant) where revoked_at is null",
]

_DOWN = ["drop table if exists cohort.api_tokens"]


def upgrade() -> None:
    for statement in _UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DOWN:
        op.execute(statement)
