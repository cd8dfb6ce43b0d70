"""Principals, semantic queries and their hand-written oracle SQL, for the tenant-isolation tests.

The oracle never goes through Cohort: for each fact model it reads the table directly
(alias `x`, with `c` = courses, `l` = learners and a few model-specific joins), scopes it
with a tenant predicate written here from the principal (not from the policy), and
suppresses groups with fewer distinct learners than the role's minimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from authz.principal import Principal
from schema.query import Condition, DimensionRef, Filter, Or, SemanticQuery

# The minimum group size per role, as the product documentation states it (checked
# against the policy file in the tests).
MIN_GROUP = {
    "platform_admin": 1,
    "university_admin": 5,
    "enterprise_admin": 5,
    "instructor": 10,
    "partner_integration": 10,
}

# Which rows of a fact table (alias x, courses joined as c) a principal may count.
TENANT_PREDICATE = {
    "platform_admin": "true",
    "university_admin": "x.partner_id = :tenant",
    "partner_integration": "x.partner_id = :tenant",
    "enterprise_admin": "x.enterprise_id = :tenant",
    "instructor": "c.instructor_id = :iid and x.partner_id = :tenant",
}

# Tenants that own nothing (valid names, no organization).
EMPTY_UNIVERSITY = "empty-university"
EMPTY_ENTERPRISE = "empty-enterprise"
PLATFORM = "cohort-staff"
UNKNOWN_INSTRUCTOR = 9_999


@dataclass(frozen=True, slots=True)
class Who:
    """A principal as the oracle sees it: a role, its tenant and, for instructors, an id."""

    role: str
    tenant: str
    instructor_id: int | None = None

    def principal(self) -> Principal:
        attributes = {} if self.instructor_id is None else {"instructor_id": self.instructor_id}
        return Principal(f"user:{self.role}", self.tenant, (self.role,), attributes)

    @property
    def k(self) -> int:
        return MIN_GROUP[self.role]

    def params(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "iid": self.instructor_id, "k": self.k}

    def __str__(self) -> str:
        suffix = "" if self.instructor_id is None else f"#{self.instructor_id}"
        return f"{self.role}@{self.tenant}{suffix}"


@dataclass(frozen=True, slots=True)
class Tenants:
    """The organizations of the test database, by kind, and every (instructor, university)."""

    universities: tuple[str, ...]
    enterprises: tuple[str, ...]
    instructors: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class Dim:
    ref: DimensionRef
    sql: str  # the same value, computed by the oracle


@dataclass(frozen=True, slots=True)
class ClientFilter:
    filter: Filter
    sql: str  # the same condition in the oracle's terms
    having: bool = False  # a condition on a measure


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact model, and how the oracle reads it."""

    model: str
    source: str  # FROM ... (alias x) with the oracle's joins
    measures: dict[str, str]
    dimensions: tuple[Dim, ...]
    filters: tuple[ClientFilter, ...]
    denied: frozenset[str] = frozenset()  # roles with no rule for the model: default deny


def _month(column: str) -> str:
    return f"date_trunc('month', {column} at time zone 'UTC')"


def _dim(member: str, sql: str, granularity: str | None = None) -> Dim:
    return Dim(DimensionRef(member, granularity), sql)  # type: ignore[arg-type]


_COURSE_AND_LEARNER = "left join courses c on c.id = x.course_id left join learners l on l.id = x.learner_id"

