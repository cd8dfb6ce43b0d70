"""POST and GET /graphql, following the GraphQL-over-HTTP specification.

- Requests: POST with a JSON body only (so a browser form cannot post a query: its
  content types get 415), or GET with query parameters for queries only (405 otherwise).
- Responses: `application/graphql-response+json` when the client asks for it by name, with
  4xx for requests that fail before execution; `application/json` (always 200 once the
  request is well-formed) for older clients, `*/*` and no Accept; 406 when neither is
  acceptable.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from api.access_log import log_request
from api.documents import Prepared, execute_prepared
from api.endpoints import Refused, authenticated, graphql_request, json_body
from api.errors import format_error, request_error
from api.limits import Limits
from api.metrics import Metrics
from api.rate_limit import principal_key
from api.response_cache import Identity, ResponseCache, may_cache, response_key
from api.runtime import Runtime
from authz.principal import Principal
from resolvers.graphql import RequestContext

# Responses are encoded with msgspec: projected rows are msgspec Structs (see
# resolvers/projection.py); request bodies are parsed with orjson.
_encode = msgspec.json.Encoder().encode
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _accepted(accept: str | None) -> str | None:
    """The response media type for an Accept header.

    Each of the two types takes the quality of its most specific range (the type itself,
    else `application/*`, else `*/*`). No header, or only wildcards, means JSON, as the
    GraphQL-over-HTTP specification recommends for clients that did not ask for
    `application/graphql-response+json` by name; on a tie between named types the first
    listed wins."""
    if not accept or not accept.strip():
        return JSON
    named: dict[str, tuple[float, int]] = {}
    wildcards: dict[str, float] = {}
    parts = accept.split(",")
    for position, part in enumerate(parts):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if not 0.0 <= quality <= 1.0:  # NaN too
            quality = 0.0
        media = media.lower()
        if media in (GRAPHQL_RESPONSE, JSON):
            named.setdefault(media, (quality, position))
        elif media in ("application/*", "*/*"):
            wildcards.setdefault(media, quality)
    wildcard = wildcards.get("application/*", wildcards.get("*/*", 0.0))
    ranked = sorted(
        (named.get(media, (wildcard, len(parts) + order)), media)
        for order, media in enumerate((JSON, GRAPHQL_RESPONSE))
    )
    ranked.sort(key=lambda item: -item[0][0])  # stable: among equal qualities, the position decides
    (quality, _), media = ranked[0]
    return media if quality > 0 else None


def _json(raw: str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused(400, f"{what} is not valid JSON") from None


async def _params(request: Request, limits: Limits) -> dict[str, Any]:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        if "variables" in params:
            params["variables"] = _json(params["variables"], "variables")
        if "extensions" in params:
            params["extensions"] = _json(params["extensions"], "extensions")
        return params
    return await json_body(request, limits.max_body_bytes)


class GraphQLEndpoint:
    def __init__(self, limits: Limits, metrics: Metrics) -> None:
        self.limits = limits
        self.metrics = metrics

    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except ClientDisconnect:  # the client left before its body arrived: nobody to answer
            return Response(status_code=400)

    async def _handle(self, request: Request) -> Response:
        started = time.perf_counter()
        media = _accepted(request.headers.get("accept"))
        if media is None:
            body = _encode({"errors": [request_error(f"accept {GRAPHQL_RESPONSE} or {JSON}")]})
            return Response(body, 406, headers={"Vary": "Accept"}, media_type=JSON)
        label, headers, principal, cached = "anonymous", None, None, ""
        rate_headers: dict[str, str] = {}
        state = request.app.state.cohort
        try:
            principal = await self._authenticate(request)
            query, variables, name = graphql_request(await _params(request, self.limits), self.limits)
            runtime: Runtime = state.runtime
            responses: ResponseCache = state.responses
            key = None
            if responses.enabled and may_cache(query):
                key = response_key(self._identity(state, runtime), principal, query, variables, name)
            # Whether they may ask now, and the stored answer if there is one: one round trip.
            limiter = state.rate_limiter
            decision = await limiter.check(principal_key(principal.subject, principal.tenant), read=key)
            rate_headers = decision.headers()
            if not decision.allowed:
                self.metrics.rate_limited.inc()
                message = f"rate limit exceeded; retry in {decision.retry_after_s} s"
                raise Refused(429, message, "RATE_LIMITED", rate_headers)
            if key is not None and not decision.degraded:  # degraded: Redis is failing, skip it
                raw = decision.read if limiter.enabled else await responses.get(key)
                stored = await responses.body_if_current(raw, runtime.registry)
                if stored is not None:
                    self._observe(request.method, "", 200, started, principal, "response", ())
                    return Response(stored, 200, headers=rate_headers, media_type=media)
            prepared = await runtime.documents.prepare(query)
            operation = prepared.operation(name)
            if operation is not None and operation.name is not None:
                name = operation.name.value
            label = self.metrics.operation_label(name)
            context = RequestContext(principal)
            status, payload = await self._run(
                runtime, request.method, media, prepared, operation, variables, name, context
            )
            cached = _outcome(context)
            for note in context.rollups.values():
                self.metrics.rollups.labels(note["rollup"] or "raw").inc()
            if key is not None and status == 200 and _storable(payload, operation, context):
                as_hit = {"data": payload["data"], "extensions": {"cache": _as_hits(context)}}
                if context.rollups:
                    as_hit["extensions"]["rollups"] = context.rollups
                assert context.ttl_s is not None
                await responses.set(key, context.tokens, _encode(as_hit), context.ttl_s)
        except Refused as rejected:
            status, payload = rejected.status, {"errors": [request_error(rejected.message, rejected.code)]}
            headers = rejected.headers
        errors = payload.get("errors", ())
        self._observe(request.method, label, status, started, principal, cached, errors)
        return Response(
            _encode(payload), status, headers={**rate_headers, **(headers or {})}, media_type=media
        )

    def _observe(
        self,
        method: str,
        label: str,
        status: int,
        started: float,
        principal: Principal | None,
        cache: str,
        errors: Any,
    ) -> None:
        seconds = time.perf_counter() - started
        self.metrics.requests.labels(label, str(status)).inc()
        self.metrics.latency.labels(label).observe(seconds)
        for error in errors:
            self.metrics.errors.labels(error["extensions"]["code"]).inc()
        log_request(
            method,
            status,
            seconds,
            tenant=principal.tenant if principal else None,
            subject=principal.subject if principal else None,
            operation=label or None,
            cache=cache,
        )

    @staticmethod
    def _identity(state: Any, runtime: Runtime) -> Identity:
        return Identity(
            state.caching.namespace,
            runtime.registry.version,
            state.authorizer.policy_version,
            state.settings.limits,
        )

    async def _authenticate(self, request: Request) -> Principal:
        try:
            return await authenticated(request)
        except Refused as refused:
            if refused.status == 401:
                self.metrics.unauthenticated.inc()
            raise

    async def _run(
        self,
        runtime: Runtime,
        method: str,
        media: str,
        prepared: Prepared,
        operation: OperationDefinitionNode | None,
        variables: dict[str, Any] | None,
        name: str | None,
        context: RequestContext,
    ) -> tuple[int, dict[str, Any]]:
        request_failed = 400 if media == GRAPHQL_RESPONSE else 200
        if prepared.parse_errors:
            return request_failed, {"errors": [format_error(error) for error in prepared.parse_errors]}
        if operation is None:
            message = (
                "name the operation to run (operationName)"
                if name is None
                else f"no operation named {name!r}"
            )
            return request_failed, {"errors": [request_error(message)]}
        # Before validation: a mutation sent with GET is refused whatever the schema has.
        if method == "GET" and operation.operation is not OperationType.QUERY:
            raise Refused(405, "only queries can be sent with GET; use POST", headers={"Allow": "POST"})
        if prepared.validation_errors:
            return request_failed, {"errors": [format_error(error) for error in prepared.validation_errors]}
        outcome = await execute_prepared(
            runtime.schema._schema,
            prepared,
            context,
            variables,
            name,
            hide_suggestions=not self.limits.introspection,
        )
        status, payload = self._payload(outcome.data, outcome.errors, request_failed)
        if context.cache and "data" in payload:
            payload["extensions"] = {"cache": context.cache}
        if context.rollups and "data" in payload:
            payload.setdefault("extensions", {})["rollups"] = context.rollups
        return status, payload

    @staticmethod
    def _payload(
        data: dict[str, Any] | None, errors: list[GraphQLError] | None, request_failed: int
    ) -> tuple[int, dict[str, Any]]:
        formatted = [format_error(error) for error in errors or ()]
        if data is None and formatted and all(error.path is None for error in errors or ()):
            return request_failed, {"errors": formatted}  # e.g. variables that do not coerce
        payload: dict[str, Any] = {"data": data}
        if formatted:
            payload["errors"] = formatted
        return 200, payload


def _outcome(context: RequestContext) -> str:
    if not context.cache:
        return ""
    return "hit" if all(note.get("hit") for note in context.cache.values()) else "miss"


def _storable(
    payload: dict[str, Any], operation: OperationDefinitionNode | None, context: RequestContext
) -> bool:
    """Complete answers to queries whose every root field went through the result cache."""
    return (
        "errors" not in payload
        and operation is not None
        and operation.operation is OperationType.QUERY
        and context.ttl_s is not None
        and len(context.cache) > 0
        and not any(note.get("stale") for note in context.cache.values())
    )


def _as_hits(context: RequestContext) -> dict[str, dict[str, Any]]:
    """The `extensions.cache` notes as a later hit reports them."""
    return {field: {**note, "hit": True} for field, note in context.cache.items()}
