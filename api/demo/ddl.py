"""The demo warehouse's tables: a learning platform with university partners and
enterprise customers. Created by the demo seeding (`cohort seed`, `make run`), never by
`cohort migrate`: the demo is a warehouse like any other, not part of Cohort's state.

Every fact row carries its tenant columns: partner_id (the university that owns the
course) and enterprise_id (the company that sponsors the learner, NULL for open
learners). A distributed PostgreSQL can co-locate a tenant's rows on them.

The big fact table, progress_events, has no foreign keys: it is bulk-loaded with COPY
by the generator, which derives every reference from rows it wrote itself.
"""

from __future__ import annotations

from typing import Any, Final

# Seeding replaces every row of these tables: it only does so where this marker says
# the tables are the demo's own, never in a warehouse that merely has a `courses` table.
MARKER: Final = "cohort demo warehouse"

_TABLES: Final = """
create table organizations (
    id          text primary key,
    name        text not null,
    kind        text not null check (kind in ('university', 'enterprise')),
    country     text not null,
    joined_at   timestamptz not null
);

create table instructors (
    id          integer primary key,
    partner_id  text not null references organizations (id),
    full_name   text not null,
    email       text not null
);

create table courses (
    id              integer primary key,
    partner_id      text not null references organizations (id),
    instructor_id   integer not null references instructors (id),
    title           text not null,
    subject         text not null,
    level           text not null check (level in ('beginner', 'intermediate', 'advanced')),
    language        text not null,
    is_paid         boolean not null,
    price           numeric(8, 2) not null,
    duration_hours  numeric(6, 1) not null,
    launched_at     timestamptz not null
);

create table course_modules (
    id                 integer primary key,
    course_id          integer not null references courses (id),
    position           integer not null,
    title              text not null,
    estimated_minutes  integer not null,
    unique (course_id, position)
);

create table learners (
    id             bigint primary key,
    enterprise_id  text references organizations (id),
    email          text not null,
    full_name      text not null,
    country        text not null,
    signed_up_at   timestamptz not null
);

create table enrollments (
    id             bigint primary key,
    learner_id     bigint not null references learners (id),
    course_id      integer not null references courses (id),
    partner_id     text not null,
    enterprise_id  text,
    enrolled_at    timestamptz not null,
    status         text not null check (status in ('active', 'completed', 'dropped')),
    progress       numeric(5, 2) not null check (progress between 0 and 100),
    completed_at   timestamptz,
    grade          numeric(5, 2),
    updated_at     timestamptz not null
);

create table progress_events (
    id             bigint primary key,
    enrollment_id  bigint not null,
    learner_id     bigint not null,
    course_id      integer not null,
    module_id      integer not null,
    partner_id     text not null,
    enterprise_id  text,
    event_type     text not null check (event_type in ('module_started', 'module_completed')),
    occurred_at    timestamptz not null,
    minutes_spent  integer not null
);

create table assessments (
    id          integer primary key,
    course_id   integer not null references courses (id),
    module_id   integer references course_modules (id),
    partner_id  text not null,
    title       text not null,
    kind        text not null check (kind in ('quiz', 'assignment', 'exam')),
    max_score   numeric(6, 2) not null
);

create table assessment_submissions (
    id             bigint primary key,
    assessment_id  integer not null references assessments (id),
    enrollment_id  bigint not null references enrollments (id),
    learner_id     bigint not null,
    course_id      integer not null,
    partner_id     text not null,
    enterprise_id  text,
    submitted_at   timestamptz not null,
    score          numeric(6, 2) not null,
    passed         boolean not null
);

create table feedback (
    id             bigint primary key,
    enrollment_id  bigint not null references enrollments (id),
    learner_id     bigint not null,
    course_id      integer not null,
    partner_id     text not null,
    enterprise_id  text,
    submitted_at   timestamptz not null,
    rating         smallint not null check (rating between 1 and 5),
    nps            smallint not null check (nps between 0 and 10),
    comment        text
);

create table skills (
    id        integer primary key,
    name      text not null unique,
    category  text not null
);

create table course_skills (
    course_id  integer not null references courses (id),
    skill_id   integer not null references skills (id),
    primary key (course_id, skill_id)
);

create table skill_scores (
    id             bigint primary key,
    learner_id     bigint not null,
    skill_id       integer not null references skills (id),
    course_id      integer not null,
    partner_id     text not null,
    enterprise_id  text,
    assessed_at    timestamptz not null,
    score          numeric(5, 2) not null check (score between 0 and 100)
);
"""

_INDEXES: Final = """
create index enrollments_partner_idx on enrollments (partner_id, enrolled_at);
create index enrollments_enterprise_idx on enrollments (enterprise_id, enrolled_at);
create index enrollments_course_idx on enrollments (course_id);
create index enrollments_learner_idx on enrollments (learner_id);
create index progress_events_partner_idx on progress_events (partner_id, occurred_at);
create index progress_events_enterprise_idx on progress_events (enterprise_id, occurred_at);
create index progress_events_enrollment_idx on progress_events (enrollment_id);
create index progress_events_module_idx on progress_events (module_id);
-- Rollup refresh recomputes recent days, and exact fallbacks count platform-wide buckets, by time.
create index progress_events_time_idx on progress_events (occurred_at);
create index submissions_partner_idx on assessment_submissions (partner_id);
create index submissions_enterprise_idx on assessment_submissions (enterprise_id);
create index feedback_partner_idx on feedback (partner_id);
create index feedback_enterprise_idx on feedback (enterprise_id);
create index skill_scores_partner_idx on skill_scores (partner_id);
create index skill_scores_enterprise_idx on skill_scores (enterprise_id, assessed_at);
create index courses_partner_idx on courses (partner_id);
create index learners_enterprise_idx on learners (enterprise_id);
"""


class NotTheDemoError(Exception):
    """The database has tables named like the demo's that the demo did not create."""


def _statements(script: str) -> list[str]:
    # asyncpg prepares every statement, and a prepared statement holds one command.
    return [statement for statement in script.split(";") if statement.strip()]


async def ensure_demo_tables(driver: Any, tables: tuple[str, ...]) -> bool:
    """Create the demo tables if none exists (True), accept them if all are the demo's
    (False); refuse a database that holds other tables of these names."""
    rows = await driver.fetch(
        "select t.name, obj_description(to_regclass(t.name), 'pg_class') as comment"
        " from unnest($1::text[]) as t(name) where to_regclass(t.name) is not null",
        list(tables),
    )
    if not rows:
        for statement in _statements(_TABLES + _INDEXES):
            await driver.execute(statement)
        for table in tables:
            await driver.execute(f"comment on table {table} is '{MARKER}'")
        return True
    foreign = sorted(row["name"] for row in rows if row["comment"] != MARKER)
    missing = sorted(set(tables) - {row["name"] for row in rows})
    if foreign or missing:
        parts = [f"tables not made by the demo: {', '.join(foreign)}"] if foreign else []
        parts += [f"missing: {', '.join(missing)}"] if missing else []
        detail = "; ".join(parts)
        raise NotTheDemoError(
            f"this database is not an (empty or) demo warehouse ({detail}); seed the demo into a "
            "database of its own"
        )
    return False