FACTS: dict[str, Fact] = {
    fact.model: fact
    for fact in (
        Fact(
            "enrollments",
            f"enrollments x {_COURSE_AND_LEARNER}",
            measures={
                "count": "count(*)",
                "learners": "count(distinct x.learner_id)",
                "courses": "count(distinct x.course_id)",
                "avg_progress": "avg(x.progress)::float8",
                "avg_grade": "avg(x.grade)::float8",
                "completed": "count(*) filter (where x.status = 'completed')",
            },
            dimensions=(
                _dim("status", "x.status"),
                _dim("enrolled_at", _month("x.enrolled_at"), "month"),
                _dim("course.subject", "c.subject"),
                _dim("course.level", "c.level"),
                _dim("learner.country", "l.country"),
                _dim("completed_at", _month("x.completed_at"), "month"),  # NULL unless completed
                _dim("grade", "x.grade::float8"),  # NULL unless completed
                _dim("learner.is_sponsored", "(l.enterprise_id is not null)"),
            ),
            filters=(
                ClientFilter(
                    Condition("status", "in", ("active", "completed")), "x.status in ('active', 'completed')"
                ),
                ClientFilter(Condition("course.level", "equals", ("beginner",)), "c.level = 'beginner'"),
                ClientFilter(
                    Condition("enrolled_at", "inDateRange", ("2025-01-01", "2025-06-30")),
                    "x.enrolled_at >= timestamptz '2025-01-01 00:00+00' "
                    "and x.enrolled_at < timestamptz '2025-07-01 00:00+00'",
                ),
                ClientFilter(
                    Or((Condition("status", "equals", ("dropped",)), Condition("progress", "gte", (90,)))),
                    "(x.status = 'dropped' or x.progress >= 90)",
                ),
                ClientFilter(
                    Condition("learner.country", "notIn", ("US", "NO")),
                    "(l.country not in ('US', 'NO') or l.country is null)",
                ),
                ClientFilter(Condition("count", "gte", (20,)), "count(*) >= 20", having=True),
            ),
        ),
        Fact(
            "progress_events",
            f"progress_events x {_COURSE_AND_LEARNER} "
            "left join course_modules m on m.id = x.module_id "
            "left join enrollments en on en.id = x.enrollment_id",
            measures={
                "count": "count(*)",
                "active_learners": "count(distinct x.learner_id)",
                "minutes_total": "sum(x.minutes_spent)",
                "avg_minutes": "avg(x.minutes_spent)::float8",
                "modules_completed": "count(*) filter (where x.event_type = 'module_completed')",
            },
            dimensions=(
                _dim("event_type", "x.event_type"),
                _dim("occurred_at", _month("x.occurred_at"), "month"),
                _dim("course.subject", "c.subject"),
                _dim("learner.country", "l.country"),
                _dim("module.position", "m.position"),
                _dim("enrollment.status", "en.status"),
            ),
            filters=(
                ClientFilter(
                    Condition("event_type", "equals", ("module_completed",)),
                    "x.event_type = 'module_completed'",
                ),
                ClientFilter(
                    Condition("occurred_at", "afterDate", ("2025-03-31",)),
                    "x.occurred_at >= timestamptz '2025-04-01 00:00+00'",
                ),
                ClientFilter(Condition("minutes_spent", "gte", (30,)), "x.minutes_spent >= 30"),
                ClientFilter(Condition("module.position", "lte", (2,)), "m.position <= 2"),
                ClientFilter(
                    Condition("enrollment.status", "equals", ("completed",)), "en.status = 'completed'"
                ),
                ClientFilter(Condition("count", "gte", (50,)), "count(*) >= 50", having=True),
            ),
        ),
        Fact(
            "feedback",
            f"feedback x {_COURSE_AND_LEARNER} left join enrollments en on en.id = x.enrollment_id",
            measures={
                "responses": "count(*)",
                "learners": "count(distinct x.learner_id)",
                "avg_rating": "avg(x.rating)::float8",
                "promoters": "count(*) filter (where x.nps >= 9)",
            },
            dimensions=(
                _dim("rating", "x.rating"),
                _dim("submitted_at", _month("x.submitted_at"), "month"),
                _dim("course.level", "c.level"),
                _dim("learner.country", "l.country"),
                _dim("has_comment", "(x.comment is not null)"),
                _dim("enrollment.status", "en.status"),
            ),
            filters=(
                ClientFilter(Condition("rating", "gte", (4,)), "x.rating >= 4"),
                ClientFilter(Condition("has_comment", "equals", (True,)), "x.comment is not null"),
                ClientFilter(Condition("nps_score", "lte", (6,)), "x.nps <= 6"),
                ClientFilter(
                    Condition("course.subject", "in", ("Business", "Data Science", "Health")),
                    "c.subject in ('Business', 'Data Science', 'Health')",
                ),
                ClientFilter(Condition("responses", "gte", (10,)), "count(*) >= 10", having=True),
            ),
        ),
        Fact(
            "skill_scores",
            f"skill_scores x {_COURSE_AND_LEARNER} left join skills sk on sk.id = x.skill_id",
            measures={
                "count": "count(*)",
                "learners": "count(distinct x.learner_id)",
                "avg_score": "avg(x.score)::float8",
                "max_score": "max(x.score)::float8",
            },
            dimensions=(
                _dim("assessed_at", _month("x.assessed_at"), "month"),
                _dim("skill.category", "sk.category"),
                _dim("course.subject", "c.subject"),
                _dim("learner.country", "l.country"),
            ),
            filters=(
                ClientFilter(Condition("score", "gte", (70,)), "x.score >= 70"),
                ClientFilter(
                    Condition("skill.category", "in", ("Data", "Programming")),
                    "sk.category in ('Data', 'Programming')",
                ),
                ClientFilter(
                    Condition("assessed_at", "beforeDate", ("2025-01-01",)),
                    "x.assessed_at < timestamptz '2025-01-01 00:00+00'",
                ),
                ClientFilter(
                    Condition("learners", "gte", (8,)), "count(distinct x.learner_id) >= 8", having=True
                ),
            ),
        ),
        Fact(
            "submissions",
            f"assessment_submissions x {_COURSE_AND_LEARNER} "
            "left join enrollments en on en.id = x.enrollment_id",
            measures={
                "count": "count(*)",
                "learners": "count(distinct x.learner_id)",
                "passes": "count(*) filter (where x.passed)",
                "avg_score": "avg(x.score)::float8",
            },
            dimensions=(
                _dim("passed", "x.passed"),
                _dim("submitted_at", _month("x.submitted_at"), "month"),
                _dim("course.level", "c.level"),
                _dim("enrollment.status", "en.status"),
            ),
            filters=(
                ClientFilter(Condition("score", "lt", (60,)), "x.score < 60"),
                ClientFilter(Condition("passed", "equals", (False,)), "not x.passed"),
                ClientFilter(Condition("count", "gte", (15,)), "count(*) >= 15", having=True),
            ),
            denied=frozenset({"partner_integration"}),
        ),
        Fact(
            # A model defined by SQL: one row per (enrollment, module) reached. The oracle
            # derives it from progress_events in its own words.
            "module_funnel",
            """(
                select enrollment_id, module_id, min(learner_id) as learner_id,
                       min(course_id) as course_id, min(partner_id) as partner_id,
                       min(enterprise_id) as enterprise_id,
                       count(*) filter (where event_type = 'module_completed') > 0 as completed
                from progress_events group by enrollment_id, module_id
            ) x
            left join courses c on c.id = x.course_id
            left join course_modules m on m.id = x.module_id""",
            measures={
                "learners_reached": "count(distinct x.learner_id)",
                "learners_completed": "count(distinct x.learner_id) filter (where x.completed)",
            },
            dimensions=(
                _dim("module.position", "m.position"),
                _dim("course.subject", "c.subject"),
                _dim("completed", "x.completed"),
            ),
            filters=(
                ClientFilter(Condition("module.position", "in", (1, 3)), "m.position in (1, 3)"),
                ClientFilter(Condition("course.level", "notEquals", ("advanced",)), "c.level <> 'advanced'"),
            ),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Case:
    """One drawn example: who asks, on which model, for what."""

    who: Who
    fact: Fact
    measures: tuple[str, ...]
    dims: tuple[Dim, ...]
    client_filter: ClientFilter | None

    def query(self) -> SemanticQuery:
        return SemanticQuery(
            self.fact.model,
            measures=self.measures,
            dimensions=tuple(d.ref for d in self.dims),
            filters=() if self.client_filter is None else (self.client_filter.filter,),
        )

    def oracle(self, *, suppress: bool = True) -> tuple[str, dict[str, Any]]:
        return oracle_sql(
            self.who, self.fact, self.dims, self.measures, self.client_filter, suppress=suppress
        )


def oracle_sql(
    who: Who,
    fact: Fact,
    dims: Sequence[Dim],
    measures: Sequence[str],
    client_filter: ClientFilter | None = None,
    *,
    suppress: bool = True,
    extra_where: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The principal's own rows of `fact`, grouped by `dims`; small groups dropped when
    `suppress` (and the role's minimum is above 1)."""
    columns = [d.sql for d in dims] + [fact.measures[m] for m in measures]
    where = [TENANT_PREDICATE[who.role]]
    having: list[str] = []
    if client_filter is not None:
        (having if client_filter.having else where).append(client_filter.sql)
    if extra_where is not None:
        where.append(extra_where)
    if suppress and who.k > 1:
        having.append("count(distinct x.learner_id) >= :k")
    sql = f"select {', '.join(columns)} from {fact.source} where {' and '.join(where)}"  # noqa: S608
    if dims:
        sql += " group by " + ", ".join(str(i) for i in range(1, len(dims) + 1))
    if having:
        sql += " having " + " and ".join(having)
    return sql, who.params()


# --- strategies -------------------------------------------------------------------------


def principals(tenants: Tenants) -> st.SearchStrategy[Who]:
    """Every role of the property, each with a real tenant of the right kind, and now
    and then one that owns nothing."""
    universities = st.sampled_from((*tenants.universities, EMPTY_UNIVERSITY))
    enterprises = st.sampled_from((*tenants.enterprises, EMPTY_ENTERPRISE))
    others = {uni: next(u for u in tenants.universities if u != uni) for uni in tenants.universities}
    instructors = st.sampled_from(
        (
            *((iid, uni) for iid, uni in tenants.instructors),
            (tenants.instructors[1][0], others[tenants.instructors[1][1]]),  # another university's
            (UNKNOWN_INSTRUCTOR, tenants.universities[0]),
        )
    )
    return st.one_of(
        universities.map(lambda t: Who("university_admin", t)),
        enterprises.map(lambda t: Who("enterprise_admin", t)),
        instructors.map(lambda pair: Who("instructor", pair[1], pair[0])),
        st.just(Who("platform_admin", PLATFORM)),
        universities.map(lambda t: Who("partner_integration", t)),
    )


@st.composite
def cases(draw: st.DrawFn, tenants: Tenants, fact: Fact) -> Case:
    who = draw(principals(tenants))
    measures = draw(st.permutations(list(fact.measures)))[: draw(st.integers(1, 4))]
    dims = draw(st.permutations(fact.dimensions))[: draw(st.integers(0, 3))]
    client_filter = draw(st.none() | st.sampled_from(fact.filters))
    return Case(who, fact, tuple(measures), tuple(dims), client_filter)
