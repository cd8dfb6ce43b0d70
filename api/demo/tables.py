"""The tables of the demo warehouse, their columns, and the shape of generated rows."""

from __future__ import annotations

from typing import Final

Row = tuple[object, ...]
Batch = tuple[str, list[Row]]

# Columns of every table, in the order the migration declares them; the dict's order
# is also the load order (parents before children).
_COLUMN_NAMES: Final = {
    "organizations": "id name kind country joined_at",
    "instructors": "id partner_id full_name email",
    "courses": (
        "id partner_id instructor_id title subject level language is_paid price duration_hours launched_at"
    ),
    "course_modules": "id course_id position title estimated_minutes",
    "skills": "id name category",
    "course_skills": "course_id skill_id",
    "assessments": "id course_id module_id partner_id title kind max_score",
    "learners": "id enterprise_id email full_name country signed_up_at",
    "enrollments": (
        "id learner_id course_id partner_id enterprise_id enrolled_at status progress"
        " completed_at grade updated_at"
    ),
    "progress_events": (
        "id enrollment_id learner_id course_id module_id partner_id enterprise_id"
        " event_type occurred_at minutes_spent"
    ),
    "assessment_submissions": (
        "id assessment_id enrollment_id learner_id course_id partner_id enterprise_id"
        " submitted_at score passed"
    ),
    "feedback": (
        "id enrollment_id learner_id course_id partner_id enterprise_id submitted_at rating nps comment"
    ),
    "skill_scores": "id learner_id skill_id course_id partner_id enterprise_id assessed_at score",
}
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    table: tuple(names.split()) for table, names in _COLUMN_NAMES.items()
}
TABLES: Final[tuple[str, ...]] = tuple(COLUMNS)
FACT_TABLES: Final[tuple[str, ...]] = (
    "enrollments",
    "progress_events",
    "assessment_submissions",
    "feedback",
    "skill_scores",
)
