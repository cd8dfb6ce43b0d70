"""Representative semantic queries, shared by the golden-SQL and execution tests."""

from __future__ import annotations

from schema.query import And, Condition, DimensionRef, EffectiveQuery, Or, OrderBy, SemanticQuery

SNAPSHOT_QUERIES: dict[str, EffectiveQuery] = {
    "count_by_status": EffectiveQuery(
        SemanticQuery("enrollments", measures=("count",), dimensions=(DimensionRef("status"),))
    ),
    "monthly_in_timezone_with_range_and_segment": EffectiveQuery(
        SemanticQuery(
            "enrollments",
            measures=("count", "completion_rate"),
            dimensions=(DimensionRef("enrolled_at", "month"), DimensionRef("course.subject")),
            filters=(Condition("enrolled_at", "inDateRange", ("2025-01-01", "2025-06-30")),),
            segments=("sponsored",),
            timezone="Europe/London",
        )
    ),
    "ratio_number_and_having": EffectiveQuery(
        SemanticQuery(
            "feedback",
            measures=("nps", "avg_rating", "satisfied_rate"),
            dimensions=(DimensionRef("course.partner.name"),),
            filters=(Condition("responses", "gte", (10,)),),
            order=(OrderBy("nps", descending=True),),
            limit=5,
        )
    ),
    "fan_out_one_to_many": EffectiveQuery(
        SemanticQuery(
            "courses",
            measures=("count", "total_duration_hours", "enrollments.count", "enrollments.avg_progress"),
            dimensions=(DimensionRef("subject"),),
        )
    ),
    "fan_out_many_to_one": EffectiveQuery(
        SemanticQuery(
            "enrollments",
            measures=("count", "course.total_duration_hours", "course.avg_price"),
            dimensions=(DimensionRef("status"),),
        )
    ),
    "string_operators": EffectiveQuery(
        SemanticQuery(
            "learners",
            measures=("count",),
            filters=(
                Condition("full_name", "contains", ("o'b", "100%")),
                Condition("email", "endsWith", (".org",)),
                Condition("country", "notIn", ("Canada", "Chile")),
                Condition("enterprise.name", "notEquals", ("Acme",)),
                Condition("enterprise.kind", "set"),
            ),
        )
    ),
    "nested_and_or": EffectiveQuery(
        SemanticQuery(
            "enrollments",
            measures=("count",),
            filters=(
                Or(
                    (
                        And(
                            (Condition("status", "equals", ("completed",)), Condition("grade", "gte", (90,)))
                        ),
                        Condition("progress", "lt", (10,)),
                    )
                ),
                Condition("enrolled_at", "afterDate", ("2024-12-31",)),
                Condition("completed_at", "beforeDate", ("2025-07-01T12:00:00+02:00",)),
            ),
        )
    ),
    "sql_model_funnel": EffectiveQuery(
        SemanticQuery(
            "module_funnel",
            measures=("learners_reached", "step_completion_rate"),
            dimensions=(DimensionRef("module.position"),),
            filters=(Condition("course.id", "equals", (3,)),),
            order=(OrderBy("module.position"),),
        )
    ),
    "tenant_scope_restriction": EffectiveQuery(
        SemanticQuery(
            "progress_events",
            measures=("active_learners", "learning_hours"),
            dimensions=(DimensionRef("occurred_at", "week"),),
            filters=(
                Or(
                    (
                        Condition("event_type", "equals", ("module_completed",)),
                        Condition("minutes_spent", "gt", (30,)),
                    )
                ),
            ),
            limit=100,
            offset=100,
        )
    ).restrict(Condition("partner_id", "equals", ("northbridge-university",))),
    "join_path_by_model_name": EffectiveQuery(
        SemanticQuery(
            "skill_scores",
            measures=("avg_score", "proficiency_rate"),
            dimensions=(DimensionRef("skills.category"), DimensionRef("assessed_at", "quarter")),
        )
    ),
}
