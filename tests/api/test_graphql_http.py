"""GraphQL over HTTP: methods, media types, status codes, error codes, health and metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.settings import Settings
from tests.resolvers.oracle import oracle
from tests.serving import serving

pytestmark = pytest.mark.integration

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
CODES = {
    "BAD_USER_INPUT",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "TIMEOUT",
    "SERVICE_UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
}
COUNT = "{ enrollments { count } }"


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The response's errors; every one must carry a known `extensions.code`."""
    payload = response.json()
    errors: list[dict[str, Any]] = payload.get("errors", [])
    for error in errors:
        assert isinstance(error.get("message"), str) and error["message"], error
        assert error.get("extensions", {}).get("code") in CODES, error
    return errors


def media(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


def request_failed(
    response: httpx.Response, code: str, status: int = 400, kind: str = GRAPHQL_RESPONSE
) -> str:
    assert response.status_code == status, response.text
    assert media(response) == kind
    payload = response.json()
    assert "data" not in payload, payload
    errors = errors_of(response)
    assert errors and {e["extensions"]["code"] for e in errors} == {code}, errors
    return " ".join(e["message"] for e in errors)


@pytest.fixture(scope="module")
async def total(engine: AsyncEngine) -> int:
    ((count,),) = await oracle(engine, "select count(*) from enrollments")
    return int(count)


# --- requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [JSON, "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
async def test_post_json(client: httpx.AsyncClient, total: int, content_type: str) -> None:
    response = await client.post(
        "/graphql", content=json.dumps({"query": COUNT}).encode(), headers={"content-type": content_type}
    )
    assert response.status_code == 200, response.text
    assert media(response) == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"enrollments": [{"count": total}]}}


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"content-type": "text/plain"}, json.dumps({"query": COUNT})),
        ({"content-type": "text/plain;charset=UTF-8"}, json.dumps({"query": COUNT})),
        ({"content-type": "application/x-www-form-urlencoded"}, "query=" + COUNT),
        (
            {"content-type": "multipart/form-data; boundary=xyz"},
            f'--xyz\r\nContent-Disposition: form-data; name="query"\r\n\r\n{COUNT}\r\n--xyz--\r\n',
        ),
        ({"content-type": "application/graphql"}, COUNT),
        ({}, json.dumps({"query": COUNT})),
    ],
    ids=["text-plain", "text-plain-charset", "form", "multipart", "application-graphql", "no-content-type"],
)
async def test_post_other_media_types_are_415(
    client: httpx.AsyncClient, headers: dict[str, str], body: str
) -> None:
    response = await client.post("/graphql", content=body.encode(), headers=headers)
    assert response.status_code == 415, response.text
    errors_of(response)


async def test_post_multipart_built_by_the_client_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", files={"query": (None, COUNT)})
    assert response.status_code == 415
    errors_of(response)


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": ',
        b"",
        b"\xff\xfe",
        b'[{"query": "{ enrollments { count } }"}]',
        b'"{ enrollments { count } }"',
        b"{}",
        b'{"query": ""}',
        b'{"query": "   "}',
        b'{"query": 42}',
        b'{"query": null}',
        b'{"query": "{ enrollments { count } }", "variables": []}',
        b'{"query": "{ enrollments { count } }", "variables": "{}"}',
        b'{"query": "{ enrollments { count } }", "variables": 1}',
        b'{"query": "{ enrollments { count } }", "operationName": 1}',
    ],
    ids=[
        "truncated-json",
        "empty-body",
        "not-utf8",
        "json-array",
        "json-string",
        "missing-query",
        "empty-query",
        "blank-query",
        "query-number",
        "query-null",
        "variables-array",
        "variables-string",
        "variables-number",
        "operation-name-number",
    ],
)
async def test_malformed_requests_are_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/graphql", content=body, headers={"content-type": JSON})
    request_failed(response, "BAD_USER_INPUT")
    # the legacy media type answers 400 too: the request is not well-formed
    legacy = await client.post("/graphql", content=body, headers={"content-type": JSON, "accept": JSON})
    assert legacy.status_code == 400 and media(legacy) == JSON
    errors_of(legacy)


