"""Which joins a rollup can make from its stored dimensions (schema/rollups.py)."""

from __future__ import annotations

from pathlib import Path

from schema.rollups import stored_join, stored_placeholder
from schema.snippets import Placeholder
from schema.spec import Join, ModelSpec
from schema.validator import load_registry

MODELS = Path(__file__).resolve().parents[2] / "schema" / "models"


def _events() -> ModelSpec:
    return load_registry(MODELS).model("progress_events")


def test_each_column_read_becomes_its_stored_dimension() -> None:
    events = _events()
    parts = stored_join(events, events.joins["course"], ["partner_id", "course_id"])
    assert parts == (Placeholder(stored_placeholder("course_id")), " = ", Placeholder("courses"), ".id")
    # `university` is partner_id under another name: it holds the column too.
    on_partner = Join(
        model="organizations",
        relationship="many_to_one",
        sql="{progress_events}.partner_id = {organizations}.id",
    )
    assert stored_join(events, on_partner, ["university"])[0] == Placeholder(stored_placeholder("university"))


def test_a_join_the_dimensions_cannot_make_says_why() -> None:
    events = _events()
    assert stored_join(events, events.joins["module"], ["course_id"]) == (
        "the join to modules needs progress_events.module_id, which is not stored"
    )
    expression = Join(
        model="courses", relationship="many_to_one", sql="coalesce({progress_events}) = {courses}.id"
    )
    assert "reads progress_events other than by a column" in str(
        stored_join(events, expression, ["course_id"])
    )
    itself = Join(
        model="progress_events", relationship="one_to_one", sql="{progress_events}.id = {progress_events}.id"
    )
    assert "joins the model to itself" in str(stored_join(events, itself, ["course_id"]))
