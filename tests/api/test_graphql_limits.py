"""Limits on documents and requests, introspection switched off, and model reload."""

from __future__ import annotations

import asyncio
import inspect
import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLError, get_introspection_query, parse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.reload import ModelWatcher
from api.settings import Settings
from schema.registry import Registry
from schema.validator import load_registry
from tests.resolvers.oracle import oracle
from tests.serving import serving

pytestmark = pytest.mark.integration

GRAPHQL_RESPONSE = "application/graphql-response+json"
MODELS_DIR = Path(__file__).resolve().parents[2] / "schema" / "models"
CODES = {
    "BAD_USER_INPUT",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "TIMEOUT",
    "INTERNAL_SERVER_ERROR",
}


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = response.json().get("errors", [])
    for error in errors:
        assert error.get("extensions", {}).get("code") in CODES, error
    return errors


def rejected(response: httpx.Response, status: int = 400) -> str:
    """A request rejected before execution: no data, only errors; their messages."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert "data" not in payload, payload
    errors = errors_of(response)
    assert errors
    return " ".join(e["message"] for e in errors)


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    assert "errors" not in payload, payload["errors"]
    return payload


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await client.post("/graphql", json=body)


def nested(depth: int) -> str:
    """learners -> enrollments -> learner -> ... : `depth` field levels, a measure at the bottom."""
    opening, closing = [], []
    for level in range(1, depth):
        opening.append("learners" if level == 1 else ("enrollments" if level % 2 == 0 else "learner"))
        closing.append("}")
    return "{ " + " { ".join(opening) + " { count " + " ".join(closing) + " }"


# --- depth ---------------------------------------------------------------------------


async def test_depth_over_the_limit_is_rejected(client: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.limits.max_depth
    assert nested(4) == "{ learners { enrollments { learner { count } } } }"
    message = rejected(await post(client, nested(limit + 1)))
    assert "deep" in message and str(limit) in message
    rejected(await post(client, nested(limit + 5)))
    # at the limit the document is valid (whatever the planner then says about the path)
    at_limit = await post(client, nested(limit))
    assert at_limit.status_code == 200, at_limit.text
    assert all(e["extensions"]["code"] != "GRAPHQL_VALIDATION_FAILED" for e in errors_of(at_limit))


async def test_depth_counts_through_fragments(client: httpx.AsyncClient, settings: Settings) -> None:
    assert settings.limits.max_depth == 8
    query = """
    { learners { ...E } }
    fragment E on Learners { enrollments { ...L } }
    fragment L on Enrollments { learner { enrollments { ... on Enrollments { learner { ...M } } } } }
    fragment M on Learners { enrollments { learner { enrollments { count } } } }
    """
    message = rejected(await post(client, query))
    assert "deep" in message


async def test_a_deep_join_within_the_limit_matches_sql(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    data = accepted(
        await post(
            client,
            "{ feedback { enrollment { learner { enrollments { course { partner { name } } } } } responses }"
            " }",
        )
    )["data"]
    got = {
        r["enrollment"]["learner"]["enrollments"]["course"]["partner"]["name"]: r["responses"]
        for r in data["feedback"]
    }
    want = await oracle(
        engine,
        "select o.name, count(distinct f.id) from feedback f join enrollments e on e.id = f.enrollment_id "
        "join learners l on l.id = e.learner_id join enrollments e2 on e2.learner_id = l.id "
        "join courses c on c.id = e2.course_id join organizations o on o.id = c.partner_id group by 1",
    )
    assert got == dict(want)


async def test_introspection_queries_are_not_limited_by_depth(client: httpx.AsyncClient) -> None:
    kwargs: dict[str, Any] = {"descriptions": True}
    parameters = inspect.signature(get_introspection_query).parameters
    for name in (
        "specified_by_url",
        "directive_is_repeatable",
        "schema_description",
        "input_value_deprecation",
    ):
        if name in parameters:
            kwargs[name] = True
    full = accepted(await post(client, get_introspection_query(**kwargs)))
    types = {t["name"] for t in full["data"]["__schema"]["types"]}
    assert {"Query", "Enrollments", "EnrollmentsWhere", "Time", "StringFilter"} <= types
    deep = accepted(
        await post(
            client,
            '{ __type(name: "EnrollmentsWhere") { inputFields { name type { kind name ofType { kind name'
            " ofType { kind name ofType { kind name ofType { kind name ofType { name } } } } } } } } }",
        )
    )
    assert any(f["name"] == "AND" for f in deep["data"]["__type"]["inputFields"])


# --- aliases -------------------------------------------------------------------------


async def test_aliases_over_the_limit_are_rejected(
    client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    limit = settings.limits.max_aliases
    at_limit = " ".join(f"a{i}: enrollments(limit: {i + 1}) {{ count }}" for i in range(limit))
    data = accepted(await post(client, "{ " + at_limit + " }"))["data"]
    ((total,),) = await oracle(engine, "select count(*) from enrollments")
    assert data["a0"] == [{"count": total}] and len(data) == limit
    message = rejected(await post(client, "{ " + at_limit + " extra: enrollments { count } }"))
    assert "aliases" in message and str(limit) in message
    # aliases below the root count too, and so do those inside fragments (each time they are spread)
    inner = " ".join(f"m{i}: count" for i in range(limit))
    rejected(await post(client, "{ e: enrollments { " + inner + " } }"))
    rejected(
        await post(client, "{ enrollments { ...F } } fragment F on Enrollments { " + inner + " x: count }")
    )
    fragment = " ".join(f"m{i}: count" for i in range(limit // 2 + 1))
    once = "{ a: enrollments { ...F } } fragment F on Enrollments { " + fragment + " }"
    accepted(await post(client, once))
    twice = (
        "{ a: enrollments { ...F } b: enrollments { ...F } } fragment F on Enrollments { " + fragment + " }"
    )
    rejected(await post(client, twice))


async def test_aliases_of_introspection_fields_count_too(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Aliasing `__type` / `__schema` must not be a way around the alias limit."""
    many = " ".join(
        f'a{i}: __type(name: "Enrollments") {{ name }}' for i in range(settings.limits.max_aliases + 1)
    )
    rejected(await post(client, "{ " + many + " }"))


