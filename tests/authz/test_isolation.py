"""Tenant isolation end to end: authorize, compile, run on the seeded warehouse, and
compare every row with hand-written SQL that reads only the principal's own rows.

The guarantee under test: no aggregate ever includes another tenant's rows, and groups
with fewer distinct learners than the role's minimum never come back.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.errors import AccessDenied
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from resolvers.compiler import MASK, CompiledQuery
from resolvers.errors import QueryError
from resolvers.executor import Executor
from resolvers.service import QueryService
from schema.query import Condition, DimensionRef, EffectiveQuery, Filter, Or, OrderBy, SemanticQuery
from schema.registry import Registry
from tests.authz.strategies import (
    EMPTY_ENTERPRISE,
    EMPTY_UNIVERSITY,
    FACTS,
    MIN_GROUP,
    PLATFORM,
    Case,
    Dim,
    Tenants,
    Who,
    cases,
    oracle_sql,
)
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
async def tenants(engine: AsyncEngine) -> Tenants:
    organizations = await oracle(engine, "select id, kind from organizations order by id")
    instructors = await oracle(engine, "select id, partner_id from instructors order by id")
    tenants = Tenants(
        universities=tuple(org for org, kind in organizations if kind == "university"),
        enterprises=tuple(org for org, kind in organizations if kind == "enterprise"),
        instructors=tuple((iid, uni) for iid, uni in instructors),
    )
    assert len(tenants.universities) >= 2 and len(tenants.enterprises) >= 2 and tenants.instructors
    return tenants


@pytest.fixture(scope="module")
async def busiest_instructor(engine: AsyncEngine) -> Who:
    """The instructor with the most learners (so that some groups pass k = 10)."""
    [(iid, uni)] = await oracle(
        engine,
        "select c.instructor_id, c.partner_id from enrollments e join courses c on c.id = e.course_id "
        "group by 1, 2 order by count(distinct e.learner_id) desc, 1 limit 1",
    )
    return Who("instructor", uni, iid)


@pytest.fixture(scope="module")
def authorizer() -> Authorizer:
    return Authorizer(lambda: PolicyEnforcer(read_policy_file(DEFAULT_POLICY), 1), Audit())


@pytest.fixture(scope="module")
def service(registry: Registry, engine: AsyncEngine) -> QueryService:
    # One service for the whole module: its compiled-query cache is shared across tenants.
    return QueryService(registry, Executor(engine))


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b and type(a) is type(b))


def keyed(rows: Iterable[Sequence[Any]], dims: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    listed = [tuple(row) for row in rows]
    found = {row[:dims]: row[dims:] for row in listed}
    assert len(found) == len(listed), "two rows for one group"
    return found


def assert_rows_match(actual: Iterable[Sequence[Any]], expected: Iterable[Sequence[Any]], dims: int) -> None:
    """The same groups, and every value equal (ints exact, floats within 1e-9). Empty is fine."""
    got, want = keyed(actual, dims), keyed(expected, dims)
    extra, missing = set(got) - set(want), set(want) - set(got)
    assert not extra and not missing, {
        "unexpected groups": sorted(extra, key=repr)[:5],
        "missing groups": sorted(missing, key=repr)[:5],
    }
    for key, values in want.items():
        assert len(got[key]) == len(values)
        assert all(_close(a, b) for a, b in zip(got[key], values, strict=True)), (key, got[key], values)


_TENANT_COMPARISON = re.compile(r"(\w+)\.(partner_id|enterprise_id|instructor_id) = \$(\d+)")


def tenant_comparisons(compiled: CompiledQuery) -> set[tuple[str, Any]]:
    """Every `alias.<tenant column> = $n` of the SQL, with the value bound to $n."""
    return {
        (f"{alias}.{column}", compiled.params[int(number) - 1])
        for alias, column, number in _TENANT_COMPARISON.findall(compiled.sql)
    }


def own_value(who: Who, column: str) -> Any:
    return who.instructor_id if column.endswith(".instructor_id") else who.tenant


def assert_scoped(compiled: CompiledQuery, who: Who, root: str) -> None:
    """The compiled SQL compares the root's tenant column with the principal's own value,
    and no tenant column with anything else."""
    comparisons = tenant_comparisons(compiled)
    if who.role == "platform_admin":
        assert not comparisons, compiled.sql
        return
    assert all(value == own_value(who, column) for column, value in comparisons), comparisons
    root_column = "enterprise_id" if who.role == "enterprise_admin" else "partner_id"
    assert (f"{root}.{root_column}", who.tenant) in comparisons, compiled.sql
    assert who.tenant in compiled.params
    if who.role == "instructor":
        assert ("course.instructor_id", who.instructor_id) in comparisons, compiled.sql


class Runner:
    """Authorize, compile and run one query as one principal."""

    def __init__(self, registry: Registry, authorizer: Authorizer, service: QueryService) -> None:
        self.registry, self.authorizer, self.service = registry, authorizer, service

    def authorize(self, who: Who, query: SemanticQuery) -> EffectiveQuery:
        return self.authorizer.authorize(self.registry, who.principal(), query)

    def compile(self, who: Who, query: SemanticQuery) -> CompiledQuery:
        return self.service.compile(self.authorize(who, query))

    async def rows(self, who: Who, query: SemanticQuery) -> list[tuple[Any, ...]]:
        result = await self.service.run(self.authorize(who, query))
        expected_columns = (
            *(d.key for d in query.dimensions),
            *(m.replace(".", "__") for m in query.measures),
        )
        assert result.columns == expected_columns
        return [tuple(row) for row in result.rows]


@pytest.fixture(scope="module")
def runner(registry: Registry, authorizer: Authorizer, service: QueryService) -> Runner:
    return Runner(registry, authorizer, service)


async def own_rows(
    engine: AsyncEngine,
    who: Who,
    fact: str,
    dims: Sequence[Dim],
    measures: Sequence[str],
    *,
    suppress: bool = True,
) -> list[tuple[Any, ...]]:
    """The oracle: `who`'s own rows of `fact`, grouped and (when `suppress`) thinned."""
    sql, params = oracle_sql(who, FACTS[fact], dims, measures, suppress=suppress)
    return await oracle(engine, sql, **params)


