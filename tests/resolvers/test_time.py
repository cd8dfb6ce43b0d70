"""Time grains in a requested timezone, across daylight-saving changes, and time filters.

The oracle here is Python's zoneinfo, independent of PostgreSQL's time zone code.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers.errors import QueryError
from schema.query import Condition, DimensionRef, SemanticQuery
from schema.registry import Registry
from tests.resolvers.oracle import oracle, run

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")


async def _local_times(engine: AsyncEngine, zone: ZoneInfo, start: str, end: str) -> list[datetime]:
    rows = await oracle(
        engine,
        "select enrolled_at from enrollments where enrolled_at >= :start and enrolled_at < :end",
        start=datetime.fromisoformat(start.replace("Z", "+00:00")),
        end=datetime.fromisoformat(end.replace("Z", "+00:00")),
    )
    return [row[0].astimezone(zone).replace(tzinfo=None) for row in rows]


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Europe/London", "2025-03-28T00:00:00+00:00", "2025-04-02T00:00:00+00:00"),  # clocks go forward
        ("Europe/London", "2025-10-24T00:00:00+00:00", "2025-10-29T00:00:00+00:00"),  # clocks go back
        ("America/New_York", "2025-03-07T00:00:00+00:00", "2025-03-12T00:00:00+00:00"),
    ],
)
async def test_day_and_hour_grains_across_daylight_saving(
    registry: Registry, engine: AsyncEngine, zone: str, start: str, end: str
) -> None:
    tz = ZoneInfo(zone)
    local = await _local_times(engine, tz, start, end)
    assert local, "no enrollments around the change: the test would prove nothing"
    window = (Condition("enrolled_at", "gte", (start,)), Condition("enrolled_at", "lt", (end,)))
    for grain, floor in (
        ("day", lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0)),
        ("hour", lambda t: t.replace(minute=0, second=0, microsecond=0)),
    ):
        result = await run(
            registry,
            engine,
            SemanticQuery(
                "enrollments",
                measures=("count",),
                dimensions=(DimensionRef("enrolled_at", grain),),  # type: ignore[arg-type]
                filters=window,
                timezone=zone,
            ),
        )
        assert dict(result.rows) == Counter(floor(t) for t in local)  # type: ignore[arg-type]


async def test_week_month_quarter_year_grains(registry: Registry, engine: AsyncEngine) -> None:
    local = await _local_times(engine, LONDON, "2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    floors = {
        "week": lambda t: (t - timedelta(days=t.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        ),
        "month": lambda t: datetime(t.year, t.month, 1),
        "quarter": lambda t: datetime(t.year, 3 * ((t.month - 1) // 3) + 1, 1),
        "year": lambda t: datetime(t.year, 1, 1),
    }
    for grain, floor in floors.items():
        result = await run(
            registry,
            engine,
            SemanticQuery(
                "enrollments",
                measures=("count",),
                dimensions=(DimensionRef("enrolled_at", grain),),  # type: ignore[arg-type]
                filters=(
                    Condition(
                        "enrolled_at", "inDateRange", ("2024-01-01T00:00:00Z", "2025-12-31T23:59:59.999999Z")
                    ),
                ),
                timezone="Europe/London",
            ),
        )
        assert dict(result.rows) == Counter(floor(t) for t in local), grain  # type: ignore[arg-type]


async def test_date_filters_read_dates_in_the_query_timezone(registry: Registry, engine: AsyncEngine) -> None:
    local = await _local_times(engine, LONDON, "2024-01-01T00:00:00Z", "2026-01-02T00:00:00Z")

    async def count(*conditions: Condition) -> int:
        result = await run(
            registry,
            engine,
            SemanticQuery("enrollments", measures=("count",), filters=conditions, timezone="Europe/London"),
        )
        return int(result.rows[0][0])

    def day(text: str) -> datetime:
        return datetime.fromisoformat(text)

    # inDateRange includes the whole end day.
    in_range = sum(day("2025-03-01") <= t < day("2025-04-01") for t in local)
    assert await count(Condition("enrolled_at", "inDateRange", ("2025-03-01", "2025-03-31"))) == in_range
    before = sum(t < day("2025-03-30") for t in local)
    assert await count(Condition("enrolled_at", "beforeDate", ("2025-03-30",))) == before
    after = sum(t >= day("2025-10-27") for t in local)
    assert await count(Condition("enrolled_at", "afterDate", ("2025-10-26",))) == after
    assert in_range and before and after


async def test_raw_time_dimension_is_local_wall_clock(registry: Registry, engine: AsyncEngine) -> None:
    result = await run(
        registry,
        engine,
        SemanticQuery(
            "enrollments",
            dimensions=(DimensionRef("enrolled_at"),),
            filters=(Condition("enrolled_at", "inDateRange", ("2025-07-01", "2025-07-01")),),
            timezone="Asia/Tokyo",
        ),
    )
    local = await _local_times(engine, ZoneInfo("Asia/Tokyo"), "2025-06-30T15:00:00Z", "2025-07-01T15:00:00Z")
    assert sorted(row[0] for row in result.rows) == sorted(set(local))


async def test_in_date_range_compares_instants_whatever_the_offsets(
    registry: Registry, engine: AsyncEngine
) -> None:
    """Ends written in different offsets, around London's clocks going back: the range is
    the instants between them, not the wall-clock readings."""
    start = datetime.fromisoformat("2025-10-26T00:30:00+00:00")  # 01:30 BST, before the change
    end = start + timedelta(hours=22)
    # The end written in UTC-11:00 reads earlier on the wall clock than the start does in
    # +14:00; in instants it is 22 hours later.
    written = (
        start.astimezone(ZoneInfo("Pacific/Kiritimati")).isoformat(),
        end.astimezone(ZoneInfo("Pacific/Pago_Pago")).isoformat(),
    )
    assert written[1][:19] < written[0][:19]
    [(expected,)] = await oracle(
        engine,
        "select count(*) from enrollments where enrolled_at >= :start and enrolled_at <= :end",
        start=start,
        end=end,
    )
    assert expected > 0, "no enrollments in the window: the test would prove nothing"
    for timezone in ("UTC", "Europe/London"):
        result = await run(
            registry,
            engine,
            SemanticQuery(
                "enrollments",
                measures=("count",),
                filters=(Condition("enrolled_at", "inDateRange", written),),
                timezone=timezone,
            ),
        )
        assert [tuple(row) for row in result.rows] == [(expected,)]


@pytest.mark.parametrize(
    ("values", "timezone"),
    [
        # 01:15+01:00 is 00:15 UTC: before the start at 00:30 UTC, though it reads later.
        (("2025-03-30T00:30:00+00:00", "2025-03-30T01:15:00+01:00"), "UTC"),
        # A naive start is read in the query's zone: 03:30 in New York, just after its clocks
        # went forward, is 07:30 UTC, after the end.
        (("2025-03-09T03:30:00", "2025-03-09T07:00:00+00:00"), "America/New_York"),
    ],
)
async def test_in_date_range_refuses_an_end_before_its_start_in_instants(
    registry: Registry, engine: AsyncEngine, values: tuple[str, str], timezone: str
) -> None:
    query = SemanticQuery(
        "enrollments",
        measures=("count",),
        filters=(Condition("enrolled_at", "inDateRange", values),),
        timezone=timezone,
    )
    with pytest.raises(QueryError, match="inDateRange starts after it ends"):
        await run(registry, engine, query)
