"""Bad input over HTTP is a BAD_USER_INPUT error, never an internal one: time zones that
are folders or too long, dates at the ends of the calendar, more bound values than
PostgreSQL takes, filters nested too deep, strings that cannot be encoded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolvers.errors import QueryError
from resolvers.values import check_values

pytestmark = pytest.mark.integration

COUNT = (
    'query($w: EnrollmentsWhere, $tz: String! = "UTC") { enrollments(where: $w, timezone: $tz) { count } }'
)


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    # json.dumps escapes lone surrogates as \\udXXX (valid JSON that decodes to them)
    content = json.dumps(body).encode()
    return await client.post("/graphql", content=content, headers={"content-type": "application/json"})


def bad_input(response: httpx.Response) -> str:
    """A refusal with BAD_USER_INPUT (200 with a null field, or 400 before execution)."""
    payload = response.json()
    errors = payload.get("errors") or []
    assert errors, payload
    codes = {error["extensions"]["code"] for error in errors}
    assert codes == {"BAD_USER_INPUT"}, payload
    if "data" in payload:
        assert response.status_code == 200 and payload["data"] is None, payload
    else:
        assert response.status_code == 400, payload
    return " ".join(error["message"] for error in errors)


def never_internal(response: httpx.Response) -> None:
    assert response.status_code in (200, 400), response.text
    for error in response.json().get("errors") or ():
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", response.text


@pytest.mark.parametrize(
    "zone", ["Europe", "America", "America/", "x" * 300, "Europe/London\x00", "../../etc/passwd", "right/UTC"]
)
async def test_unknown_time_zones(client: httpx.AsyncClient, zone: str) -> None:
    message = bad_input(await post(client, COUNT, {"tz": zone}))
    assert "timezone" in message
    # the same as an argument in the document
    bad_input(await post(client, '{ enrollments(timezone: "Europe") { count } }'))


async def test_a_known_time_zone_still_works(client: httpx.AsyncClient) -> None:
    response = await post(client, COUNT, {"tz": "Pacific/Kiritimati"})
    assert response.status_code == 200 and "errors" not in response.json(), response.text


EDGES = [
    {"afterDate": "9999-12-31"},
    {"inDateRange": ["2025-01-01", "9999-12-31"]},
    {"inDateRange": ["0001-01-01", "2025-01-01"]},
    {"lt": "9999-12-31T23:59:59-14:00"},
    {"equals": "0001-01-01T00:00:00+14:00"},
    {"gt": "9999-12-31T23:59:59"},
    {"gte": "0001-01-01"},
    {"beforeDate": "0001-01-01"},
    {"in": ["2025-01-01", "9999-12-31T23:59:59.999999-23:59"]},
    {"notIn": ["0001-01-01T00:00:00+23:59"]},
    {"notEquals": "9999-12-31"},
    {"afterDate": "9999-12-31T12:00:00+05:00"},
]


@pytest.mark.parametrize("condition", EDGES, ids=lambda c: f"{next(iter(c))}:{next(iter(c.values()))}")
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12"])
async def test_times_at_the_ends_of_the_calendar(
    client: httpx.AsyncClient, condition: dict[str, Any], zone: str
) -> None:
    message = bad_input(await post(client, COUNT, {"w": {"enrolledAt": condition}, "tz": zone}))
    assert "range" in message


async def test_times_just_inside_the_range_work(client: httpx.AsyncClient) -> None:
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        for condition in (
            {"afterDate": "9999-12-29"},
            {"inDateRange": ["0001-01-02", "9999-12-29"]},
            {"lt": "9999-12-29T23:59:59-14:00"},
            {"gte": "0001-01-02T00:00:00+14:00"},
        ):
            response = await post(client, COUNT, {"w": {"enrolledAt": condition}, "tz": zone})
            assert response.status_code == 200 and "errors" not in response.json(), (condition, response.text)


async def test_bound_values_are_capped_per_query(client: httpx.AsyncClient) -> None:
    """33 x 1,000 values (once over PostgreSQL's 32,767 parameters a statement) are refused."""
    ors = [{"progress": {"in": list(range(1_000))}} for _ in range(33)]
    assert "values" in bad_input(await post(client, COUNT, {"w": {"OR": ors}}))
    # under the variables' cap, over the query's: the planner counts every condition
    ors = [{"progress": {"in": list(range(1_000))}} for _ in range(11)]
    message = bad_input(await post(client, COUNT, {"w": {"OR": ors}}))
    assert "11,000 values" in message and "10,000" in message
    # within the cap the same kind of filter runs
    fits = [{"status": {"in": ["active", *(f"s{i}-{j}" for j in range(999))]}} for i in range(10)]
    response = await post(client, COUNT, {"w": {"OR": fits}})
    assert response.status_code == 200 and "errors" not in response.json(), response.text


async def test_input_objects_in_variables_are_capped(client: httpx.AsyncClient) -> None:
    """Each input object costs about 0.4 ms to convert on the event loop."""
    ors = [{"status": {"equals": f"s{i}"}} for i in range(99)]  # 2 objects each, and `where`
    response = await post(client, COUNT, {"w": {"OR": ors}})
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    ors = [{"status": {"equals": f"s{i}"}} for i in range(1_000)]
    assert "200 input objects" in bad_input(await post(client, COUNT, {"w": {"OR": ors}}))
    scalars = {"progress": {"in": [1] * 50_000}}
    assert "12,000 values" in bad_input(await post(client, COUNT, {"w": scalars}))


def nest(depth: int) -> str:
    """`where` as JSON text: `depth` levels of OR / AND around one condition."""
    opening = "".join('{"OR": [' if level % 2 else '{"AND": [' for level in range(depth))
    return opening + '{"status": {"equals": "active"}}' + "]}" * depth


async def post_where(client: httpx.AsyncClient, where: str) -> httpx.Response:
    content = '{"query": ' + json.dumps(COUNT) + ', "variables": {"w": ' + where + "}}"
    return await client.post("/graphql", content=content, headers={"content-type": "application/json"})


@pytest.mark.parametrize("depth", [17, 200, 500, 1000, 5000])
async def test_filters_nested_too_deep(client: httpx.AsyncClient, depth: int) -> None:
    message = bad_input(await post_where(client, nest(depth)))
    assert "nest" in message or "input objects" in message or "JSON" in message


async def test_filters_nested_too_deep_in_the_document(client: httpx.AsyncClient) -> None:
    where = nest(300).replace('"OR"', "OR").replace('"AND"', "AND").replace('"status"', "status")
    where = where.replace('"equals"', "equals")
    never_internal(await post(client, "{ enrollments(where: " + where + ") { count } }"))
    where = nest(17).replace('"OR"', "OR").replace('"AND"', "AND").replace('"status"', "status")
    where = where.replace('"equals"', "equals")
    assert "nest" in bad_input(await post(client, "{ enrollments(where: " + where + ") { count } }"))


async def test_joined_models_count_toward_the_nesting(client: httpx.AsyncClient) -> None:
    where = '{"status": {"equals": "active"}}'
    for level in range(20):
        where = '{"course": {"enrollments": ' + where + "}}" if level % 2 == 0 else where
    bad_input(await post_where(client, where))


async def test_filters_nested_within_the_limit_work(client: httpx.AsyncClient) -> None:
    response = await post_where(client, nest(16))
    assert response.status_code == 200 and "errors" not in response.json(), response.text


@pytest.mark.parametrize(
    "condition",
    [
        {"status": {"equals": "\ud800"}},
        {"status": {"contains": ["a\udfff"]}},
        {"enrolledAt": {"equals": "\ud800"}},
        {"status": {"equals": "x" * 200_000}},
        {"progress": {"gt": 1e308}},
        {"progress": {"in": [-1.7976931348623157e308, 5e-324]}},
    ],
)
async def test_odd_values(client: httpx.AsyncClient, condition: dict[str, Any]) -> None:
    never_internal(await post(client, COUNT, {"w": condition}))


async def test_lone_surrogates_are_bad_input(client: httpx.AsyncClient) -> None:
    """JSON bodies and documents cannot carry them; command-line arguments can (Python
    decodes bytes that are not UTF-8 as lone surrogates), so the value check refuses them."""
    assert "JSON" in bad_input(await post(client, COUNT, {"w": {"status": {"equals": "a\ud800"}}}))
    with pytest.raises(QueryError, match="valid Unicode"):
        check_values("status", "string", "in", ("ok", "a\udcff"), UTC)
    response = await post(client, '{ enrollments(where: {status: {equals: "\\ud800"}}) { count } }')
    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["GRAPHQL_PARSE_FAILED"]


@pytest.mark.parametrize(
    "arguments",
    ["limit: 0", "limit: -1", "limit: 50001", "limit: 2147483647", "offset: -1", "offset: 2147483647"],
)
async def test_limit_and_offset_edges(client: httpx.AsyncClient, arguments: str) -> None:
    bad_input(await post(client, f"{{ enrollments({arguments}) {{ count }} }}"))


async def test_limit_and_offset_beyond_int(client: httpx.AsyncClient) -> None:
    for arguments in ("limit: 2147483648", "offset: 99999999999999999999"):
        response = await post(client, f"{{ enrollments({arguments}) {{ count }} }}")
        assert response.status_code == 400, response.text
        assert {e["extensions"]["code"] for e in response.json()["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
    for name, value in (("limit", 2**31), ("offset", -(2**63))):
        query = f"query($v: Int) {{ enrollments({name}: $v) {{ count }} }}"
        bad_input(await post(client, query, {"v": value}))


OFFSETS = st.sampled_from([UTC, *(timezone(timedelta(hours=h)) for h in (-23, -14, -1, 5, 14, 23))])
NEAR_THE_ENDS = st.one_of(
    st.datetimes(max_value=datetime(1, 1, 3)), st.datetimes(min_value=datetime(9999, 12, 28))
)
TIME_TEXT = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    NEAR_THE_ENDS.map(lambda d: d.isoformat()),
    NEAR_THE_ENDS.map(lambda d: d.date().isoformat()),
    st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), NEAR_THE_ENDS, OFFSETS),
    st.text(max_size=40),
)
TIME_OPS = st.sampled_from(["equals", "notEquals", "gt", "gte", "lt", "lte", "beforeDate", "afterDate"])
TIME_CONDITION = st.one_of(
    st.builds(lambda op, v: {op: v}, TIME_OPS, TIME_TEXT),
    st.builds(lambda a, b: {"inDateRange": [a, b]}, TIME_TEXT, TIME_TEXT),
    st.builds(lambda vs: {"in": vs}, st.lists(TIME_TEXT, min_size=1, max_size=3)),
)
NUMBER = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**31), 2**31 - 1))
NUMBER_CONDITION = st.builds(
    lambda op, v: {op: v}, st.sampled_from(["equals", "notEquals", "gt", "gte", "lt", "lte"]), NUMBER
)
TEXT_CONDITION = st.builds(
    lambda op, v: {op: v if op in ("equals", "notEquals") else [v]},
    st.sampled_from(["equals", "notEquals", "in", "contains", "startsWith", "endsWith"]),
    st.text(max_size=30),
)
WHERE = st.one_of(
    st.builds(lambda c: {"enrolledAt": c}, TIME_CONDITION),
    st.builds(lambda c: {"progress": c}, NUMBER_CONDITION),
    st.builds(lambda c: {"status": c}, TEXT_CONDITION),
    st.builds(lambda c: {"count": c}, NUMBER_CONDITION),
)
ZONES = st.one_of(
    st.sampled_from(["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Asia/Kolkata", "Europe", "right/UTC"]),
    st.text(max_size=20),
)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=WHERE, zone=ZONES)
async def test_random_filter_values_never_fail_internally(
    client: httpx.AsyncClient, where: dict[str, Any], zone: str
) -> None:
    never_internal(await post(client, COUNT, {"w": where, "tz": zone}))


def test_integers_beyond_bigint_are_bad_input() -> None:
    """GraphQL's Int is 32 bits; the command line and token attributes are not."""
    assert check_values("progress", "number", "in", (2**63 - 1, -(2**63)), UTC) == (2**63 - 1, -(2**63))
    for value in (2**63, -(2**63) - 1, 10**30):
        with pytest.raises(QueryError, match="64-bit"):
            check_values("progress", "number", "equals", (value,), UTC)


async def test_a_content_length_of_other_digits_is_not_an_error(client: httpx.AsyncClient) -> None:
    """`"²".isdigit()` is true and `int("²")` fails: headers are Latin-1 text."""
    body = b'{"query": "{ enrollments { count } }"}'
    for length in ("\xb2", "\xb9\xb3"):
        response = await client.post(
            "/graphql",
            content=body,
            headers={"content-type": "application/json", "content-length": length.encode("latin-1")},
        )
        assert response.status_code in (200, 400), response.text