def enrollments_query(
    *dims: Dim, measures: tuple[str, ...] = ("count", "learners", "avg_progress"), **kw: Any
) -> SemanticQuery:
    return SemanticQuery("enrollments", measures=measures, dimensions=tuple(d.ref for d in dims), **kw)


def dim(fact: str, member: str) -> Dim:
    return next(d for d in FACTS[fact].dimensions if d.ref.member == member)


def test_the_oracle_uses_the_policys_minimum_group_sizes() -> None:
    sizes = {
        rule[1].removeprefix("role:"): int(rule[3])
        for rule in read_policy_file(DEFAULT_POLICY)
        if rule[0] == "p3"
    }
    assert sizes == MIN_GROUP


# --- 1. the property: every row is the principal's own aggregate ------------------------------

_seen: dict[str, int] = {"examples": 0, "with_rows": 0, "suppressed_something": 0}


@pytest.mark.parametrize("model", list(FACTS))
@settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_row_is_an_aggregate_of_the_principals_own_rows(
    data: st.DataObject, engine: AsyncEngine, runner: Runner, tenants: Tenants, model: str
) -> None:
    case: Case = data.draw(cases(tenants, FACTS[model]))
    query = case.query()
    note(f"{case.who}: {query}")
    if case.who.role in case.fact.denied:
        with pytest.raises(AccessDenied, match=f"may not read {model}"):
            runner.authorize(case.who, query)
        return
    compiled = runner.compile(case.who, query)
    assert_scoped(compiled, case.who, case.fact.model)

    actual = await runner.rows(case.who, query)
    sql, params = case.oracle()
    note(f"oracle: {sql}")
    expected = await oracle(engine, sql, **params)
    assert_rows_match(actual, expected, dims=len(case.dims))

    _seen["examples"] += 1
    _seen["with_rows"] += bool(actual)
    if case.who.k > 1 and case.dims:
        unsuppressed_sql, _ = case.oracle(suppress=False)
        unsuppressed = await oracle(engine, unsuppressed_sql, **params)
        _seen["suppressed_something"] += len(unsuppressed) > len(expected)


