"""Models with a composite primary key: rows are told apart by every key column."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.issues import ModelValidationError
from schema.query import DimensionRef, SemanticQuery
from schema.registry import Registry
from schema.validator import registry_from_texts
from tests.resolvers.oracle import assert_same, oracle, run

pytestmark = pytest.mark.integration

# One row per (enrollment, module): keyed by both. `events` repeats each such row once
# per progress event, so a sum over it must be de-duplicated on the pair.
MODELS = {
    "module_progress.yml": """
model: module_progress
sql: >
  select enrollment_id, module_id, min(course_id) as course_id, sum(minutes_spent) as minutes
  from progress_events group by enrollment_id, module_id
primary_key: [enrollment_id, module_id]
dimensions:
  module_id: {type: number, data_type: integer}
measures:
  count: {type: count}
  minutes: {type: sum, sql: minutes, data_type: integer}
""",
    "events.yml": """
model: events
table: progress_events
primary_key: id
joins:
  progress:
    model: module_progress
    relationship: many_to_one
    sql: >
      {events}.enrollment_id = {module_progress}.enrollment_id
      and {events}.module_id = {module_progress}.module_id
dimensions:
  event_type: {type: string}
measures:
  count: {type: count}
""",
}


@pytest.fixture(scope="module")
def composite() -> Registry:
    return registry_from_texts(MODELS)


async def test_a_repeated_model_is_deduplicated_on_every_key_column(
    composite: Registry, engine: AsyncEngine
) -> None:
    result = await run(
        composite,
        engine,
        SemanticQuery(
            "events",
            measures=("progress.count", "progress.minutes"),
            dimensions=(DimensionRef("event_type"),),
        ),
    )
    expected = await oracle(
        engine,
        """
        select s.event_type, count(*), sum(p.minutes)
        from (select distinct event_type, enrollment_id, module_id from progress_events) s
        join (select enrollment_id, module_id, sum(minutes_spent) as minutes
              from progress_events group by 1, 2) p using (enrollment_id, module_id)
        group by 1
        """,
    )
    assert_same(result.rows, expected, dims=1)
    # De-duplicating on one column only would merge pairs: the test would see it.
    [(pairs, modules)] = await oracle(
        engine,
        "select count(distinct (enrollment_id, module_id)), count(distinct module_id) from progress_events",
    )
    assert pairs > modules


async def test_counts_of_a_composite_keyed_model_at_its_root(
    composite: Registry, engine: AsyncEngine
) -> None:
    result = await run(
        composite,
        engine,
        SemanticQuery("module_progress", measures=("count",), dimensions=(DimensionRef("module_id"),)),
    )
    expected = await oracle(
        engine,
        "select module_id, count(distinct (enrollment_id, module_id)) from progress_events group by 1",
    )
    assert_same(result.rows, expected, dims=1)


@pytest.mark.parametrize("key", ["[]", "[enrollment_id, enrollment_id]", '["", module_id]'])
def test_a_key_list_must_name_distinct_columns(key: str) -> None:
    text = MODELS["module_progress.yml"].replace("[enrollment_id, module_id]", key)
    with pytest.raises(ModelValidationError) as caught:
        registry_from_texts({"module_progress.yml": text})
    assert any("primary_key" in str(issue) for issue in caught.value.issues), caught.value.issues
