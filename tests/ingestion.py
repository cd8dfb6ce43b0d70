"""Ingestion's tables in a test database, and what tests send to POST /events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from api.ingest import tables
from api.ingest.service import asyncpg_dsn

RETENTION_DAYS = 30
AHEAD_DAYS = 3


async def setup_ingestion(database_url: str) -> None:
    """`cohort ingest setup` on the database (the session's, or a scratch one)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await tables.setup(
            conn, today=datetime.now(UTC).date(), retention_days=RETENTION_DAYS, ahead_days=AHEAD_DAYS
        )
    finally:
        await conn.close()


def event(
    event_id: str | None = None,
    kind: str = "module_completed",
    occurred_at: datetime | str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A valid event of `kind` (fields given override the defaults)."""
    defaults: dict[str, dict[str, Any]] = {
        "module_completed": {"learner_id": "L1", "course_id": 1, "module_id": 1, "minutes_spent": 12},
        "module_started": {"learner_id": "L1", "course_id": 1, "module_id": 1},
        "course_enrolled": {"learner_id": "L1", "course_id": 1},
        "assessment_submitted": {"learner_id": "L1", "course_id": 1, "assessment_id": 1, "score": 80.5},
    }
    when = occurred_at or datetime.now(UTC)
    return {
        "id": event_id or uuid.uuid4().hex,
        "type": kind,
        "occurred_at": when.isoformat() if isinstance(when, datetime) else when,
        **defaults[kind],
        **fields,
    }


def body(events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(events)
