"""POST /export.csv: the rows of a GraphQL query as CSV, checked against hand-written SQL, with
the same authorization (tenants, embed sessions' locked filters) and the errors of /graphql
before the first row, and an error line when the stream is cut short."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.csv_format import cell, error_line
from api.settings import ExportSettings, Settings
from schema.dashboard_documents import dashboard_view
from schema.validator import load_registry
from tests.resolvers.oracle import oracle
from tests.serving import serving
from tests.tokens import Mint

pytestmark = pytest.mark.integration

UNI = "northbridge-university"
ROOT = Path(__file__).resolve().parents[2]
SERIES_ROWS = 120_000  # past the 50,000-row page limit
SERIES = f"""
model: series
title: Series
sql: "select n as id, n % 7 as bucket, md5(n::text) as label from generate_series(1, {SERIES_ROWS}) n"
primary_key: id
dimensions:
  id: {{type: number, data_type: integer, title: Number}}
  bucket: {{type: number, data_type: integer, title: Bucket}}
  label: {{type: string, title: Label}}
measures:
  count: {{type: count, title: Rows}}
"""  # noqa: S608


def parsed(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.text)))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def export(
    client: httpx.AsyncClient, query: str, token: str | None = None, **body: object
) -> httpx.Response:
    headers = bearer(token) if token else {}
    return await client.post("/export.csv", json={"query": query, **body}, headers=headers)


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    return str(error["message"])


async def test_an_export_matches_sql_with_titles(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Mint
) -> None:
    query = (
        "{ enrollments(orderBy: [{course: {subject: ASC}}, {status: ASC}])"
        " { course { subject } status count completionRate } }"
    )
    lines = parsed(await export(client, query, mint(tenant=UNI, roles=["university_admin"])))
    assert lines[0] == ["Course: Subject", "Status", "Enrollments", "Completion rate"]
    want = await oracle(
        engine,
        "select c.subject, e.status, count(*), avg((e.status = 'completed')::int)::float8"
        " from enrollments e join courses c on c.id = e.course_id"
        " where e.partner_id = :t and c.partner_id = :t group by 1, 2"
        " having count(distinct e.learner_id) >= 5 order by 1, 2",
        t=UNI,
    )
    assert len(want) > 3
    assert [(s, st, int(n), float(r)) for s, st, n, r in lines[1:]] == [
        (s, st, n, pytest.approx(r)) for s, st, n, r in want
    ]


async def test_another_tenant_exports_its_own_rows_only(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Mint
) -> None:
    query = "{ enrollments { course { title partner { name } } count } }"
    ours = parsed(await export(client, query, mint(tenant=UNI, roles=["university_admin"])))[1:]
    [(other,)] = await oracle(
        engine, "select id from organizations where kind = 'university' and id <> :t limit 1", t=UNI
    )
    theirs = parsed(await export(client, query, mint(tenant=other, roles=["university_admin"])))[1:]
    names = await oracle(engine, "select id, name from organizations where id in (:a, :b)", a=UNI, b=other)
    by_id = dict(names)
    assert ours and theirs
    assert {row[1] for row in ours} == {by_id[UNI]} and {row[1] for row in theirs} == {by_id[other]}
    want = await oracle(
        engine,
        "select c.title, count(*) from enrollments e join courses c on c.id = e.course_id"
        " where e.partner_id = :t group by c.id, c.title having count(distinct e.learner_id) >= 5",
        t=other,
    )
    assert sorted((row[0], int(row[2])) for row in theirs) == sorted(want)


async def test_a_tile_exports_with_its_variables(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    registry = load_registry(ROOT / "schema" / "models", ROOT / "schema" / "dashboards")
    view = dashboard_view(registry, registry.dashboards["course_progress"])
    tile = view["tiles"][0]
    body = {"variables": {"where": {"course": {"id": {"in": [1]}}}}, "operationName": tile["operation"]}
    response = await export(client, tile["document"], **body)
    lines = parsed(response)
    assert response.headers["content-disposition"] == 'attachment; filename="CourseProgressFunnel.csv"'
    assert lines[0] == [column["title"] for column in tile["columns"]]
    want = await oracle(
        engine,
        "select m.position, count(distinct e.learner_id),"
        " count(distinct e.learner_id) filter (where e.event_type = 'module_completed')"
        " from progress_events e join course_modules m on m.id = e.module_id"
        " where e.course_id = 1 group by 1 order by 1",
    )
    assert [tuple(int(v) for v in row) for row in lines[1:]] == [tuple(row) for row in want]


@pytest.mark.parametrize(
    ("query", "status", "code", "message"),
    [
        (
            "{ a: enrollments { count } b: courses { count } }",
            400,
            "BAD_USER_INPUT",
            "an export takes one root field",
        ),
        (
            "{ meta { version } }",
            400,
            "BAD_USER_INPUT",
            "an export takes one root field of a model per request; this document selects meta",
        ),
        ("{ enrollments { nothing } }", 400, "GRAPHQL_VALIDATION_FAILED", "Cannot query field 'nothing'"),
        ("{ enrollments {", 400, "GRAPHQL_PARSE_FAILED", "Syntax Error"),
        ('{ enrollments(timezone: "Mars/Base") { count } }', 400, "BAD_USER_INPUT", "unknown timezone"),
        (
            "{ enrollments(limit: 2000000) { count } }",
            400,
            "BAD_USER_INPUT",
            "an export has at most 1000000 rows",
        ),
        (
            "query A { enrollments { count } } query B { courses { count } }",
            400,
            "BAD_USER_INPUT",
            "name the operation",
        ),
    ],
)
async def test_refused_before_the_first_row(
    client: httpx.AsyncClient, query: str, status: int, code: str, message: str
) -> None:
    assert message in refused(await export(client, query), status, code)


async def test_a_forbidden_member_is_forbidden(client: httpx.AsyncClient, mint: Mint) -> None:
    response = await export(
        client, "{ enrollments { learner { email } count } }", mint(tenant=UNI, roles=["partner_integration"])
    )
    assert refused(response, 403, "FORBIDDEN") == "you may not read learners.email"


@pytest.fixture(scope="module")
async def series(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory, mint: Mint
) -> AsyncIterator[httpx.AsyncClient]:
    models = tmp_path_factory.mktemp("series") / "models"
    models.mkdir()
    (models / "series.yml").write_text(SERIES)
    configured = replace(
        settings, models_dir=models, export=ExportSettings(max_rows=200_000, batch_rows=5_000)
    )
    async with serving(configured, database_url, bearer(mint())) as client:
        yield client


async def test_an_export_streams_past_the_page_limit(series: httpx.AsyncClient) -> None:
    lines = parsed(await export(series, "{ series(orderBy: [{id: ASC}]) { id bucket label count } }"))
    assert lines[0] == ["Number", "Bucket", "Label", "Rows"]
    assert len(lines) == SERIES_ROWS + 1
    assert [int(row[0]) for row in lines[1:]] == list(range(1, SERIES_ROWS + 1))
    assert (
        lines[-1][1:] == [str(SERIES_ROWS % 7), "", "1"][:1] + lines[-1][2:]
    )  # the row itself, no error line
    assert not lines[-1][0].startswith("#ERROR")


async def test_a_client_limit_is_kept(series: httpx.AsyncClient) -> None:
    lines = parsed(await export(series, "{ series(limit: 60001, offset: 5, orderBy: [{id: ASC}]) { id } }"))
    assert len(lines) == 60_002 and lines[1] == ["6"] and lines[-1] == ["60006"]


async def test_an_export_cut_short_says_so_on_its_last_line(
    settings: Settings, database_url: str, series: httpx.AsyncClient, tmp_path: Path, mint: Mint
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "series.yml").write_text(SERIES)
    small = replace(settings, models_dir=models, export=ExportSettings(max_rows=1_000, batch_rows=300))
    async with serving(small, database_url, bearer(mint())) as client:
        response = await export(client, "{ series(orderBy: [{id: ASC}]) { id } }")
        over = await export(client, "{ series(limit: 1001) { id } }")
    lines = parsed(response)
    assert len(lines) == 1 + 1_000 + 1
    assert [int(row[0]) for row in lines[1:-1]] == list(range(1, 1_001))
    assert lines[-1] == [
        "#ERROR",
        "TOO_MANY_ROWS",
        "the export stops at 1000 rows (COHORT_EXPORT_MAX_ROWS): narrow it with where",
    ]
    assert response.text.endswith("where\r\n")
    assert (
        refused(over, 400, "BAD_USER_INPUT")
        == "an export has at most 1000 rows (COHORT_EXPORT_MAX_ROWS), not 1001"
    )


async def test_the_export_time_limit_ends_with_an_error_line(
    settings: Settings, database_url: str, tmp_path: Path, mint: Mint
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "series.yml").write_text(SERIES)
    hurried = replace(settings, models_dir=models, export=ExportSettings(timeout_s=0.0, batch_rows=1_000))
    async with serving(hurried, database_url, bearer(mint())) as client:
        lines = parsed(await export(client, "{ series(orderBy: [{id: ASC}]) { id } }"))
    assert len(lines) == 1 + 1_000 + 1
    assert lines[-1][:2] == ["#ERROR", "TIMEOUT"]
    assert lines[-1][2] == "the export ran past 0 s and stopped after 1000 rows"


def test_cells() -> None:
    assert [
        cell(v) for v in (None, True, False, 3, 0.1, "plain", "=HYPERLINK(1)", "+1", "-x", "@a", "\tt")
    ] == [
        "",
        "true",
        "false",
        "3",
        "0.1",
        "plain",
        "'=HYPERLINK(1)",
        "'+1",
        "'-x",
        "'@a",
        "'\tt",
    ]
    assert cell(-5) == "-5" and cell(-0.5) == "-0.5"  # numbers are numbers
    assert error_line("TIMEOUT", 'a "quoted", message') == '#ERROR,TIMEOUT,"a ""quoted"", message"\r\n'
