"""GraphQL queries over HTTP, compared with hand-written SQL on the seeded tiny warehouse.

Every filter operator on every member type, every time grain in a non-UTC timezone,
join paths (and measures of joined models, which must not fan out), aliases,
fragments, variables, directives, `__typename`, ordering, paging, segments, `meta`
and the JSON types of the values.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration

MODELS_DIR = Path(__file__).resolve().parents[2] / "schema" / "models"
ISO_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
ALL = "limit: 50000"


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a document; the response must be a clean 200 with data and no errors."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload["errors"]
    data: dict[str, Any] = payload["data"]
    return data


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def same_rows(got: dict[Any, Any], want: dict[Any, Any]) -> None:
    assert set(got) == set(want), sorted(set(got) ^ set(want), key=repr)[:10]
    for key, value in want.items():
        left = got[key] if isinstance(got[key], tuple) else (got[key],)
        right = value if isinstance(value, tuple) else (value,)
        assert len(left) == len(right) and all(close(a, b) for a, b in zip(left, right, strict=True)), (
            key,
            got[key],
            value,
        )


def local_iso(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat()


# --- filters -----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A `where` argument and the SQL condition (and HAVING) it must mean."""

    id: str
    root: str
    where: str
    cond: str = "true"
    joins: str = ""
    having: str = ""
    timezone: str | None = None
    empty: bool = False


# root -> (GraphQL selection, response key function, SQL template)
ROOTS: dict[str, tuple[str, Any, str]] = {
    "enrollments": (
        "status count",
        lambda row: row["status"],
        "select e.status, count(*) from enrollments e {joins} where {cond} group by 1 {having}",
    ),
    "enrollments_by_course": (
        "course { title } count",
        lambda row: row["course"]["title"],
        "select c.title, count(*) from enrollments e join courses c on c.id = e.course_id {joins} "
        "where {cond} group by 1 {having}",
    ),
    "feedback": (
        "rating responses",
        lambda row: row["rating"],
        "select f.rating, count(*) from feedback f {joins} where {cond} group by 1 {having}",
    ),
    "courses": (
        "level count",
        lambda row: row["level"],
        "select c.level, count(*) from courses c {joins} where {cond} group by 1 {having}",
    ),
}

T1 = "2024-01-01T10:45:05"  # the first enrollment, in UTC
T2 = "2024-01-02T00:10:27"  # the third one
LONDON = "Europe/London"
JOIN_COURSE = "join courses c on c.id = e.course_id"