@pytest.mark.parametrize("model", list(FACTS))
async def test_a_tenant_that_owns_nothing_gets_no_rows(
    runner: Runner, tenants: Tenants, busiest_instructor: Who, model: str
) -> None:
    fact = FACTS[model]
    other = next(u for u in tenants.universities if u != busiest_instructor.tenant)
    for who in (
        Who("university_admin", EMPTY_UNIVERSITY),
        Who("enterprise_admin", EMPTY_ENTERPRISE),
        Who("instructor", other, busiest_instructor.instructor_id),  # with another university
    ):
        for dims in ((), fact.dimensions[:1]):
            query = SemanticQuery(
                model, measures=tuple(fact.measures)[:2], dimensions=tuple(d.ref for d in dims)
            )
            assert await runner.rows(who, query) == [], who


def test_the_property_saw_real_rows_and_suppression() -> None:
    if not _seen["examples"]:
        pytest.skip("the property test did not run")
    assert _seen["with_rows"] >= _seen["examples"] // 2, _seen
    assert _seen["suppressed_something"] >= 3, _seen


# --- 2. the compiled SQL carries the tenant predicate ---------------------------------------


def _q(model: str, *dims: str, measures: tuple[str, ...] = ("count",)) -> SemanticQuery:
    return SemanticQuery(model, measures=measures, dimensions=tuple(DimensionRef(d) for d in dims))


SCOPED_SQL_CASES = [
    # (role, query, the `alias.column = $n` comparisons its SQL must contain)
    (
        "enterprise_admin",
        _q("courses", "subject", measures=("count", "enrollments.count")),
        {"enrollments.enterprise_id"},
    ),
    (
        "university_admin",
        _q("enrollments", "course.subject", "learner.country"),
        {"enrollments.partner_id", "course.partner_id"},
    ),
    (
        "enterprise_admin",
        _q("feedback", "learner.country", measures=("responses",)),
        {"feedback.enterprise_id", "learner.enterprise_id"},
    ),
    (
        "enterprise_admin",
        _q("learners", "country", measures=("count", "enrollments.count")),
        {"learners.enterprise_id", "enrollments.enterprise_id"},
    ),
    ("university_admin", _q("skill_scores", "skill.category"), {"skill_scores.partner_id"}),
    (
        "instructor",
        _q("progress_events", "module.position"),
        {
            "progress_events.partner_id",
            "course.instructor_id",
            "module__course.instructor_id",
            "module__course.partner_id",
        },
    ),
    (
        "instructor",
        _q("courses", "title", measures=("count", "enrollments.learners")),
        {
            "courses.instructor_id",
            "courses.partner_id",
            "enrollments.partner_id",
            "enrollments__course.instructor_id",
        },
    ),
    (
        "partner_integration",
        _q("courses", "level", measures=("count", "modules.count")),
        {"courses.partner_id", "modules__course.partner_id"},
    ),
    (
        "university_admin",
        _q("enrollments", "course.partner.name"),
        {"enrollments.partner_id", "course.partner_id"},
    ),
]


@pytest.mark.parametrize(
    ("role", "query", "columns"),
    SCOPED_SQL_CASES,
    ids=[f"{role}-{query.model}-{'-'.join(query.measures)}" for role, query, _ in SCOPED_SQL_CASES],
)
def test_compiled_sql_compares_every_tenant_column_with_the_principals_value(
    runner: Runner,
    tenants: Tenants,
    busiest_instructor: Who,
    role: str,
    query: SemanticQuery,
    columns: set[str],
) -> None:
    iid, uni = busiest_instructor.instructor_id, busiest_instructor.tenant
    tenant = tenants.enterprises[0] if role == "enterprise_admin" else uni
    who = Who(role, tenant, iid if role == "instructor" else None)
    compiled = runner.compile(who, query)
    comparisons = tenant_comparisons(compiled)
    assert {column for column, _ in comparisons} >= columns, compiled.sql
    assert all(value == own_value(who, column) for column, value in comparisons), comparisons
    assert tenant in compiled.params
    if role == "instructor":
        assert iid in compiled.params