# --- tokens, document length, body size ------------------------------------------------


async def test_documents_over_the_token_limit_fail_to_parse(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.limits.max_tokens
    # `{ enrollments { count ... } }` is 6 tokens plus one per `count` (plus <EOF>)
    over = "{ enrollments { " + "count " * limit + "} }"
    assert len(over) < settings.limits.max_document_chars
    response = await post(client, over)
    message = rejected(response)
    assert {e["extensions"]["code"] for e in errors_of(response)} == {"GRAPHQL_PARSE_FAILED"}
    assert "token" in message.lower()
    # just under: distinct values (thousands of identical fields would trip graphql-core's own
    # validation budget for overlapping fields, which is not what this test is about)
    values = [f'"v{i}"' for i in range(limit - 40)]
    half = len(values) // 2
    under = (
        '{ enrollments(where: {status: {in: ["active", '
        + " ".join(values[:half])
        + "], notIn: ["
        + " ".join(values[half:])
        + "]}}) { status count } }"
    )
    parse(under, max_tokens=limit)
    with pytest.raises(GraphQLError):
        parse(under, max_tokens=limit - 30)
    data = accepted(await post(client, under))["data"]
    assert [r["status"] for r in data["enrollments"]] == ["active"]


async def test_documents_over_the_length_limit_are_400(client: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.limits.max_document_chars
    base = "{ enrollments { count } }\n#"
    exact = base + "x" * (limit - len(base))
    assert len(exact) == limit
    accepted(await post(client, exact))
    message = rejected(await post(client, exact + "x"))
    assert str(limit) in message
    rejected(await client.get("/graphql", params={"query": exact + "x"}))


async def test_bodies_over_the_size_limit_are_413(client: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.limits.max_body_bytes
    padding = {"pad": "x" * limit}
    query = "query($pad: String) { enrollments(where: {status: {equals: $pad}}) { count } }"
    response = await post(client, query, padding)
    rejected(response, status=413)

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: the stream is counted
        yield b'{"query": "query($pad: String) { enrollments(where: {status: {equals: $pad}}) { count } }", '
        yield b'"variables": {"pad": "'
        for _ in range(limit // 10_000 + 1):
            yield b"x" * 10_000
        yield b'"}}'

    streamed = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    rejected(streamed, status=413)
    # a lying content-length that claims too much is refused before reading
    small = await client.post(
        "/graphql",
        content=b'{"query": "{ enrollments { count } }"}',
        headers={"content-type": "application/json", "content-length": str(limit + 1)},
    )
    assert small.status_code in (400, 413)
    # just under the limit is fine
    fits = {"pad": "x" * (limit - 200)}
    assert accepted(await post(client, query, fits))["data"]["enrollments"] in ([], [{"count": 0}])


# --- rows ----------------------------------------------------------------------------


async def test_row_limits(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    ((groups,),) = await oracle(engine, "select count(distinct occurred_at) from progress_events")
    assert groups > 10_000
    response = await post(
        client,
        "{ default: progressEvents { occurredAt { value } count }"
        " max: progressEvents(limit: 50000) { occurredAt { value } count } }",
    )
    assert response.status_code == 200
    payload = response.json()
    assert len(payload["data"]["default"]) == 10_000
    assert len(payload["data"]["max"]) == min(groups, 50_000)
    assert sum(r["count"] for r in payload["data"]["max"]) == sum(
        n for (n,) in await oracle(engine, "select count(*) from progress_events")
    )
    response = await post(client, "{ over: progressEvents(limit: 50001) { count } }")
    assert response.status_code == 200
    assert response.json()["data"] is None
    errors = errors_of(response)
    assert [(e["path"], e["extensions"]["code"]) for e in errors] == [(["over"], "BAD_USER_INPUT")]
    assert "50000" in errors[0]["message"]


# --- introspection off -----------------------------------------------------------------


@pytest.fixture(scope="module")
async def closed(
    settings: Settings, database_url: str, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    closed_settings = replace(settings, limits=replace(settings.limits, introspection=False))
    async with serving(closed_settings, database_url, admin_headers) as client:
        yield client


async def test_introspection_off_rejects_schema_queries(closed: httpx.AsyncClient) -> None:
    for query in (
        "{ __schema { types { name } } }",
        '{ __type(name: "Enrollments") { name } }',
        "{ enrollments { count } __schema { queryType { name } } }",
        "query { ...F } fragment F on Query { __schema { queryType { name } } }",
        get_introspection_query(),
    ):
        rejected(await post(closed, query))
    # __typename is not introspection of the schema
    data = accepted(await post(closed, "{ __typename enrollments { __typename count } }"))["data"]
    assert data["__typename"] == "Query" and data["enrollments"][0]["__typename"] == "Enrollments"


def test_the_environment_switch_turns_introspection_off() -> None:
    """COHORT_INTROSPECTION is the one switch; it lands in the limits the server reads."""
    assert Settings.from_env({"COHORT_INTROSPECTION": "false"}).limits.introspection is False
    assert Settings.from_env({}).limits.introspection is True


MISSPELT = [
    ("{ enrollment { count } }", None),
    ("{ enrollments { countt } }", None),
    ("{ enrollments { course { subjet } count } }", None),
    ('{ enrollments(where: {stauts: {equals: "x"}}) { count } }', None),
    ("{ enrollments(segments: [ACTIV]) { count } }", None),
    ("{ enrollments(orderBy: [{count: DESK}]) { count } }", None),
    ("query($w: EnrollmentWhere) { enrollments(where: $w) { count } }", None),
    ("query($s: [EnrollmentsSegment!]) { enrollments(segments: $s) { count } }", {"s": ["ACTIV"]}),
    ("query($w: EnrollmentsWhere) { enrollments(where: $w) { count } }", {"w": {"stauts": {"equals": "x"}}}),
    ("query($o: [EnrollmentsOrderBy!]) { enrollments(orderBy: $o) { count } }", {"o": [{"count": "DESK"}]}),
]


@pytest.mark.parametrize("query, variables", MISSPELT)
async def test_no_suggestions_when_introspection_is_off(
    client: httpx.AsyncClient, closed: httpx.AsyncClient, query: str, variables: dict[str, Any] | None
) -> None:
    open_message = rejected(await post(client, query, variables))
    assert "Did you mean" in open_message  # the control: with introspection on, there is a hint
    closed_message = rejected(await post(closed, query, variables))
    assert "Did you mean" not in closed_message
    for hint in ("enrollments", "'count'", "'subject'", "'status'", "ACTIVE", "DESC"):
        if hint not in query and hint not in str(variables):
            assert hint not in closed_message, closed_message


# --- model reload -----------------------------------------------------------------------

NEW_MEASURE = """
  avg_days_to_complete:
    type: avg
    sql: "extract(epoch from {TABLE}.completed_at - {TABLE}.enrolled_at) / 86400"
    filter: "{TABLE}.completed_at is not null"
    title: Average days to complete
"""
SECOND_MEASURE = """
  max_progress: {type: max, sql: progress, title: Highest progress}
"""


def add_measure(path: Path, text: str) -> None:
    content = path.read_text()
    marker = "measures:\n"
    assert content.count(marker) == 1
    write_whole(path, content.replace(marker, marker + text.lstrip("\n"), 1))


def write_whole(path: Path, text: str) -> None:
    """As an editor saves: the watcher never reads a half-written (empty) file."""
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(path)


async def until(check: Any, timeout_s: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    shutil.copytree(MODELS_DIR, folder)
    return folder


async def test_model_watcher_applies_valid_changes_and_keeps_the_old_registry(
    models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    applied: list[Registry] = []
    watcher = ModelWatcher(models, applied.append, interval_s=60, current=load_registry(models))
    assert watcher.check() is False and applied == []
    add_measure(models / "enrollments.yml", NEW_MEASURE)
    with caplog.at_level(logging.INFO, logger="cohort.reload"):
        assert watcher.check() is True
    assert f"models reloaded: version {applied[-1].version} (changed enrollments)" in caplog.text
    assert "avg_days_to_complete" in applied[-1].model("enrollments").measures
    assert watcher.check() is False  # nothing changed since
    enrollments = (models / "enrollments.yml").read_text()
    with caplog.at_level(logging.ERROR, logger="cohort.reload"):
        (models / "enrollments.yml").write_text(
            enrollments.replace("denominator: count", "denominator: nope_nope")
        )
        assert watcher.check() is False
    assert len(applied) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "cohort.reload")
    assert "nope_nope" in logged and "enrollments" in logged


async def test_app_reloads_models_while_serving(
    settings: Settings,
    database_url: str,
    engine: AsyncEngine,
    models: Path,
    caplog: pytest.LogCaptureFixture,
    admin_headers: dict[str, str],
) -> None:
    app: Starlette = create_app(replace(settings, models_dir=models, reload_interval_s=0.05), database_url)
    query = "{ enrollments { avgDaysToComplete count } }"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://cohort.test",
            headers={"accept": GRAPHQL_RESPONSE, **admin_headers},
        ) as client:
            version = accepted(await post(client, "{ meta { version } }"))["data"]["meta"]["version"]
            before = await post(client, query)
            assert before.status_code == 400  # not in the schema yet
            add_measure(models / "enrollments.yml", NEW_MEASURE)

            async def reloaded() -> bool:
                return (await post(client, query)).status_code == 200

            assert await until(reloaded), "the new measure never became queryable"
            rows = accepted(await post(client, query))["data"]["enrollments"]
            ((avg_days, count),) = await oracle(
                engine,
                "select avg(extract(epoch from completed_at - enrolled_at) / 86400) "
                "filter (where completed_at is not null)::float8, count(*) from enrollments",
            )
            assert rows[0]["count"] == count and rows[0]["avgDaysToComplete"] == pytest.approx(avg_days)
            meta = accepted(await post(client, "{ meta { version models { model measures { member } } } }"))
            new_version = meta["data"]["meta"]["version"]
            assert new_version != version
            members = {
                m["member"]
                for mm in meta["data"]["meta"]["models"]
                if mm["model"] == "enrollments"
                for m in mm["measures"]
            }
            assert "avg_days_to_complete" in members

            # an invalid change: the previous schema keeps serving and the problems are logged
            with caplog.at_level(logging.ERROR, logger="cohort.reload"):
                text = (models / "enrollments.yml").read_text()
                write_whole(models / "enrollments.yml", text.replace("type: ratio", "type: ratioo", 1))

                async def logged() -> bool:
                    return any(
                        r.name == "cohort.reload" and r.levelno >= logging.ERROR for r in caplog.records
                    )

                assert await until(logged), "the invalid change was not logged"
            message = "\n".join(r.getMessage() for r in caplog.records if r.name == "cohort.reload")
            assert "completion_rate" in message and "enrollments" in message
            still = accepted(await post(client, query))["data"]["enrollments"]
            assert still == rows
            assert (
                accepted(await post(client, "{ meta { version } }"))["data"]["meta"]["version"] == new_version
            )
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["models"] == new_version

            # fixing the file (with one more measure) reloads again
            (models / "enrollments.yml").write_text(text)
            add_measure(models / "enrollments.yml", SECOND_MEASURE)

            async def fixed() -> bool:
                return (
                    await post(client, "{ enrollments { maxProgress avgDaysToComplete } }")
                ).status_code == 200

            assert await until(fixed), "the fixed models were not reloaded"
            data = accepted(await post(client, "{ enrollments { maxProgress } }"))["data"]
            ((max_progress,),) = await oracle(engine, "select max(progress)::float8 from enrollments")
            assert data["enrollments"] == [{"maxProgress": pytest.approx(max_progress)}]