CASES = [
    # strings
    Case("string-equals", "enrollments", 'status: {equals: "completed"}', "e.status = 'completed'"),
    Case("string-notEquals", "enrollments", 'status: {notEquals: "active"}', "e.status <> 'active'"),
    Case(
        "string-in", "enrollments", 'status: {in: ["active", "dropped"]}', "e.status in ('active', 'dropped')"
    ),
    Case("string-notIn", "enrollments", 'status: {notIn: ["active"]}', "e.status not in ('active')"),
    Case("string-contains", "enrollments", 'status: {contains: ["OMP", "zzz"]}', "e.status ilike '%omp%'"),
    Case(
        "string-startsWith",
        "enrollments",
        'status: {startsWith: ["dro", "ACT"]}',
        "e.status ilike 'dro%' or e.status ilike 'act%'",
    ),
    Case("string-endsWith", "enrollments", 'status: {endsWith: ["ED"]}', "e.status ilike '%ed'"),
    Case(
        "string-equals-null-column",
        "feedback",
        'comment: {equals: "Too fast for beginners."}',
        "f.comment = 'Too fast for beginners.'",
    ),
    Case(
        "string-notEquals-keeps-null",
        "feedback",
        'comment: {notEquals: "Too fast for beginners."}',
        "f.comment <> 'Too fast for beginners.' or f.comment is null",
    ),
    Case(
        "string-in-null-column",
        "feedback",
        'comment: {in: ["Too fast for beginners.", "Great pacing."]}',
        "f.comment in ('Too fast for beginners.', 'Great pacing.')",
    ),
    Case(
        "string-notIn-keeps-null",
        "feedback",
        'comment: {notIn: ["Too fast for beginners.", "Zu schwer, zu wenig Erklärungen."]}',
        "f.comment not in ('Too fast for beginners.', 'Zu schwer, zu wenig Erklärungen.') or f.comment is"
        " null",
    ),
    Case(
        "string-contains-unicode-any",
        "feedback",
        'comment: {contains: ["übungen", "CAPSTONE"]}',
        "f.comment ilike '%übungen%' or f.comment ilike '%capstone%'",
    ),
    Case("string-contains-percent-literal", "feedback", 'comment: {contains: ["%"]}', "false", empty=True),
    Case("string-contains-underscore-literal", "feedback", 'comment: {contains: ["_"]}', "false", empty=True),
    Case(
        "string-startsWith-null-column",
        "feedback",
        'comment: {startsWith: ["the "]}',
        "f.comment ilike 'the %'",
    ),
    Case(
        "string-endsWith-null-column", "feedback", 'comment: {endsWith: ["TOP."]}', "f.comment ilike '%top.'"
    ),
    Case("string-set-true", "feedback", "comment: {set: true}", "f.comment is not null"),
    Case("string-set-false", "feedback", "comment: {set: false}", "f.comment is null"),
    Case("string-notSet-true", "feedback", "comment: {notSet: true}", "f.comment is null"),
    Case("string-notSet-false", "feedback", "comment: {notSet: false}", "f.comment is not null"),
    # integers (IntFilter)
    Case("int-equals", "feedback", "rating: {equals: 5}", "f.rating = 5"),
    Case("int-notEquals", "feedback", "rating: {notEquals: 5}", "f.rating <> 5"),
    Case("int-in", "feedback", "rating: {in: [1, 2]}", "f.rating in (1, 2)"),
    Case("int-notIn", "feedback", "rating: {notIn: [1, 2]}", "f.rating not in (1, 2)"),
    Case("int-gt", "feedback", "rating: {gt: 3}", "f.rating > 3"),
    Case("int-gte", "feedback", "rating: {gte: 3}", "f.rating >= 3"),
    Case("int-lt", "feedback", "rating: {lt: 3}", "f.rating < 3"),
    Case("int-lte", "feedback", "rating: {lte: 3}", "f.rating <= 3"),
    Case("int-range", "feedback", "rating: {gt: 1, lt: 5}", "f.rating > 1 and f.rating < 5"),
    Case("int-renamed-column", "feedback", "npsScore: {gte: 9}", "f.nps >= 9"),
    Case("int-notSet-true", "feedback", "rating: {notSet: true}", "false", empty=True),
    # floats (FloatFilter)
    Case("float-gt", "enrollments", "progress: {gt: 50.5}", "e.progress > 50.5"),
    Case("float-gte", "enrollments", "progress: {gte: 50}", "e.progress >= 50"),
    Case("float-lt", "enrollments", "progress: {lt: 25.5}", "e.progress < 25.5"),
    Case("float-lte", "enrollments", "progress: {lte: 25}", "e.progress <= 25"),
    Case("float-equals", "enrollments", "progress: {equals: 100}", "e.progress = 100"),
    Case("float-notEquals", "enrollments", "progress: {notEquals: 100}", "e.progress <> 100"),
    Case("float-in", "enrollments", "progress: {in: [0, 100]}", "e.progress in (0, 100)"),
    Case("float-notIn", "enrollments", "progress: {notIn: [0, 100]}", "e.progress not in (0, 100)"),
    Case(
        "float-notEquals-keeps-null",
        "enrollments",
        "grade: {notEquals: 68.68}",
        "e.grade <> 68.68 or e.grade is null",
    ),
    Case("float-gte-null-column", "enrollments", "grade: {gte: 90.5}", "e.grade >= 90.5"),
    Case("float-set-true", "enrollments", "grade: {set: true}", "e.grade is not null"),
    Case("float-set-false", "enrollments", "grade: {set: false}", "e.grade is null"),
    Case("float-notSet-true", "enrollments", "grade: {notSet: true}", "e.grade is null"),
    Case("float-notSet-false", "enrollments", "grade: {notSet: false}", "e.grade is not null"),
    Case("float-via-join", "courses", "price: {gt: 50}", "c.price > 50"),
    # booleans
    Case("bool-equals-true", "enrollments", "isCompleted: {equals: true}", "e.completed_at is not null"),
    Case("bool-equals-false", "enrollments", "isCompleted: {equals: false}", "e.completed_at is null"),
    Case("bool-notEquals", "enrollments", "isCompleted: {notEquals: true}", "e.completed_at is null"),
    Case("bool-set-true", "enrollments", "isCompleted: {set: true}", "true"),
    Case("bool-column", "courses", "isPaid: {equals: true}", "c.is_paid"),
    Case("bool-expression", "feedback", "hasComment: {equals: false}", "f.comment is null"),
    # times
    Case("time-equals", "enrollments", f'enrolledAt: {{equals: "{T1}"}}', f"e.enrolled_at = '{T1}+00'"),
    Case(
        "time-equals-offset",
        "enrollments",
        'enrolledAt: {equals: "2024-01-01T11:45:05+01:00"}',
        f"e.enrolled_at = '{T1}+00'",
        timezone="America/New_York",
    ),
    Case(
        "time-equals-local-wall-clock",
        "enrollments",
        'enrolledAt: {equals: "2024-01-01T05:45:05"}',
        f"e.enrolled_at = '{T1}+00'",
        timezone="America/New_York",
    ),
    Case(
        "time-notEquals", "enrollments", f'enrolledAt: {{notEquals: "{T1}"}}', f"e.enrolled_at <> '{T1}+00'"
    ),
    Case(
        "time-in",
        "enrollments",
        f'enrolledAt: {{in: ["{T1}", "{T2}"]}}',
        f"e.enrolled_at in ('{T1}+00', '{T2}+00')",
    ),
    Case("time-notIn", "enrollments", f'enrolledAt: {{notIn: ["{T1}"]}}', f"e.enrolled_at <> '{T1}+00'"),
    Case(
        "time-gt-date-local",
        "enrollments",
        'enrolledAt: {gt: "2025-06-01"}',
        "e.enrolled_at > timestamp '2025-06-01' at time zone 'Europe/London'",
        timezone=LONDON,
    ),
    Case(
        "time-gte-offset",
        "enrollments",
        'enrolledAt: {gte: "2025-06-01T12:00:00+02:00"}',
        "e.enrolled_at >= timestamptz '2025-06-01 12:00:00+02'",
        timezone=LONDON,
    ),
    Case(
        "time-lt-local",
        "enrollments",
        'enrolledAt: {lt: "2024-03-15T08:00:00"}',
        "e.enrolled_at < timestamp '2024-03-15 08:00' at time zone 'America/New_York'",
        timezone="America/New_York",
    ),
    Case(
        "time-lte-utc-z",
        "enrollments",
        'enrolledAt: {lte: "2024-02-01T00:00:00Z"}',
        "e.enrolled_at <= timestamptz '2024-02-01 00:00:00+00'",
        timezone=LONDON,
    ),
    Case(
        "time-inDateRange-dates-winter",
        "enrollments",
        'enrolledAt: {inDateRange: ["2025-01-01", "2025-01-31"]}',
        "e.enrolled_at >= timestamp '2025-01-01' at time zone 'Europe/London' "
        "and e.enrolled_at < timestamp '2025-02-01' at time zone 'Europe/London'",
        timezone=LONDON,
    ),
    Case(
        "time-inDateRange-dates-summer",
        "enrollments",
        'enrolledAt: {inDateRange: ["2024-07-01", "2024-07-31"]}',
        "e.enrolled_at >= timestamp '2024-07-01' at time zone 'Europe/London' "
        "and e.enrolled_at < timestamp '2024-08-01' at time zone 'Europe/London'",
        timezone=LONDON,
    ),
    Case(
        "time-inDateRange-datetimes",
        "enrollments",
        'enrolledAt: {inDateRange: ["2025-01-01T06:00:00", "2025-01-09T18:30:00"]}',
        "e.enrolled_at >= timestamp '2025-01-01 06:00' at time zone 'Asia/Tokyo' "
        "and e.enrolled_at <= timestamp '2025-01-09 18:30' at time zone 'Asia/Tokyo'",
        timezone="Asia/Tokyo",
    ),
    Case(
        "time-beforeDate",
        "enrollments",
        'enrolledAt: {beforeDate: "2024-04-01"}',
        "e.enrolled_at < timestamp '2024-04-01' at time zone 'Asia/Kolkata'",
        timezone="Asia/Kolkata",
    ),
    Case(
        "time-afterDate",
        "enrollments",
        'enrolledAt: {afterDate: "2025-10-26"}',
        "e.enrolled_at >= timestamp '2025-10-27' at time zone 'Europe/London'",
        timezone=LONDON,
    ),
    Case(
        "time-afterDate-utc-default",
        "enrollments",
        'enrolledAt: {afterDate: "2025-12-30"}',
        "e.enrolled_at >= timestamptz '2025-12-31 00:00:00+00'",
    ),
    Case("time-set-true", "enrollments", "completedAt: {set: true}", "e.completed_at is not null"),
    Case("time-set-false", "enrollments", "completedAt: {set: false}", "e.completed_at is null"),
    Case("time-notSet-true", "enrollments", "completedAt: {notSet: true}", "e.completed_at is null"),
    Case(
        "time-null-column-range",
        "enrollments",
        'completedAt: {inDateRange: ["2025-03-01", "2025-03-31"]}',
        "e.completed_at >= timestamp '2025-03-01' at time zone 'Europe/London' "
        "and e.completed_at < timestamp '2025-04-01' at time zone 'Europe/London'",
        timezone=LONDON,
    ),
    Case(
        "time-via-join",
        "courses",
        'launchedAt: {beforeDate: "2023-01-01"}',
        "c.launched_at < timestamptz '2023-01-01 00:00:00+00'",
    ),
    # AND / OR
    Case(
        "several-members-and",
        "enrollments",
        'status: {in: ["active", "completed"]}, progress: {gte: 50}',
        "e.status in ('active', 'completed') and e.progress >= 50",
    ),
    Case(
        "and-list",
        "enrollments",
        'AND: [{status: {in: ["active", "completed"]}}, {progress: {gte: 50}}, {progress: {lt: 100}}]',
        "e.status in ('active', 'completed') and e.progress >= 50 and e.progress < 100",
    ),
    Case(
        "or-with-nested-and",
        "enrollments",
        'OR: [{status: {equals: "dropped"}}, {AND: [{status: {equals: "active"}}, {progress: {gt: 80}}]}]',
        "e.status = 'dropped' or (e.status = 'active' and e.progress > 80)",
    ),
    Case(
        "member-and-or",
        "enrollments",
        "isCompleted: {equals: false}, OR: [{progress: {lt: 10}}, {progress: {gt: 80}}]",
        "e.completed_at is null and (e.progress < 10 or e.progress > 80)",
    ),
    Case(
        "or-and-or",
        "enrollments",
        'OR: [{AND: [{OR: [{progress: {lt: 5}}, {progress: {gt: 85}}]}, {status: {equals: "dropped"}}]},'
        " {grade: {gte: 95}}]",
        "((e.progress < 5 or e.progress > 85) and e.status = 'dropped') or e.grade >= 95",
    ),
    Case(
        "one-item-holding-two-members",
        "enrollments",
        'OR: [{status: {equals: "dropped"}, progress: {gt: 50}}, {grade: {gte: 97}}]',
        "(e.status = 'dropped' and e.progress > 50) or e.grade >= 97",
    ),
    # through joins
    Case(
        "join-one-level",
        "enrollments",
        'course: {subject: {in: ["Business", "Health"]}}',
        "c.subject in ('Business', 'Health')",
        joins=JOIN_COURSE,
    ),
    Case(
        "join-two-levels",
        "enrollments",
        'course: {partner: {name: {startsWith: ["north"]}}}',
        "o.name ilike 'north%'",
        joins=JOIN_COURSE + " join organizations o on o.id = c.partner_id",
    ),
    Case(
        "join-two-levels-null",
        "enrollments",
        "learner: {enterprise: {name: {notSet: true}}}",
        "o.name is null",
        joins="join learners l on l.id = e.learner_id left join organizations o on o.id = l.enterprise_id",
    ),
    Case(
        "join-and-root",
        "enrollments",
        'course: {isPaid: {equals: true}}, learner: {country: {in: ["US", "GB"]}}, status: {notEquals:'
        ' "active"}',
        "c.is_paid and l.country in ('US', 'GB') and e.status <> 'active'",
        joins=JOIN_COURSE + " join learners l on l.id = e.learner_id",
    ),
    Case(
        "join-inside-or",
        "enrollments",
        'OR: [{course: {subject: {equals: "Health"}}}, {status: {equals: "dropped"}}]',
        "c.subject = 'Health' or e.status = 'dropped'",
        joins=JOIN_COURSE,
    ),
    Case(
        "join-time-in-timezone",
        "enrollments",
        'course: {launchedAt: {afterDate: "2023-06-30"}}',
        "c.launched_at >= timestamp '2023-07-01' at time zone 'Europe/London'",
        joins=JOIN_COURSE,
        timezone=LONDON,
    ),
    # measures: HAVING
    Case("having-int", "enrollments", "count: {gt: 1000}", having="having count(*) > 1000"),
    Case(
        "having-float-ratio",
        "enrollments",
        "completionRate: {gte: 0.5}",
        having="having avg((e.status = 'completed')::int) >= 0.5",
    ),
    Case("having-course-count", "enrollments_by_course", "count: {gt: 150}", having="having count(*) > 150"),
    Case(
        "having-range",
        "enrollments_by_course",
        "count: {gte: 90, lte: 200}",
        having="having count(*) between 90 and 200",
    ),
    Case(
        "having-unselected-measure",
        "enrollments_by_course",
        "avgProgress: {gt: 55}",
        having="having avg(e.progress) > 55",
    ),
    Case(
        "having-or",
        "enrollments_by_course",
        "OR: [{count: {gt: 300}}, {avgProgress: {lt: 42}}]",
        having="having count(*) > 300 or avg(e.progress) < 42",
    ),
    Case(
        "having-and-where",
        "enrollments_by_course",
        'status: {notEquals: "dropped"}, count: {gt: 150}',
        "e.status <> 'dropped'",
        having="having count(*) > 150",
    ),
    Case(
        "join-notEquals-keeps-null",
        "enrollments",
        'learner: {enterprise: {name: {notEquals: "Acme Corp"}}}',
        "o.name <> 'Acme Corp' or o.name is null",
        joins="join learners l on l.id = e.learner_id left join organizations o on o.id = l.enterprise_id",
    ),
    Case(
        "join-notIn-keeps-null",
        "enrollments_by_course",
        'learner: {enterprise: {id: {notIn: ["acme-corp", "globex-industries"]}}}',
        "o.id not in ('acme-corp', 'globex-industries') or o.id is null",
        joins="join learners l on l.id = e.learner_id left join organizations o on o.id = l.enterprise_id",
    ),
    Case("having-set", "enrollments", "avgGrade: {set: true}", having="having avg(e.grade) is not null"),
    Case("having-notSet", "enrollments", "avgGrade: {notSet: true}", having="having avg(e.grade) is null"),
    Case(
        "having-in",
        "enrollments_by_course",
        "count: {in: [466, 321, 18, 7]}",
        having="having count(*) in (466, 321, 18, 7)",
    ),
    Case(
        "having-notEquals",
        "enrollments_by_course",
        "count: {notEquals: 466}",
        having="having count(*) <> 466",
    ),
    Case(
        "having-notIn-float",
        "enrollments",
        "completionRate: {notIn: [0, 0.5]}",
        having="having avg((e.status = 'completed')::int) not in (0, 0.5)",
    ),
    Case(
        "having-on-a-joined-model",
        "courses",
        "enrollments: {count: {gt: 500}}",
        having="having (select count(*) from enrollments e2 join courses c2 on c2.id = e2.course_id "
        "where c2.level = c.level) > 500",
    ),
    Case(
        "where-through-one-to-many",
        "courses",
        "enrollments: {grade: {gte: 95}}",
        "exists (select 1 from enrollments e2 where e2.course_id = c.id and e2.grade >= 95)",
    ),
    Case(
        "having-count-distinct",
        "enrollments_by_course",
        "learners: {lt: 60}",
        having="having count(distinct e.learner_id) < 60",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_filter_matches_sql(client: httpx.AsyncClient, engine: AsyncEngine, case: Case) -> None:
    selection, key_of, template = ROOTS[case.root]
    root = "enrollments" if case.root.startswith("enrollments") else case.root
    timezone = f', timezone: "{case.timezone}"' if case.timezone else ""
    data = await gql(client, f"{{ {root}(where: {{{case.where}}}, {ALL}{timezone}) {{ {selection} }} }}")
    measure = selection.split()[-1]
    got = {key_of(row): row[measure] for row in data[root]}
    sql = template.format(joins=case.joins, cond=f"({case.cond})", having=case.having)
    want = dict(await oracle(engine, sql))
    if case.empty:
        assert want == {}
    else:
        assert want, "the oracle found no rows: the case proves nothing"
    same_rows(got, want)
    assert all(type(value) is int for value in got.values())


async def test_filters_narrow_the_data(engine: AsyncEngine) -> None:
    """Guard for the table above: the chosen values really select a strict subset."""
    ((total,),) = await oracle(engine, "select count(*) from enrollments")
    for case in CASES:
        if case.root != "enrollments" or case.having or case.cond == "true":
            continue
        sql = f"select count(*) from enrollments e {case.joins} where ({case.cond})"  # noqa: S608
        ((count,),) = await oracle(engine, sql)
        assert 0 < count < total, case.id


async def test_percent_and_underscore_are_literal_but_match_when_present(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    # `_` would match any character and `%` anything if they were not escaped.
    data = await gql(
        client,
        '{ a: feedback(where: {comment: {contains: ["10/10"]}}) { responses }'
        ' b: feedback(where: {comment: {contains: ["1_/10"]}}) { responses }'
        ' c: feedback(where: {comment: {startsWith: ["%"]}}) { responses }'
        ' d: feedback(where: {comment: {endsWith: ["_"]}}) { responses } }',
    )
    ((want,),) = await oracle(engine, "select count(*) from feedback where comment like '%10/10%'")
    assert want > 0
    assert data["a"] == [{"responses": want}]
    # Without dimensions there is one group, as in SQL: a count of 0 when nothing matches.
    assert data["b"] == data["c"] == data["d"] == [{"responses": 0}]


# --- time ----------------------------------------------------------------------------

GRAINS = ("hour", "day", "week", "month", "quarter", "year")


@pytest.mark.parametrize("timezone", ["Europe/London", "Asia/Kolkata", "America/New_York"])
async def test_every_grain_in_a_timezone(
    client: httpx.AsyncClient, engine: AsyncEngine, timezone: str
) -> None:
    fields = " ".join(
        f'{grain}: enrollments(timezone: "{timezone}", {ALL}) {{ enrolledAt {{ {grain} }} count }}'
        for grain in GRAINS
    )
    data = await gql(client, "{ " + fields + " }")
    for grain in GRAINS:
        rows = data[grain]
        for row in rows:
            assert ISO_LOCAL.match(row["enrolledAt"][grain]), row
        got = {row["enrolledAt"][grain]: row["count"] for row in rows}
        assert len(got) == len(rows), f"{grain}: duplicate groups"
        sql = (
            "select to_char(date_trunc(:grain, enrolled_at at time zone :tz), 'YYYY-MM-DD\"T\"HH24:MI:SS'), "
            "count(*) from enrollments group by 1"
        )
        want = dict(await oracle(engine, sql, grain=grain, tz=timezone))
        same_rows(got, want)
        if grain == "week":
            assert all(date.fromisoformat(key[:10]).weekday() == 0 for key in got), "weeks start on Monday"
        # default order: the first time grain ascending
        assert [row["enrolledAt"][grain] for row in rows] == sorted(got)


async def test_value_and_all_grains_together(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(
        client,
        '{ enrollments(timezone: "Europe/London", ' + ALL + ", where: {enrolledAt: "
        '{inDateRange: ["2024-03-25", "2024-04-05"]}}) { enrolledAt { value hour day week month quarter year'
        " } count } }",
    )
    rows = data["enrollments"]
    want = await oracle(
        engine,
        "select enrolled_at at time zone 'Europe/London' as local, count(*) from enrollments "
        "where enrolled_at >= timestamp '2024-03-25' at time zone 'Europe/London' "
        "and enrolled_at < timestamp '2024-04-06' at time zone 'Europe/London' group by 1",
    )
    assert want
    same_rows({row["enrolledAt"]["value"]: row["count"] for row in rows}, {local_iso(k): v for k, v in want})
    for row in rows:
        time = row["enrolledAt"]
        value = datetime.fromisoformat(time["value"])
        assert ISO_LOCAL.match(time["value"]) and value.tzinfo is None
        assert time["hour"] == value.replace(minute=0, second=0).isoformat()
        assert time["day"] == value.replace(hour=0, minute=0, second=0).isoformat()
        monday = date.fromordinal(value.toordinal() - value.weekday())
        assert time["week"] == f"{monday.isoformat()}T00:00:00"
        assert time["month"] == f"{value.year:04d}-{value.month:02d}-01T00:00:00"
        quarter_month = 3 * ((value.month - 1) // 3) + 1
        assert time["quarter"] == f"{value.year:04d}-{quarter_month:02d}-01T00:00:00"
        assert time["year"] == f"{value.year:04d}-01-01T00:00:00"


async def test_time_of_a_joined_model_and_restricted_grains(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = await gql(
        client,
        '{ enrollments(timezone: "Asia/Kolkata", '
        + ALL
        + ") { course { launchedAt { month year } } count } }",
    )
    got = {
        (r["course"]["launchedAt"]["month"], r["course"]["launchedAt"]["year"]): r["count"]
        for r in data["enrollments"]
    }
    want = await oracle(
        engine,
        "select date_trunc('month', c.launched_at at time zone 'Asia/Kolkata'), "
        "date_trunc('year', c.launched_at at time zone 'Asia/Kolkata'), count(*) "
        "from enrollments e join courses c on c.id = e.course_id group by 1, 2",
    )
    same_rows(got, {(local_iso(m), local_iso(y)): n for m, y, n in want})
    # courses.launched_at only allows day..year: there is no `hour` on its time type
    response = await client.post("/graphql", json={"query": "{ courses { launchedAt { hour } count } }"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


# --- joins ---------------------------------------------------------------------------


async def test_join_paths_one_and_two_levels(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(
        client,
        "{ one: enrollments(" + ALL + ") { course { subject } count avgProgress }"
        " two: enrollments(" + ALL + ") { course { partner { name } } count }"
        " open: enrollments(" + ALL + ") { learner { enterprise { name } } count learners } }",
    )
    same_rows(
        {r["course"]["subject"]: (r["count"], r["avgProgress"]) for r in data["one"]},
        {
            s: (n, float(a))
            for s, n, a in await oracle(
                engine,
                "select c.subject, count(*), avg(e.progress) from enrollments e "
                "join courses c on c.id = e.course_id group by 1",
            )
        },
    )
    same_rows(
        {r["course"]["partner"]["name"]: r["count"] for r in data["two"]},
        dict(
            await oracle(
                engine,
                "select o.name, count(*) from enrollments e join courses c on c.id = e.course_id "
                "join organizations o on o.id = c.partner_id group by 1",
            )
        ),
    )
    open_rows = [r for r in data["open"] if r["learner"]["enterprise"]["name"] is None]
    assert len(open_rows) == 1 and open_rows[0]["learner"] == {"enterprise": {"name": None}}
    same_rows(
        {r["learner"]["enterprise"]["name"]: (r["count"], r["learners"]) for r in data["open"]},
        {
            name: (n, d)
            for name, n, d in await oracle(
                engine,
                "select o.name, count(*), count(distinct e.learner_id) from enrollments e "
                "join learners l on l.id = e.learner_id left join organizations o on o.id = l.enterprise_id "
                "group by 1",
            )
        },
    )


async def test_measures_of_joined_models_do_not_fan_out(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = await gql(
        client,
        "{ courses(" + ALL + ") { subject count totalDurationHours avgDurationHours"
        " enrollments { count learners avgProgress } }"
        " learners(" + ALL + ") { country count enrollments { count } } }",
    )
    courses = await oracle(
        engine,
        "select c.subject, count(*), sum(c.duration_hours)::float8, avg(c.duration_hours)::float8, "
        "(select count(*) from enrollments e join courses c2 on c2.id = e.course_id where c2.subject ="
        " c.subject), "
        "(select count(distinct e.learner_id) from enrollments e join courses c2 on c2.id = e.course_id "
        " where c2.subject = c.subject), "
        "(select avg(e.progress)::float8 from enrollments e join courses c2 on c2.id = e.course_id "
        " where c2.subject = c.subject) "
        "from courses c group by 1",
    )
    got = {
        r["subject"]: (
            r["count"],
            r["totalDurationHours"],
            r["avgDurationHours"],
            r["enrollments"]["count"],
            r["enrollments"]["learners"],
            r["enrollments"]["avgProgress"],
        )
        for r in data["courses"]
    }
    same_rows(got, {row[0]: tuple(row[1:]) for row in courses})
    # learners without any enrollment still count as learners (344 of them in the tiny data)
    learners = await oracle(
        engine,
        "select l.country, count(*), (select count(*) from enrollments e join learners l2 on l2.id ="
        " e.learner_id "
        "where l2.country = l.country) from learners l group by 1",
    )
    same_rows(
        {r["country"]: (r["count"], r["enrollments"]["count"]) for r in data["learners"]},
        {c: (n, m) for c, n, m in learners},
    )


# --- document features -------------------------------------------------------------


async def test_aliases_of_the_same_root_field_and_of_measures(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = await gql(
        client,
        '{ done: enrollments(where: {status: {equals: "completed"}}) { n: count avg: avgProgress }'
        ' open: enrollments(where: {status: {equals: "active"}}) { n: count total: count rate:'
        " completionRate }"
        " bySubject: enrollments(" + ALL + ") { c: course { s: subject } n: count m: count } }",
    )
    ((done_n, done_avg),) = await oracle(
        engine, "select count(*), avg(progress)::float8 from enrollments where status = 'completed'"
    )
    ((open_n,),) = await oracle(engine, "select count(*) from enrollments where status = 'active'")
    assert data["done"] == [{"n": done_n, "avg": pytest.approx(done_avg)}]
    assert data["open"] == [{"n": open_n, "total": open_n, "rate": 0.0}]
    want = dict(
        await oracle(
            engine,
            "select c.subject, count(*) from enrollments e join courses c on c.id = e.course_id group by 1",
        )
    )
    assert all(
        set(r) == {"c", "n", "m"} and set(r["c"]) == {"s"} and r["n"] == r["m"] for r in data["bySubject"]
    )
    same_rows({r["c"]["s"]: r["n"] for r in data["bySubject"]}, want)


async def test_aliases_of_time_grains(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(
        client,
        '{ enrollments(timezone: "Europe/London", '
        + ALL
        + ") { t: enrolledAt { m: month y: year } n: count } }",
    )
    want = await oracle(
        engine,
        "select date_trunc('month', enrolled_at at time zone 'Europe/London'), count(*) from enrollments"
        " group by 1",
    )
    same_rows({r["t"]["m"]: r["n"] for r in data["enrollments"]}, {local_iso(m): n for m, n in want})
    assert all(r["t"]["y"] == r["t"]["m"][:4] + "-01-01T00:00:00" for r in data["enrollments"])


async def test_named_and_inline_fragments(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(
        client,
        """
        query Fragments {
          enrollments(limit: 50000) {
            ...Counts course { ...CourseBits } ... on Enrollments { completionRate }
          }
        }
        fragment Counts on Enrollments { count ... { learners } }
        fragment CourseBits on Courses { subject partner { ... on Organizations { name } } }
        """,
    )
    want = await oracle(
        engine,
        "select c.subject, o.name, count(*), count(distinct e.learner_id), avg((e.status ="
        " 'completed')::int) "
        "from enrollments e join courses c on c.id = e.course_id join organizations o on o.id = c.partner_id "
        "group by 1, 2",
    )
    got = {
        (r["course"]["subject"], r["course"]["partner"]["name"]): (
            r["count"],
            r["learners"],
            r["completionRate"],
        )
        for r in data["enrollments"]
    }
    same_rows(got, {(s, o): (n, d, float(c)) for s, o, n, d, c in want})
    assert list(data["enrollments"][0]) == ["count", "learners", "course", "completionRate"]


async def test_the_same_field_from_two_fragments_is_one_member(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = await gql(
        client,
        "{ enrollments { status ...A ...B } } fragment A on Enrollments { count course { subject } }"
        " fragment B on Enrollments { count course { level } }",
    )
    want = await oracle(
        engine,
        "select e.status, c.subject, c.level, count(*) from enrollments e join courses c on c.id ="
        " e.course_id "
        "group by 1, 2, 3",
    )
    got = {
        (r["status"], r["course"]["subject"], r["course"]["level"]): r["count"] for r in data["enrollments"]
    }
    same_rows(got, {(s, sub, lvl): n for s, sub, lvl, n in want})


async def test_variables_in_where_limit_and_whole_inputs(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    query = """
    query V($status: String!, $subjects: [String!], $limit: Int, $offset: Int!, $tz: String!,
            $where: EnrollmentsWhere, $order: [EnrollmentsOrderBy!]) {
      a: enrollments(where: {status: {equals: $status}, course: {subject: {in: $subjects}}}, limit: $limit) {
        course { subject } count
      }
      b: enrollments(where: $where, orderBy: $order, limit: $limit, offset: $offset, timezone: $tz) {
        enrolledAt { year } count
      }
    }
    """
    variables = {
        "status": "dropped",
        "subjects": ["Business", "Data Science", "Health"],
        "limit": 2,
        "offset": 0,
        "tz": "Pacific/Auckland",
        "where": {"progress": {"gte": 50}, "OR": [{"status": {"equals": "active"}}, {"grade": {"gt": 90}}]},
        "order": [{"count": "ASC"}],
    }
    data = await gql(client, query, variables)
    a = await oracle(
        engine,
        "select c.subject, count(*) from enrollments e join courses c on c.id = e.course_id "
        "where e.status = 'dropped' and c.subject in ('Business', 'Data Science', 'Health') "
        "group by 1 order by 2 desc, 1 limit 2",
    )
    assert [(r["course"]["subject"], r["count"]) for r in data["a"]] == [tuple(row) for row in a]
    b = await oracle(
        engine,
        "select date_trunc('year', enrolled_at at time zone 'Pacific/Auckland'), count(*) from enrollments "
        "where progress >= 50 and (status = 'active' or grade > 90) group by 1 order by 2 asc, 1 limit 2",
    )
    assert [(r["enrolledAt"]["year"], r["count"]) for r in data["b"]] == [(local_iso(y), n) for y, n in b]


async def test_include_and_skip_change_the_grouping(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    query = """
    query D($withSubject: Boolean!, $skipStatus: Boolean!) {
      enrollments(limit: 50000) {
        status @skip(if: $skipStatus)
        course @include(if: $withSubject) { subject }
        ... @include(if: $withSubject) { learners }
        count
      }
    }
    """
    plain = await gql(client, query, {"withSubject": False, "skipStatus": False})
    both = await gql(client, query, {"withSubject": True, "skipStatus": False})
    subject_only = await gql(client, query, {"withSubject": True, "skipStatus": True})
    nothing = await gql(client, query, {"withSubject": False, "skipStatus": True})
    by_status = dict(await oracle(engine, "select status, count(*) from enrollments group by 1"))
    by_both = await oracle(
        engine,
        "select e.status, c.subject, count(*), count(distinct e.learner_id) from enrollments e "
        "join courses c on c.id = e.course_id group by 1, 2",
    )
    by_subject = await oracle(
        engine,
        "select c.subject, count(*), count(distinct e.learner_id) from enrollments e "
        "join courses c on c.id = e.course_id group by 1",
    )
    assert all(set(r) == {"status", "count"} for r in plain["enrollments"])
    same_rows({r["status"]: r["count"] for r in plain["enrollments"]}, by_status)
    assert len(both["enrollments"]) == len(by_both)
    same_rows(
        {(r["status"], r["course"]["subject"]): (r["count"], r["learners"]) for r in both["enrollments"]},
        {(s, c): (n, d) for s, c, n, d in by_both},
    )
    assert all(set(r) == {"course", "learners", "count"} for r in subject_only["enrollments"])
    assert len(subject_only["enrollments"]) == len(by_subject)
    same_rows(
        {r["course"]["subject"]: (r["count"], r["learners"]) for r in subject_only["enrollments"]},
        {c: (n, d) for c, n, d in by_subject},
    )
    ((total,),) = await oracle(engine, "select count(*) from enrollments")
    assert nothing["enrollments"] == [{"count": total}]


async def test_typename_at_every_level(client: httpx.AsyncClient) -> None:
    data = await gql(
        client,
        "{ __typename enrollments(limit: 1) { __typename count enrolledAt { __typename month }"
        " course { __typename subject launchedAt { __typename year } partner { __typename name } } } }",
    )
    assert data["__typename"] == "Query"
    row = data["enrollments"][0]
    assert row["__typename"] == "Enrollments"
    assert row["enrolledAt"]["__typename"] == "Time"
    assert row["course"]["__typename"] == "Courses"
    assert row["course"]["partner"]["__typename"] == "Organizations"
    launched = row["course"]["launchedAt"]["__typename"]
    # the time type of launched_at (day..year) is whatever the schema says it is
    introspected = await gql(
        client, '{ __type(name: "Courses") { fields { name type { name ofType { name } } } } }'
    )
    types = {
        f["name"]: f["type"]["name"] or f["type"]["ofType"]["name"] for f in introspected["__type"]["fields"]
    }
    assert launched == types["launchedAt"] and launched != "Time"
    aliased = await gql(client, "{ enrollments(limit: 1) { t: __typename count } }")
    assert aliased["enrollments"][0]["t"] == "Enrollments"


# --- order, paging, segments --------------------------------------------------------


async def test_order_by_measure_dimension_joined_and_time(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = await gql(
        client,
        "{ byCount: enrollments(orderBy: [{count: DESC}], " + ALL + ") { course { title } count }"
        " byStatus: enrollments(orderBy: [{status: DESC}]) { status count }"
        " byJoined: enrollments(orderBy: [{course: {subject: ASC}}, {count: DESC}], " + ALL + ")"
        " { course { subject level } count }"
        ' byTime: enrollments(orderBy: [{enrolledAt: DESC}], timezone: "Europe/London") { enrolledAt { month'
        " } count }"
        " byRate: enrollments(orderBy: [{completionRate: ASC}], "
        + ALL
        + ") { course { title } completionRate } }",
    )
    by_count = await oracle(
        engine, "select c.title, count(*) from enrollments e join courses c on c.id = e.course_id group by 1"
    )
    assert [r["count"] for r in data["byCount"]] == sorted((n for _, n in by_count), reverse=True)
    same_rows({r["course"]["title"]: r["count"] for r in data["byCount"]}, dict(by_count))
    by_status = await oracle(engine, "select status, count(*) from enrollments group by 1 order by 1 desc")
    assert [(r["status"], r["count"]) for r in data["byStatus"]] == [tuple(r) for r in by_status]
    by_joined = await oracle(
        engine,
        "select c.subject, c.level, count(*) from enrollments e join courses c on c.id = e.course_id "
        "group by 1, 2 order by 1 asc, 3 desc, 2 asc",
    )
    assert [(r["course"]["subject"], r["course"]["level"], r["count"]) for r in data["byJoined"]] == [
        tuple(r) for r in by_joined
    ]
    by_time = await oracle(
        engine,
        "select date_trunc('month', enrolled_at at time zone 'Europe/London'), count(*) from enrollments "
        "group by 1 order by 1 desc",
    )
    assert [(r["enrolledAt"]["month"], r["count"]) for r in data["byTime"]] == [
        (local_iso(m), n) for m, n in by_time
    ]
    rates = [r["completionRate"] for r in data["byRate"]]
    assert rates == sorted(rates) and len(rates) == 30


async def test_limit_offset_pages_reproduce_the_ordered_list(client: httpx.AsyncClient) -> None:
    selection = "{ course { title } status count }"
    order = "orderBy: [{count: DESC}, {course: {title: ASC}}, {status: ASC}]"
    full = (await gql(client, f"{{ enrollments({order}, {ALL}) {selection} }}"))["enrollments"]
    assert len(full) > 60
    page = 13
    fields = " ".join(
        f"p{i}: enrollments({order}, limit: {page}, offset: {i * page}) {selection}"
        for i in range(len(full) // page + 2)
    )
    pages = await gql(client, "{ " + fields + " }")
    joined = [row for i in range(len(pages)) for row in pages[f"p{i}"]]
    assert joined == full
    assert pages[f"p{len(pages) - 1}"] == []
    # the default order (first measure descending, then every dimension) is stable too
    default_full = (await gql(client, f"{{ enrollments({ALL}) {selection} }}"))["enrollments"]
    fields = " ".join(
        f"p{i}: enrollments(limit: {page}, offset: {i * page}) {selection}"
        for i in range(len(full) // page + 1)
    )
    default_pages = await gql(client, "{ " + fields + " }")
    assert [row for i in range(len(default_pages)) for row in default_pages[f"p{i}"]] == default_full
    counts = [r["count"] for r in default_full]
    assert counts == sorted(counts, reverse=True)


async def test_default_limit_is_ten_thousand(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(client, "{ progressEvents { occurredAt { value } count } }")
    ((groups,),) = await oracle(engine, "select count(distinct occurred_at) from progress_events")
    assert groups > 10_000
    assert len(data["progressEvents"]) == 10_000


async def test_segments(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(
        client,
        "{ active: enrollments(segments: [ACTIVE]) { count }"
        " sponsoredDone: enrollments(segments: [SPONSORED, COMPLETED], "
        + ALL
        + ") { course { subject } count }"
        " paid: courses(segments: [PAID]) { count avgPrice }"
        ' free: courses(segments: [FREE], where: {level: {equals: "beginner"}}) { count } }',
    )
    ((active,),) = await oracle(engine, "select count(*) from enrollments where status = 'active'")
    assert data["active"] == [{"count": active}]
    want = dict(
        await oracle(
            engine,
            "select c.subject, count(*) from enrollments e join courses c on c.id = e.course_id "
            "where e.enterprise_id is not null and e.status = 'completed' group by 1",
        )
    )
    same_rows({r["course"]["subject"]: r["count"] for r in data["sponsoredDone"]}, want)
    ((paid, avg_price),) = await oracle(
        engine, "select count(*), avg(price)::float8 from courses where is_paid"
    )
    assert data["paid"] == [{"count": paid, "avgPrice": pytest.approx(avg_price)}]
    ((free,),) = await oracle(engine, "select count(*) from courses where not is_paid and level = 'beginner'")
    assert data["free"] == [{"count": free}]


# --- meta, hidden members, types -----------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _expected_measure_type(spec: dict[str, Any]) -> str:
    if spec["type"] in ("count", "count_distinct"):
        return "integer"
    if spec["type"] in ("avg", "ratio"):
        return "float"
    return str(spec.get("data_type", "float"))


async def test_meta_lists_every_public_member_and_nothing_hidden(client: httpx.AsyncClient) -> None:
    data = await gql(
        client,
        "{ meta { version models { name model title measures { name member type dataType format }"
        " dimensions { name member type dataType granularities } segments { name } joins { name model"
        " relationship }"
        " } } }",
    )
    meta = data["meta"]
    assert re.fullmatch(r"[0-9a-f]{8,}", meta["version"])
    models = {m["model"]: m for m in meta["models"]}
    files = [yaml.safe_load(path.read_text()) for path in sorted(MODELS_DIR.glob("*.yml"))]
    assert set(models) == {f["model"] for f in files}
    all_hidden = set()
    for spec in files:
        got = models[spec["model"]]
        assert got["name"] == _camel(spec["model"])
        assert got["title"] == spec.get("title")
        measures = {m["member"]: m for m in got["measures"]}
        public = {n: s for n, s in (spec.get("measures") or {}).items() if s.get("public", True)}
        assert set(measures) == set(public), spec["model"]
        for name, m in public.items():
            assert measures[name]["name"] == _camel(name)
            assert measures[name]["type"] == m["type"]
            assert measures[name]["dataType"] == _expected_measure_type(m), (spec["model"], name)
            assert measures[name]["format"] == m.get("format")
        dims = {d["member"]: d for d in got["dimensions"]}
        public = {n: s for n, s in (spec.get("dimensions") or {}).items() if s.get("public", True)}
        all_hidden |= {
            _camel(n) for n, s in (spec.get("dimensions") or {}).items() if not s.get("public", True)
        }
        assert set(dims) == set(public), spec["model"]
        for name, d in public.items():
            assert dims[name]["name"] == _camel(name)
            assert dims[name]["type"] == d["type"]
            if d["type"] == "number":
                assert dims[name]["dataType"] == d.get("data_type", "float"), (spec["model"], name)
            else:
                assert dims[name]["dataType"] is None
            if d["type"] == "time":
                assert dims[name]["granularities"] == d.get("granularities", list(GRAINS))
            else:
                assert dims[name]["granularities"] == []
        assert {s["name"] for s in got["segments"]} == set(spec.get("segments") or {})
        assert {(j["name"], j["model"], j["relationship"]) for j in got["joins"]} == {
            (_camel(n), j["model"], j["relationship"]) for n, j in (spec.get("joins") or {}).items()
        }
    assert {"partnerId", "enterpriseId", "instructorId"} <= all_hidden
    text = str(meta)
    for hidden in all_hidden:
        assert hidden not in text
    assert "partner_id" not in text and "enterprise_id" not in text


async def test_hidden_members_are_absent_from_the_schema(client: httpx.AsyncClient, app: Any) -> None:
    data = await gql(
        client, "{ __schema { types { name fields { name } inputFields { name } enumValues { name } } } }"
    )
    names = set()
    for t in data["__schema"]["types"]:
        for group in ("fields", "inputFields", "enumValues"):
            names |= {f["name"] for f in t[group] or ()}
    assert "count" in names and "enrolledAt" in names  # the walk does see the members
    for hidden in ("partnerId", "enterpriseId", "instructorId", "partner_id", "enterprise_id"):
        assert hidden not in names
    sdl = app.state.cohort.runtime.schema.as_str()
    assert "enrolledAt" in sdl
    assert "partnerId" not in sdl and "enterpriseId" not in sdl and "instructorId" not in sdl


async def test_json_types_of_values(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={
            "query": "{ e: enrollments("
            + ALL
            + ") { status count learners avgProgress completionRate avgGrade "
            "lastEnrolledAt } f: feedback { rating responses nps avgRating satisfiedRate }"
            " m: modules { position count totalEstimatedMinutes }"
            " c: courses { price durationHours isPaid count totalDurationHours } }"
        },
    )
    assert response.status_code == 200
    data = response.json()["data"]
    for row in data["e"]:
        assert type(row["count"]) is int and type(row["learners"]) is int
        assert type(row["lastEnrolledAt"]) is int
        assert type(row["avgProgress"]) is float and type(row["completionRate"]) is float
        assert row["avgGrade"] is None or type(row["avgGrade"]) is float
    # the ratio is exactly 0 or 1 per status: still a JSON float ("0.0"), not an int
    assert re.search(r'"completionRate":(0\.0|1\.0)[,}]', response.text)
    for row in data["f"]:
        assert type(row["rating"]) is int and type(row["responses"]) is int
        assert (
            type(row["nps"]) is float
            and type(row["avgRating"]) is float
            and type(row["satisfiedRate"]) is float
        )
    for row in data["m"]:
        assert type(row["position"]) is int and type(row["count"]) is int
        assert type(row["totalEstimatedMinutes"]) is int
    for row in data["c"]:
        assert type(row["price"]) is float and type(row["durationHours"]) is float
        assert type(row["isPaid"]) is bool and type(row["count"]) is int
        assert type(row["totalDurationHours"]) is float


async def test_repeated_root_field_merges_and_object_with_only_typename(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = await gql(
        client,
        "{ enrollments { status } enrollments { count }"
        " only: enrollments { course { __typename } enrolledAt { __typename } count } }",
    )
    same_rows(
        {r["status"]: r["count"] for r in data["enrollments"]},
        dict(await oracle(engine, "select status, count(*) from enrollments group by 1")),
    )
    ((total,),) = await oracle(engine, "select count(*) from enrollments")
    assert data["only"] == [
        {"course": {"__typename": "Courses"}, "enrolledAt": {"__typename": "Time"}, "count": total}
    ]


async def test_directives_with_default_variables_and_on_root_fields_and_spreads(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    query = """
    query Q($withStatus: Boolean = true, $skipRoot: Boolean = false, $skipSpread: Boolean = true) {
      enrollments { status @include(if: $withStatus) ...Subject @skip(if: $skipSpread) count }
      skipped: enrollments @skip(if: $skipRoot) { count }
    }
    fragment Subject on Enrollments { course { subject } }
    """
    defaults = await gql(client, query)
    same_rows(
        {r["status"]: r["count"] for r in defaults["enrollments"]},
        dict(await oracle(engine, "select status, count(*) from enrollments group by 1")),
    )
    assert all(set(r) == {"status", "count"} for r in defaults["enrollments"])
    flipped = await gql(client, query, {"withStatus": False, "skipRoot": True, "skipSpread": False})
    assert "skipped" not in flipped
    same_rows(
        {r["course"]["subject"]: r["count"] for r in flipped["enrollments"]},
        dict(
            await oracle(
                engine,
                "select c.subject, count(*) from enrollments e join courses c on c.id = e.course_id group by"
                " 1",
            )
        ),
    )


async def test_order_by_a_time_dimension_selected_at_two_grains(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = await gql(
        client,
        '{ enrollments(orderBy: [{enrolledAt: DESC}], timezone: "Europe/London") { enrolledAt { year quarter'
        " } count } }",
    )
    want = await oracle(
        engine,
        "select date_trunc('year', enrolled_at at time zone 'Europe/London') y, "
        "date_trunc('quarter', enrolled_at at time zone 'Europe/London') q, count(*) from enrollments "
        "group by 1, 2 order by 1 desc, 2 desc",
    )
    got = [(r["enrolledAt"]["year"], r["enrolledAt"]["quarter"], r["count"]) for r in data["enrollments"]]
    assert got == [(local_iso(y), local_iso(q), n) for y, q, n in want]


async def test_nulls_sort_last_both_ways(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(
        client,
        "{ asc: learners(orderBy: [{enterprise: {name: ASC}}]) { enterprise { name } count }"
        " desc: learners(orderBy: [{enterprise: {name: DESC}}]) { enterprise { name } count }"
        " grade: enrollments(orderBy: [{avgGrade: ASC}]) { status avgGrade } }",
    )
    ordered = {
        "asc": "select o.name, count(*) from learners l left join organizations o on o.id = l.enterprise_id "
        "group by 1 order by 1 asc nulls last",
        "desc": "select o.name, count(*) from learners l left join organizations o on o.id = l.enterprise_id "
        "group by 1 order by 1 desc nulls last",
    }
    for direction, sql in ordered.items():
        want = await oracle(engine, sql)
        got = [(r["enterprise"]["name"], r["count"]) for r in data[direction]]
        assert got == [tuple(row) for row in want]
        assert got[-1][0] is None
    grades = [r["avgGrade"] for r in data["grade"]]
    assert grades[0] is not None and grades[1:] == [None, None]


async def test_having_on_a_repeated_model_uses_deduplicated_values(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Joining enrollments repeats every course: the HAVING must see the course-level sum,
    not the sum over repeated rows (which would be far above 30 for every subject)."""
    data = await gql(
        client,
        "{ courses(where: {totalDurationHours: {gt: 30}}, orderBy: [{totalDurationHours: DESC}])"
        " { subject totalDurationHours count enrollments { count } }"
        " joined: courses(where: {enrollments: {count: {gt: 600}}, avgDurationHours: {lt: 10}})"
        " { subject count enrollments { count } } }",
    )
    want = await oracle(
        engine,
        "select c.subject, sum(c.duration_hours)::float8, count(*), "
        "(select count(*) from enrollments e join courses c2 on c2.id = e.course_id where c2.subject ="
        " c.subject) "
        "from courses c group by 1 having sum(c.duration_hours) > 30 order by 2 desc",
    )
    got = [
        (r["subject"], r["totalDurationHours"], r["count"], r["enrollments"]["count"])
        for r in data["courses"]
    ]
    assert [g[0] for g in got] == [w[0] for w in want]
    same_rows({g[0]: g[1:] for g in got}, {w[0]: tuple(w[1:]) for w in want})
    want = await oracle(
        engine,
        "select c.subject, count(*), "
        "(select count(*) from enrollments e join courses c2 on c2.id = e.course_id where c2.subject ="
        " c.subject) n "
        "from courses c group by 1 having avg(c.duration_hours) < 10 and "
        "(select count(*) from enrollments e join courses c2 on c2.id = e.course_id where c2.subject ="
        " c.subject) > 600",
    )
    assert want
    same_rows(
        {r["subject"]: (r["count"], r["enrollments"]["count"]) for r in data["joined"]},
        {s: (n, m) for s, n, m in want},
    )


async def test_formula_and_filtered_distinct_measures(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    data = await gql(
        client,
        "{ feedback { course { subject } nps promoters detractors responses satisfiedRate }"
        " funnel: moduleFunnel(where: {course: {id: {equals: 1}}}, orderBy: [{module: {position: ASC}}])"
        " { module { position } learnersReached learnersCompleted stepCompletionRate }"
        " events: progressEvents { eventType learningHours minutesTotal learnersCompleting } }",
    )
    feedback = await oracle(
        engine,
        "select c.subject, ((count(*) filter (where f.nps >= 9) - count(*) filter (where f.nps <= 6)) *"
        " 100.0 "
        "/ count(*))::float8, count(*) filter (where f.nps >= 9), count(*) filter (where f.nps <= 6),"
        " count(*), "
        "avg((f.rating >= 4)::int)::float8 from feedback f join courses c on c.id = f.course_id group by 1",
    )
    same_rows(
        {
            r["course"]["subject"]: (
                r["nps"],
                r["promoters"],
                r["detractors"],
                r["responses"],
                r["satisfiedRate"],
            )
            for r in data["feedback"]
        },
        {row[0]: tuple(row[1:]) for row in feedback},
    )
    funnel = await oracle(
        engine,
        "select m.position, count(distinct f.learner_id), count(distinct f.learner_id) filter (where"
        " f.completed), "
        "(count(distinct f.learner_id) filter (where f.completed))::float8 / nullif(count(distinct"
        " f.learner_id), 0) "
        "from (select enrollment_id, learner_id, course_id, module_id, "
        "      bool_or(event_type = 'module_completed') as completed "
        "      from progress_events group by 1, 2, 3, 4) f "
        "join course_modules m on m.id = f.module_id where f.course_id = 1 group by 1 order by 1",
    )
    assert funnel
    got = [
        (r["module"]["position"], r["learnersReached"], r["learnersCompleted"], r["stepCompletionRate"])
        for r in data["funnel"]
    ]
    assert [g[0] for g in got] == [f[0] for f in funnel]
    same_rows({g[0]: g[1:] for g in got}, {f[0]: tuple(f[1:]) for f in funnel})
    events = await oracle(
        engine,
        "select event_type, (sum(minutes_spent) / 60.0)::float8, sum(minutes_spent), "
        "count(distinct learner_id) filter (where event_type = 'module_completed') from progress_events"
        " group by 1",
    )
    same_rows(
        {
            r["eventType"]: (r["learningHours"], r["minutesTotal"], r["learnersCompleting"])
            for r in data["events"]
        },
        {row[0]: tuple(row[1:]) for row in events},
    )


@pytest.mark.parametrize(
    ("where", "variables"),
    [
        ("{status: {equals: null}}", None),
        ("{status: null}", None),
        ("{OR: null}", None),
        ("{status: {equals: $s}}", {"s": None}),
    ],
)
async def test_an_explicit_null_condition_is_an_error_not_every_row(
    client: httpx.AsyncClient, where: str, variables: dict[str, Any] | None
) -> None:
    declaration = "($s: String)" if variables else ""
    response = await client.post(
        "/graphql",
        json={
            "query": f"query{declaration} {{ enrollments(where: {where}) {{ count }} }}",
            "variables": variables,
        },
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "null" in body["errors"][0]["message"]


async def test_an_omitted_variable_means_no_condition(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "query($s: String) { enrollments(where: {status: {equals: $s}}) { count } }"},
    )
    expected = (await oracle(engine, "select count(*) from enrollments"))[0][0]
    assert response.json()["data"]["enrollments"] == [{"count": expected}]