# Courses seen from the catalog side: a one_to_many join to the facts. Which courses and
# which enrollments each role may count, in the oracle's words (c = courses, e = enrollments).
_COURSE_SCOPE = {
    "platform_admin": "true",
    "university_admin": "c.partner_id = :tenant and e.partner_id = :tenant",
    "partner_integration": "c.partner_id = :tenant and e.partner_id = :tenant",
    "enterprise_admin": "e.enterprise_id = :tenant",
    "instructor": "c.instructor_id = :iid and c.partner_id = :tenant and e.partner_id = :tenant",
}


@pytest.mark.parametrize("role", list(_COURSE_SCOPE))
async def test_courses_with_enrollment_measures_count_only_the_principals_enrollments(
    engine: AsyncEngine, runner: Runner, tenants: Tenants, busiest_instructor: Who, role: str
) -> None:
    tenant = {"enterprise_admin": tenants.enterprises[0], "platform_admin": PLATFORM}.get(
        role, busiest_instructor.tenant
    )
    who = Who(role, tenant, busiest_instructor.instructor_id if role == "instructor" else None)
    query = _q("courses", "level", measures=("count", "enrollments.count", "enrollments.learners"))
    having = "having count(distinct e.learner_id) >= :k" if who.k > 1 else ""
    sql = f"""
        select c.level, count(distinct c.id), count(e.id), count(distinct e.learner_id)
        from courses c left join enrollments e on e.course_id = c.id
        where {_COURSE_SCOPE[role]} group by 1 {having}
    """  # noqa: S608 (the test's own SQL)
    expected = await oracle(engine, sql, **who.params())
    assert expected
    assert_rows_match(await runner.rows(who, query), expected, dims=1)


# --- 3. two tenants, one query, two answers ----------------------------------------------------


@pytest.mark.parametrize("kind", ["university_admin", "enterprise_admin"])
async def test_the_same_query_from_two_tenants_never_shares_a_result(
    engine: AsyncEngine, runner: Runner, tenants: Tenants, kind: str
) -> None:
    pool = tenants.universities if kind == "university_admin" else tenants.enterprises
    first, second = Who(kind, pool[0]), Who(kind, pool[1])
    dims = (dim("enrollments", "course.subject"), dim("enrollments", "status"))
    query = enrollments_query(*dims)

    effective = [runner.authorize(who, query) for who in (first, second)]
    assert effective[0] != effective[1]
    assert repr(effective[0]) != repr(effective[1])  # the compiled-query cache key
    compiled = [runner.compile(who, query) for who in (first, second)]
    assert compiled[0].params != compiled[1].params
    assert first.tenant in compiled[0].params and first.tenant not in compiled[1].params
    assert second.tenant in compiled[1].params and second.tenant not in compiled[0].params

    # Concurrently, through the one shared service.
    results = await asyncio.gather(runner.rows(first, query), runner.rows(second, query))
    for who, rows in zip((first, second), results, strict=True):
        expected = await own_rows(engine, who, "enrollments", dims, query.measures)
        assert expected, f"{who} has no data: the comparison would prove nothing"
        assert_rows_match(rows, expected, dims=len(dims))
    assert keyed(results[0], 2) != keyed(results[1], 2)


# --- 4. a client filter cannot widen the scope -------------------------------------------------


def _widening_filters(who: Who, tenants: Tenants) -> list[Filter]:
    other_uni = next(u for u in tenants.universities if u != who.tenant)
    other_ent = next(e for e in tenants.enterprises if e != who.tenant)
    filters: list[Filter] = [
        Or((Condition("status", "set"), Condition("status", "notSet"))),
        Or(
            (
                Condition("status", "notSet"),
                Or((Condition("progress", "gte", (0,)), Condition("progress", "notSet"))),
            )
        ),
    ]
    if who.role == "university_admin":
        filters.append(
            Or((Condition("course.partner.id", "equals", (other_uni,)), Condition("status", "set")))
        )
    if who.role == "enterprise_admin":
        filters.append(
            Or((Condition("learner.enterprise.id", "equals", (other_ent,)), Condition("status", "set")))
        )
    return filters


def _widening_principals(tenants: Tenants, instructor: Who) -> list[Who]:
    return [
        Who("university_admin", tenants.universities[0]),
        Who("partner_integration", tenants.universities[1]),
        Who("enterprise_admin", tenants.enterprises[0]),
        instructor,
    ]


