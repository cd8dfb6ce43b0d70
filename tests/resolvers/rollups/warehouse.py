"""A warehouse of its own for the rollup tests: the tiny demo in a scratch database, model
files whose `progress_events` declares the rollups under test, and late events that reach
the rollups three ways (merged by a refresh, recomputed with the recent days, still past
the watermark).

The demo's events run from 2024-01-01 to 2025-12-31; `NOW` is the end of that year, so the
recent days a refresh recomputes and the retention's first day fall among them.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from api.rollups import refresh, tables
from resolvers.rollups.layout import SCHEMA, Layout, layouts
from schema.registry import Registry
from schema.validator import load_registry

MODELS = Path(__file__).resolve().parents[3] / "schema" / "models"
NOW = datetime(2025, 12, 31, 18, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)  # the second refresh, which recomputes the recent days
RETENTION_DAYS = 150

# Measures the tests need that the model lacks: minima and maxima, a filtered average and
# maximum, a ratio.
MEASURES: dict[str, dict[str, Any]] = {
    "min_minutes": {"type": "min", "sql": "minutes_spent", "data_type": "integer"},
    "max_minutes": {"type": "max", "sql": "minutes_spent", "data_type": "integer"},
    "avg_completed_minutes": {
        "type": "avg",
        "sql": "minutes_spent",
        "filter": "{TABLE}.event_type = 'module_completed'",
    },
    "max_completed_minutes": {
        "type": "max",
        "sql": "minutes_spent",
        "data_type": "integer",
        "filter": "{TABLE}.event_type = 'module_completed'",
    },
    "completion_share": {"type": "ratio", "numerator": "modules_completed", "denominator": "count"},
}

_DAY = {"dimension": "occurred_at", "grain": "day"}
ROLLUPS: dict[str, dict[str, Any]] = {
    # Day buckets in UTC, every kind of measure.
    "by_course_day": {
        "dimensions": ["partner_id", "enterprise_id", "university", "course_id", "event_type"],
        "measures": [
            *("count", "modules_started", "modules_completed", "minutes_total", "avg_minutes"),
            *("min_minutes", "max_minutes", "learning_hours", "completion_share"),
            *("avg_completed_minutes", "max_completed_minutes"),
        ],
        "time": _DAY,
        "watermark": "id",
    },
    # Day buckets in a zone of their own.
    "by_course_day_ist": {
        "dimensions": ["partner_id", "university", "course_id", "event_type"],
        "measures": ["count", "modules_completed", "minutes_total", "avg_minutes", "learning_hours"],
        "time": {"dimension": "occurred_at", "grain": "day", "timezone": "Asia/Kolkata"},
        "watermark": "id",
    },
    # Half hours in UTC: every hour, day, ... of a zone whose offsets are whole half hours.
    "by_half_hour": {
        "dimensions": ["partner_id", "enterprise_id", "university", "event_type"],
        "measures": [
            "count",
            "modules_started",
            "minutes_total",
            "min_minutes",
            "max_minutes",
            "avg_minutes",
        ],
        "time": {"dimension": "occurred_at", "grain": "30 minutes"},
        "watermark": "id",
    },
    "by_week": {
        "dimensions": ["partner_id", "university", "course_id"],
        "measures": ["count", "modules_completed", "minutes_total", "max_minutes", "completion_share"],
        "time": {"dimension": "occurred_at", "grain": "week"},
        "watermark": "id",
    },
    # Months in a zone with summer time: a month's first instant moves with its offset.
    "by_course_month_ny": {
        "dimensions": ["partner_id", "university", "course_id"],
        "measures": ["count", "modules_completed", "minutes_total", "avg_minutes", "max_minutes"],
        "time": {"dimension": "occurred_at", "grain": "month", "timezone": "America/New_York"},
        "watermark": "id",
    },
    # The last RETENTION_DAYS only.
    "recent_by_day": {
        "dimensions": ["partner_id", "enterprise_id", "university", "event_type"],
        "measures": ["count", "modules_started", "modules_completed", "minutes_total", "avg_minutes"],
        "time": _DAY,
        "watermark": "id",
        "retention_days": RETENTION_DAYS,
    },
    # Distinct counts, with (learners_completing) and without a filter: the learner is kept.
    "learners_by_day": {
        "dimensions": ["partner_id", "enterprise_id", "learner_id"],
        "measures": ["active_learners", "learners_completing", "count"],
        "time": _DAY,
        "watermark": "id",
    },
    "learners_by_week": {
        "dimensions": ["partner_id", "enterprise_id", "learner_id"],
        "measures": ["active_learners", "learners_completing"],
        "time": {"dimension": "occurred_at", "grain": "week"},
        "watermark": "id",
    },
}


def write_models(folder: Path, rollups: dict[str, dict[str, Any]] | None = None) -> Path:
    """A copy of the model files whose progress_events has MEASURES and `rollups` (default
    ROLLUPS) and the other models none; returns the folder."""
    shutil.copytree(MODELS, folder, dirs_exist_ok=True)
    for file in folder.glob("*.yml"):
        spec = yaml.safe_load(file.read_text())
        if spec["model"] == "progress_events":
            spec["measures"].update(MEASURES)
            spec["rollups"] = ROLLUPS if rollups is None else rollups
        else:
            spec.pop("rollups", None)
        file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


def load_models(folder: Path, rollups: dict[str, dict[str, Any]] | None = None) -> Registry:
    return load_registry(write_models(folder, rollups))


def progress_layouts(registry: Registry) -> list[Layout]:
    return [layout for layout in layouts(registry.models) if layout.model.model == "progress_events"]


# --- late events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Late:
    """How many late events went where."""

    merged: int  # inserted before the first refresh after the build (merged incrementally)
    recomputed: int  # before the refresh that also recomputes the recent days
    out_of_order: int  # ids below the watermark, in the recent days (only the recomputation sees them)
    tail: int  # after the last refresh: read from the raw rows past the watermark
    watermark: int  # every rollup's, after the last refresh


def _late_times(rng: random.Random, count: int) -> list[datetime]:
    """Days and months before NOW, up to a day after it, and some on bucket boundaries (a
    UTC midnight, an Indian midnight, a half hour)."""
    found = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.35:
            moment = NOW - timedelta(seconds=rng.randint(0, 10 * 86_400))
        elif kind < 0.7:
            moment = NOW - timedelta(days=rng.randint(30, 700), seconds=rng.randint(0, 86_399))
        elif kind < 0.85:
            moment = NOW + timedelta(seconds=rng.randint(0, 86_399))
        else:
            day = NOW - timedelta(days=rng.randint(0, 400))
            midnight = day.replace(hour=0, minute=0, second=0)
            moment = rng.choice(
                [midnight, midnight + timedelta(hours=18, minutes=30), day.replace(minute=30)]
            )
        found.append(moment.replace(microsecond=0))
    return found


async def insert_late(
    conn: asyncpg.Connection, rng: random.Random, times: list[datetime], ids: list[int] | None = None
) -> int:
    """Events at `times`, copied from random existing ones (the same enrollment, learner,
    course and tenants), with new ids above the highest (or `ids`)."""
    templates = await conn.fetch(
        "select enrollment_id, learner_id, course_id, module_id, partner_id, enterprise_id "
        "from progress_events where id % 7 = 0 order by id"
    )
    top = int(await conn.fetchval("select max(id) from progress_events"))
    new_ids = ids if ids is not None else list(range(top + 1, top + 1 + len(times)))
    rows = []
    for new_id, moment in zip(new_ids, times, strict=True):
        template = rng.choice(templates)
        kind = rng.choice(["module_started", "module_completed"])
        rows.append((new_id, *template, kind, moment, rng.randint(1, 240)))
    await conn.executemany(
        "insert into progress_events (id, enrollment_id, learner_id, course_id, module_id, partner_id, "
        "enterprise_id, event_type, occurred_at, minutes_spent) "
        "values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        rows,
    )
    return len(rows)


async def table_rows(conn: asyncpg.Connection, layout: Layout) -> int:
    table = await conn.fetchval(
        f"select table_name from {SCHEMA}.state where model = $1 and rollup = $2",  # noqa: S608
        layout.model.model,
        layout.name,
    )
    return int(await conn.fetchval(f'select count(*) from {SCHEMA}."{table}"'))  # noqa: S608


async def build_with_late_events(conn: asyncpg.Connection, found: list[Layout], seed: int) -> Late:
    """Build every rollup at NOW, then bring late events in each of the three ways. Checks
    on the way that the merge updated stored rows (ON CONFLICT), not only added some."""
    rng = random.Random(seed)
    await tables.setup(conn)
    for layout in found:
        assert (await refresh.refresh(conn, layout, now=NOW)).action == "built"

    merged = await insert_late(conn, rng, _late_times(rng, 400))
    for layout in found:
        before = await table_rows(conn, layout)
        done = await refresh.refresh(conn, layout, now=NOW)
        assert done.action == "refreshed", done
        added = await table_rows(conn, layout) - before
        assert done.rows_merged > added, f"{layout.key}: no stored row was updated by the merge"

    recomputed = await insert_late(conn, rng, _late_times(rng, 200))
    # Rows committed out of order: ids below the watermark, in the last day before LATER
    # (inside every rollup's recomputed days, whatever its grain): only the recomputation
    # sees them.
    low = int(await conn.fetchval("select min(id) from progress_events"))
    recent = [LATER - timedelta(minutes=rng.randint(10, 1_400)) for _ in range(5)]
    out_of_order = await insert_late(conn, rng, recent, [low - 1 - n for n in range(len(recent))])
    for layout in found:
        done = await refresh.refresh(conn, layout, now=LATER, rebuild_every_s=0)
        assert done.action == "refreshed", done

    watermark = int(await conn.fetchval("select max(id) from progress_events"))
    tail = await insert_late(conn, rng, _late_times(rng, 150))
    return Late(merged, recomputed, out_of_order, tail, watermark)