async def test_null_variables_and_operation_name_are_allowed(client: httpx.AsyncClient, total: int) -> None:
    response = await client.post("/graphql", json={"query": COUNT, "variables": None, "operationName": None})
    assert response.json() == {"data": {"enrollments": [{"count": total}]}}


async def test_get_query_with_variables(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    query = "query ByStatus($s: String!) { enrollments(where: {status: {equals: $s}}) { status count } }"
    response = await client.get(
        "/graphql",
        params={"query": query, "variables": json.dumps({"s": "dropped"}), "operationName": "ByStatus"},
    )
    assert response.status_code == 200, response.text
    assert media(response) == GRAPHQL_RESPONSE
    ((dropped,),) = await oracle(engine, "select count(*) from enrollments where status = 'dropped'")
    assert response.json() == {"data": {"enrollments": [{"status": "dropped", "count": dropped}]}}


async def test_get_without_query_or_with_bad_variables_is_400(client: httpx.AsyncClient) -> None:
    request_failed(await client.get("/graphql"), "BAD_USER_INPUT")
    request_failed(
        await client.get("/graphql", params={"query": COUNT, "variables": "{not json"}), "BAD_USER_INPUT"
    )
    request_failed(
        await client.get("/graphql", params={"query": COUNT, "variables": "[1]"}), "BAD_USER_INPUT"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"query": "mutation { enrollments { count } }"},
        {"query": "mutation Change { enrollments { count } }", "operationName": "Change"},
        {"query": "query Read { enrollments { count } } mutation Write { x }", "operationName": "Write"},
    ],
    ids=["anonymous", "named", "selected-from-several"],
)
async def test_get_mutation_is_405(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    """GraphQL-over-HTTP: a mutation sent with GET gets 405 and `Allow: POST`, whatever
    the schema (this one has no mutations, so the document is also invalid)."""
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = await client.get("/graphql", params=params, headers={"accept": accept})
        assert response.status_code == 405, response.text
        assert response.headers.get("allow") == "POST"


async def test_other_methods_are_405(client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/graphql", json={"query": COUNT})
        assert response.status_code == 405
        assert "POST" in response.headers.get("allow", "")


# --- response media types ------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_legacy_json_is_200_even_for_invalid_documents(client: httpx.AsyncClient, method: str) -> None:
    headers = {"accept": JSON}
    for query, code in (
        ("{ enrollments { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ enrollments { count }", "GRAPHQL_PARSE_FAILED"),
    ):
        if method == "GET":
            response = await client.get("/graphql", params={"query": query}, headers=headers)
        else:
            response = await client.post("/graphql", json={"query": query}, headers=headers)
        request_failed(response, code, status=200, kind=JSON)
    ok = await client.post("/graphql", json={"query": COUNT}, headers=headers)
    assert ok.status_code == 200 and media(ok) == JSON and "data" in ok.json()
    coerce = await client.post(
        "/graphql",
        json={"query": "query($l: Int) { enrollments(limit: $l) { count } }", "variables": {"l": "ten"}},
        headers=headers,
    )
    assert coerce.status_code == 200 and media(coerce) == JSON
    errors_of(coerce)


@pytest.mark.parametrize(
    "accept, expected",
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),  # as the GraphQL-over-HTTP specification recommends
        ("application/*", JSON),
        ("text/html, */*;q=0.8", JSON),
        ("*/*;q=0.5, application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/graphql-response+json;q=0, */*", JSON),
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),
        ("application/graphql-response+json, application/json", GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json", JSON),
        ("application/json;q=nan, application/graphql-response+json;q=0.2", GRAPHQL_RESPONSE),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("text/html, application/json;q=0.1", JSON),
    ],
)
async def test_accept_negotiation(client: httpx.AsyncClient, accept: str | None, expected: str) -> None:
    headers = {"accept": accept} if accept is not None else {}
    request = client.build_request(
        "POST", "/graphql", json={"query": "{ enrollments { nope } }"}, headers=headers
    )
    if accept is None:
        del request.headers["accept"]
    response = await client.send(request)
    assert media(response) == expected
    assert response.status_code == (400 if expected == GRAPHQL_RESPONSE else 200)