async def test_an_always_true_client_filter_still_returns_only_the_tenants_rows(
    engine: AsyncEngine, runner: Runner, tenants: Tenants, busiest_instructor: Who
) -> None:
    dims = (dim("enrollments", "course.level"),)
    for who in _widening_principals(tenants, busiest_instructor):
        expected = await own_rows(engine, who, "enrollments", dims, ("count", "learners", "avg_progress"))
        assert expected, f"{who} has no data"
        for widening in _widening_filters(who, tenants):
            rows = await runner.rows(who, enrollments_query(*dims, filters=(widening,)))
            assert_rows_match(rows, expected, dims=1)


async def test_a_client_having_cannot_bring_back_suppressed_groups(
    engine: AsyncEngine, runner: Runner, busiest_instructor: Who
) -> None:
    who = busiest_instructor
    dims = (dim("enrollments", "course.subject"), dim("enrollments", "enrolled_at"))
    measures = ("count", "learners")
    expected = await own_rows(engine, who, "enrollments", dims, measures)
    everything = await own_rows(engine, who, "enrollments", dims, measures, suppress=False)
    assert len(everything) > len(expected) > 0
    for having in (
        Or((Condition("learners", "lt", (who.k,)), Condition("learners", "gte", (who.k,)))),
        Condition("learners", "lt", (who.k,)),
        Or((Condition("count", "gte", (0,)), Condition("count", "lt", (0,)))),
    ):
        rows = await runner.rows(who, enrollments_query(*dims, measures=measures, filters=(having,)))
        small = isinstance(having, Condition)  # only the small groups asked for: none may come back
        assert_rows_match(rows, [] if small else expected, dims=2)


@pytest.mark.parametrize(
    "member",
    ["partner_id", "enterprise_id", "course.partner_id", "course.instructor_id", "learner.enterprise_id"],
)
async def test_a_filter_on_a_hidden_tenant_column_is_an_unknown_dimension(
    runner: Runner, tenants: Tenants, busiest_instructor: Who, member: str
) -> None:
    for who in _widening_principals(tenants, busiest_instructor):
        other = (
            1
            if member.endswith("instructor_id")
            else next(u for u in tenants.universities if u != who.tenant)
        )
        for filters in (
            (Condition(member, "equals", (other,)),),
            (Or((Condition("status", "set"), Condition(member, "notSet"))),),
            (Condition(member, "set"),),
        ):
            effective = runner.authorize(who, enrollments_query(filters=filters))
            with pytest.raises(QueryError, match="unknown dimension"):
                await runner.service.run(effective)


# --- 5. small groups are suppressed ------------------------------------------------------------


@pytest.mark.parametrize("role", ["partner_integration", "instructor"])
async def test_fine_grained_groups_below_the_minimum_are_dropped(
    engine: AsyncEngine, runner: Runner, busiest_instructor: Who, role: str
) -> None:
    who = busiest_instructor if role == "instructor" else Who(role, busiest_instructor.tenant)
    assert who.k == 10
    dims = (Dim(DimensionRef("course.title"), "c.title"), dim("enrollments", "enrolled_at"))
    query = enrollments_query(*dims, measures=("count", "learners"))
    rows = await runner.rows(who, query)

    everything = await own_rows(engine, who, "enrollments", dims, query.measures, suppress=False)
    kept = await own_rows(engine, who, "enrollments", dims, query.measures)
    assert_rows_match(rows, kept, dims=2)
    dropped = set(keyed(everything, 2)) - set(keyed(rows, 2))
    assert kept and dropped, "the example must keep some groups and drop others"
    assert all(learners >= 10 for *_, learners in rows)
    assert all(learners < 10 for key, (_, learners) in keyed(everything, 2).items() if key in dropped)


