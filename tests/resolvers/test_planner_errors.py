"""Client mistakes are QueryErrors with a clear message, found before any SQL exists."""

from __future__ import annotations

import pytest

from resolvers.errors import QueryError
from resolvers.planner import plan
from schema.query import And, Condition, DimensionRef, EffectiveQuery, Or, OrderBy, SemanticQuery
from schema.registry import Registry


def error_of(registry: Registry, query: SemanticQuery) -> str:
    with pytest.raises(QueryError) as caught:
        plan(registry, EffectiveQuery(query))
    assert caught.value.code == "BAD_USER_INPUT"
    return str(caught.value)


def enrollments(**kwargs: object) -> SemanticQuery:
    kwargs.setdefault("measures", ("count",))
    return SemanticQuery("enrollments", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (SemanticQuery("nothing", measures=("count",)), "unknown model 'nothing'"),
        (SemanticQuery("enrollments"), "select at least one measure or dimension"),
        (enrollments(measures=("revenue",)), "unknown measure 'revenue'"),
        (enrollments(dimensions=(DimensionRef("colour"),)), "unknown dimension 'colour'"),
        (enrollments(dimensions=(DimensionRef("partner_id"),)), "unknown dimension 'partner_id'"),
        (enrollments(filters=(Condition("partner_id", "equals", ("x",)),)), "unknown dimension 'partner_id'"),
        (enrollments(dimensions=(DimensionRef("teacher.name"),)), "has no join 'teacher'"),
        (enrollments(dimensions=(DimensionRef("status", "month"),)), "has no granularity"),
        (enrollments(dimensions=(DimensionRef("course.launched_at", "hour"),)), "has no granularity 'hour'"),
        (enrollments(timezone="Mars/Olympus"), "unknown timezone"),
        (enrollments(timezone="../../etc/passwd"), "unknown timezone"),
        (enrollments(limit=50_001), "limit must be between 1 and 50000"),
        (enrollments(limit=0), "limit must be between"),
        (enrollments(offset=-1), "offset must be between"),
        (enrollments(order=(OrderBy("status"),)), "it is not selected"),
        (enrollments(segments=("vip",)), "unknown segment 'vip'"),
        (enrollments(filters=(Condition("status", "gt", ("a",)),)), "gt is not valid for a string"),
        (enrollments(filters=(Condition("progress", "equals", ("50",)),)), "expects a number"),
        (enrollments(filters=(Condition("progress", "equals", (True,)),)), "expects a number"),
        (enrollments(filters=(Condition("status", "equals", (1,)),)), "expects text"),
        (enrollments(filters=(Condition("status", "equals", ("a\x00b",)),)), "NUL"),
        (enrollments(filters=(Condition("status", "equals", ("a", "b")),)), "exactly one value"),
        (enrollments(filters=(Condition("status", "in", ()),)), "1 to 1000 values"),
        (enrollments(filters=(Condition("status", "set", ("x",)),)), "no values"),
        (enrollments(filters=(Condition("is_completed", "equals", ("yes",)),)), "true or false"),
        (enrollments(filters=(Condition("enrolled_at", "inDateRange", ("2025-01-01",)),)), "two values"),
        (enrollments(filters=(Condition("enrolled_at", "afterDate", ("yesterday",)),)), "expects a date"),
        (
            enrollments(filters=(Condition("enrolled_at", "inDateRange", ("2025-02-01", "2025-01-01")),)),
            "starts after it ends",
        ),
        (enrollments(filters=(Condition("count", "contains", ("1",)),)), "not valid for a measure"),
        (
            enrollments(filters=(Or((Condition("count", "gt", (1,)), Condition("status", "set"))),)),
            "cannot mix",
        ),
        (enrollments(filters=(And(()),)), "at least one condition"),
    ],
)
def test_bad_queries(registry: Registry, query: SemanticQuery, message: str) -> None:
    assert message in error_of(registry, query)


def test_join_path_by_model_name_must_be_unambiguous(registry: Registry) -> None:
    # progress_events reaches courses directly (course) and through enrollment.course.
    planned = plan(
        registry,
        EffectiveQuery(
            SemanticQuery(
                "progress_events", measures=("count",), dimensions=(DimensionRef("courses.subject"),)
            )
        ),
    )
    assert planned.dimensions[0].path == ("course",)
    # feedback reaches organizations only through course.partner or learner.enterprise.
    message = error_of(
        registry,
        SemanticQuery("feedback", measures=("responses",), dimensions=(DimensionRef("organizations.name"),)),
    )
    assert "ambiguous" in message and "course.partner" in message and "learner.enterprise" in message


def test_hidden_members_are_allowed_in_mandatory_filters(registry: Registry) -> None:
    effective = EffectiveQuery(enrollments()).restrict(Condition("partner_id", "equals", ("x",)))
    planned = plan(registry, effective)
    assert len(planned.where) == 1


def test_compiled_queries_are_cached_by_exact_input(registry: Registry) -> None:
    from resolvers.service import QueryService

    service = QueryService(registry, executor=None, compiled_cache_size=2)  # type: ignore[arg-type]
    numbers = EffectiveQuery(enrollments(filters=(Condition("progress", "equals", (1,)),)))
    assert service.compile(numbers) is service.compile(numbers)
    # True == 1 in Python, but a boolean is no number: the cache must not blur them.
    with pytest.raises(QueryError):
        service.compile(EffectiveQuery(enrollments(filters=(Condition("progress", "equals", (True,)),))))
    for limit in (1, 2, 3):
        service.compile(EffectiveQuery(enrollments(limit=limit)))
    assert len(service._compiled) == 2