@pytest.mark.parametrize("accept", ["text/html", "text/html, application/xhtml+xml", "application/json;q=0"])
async def test_unacceptable_accept_is_406(client: httpx.AsyncClient, accept: str) -> None:
    response = await client.post("/graphql", json={"query": COUNT}, headers={"accept": accept})
    assert response.status_code == 406
    get = await client.get("/graphql", params={"query": COUNT}, headers={"accept": accept})
    assert get.status_code == 406


async def test_graphql_response_json_statuses(client: httpx.AsyncClient) -> None:
    message = request_failed(
        await client.post("/graphql", json={"query": "{ enrollments { count }"}), "GRAPHQL_PARSE_FAILED"
    )
    assert "Syntax Error" in message
    request_failed(
        await client.post("/graphql", json={"query": "{ enrollments { nope } }"}), "GRAPHQL_VALIDATION_FAILED"
    )
    request_failed(
        await client.post("/graphql", json={"query": '{ enrollments(limit: "ten") { count } }'}),
        "GRAPHQL_VALIDATION_FAILED",
    )
    # variables that do not coerce: a request error, before execution
    for variables in ({"l": "ten"}, {"l": 1.5}, {}):
        response = await client.post(
            "/graphql",
            json={"query": "query($l: Int!) { enrollments(limit: $l) { count } }", "variables": variables},
        )
        assert response.status_code == 400, (variables, response.text)
        assert "data" not in response.json()
        errors_of(response)
    response = await client.post(
        "/graphql",
        json={
            "query": "query($w: EnrollmentsWhere) { enrollments(where: $w) { count } }",
            "variables": {"w": {"status": {"equals": 3}}},
        },
    )
    assert response.status_code == 400 and "data" not in response.json()
    errors_of(response)
    # operations that cannot be selected
    two = "query A { enrollments { count } } query B { enrollments { status } }"
    request_failed(await client.post("/graphql", json={"query": two}), "BAD_USER_INPUT")
    request_failed(await client.post("/graphql", json={"query": two, "operationName": "C"}), "BAD_USER_INPUT")
    request_failed(
        await client.post(
            "/graphql", json={"query": "query A { enrollments { count } }", "operationName": "B"}
        ),
        "BAD_USER_INPUT",
    )
    chosen = await client.post("/graphql", json={"query": two, "operationName": "B"})
    assert chosen.status_code == 200 and set(chosen.json()["data"]["enrollments"][0]) == {"status"}


# --- field errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, needle",
    [
        ("enrollments(limit: 100000) { count }", "limit"),
        ("enrollments(limit: 0) { count }", "limit"),
        ("enrollments(offset: -1) { count }", "offset"),
        ('enrollments(timezone: "Mars/Olympus_Mons") { count }', "timezone"),
        ('enrollments(timezone: "") { count }', "timezone"),
        ("enrollments(orderBy: [{status: ASC}]) { count }", "status"),
        ("enrollments(orderBy: [{status: ASC, count: DESC}]) { status count }", "orderBy"),
        ("enrollments(where: {AND: []}) { count }", "AND"),
        ('enrollments(where: {OR: [{count: {gt: 1}}, {status: {equals: "x"}}]}) { count }', "mix"),
        ("enrollments(where: {status: {in: []}}) { count }", "status"),
        ('enrollments(where: {enrolledAt: {inDateRange: ["2025-01-01"]}}) { count }', "inDateRange"),
        (
            'enrollments(where: {enrolledAt: {inDateRange: ["2025-02-01", "2025-01-01"]}}) { count }',
            "inDateRange",
        ),
        ('enrollments(where: {enrolledAt: {gt: "2025-13-01"}}) { count }', "date"),
        ('enrollments(where: {enrolledAt: {equals: "yesterday"}}) { count }', "date"),
        ('enrollments(where: {status: {equals: "a\\u0000b"}}) { count }', "NUL"),
        ("enrollments(where: {progress: {gt: 1e400}}) { count }", "progress"),
        ("enrollments { __typename }", "select"),
    ],
)
async def test_field_errors_are_bad_user_input_with_a_path(
    client: httpx.AsyncClient, field: str, needle: str
) -> None:
    response = await client.post("/graphql", json={"query": "{ " + field + " }"})
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["data"] is None  # [Enrollments!]! failed: null reaches data
    errors = errors_of(response)
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["path"] == ["enrollments"]
    assert needle.lower() in errors[0]["message"].lower(), errors[0]["message"]