async def test_suppression_applies_before_limit_and_offset_so_pages_are_full(
    engine: AsyncEngine, runner: Runner, busiest_instructor: Who
) -> None:
    """A page holds `limit` groups that pass the minimum: suppression is part of the
    statement (HAVING), not a filter on the page afterwards, which would return it short."""
    who = Who("partner_integration", busiest_instructor.tenant)
    dims = (Dim(DimensionRef("course.title"), "c.title"), dim("enrollments", "enrolled_at"))
    everything = await own_rows(engine, who, "enrollments", dims, ("count", "learners"), suppress=False)
    kept = await own_rows(engine, who, "enrollments", dims, ("count", "learners"))
    assert len(kept) >= 6 and len(everything) > len(kept) + 6, "need small groups among the first rows"
    order = (OrderBy("course.title"), OrderBy("enrolled_at", "month"))
    pages = []
    for offset in range(0, len(kept), 4):
        query = enrollments_query(*dims, measures=("count", "learners"), order=order, limit=4, offset=offset)
        pages.append(await runner.rows(who, query))
    assert all(len(page) == 4 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 4
    paged = [row for page in pages for row in page]
    assert_rows_match(paged, kept, dims=2)
    assert [row[:2] for row in paged] == sorted((row[:2] for row in kept), key=lambda k: (k[0], k[1]))


# --- 6. masked members ---------------------------------------------------------------------


@pytest.mark.parametrize("member", ["learner.email", "learner.full_name"])
async def test_an_instructor_sees_masked_learner_identity_and_groups_collapse(
    engine: AsyncEngine, runner: Runner, busiest_instructor: Who, member: str
) -> None:
    who = busiest_instructor
    status = dim("enrollments", "status")
    masked = Dim(DimensionRef(member), "'***'")
    rows = await runner.rows(who, enrollments_query(masked, status, measures=("count", "learners")))
    assert rows and all(row[0] == MASK for row in rows)
    # One row per status: exactly what grouping without the learner gives.
    expected = await own_rows(engine, who, "enrollments", (status,), ("count", "learners"))
    assert_rows_match([row[1:] for row in rows], expected, dims=1)

    alone = await runner.rows(who, enrollments_query(masked, measures=("count", "learners")))
    total = await own_rows(engine, who, "enrollments", (), ("count", "learners"))
    assert [row[1:] for row in alone] == total and alone[0][0] == MASK


async def test_another_tenants_organization_is_masked_when_reached_through_a_join(
    engine: AsyncEngine, runner: Runner, tenants: Tenants
) -> None:
    """A university admin grouping its enrollments by the learners' enterprise: the rows all
    count (they are the university's enrollments), the enterprise names are `***`; its
    own organization, reached through the course, shows its name. A client filter on a
    masked name sees the mask, so it cannot pick out an enterprise."""
    who = Who("university_admin", tenants.universities[0])
    by_enterprise = await runner.rows(
        who, enrollments_query(Dim(DimensionRef("learner.enterprise.name"), ""), measures=("count",))
    )
    [(own_total,)] = await oracle(
        engine, "select count(*) from enrollments where partner_id = :t", t=who.tenant
    )
    assert {row[0] for row in by_enterprise} <= {MASK, None} and MASK in {row[0] for row in by_enterprise}
    assert sum(row[1] for row in by_enterprise) == own_total
    by_partner = await runner.rows(
        who, enrollments_query(Dim(DimensionRef("course.partner.name"), ""), measures=("count",))
    )
    [(own_name,)] = await oracle(engine, "select name from organizations where id = :t", t=who.tenant)
    assert by_partner == [(own_name, own_total)]
    [(an_enterprise,)] = await oracle(
        engine, "select name from organizations where kind = 'enterprise' order by id limit 1"
    )
    picked = await runner.rows(
        who,
        enrollments_query(
            measures=("count",), filters=(Condition("learner.enterprise.name", "equals", (an_enterprise,)),)
        ),
    )
    assert picked == []  # no enrollment matches: the one group (0 learners) is below the minimum


async def test_an_instructor_sees_feedback_comments_masked(
    engine: AsyncEngine, runner: Runner, busiest_instructor: Who
) -> None:
    who = busiest_instructor
    query = SemanticQuery(
        "feedback", measures=("responses", "learners"), dimensions=(DimensionRef("comment"),)
    )
    rows = await runner.rows(who, query)
    expected = await own_rows(engine, who, "feedback", (), ("responses", "learners"))
    assert expected and [row[1:] for row in rows] == expected and all(row[0] == MASK for row in rows)
