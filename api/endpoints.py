"""What the endpoints beside /graphql share: who asks, whether they may ask now, and errors
answered as JSON in GraphQL's error shape (`{"errors": [{"message", "extensions": {"code"}}]}`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.auth.errors import AuthenticationError
from api.errors import request_error
from api.limits import Limits, variables_problem
from api.rate_limit import principal_key
from authz.principal import Principal
from resolvers.database import DatabaseUnavailable

_encode = msgspec.json.Encoder().encode
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Refused(Exception):
    status: int
    message: str
    code: str = "BAD_USER_INPUT"
    headers: dict[str, str] | None = None

    def response(self) -> Response:
        return json_response({"errors": [request_error(self.message, self.code)]}, self.status, self.headers)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _encode(payload), status, headers={**NO_STORE, **(headers or {})}, media_type="application/json"
    )


async def authenticated(request: Request) -> Principal:
    state = request.app.state.cohort
    try:
        principal: Principal = await state.authenticator.authenticate(request.headers.get("authorization"))
    except AuthenticationError as error:
        raise Refused(
            error.status_code, error.reason, error.code, {"WWW-Authenticate": error.challenge}
        ) from None
    except DatabaseUnavailable as error:
        raise Refused(503, str(error), error.code, {"Retry-After": str(error.retry_after_s)}) from None
    return principal


async def within_rate_limit(request: Request, principal: Principal) -> dict[str, str]:
    """The rate limit headers; Refused (429) when the principal's bucket is empty."""
    decision = await request.app.state.cohort.rate_limiter.check(
        principal_key(principal.subject, principal.tenant)
    )
    headers: dict[str, str] = decision.headers()
    if not decision.allowed:
        raise Refused(
            429, f"rate limit exceeded; retry in {decision.retry_after_s} s", "RATE_LIMITED", headers
        )
    return headers


async def json_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """A JSON object body: 415 for other media types (so a browser form cannot post one), 413
    past `max_bytes` (told by Content-Length before reading, else while reading)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Refused(415, "send the request as application/json")
    length = request.headers.get("content-length")
    if length is not None and length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise Refused(413, f"the request body is larger than {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise Refused(413, f"the request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise Refused(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the request body must be a JSON object")
    return body


def graphql_request(body: dict[str, Any], limits: Limits) -> tuple[str, dict[str, Any] | None, str | None]:
    """`query`, `variables` and `operationName` of a GraphQL-over-HTTP body, checked as /graphql
    checks them."""
    query, variables, name = body.get("query"), body.get("variables"), body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise Refused(400, "`query` must be a non-empty string")
    if len(query) > limits.max_document_chars:
        raise Refused(400, f"the document is longer than {limits.max_document_chars} characters")
    if variables is not None and not isinstance(variables, dict):
        raise Refused(400, "`variables` must be an object")
    if variables and (problem := variables_problem(variables, limits)):
        raise Refused(400, problem)
    if name is not None and not isinstance(name, str):
        raise Refused(400, "`operationName` must be a string")
    return query, variables, name