async def test_hidden_member_paths_are_rejected(client: httpx.AsyncClient) -> None:
    """Hidden members are not in the schema at all: asking for one fails validation
    (the field does not exist), in a selection, a filter or an order."""
    for query in (
        "{ enrollments { partnerId count } }",
        '{ enrollments(where: {partnerId: {equals: "northbridge-university"}}) { count } }',
        '{ enrollments(where: {course: {partnerId: {equals: "northbridge-university"}}}) { count } }',
        "{ enrollments(orderBy: [{enterpriseId: ASC}]) { count } }",
        "{ courses { instructorId count } }",
    ):
        response = await client.post("/graphql", json={"query": query})
        message = request_failed(response, "GRAPHQL_VALIDATION_FAILED")
        for hidden in ("partnerId", "enterpriseId", "instructorId"):
            assert f"Did you mean '{hidden}'" not in message


async def test_a_failed_root_field_nulls_data_and_every_error_has_its_path(client: httpx.AsyncClient) -> None:
    """Row lists are non-null (`[Enrollments!]!`, typed for code generators): a root field that
    fails takes `data` with it, as GraphQL's null propagation says, and its error has its path."""
    response = await client.post(
        "/graphql",
        json={
            "query": "{ ok: enrollments { count } bad: enrollments(limit: 100000) { count }"
            ' tz: feedback(timezone: "Nowhere/Land") { responses } meta { version } }'
        },
    )
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] is None
    errors = errors_of(response)
    assert errors and {tuple(e["path"]) for e in errors} <= {("bad",), ("tz",)}
    assert {e["extensions"]["code"] for e in errors} == {"BAD_USER_INPUT"}


async def test_root_fields_that_succeed_together(client: httpx.AsyncClient, total: int) -> None:
    response = await client.post("/graphql", json={"query": "{ ok: enrollments { count } meta { version } }"})
    payload = response.json()
    assert payload["data"]["ok"] == [{"count": total}]
    assert isinstance(payload["data"]["meta"]["version"], str)


# --- health and metrics -------------------------------------------------------------


async def test_health_and_readiness(client: httpx.AsyncClient, app: Starlette) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    meta = await client.post("/graphql", json={"query": "{ meta { version } }"})
    assert body["models"] == meta.json()["data"]["meta"]["version"]


@pytest.fixture(scope="module")
async def unreachable(settings: Settings, admin_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings, "postgresql+asyncpg://postgres@127.0.0.1:1/cohort", admin_headers) as client:
        yield client


async def test_readiness_when_the_database_is_unreachable(unreachable: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    ready = await unreachable.get("/readyz")
    assert time.perf_counter() - started < 5
    assert ready.status_code == 503
    assert ready.json()["status"] != "ok"
    assert "127.0.0.1" not in ready.text and "postgres" not in ready.text.lower()
    assert (await unreachable.get("/healthz")).status_code == 200
    response = await unreachable.post("/graphql", json={"query": COUNT})
    assert response.status_code == 200
    assert response.json()["data"] is None
    errors = errors_of(response)
    assert errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"  # a code a client can act on
    assert "127.0.0.1" not in errors[0]["message"] and "postgres" not in errors[0]["message"].lower()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_change_after_requests(client: httpx.AsyncClient) -> None:
    before = _samples((await client.get("/metrics")).text)
    name = {"operationName": "MetricsProbe"}
    ok = await client.post("/graphql", json={"query": "query MetricsProbe { enrollments { count } }", **name})
    assert ok.status_code == 200
    bad = await client.post(
        "/graphql", json={"query": "query MetricsProbe { enrollments(limit: 0) { count } }", **name}
    )
    assert bad.status_code == 200
    invalid = await client.post("/graphql", json={"query": "query MetricsProbe { nope }", **name})
    assert invalid.status_code == 400
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    for name in (
        "cohort_graphql_requests_total",
        "cohort_graphql_request_seconds",
        "cohort_sql_seconds",
        "cohort_graphql_errors_total",
    ):
        assert name in text, name
    after = _samples(text)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("cohort_graphql_requests_total", operation="MetricsProbe", status="200") == 2
    assert delta("cohort_graphql_requests_total", operation="MetricsProbe", status="400") == 1
    assert delta("cohort_graphql_request_seconds_count", operation="MetricsProbe") == 3
    assert delta("cohort_graphql_request_seconds_sum", operation="MetricsProbe") > 0
    assert delta("cohort_sql_seconds_count") >= 1
    assert delta("cohort_sql_seconds_sum") > 0
    assert delta("cohort_graphql_errors_total", code="BAD_USER_INPUT") == 1
    assert delta("cohort_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1


# --- timeouts and internal errors ---------------------------------------------------

SLOW = """
model: slow
sql: "select 1 as id from pg_sleep(1)"
primary_key: id
measures:
  count: {type: count}
"""
BROKEN = """
model: broken
table: table_that_does_not_exist
primary_key: id
dimensions:
  name: {type: string}
measures:
  count: {type: count}
"""
FINE = """
model: fine
sql: "select 1 as id, 'x'::text as name"
primary_key: id
dimensions:
  name: {type: string}
measures:
  count: {type: count}
"""


@pytest.fixture(scope="module")
async def faulty(
    settings: Settings,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    admin_headers: dict[str, str],
) -> AsyncIterator[httpx.AsyncClient]:
    models: Path = tmp_path_factory.mktemp("faulty-models")
    (models / "slow.yml").write_text(SLOW)
    (models / "broken.yml").write_text(BROKEN)
    (models / "fine.yml").write_text(FINE)
    async with serving(
        replace(settings, models_dir=models, statement_timeout_ms=100), database_url, admin_headers
    ) as client:
        yield client


async def test_statement_timeout_is_timeout(faulty: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    response = await faulty.post("/graphql", json={"query": "{ slow { count } }"})
    assert time.perf_counter() - started < 0.9, "the statement was not cancelled at 100 ms"
    assert response.status_code == 200
    assert response.json()["data"] is None
    errors = errors_of(response)
    assert [(e["extensions"]["code"], e["path"]) for e in errors] == [("TIMEOUT", ["slow"])]
    assert "pg_sleep" not in response.text and "select" not in response.text.lower()


async def test_internal_errors_are_masked(
    faulty: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await faulty.post(
            "/graphql", json={"query": "{ broken { name count } fine { name count } }"}
        )
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] is None  # `broken` failed; its rows are a non-null list
    errors = errors_of(response)
    assert errors == [
        {
            "message": "Internal server error",
            "path": ["broken"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
    for leak in ("table_that_does_not_exist", "Traceback", "select", "UndefinedTable", "asyncpg", "relation"):
        assert leak.lower() not in response.text.lower(), leak
    # the operator still gets the reason in the log
    assert any("table_that_does_not_exist" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_metrics_label_a_named_operation_sent_without_operation_name(client: httpx.AsyncClient) -> None:
    """Most clients send `query Dashboard { ... }` without `operationName`: the operation
    that ran is still `Dashboard`, and requests per operation should say so."""
    before = _samples((await client.get("/metrics")).text)
    response = await client.post("/graphql", json={"query": "query DashboardTiles { enrollments { count } }"})
    assert response.status_code == 200
    after = _samples((await client.get("/metrics")).text)
    key = ("cohort_graphql_requests_total", (("operation", "DashboardTiles"), ("status", "200")))
    assert after.get(key, 0.0) - before.get(key, 0.0) == 1


async def test_concurrent_requests_share_the_pool(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    by_status = dict(await oracle(engine, "select status, count(*) from enrollments group by 1"))
    statuses = sorted(by_status) * 12

    async def one(status: str) -> tuple[str, Any]:
        response = await client.post(
            "/graphql",
            json={
                "query": "query($s: String!) { enrollments(where: {status: {equals: $s}}) { count } }",
                "variables": {"s": status},
            },
        )
        return status, response.json()

    results = await asyncio.gather(*(one(status) for status in statuses))
    for status, payload in results:
        assert payload == {"data": {"enrollments": [{"count": by_status[status]}]}}


async def test_a_client_that_leaves_before_its_body_is_not_an_error(
    app: Starlette, admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", admin_headers["authorization"].encode()),
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "",
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "headers": headers,
    }  # fmt: skip
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
