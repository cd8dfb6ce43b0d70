"""POST /events: a batch of events from a principal whose role may ingest (docs/ingestion.md).

The tenant is the principal's, never the payload's. The answer (200) is sent once the batch
is committed, synchronously; it counts the accepted, duplicate and rejected events and
lists the last two with their positions (and reasons). A batch already committed under its
Idempotency-Key gets its first answer again (`Idempotent-Replayed: true`) and adds nothing.
Errors use the GraphQL endpoint's shape: `{"errors": [{"message", "extensions": {"code"}}]}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from prometheus_client import CollectorRegistry
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from api.auth.errors import AuthenticationError
from api.errors import request_error
from api.ingest.body import JSON, BodyError, split_events
from api.ingest.committer import Batch, IngestError
from api.ingest.metrics import IngestMetrics
from api.ingest.service import Ingestion
from api.ingest.validation import AcceptedEvent, RejectedEvent
from authz.principal import Principal
from resolvers.database import DatabaseUnavailable

log = logging.getLogger("cohort.access")
ACTION = "ingest"
MAX_KEY_CHARS = 200
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_CHARS}}}")
# Validating this many events or more runs in a thread, so that other requests keep being
# served; smaller batches cost less than the hand-over.
THREAD_FROM_EVENTS = 500
_encode = msgspec.json.Encoder().encode


def ingest_object(principal: Principal) -> str:
    """The policy object a principal ingests as: `events/api_token` or `events/jwt`, so that a
    policy grants JWT callers only by saying so (`events/jwt`, or `events/*`)."""
    return f"events/{principal.kind}"


class _Refused(Exception):
    def __init__(
        self, status: int, message: str, code: str = "BAD_USER_INPUT", headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


class IngestEndpoint:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.metrics = IngestMetrics(registry)
        self.ingestion: Ingestion | None = None  # set while the app runs, when ingestion is on
        self._threads: ThreadPoolExecutor | None = None

    def open(self, ingestion: Ingestion | None) -> None:
        self.ingestion = ingestion
        self.metrics.attach(ingestion.committer if ingestion is not None else None)

    def close(self) -> None:
        self.ingestion = None
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        principal: Principal | None = None
        events = 0
        try:
            ingestion = self.ingestion
            if ingestion is None:
                raise _Refused(
                    404, "event ingestion is turned off on this server (COHORT_INGEST)", "NOT_FOUND"
                )
            principal = await self._authenticate(request)
            self._authorize(request, principal)
            key = _idempotency_key(request)
            media = request.headers.get("content-type", "").split(";")[0].strip().lower() or JSON
            body = await _body(request, ingestion.settings.max_body_bytes)
            try:
                raws = split_events(body, media, ingestion.settings.max_batch_events)
            except BodyError as error:
                code = {413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}.get(
                    error.status, "BAD_USER_INPUT"
                )
                raise _Refused(error.status, str(error), code) from None
            events = len(raws)
            accepted, rejected = await self._validate(ingestion, raws, principal.tenant)
            batch = Batch(principal.tenant, key, hashlib.sha256(body).digest(), accepted, rejected)
            try:
                outcome = await ingestion.committer.submit(batch)
            except IngestError as error:
                headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s else {}
                raise _Refused(error.status, str(error), error.code, headers) from None
            headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
            self._log(request, 200, started, principal, events)
            return Response(outcome.body, 200, headers=headers, media_type=JSON)
        except _Refused as refused:
            self._log(request, refused.status, started, principal, events)
            body = _encode({"errors": [request_error(str(refused), refused.code)]})
            return Response(body, refused.status, headers=refused.headers, media_type=JSON)
        except ClientDisconnect:  # the client left before its body arrived: nobody to answer
            return Response(status_code=400)

    async def _authenticate(self, request: Request) -> Principal:
        state = request.app.state.cohort
        try:
            principal: Principal = await state.authenticator.authenticate(
                request.headers.get("authorization")
            )
            return principal
        except AuthenticationError as error:
            headers = {"WWW-Authenticate": error.challenge}
            raise _Refused(error.status_code, error.reason, "UNAUTHENTICATED", headers) from None
        except DatabaseUnavailable as error:  # the API token could not be looked up
            raise _Refused(503, str(error), error.code, {"Retry-After": str(error.retry_after_s)}) from None

    def _authorize(self, request: Request, principal: Principal) -> None:
        state = request.app.state.cohort
        enforcer = state.policies()
        if enforcer.version < 0:
            raise _Refused(
                503, "the access policy is not loaded yet", "SERVICE_UNAVAILABLE", {"Retry-After": "1"}
            )
        obj = ingest_object(principal)
        if enforcer.decide(principal.roles, principal.tenant, obj, ACTION) != "allow":
            message = f"your roles may not ingest events ({obj})"
            state.authorizer.audit.denied(principal, ("events",), message, "ingest")
            raise _Refused(403, message, "FORBIDDEN")

    async def _validate(
        self, ingestion: Ingestion, raws: list[bytes], tenant: str
    ) -> tuple[list[AcceptedEvent], list[RejectedEvent]]:
        now = datetime.now(UTC)
        if len(raws) < THREAD_FROM_EVENTS:
            return ingestion.validator.validate(raws, now, tenant)
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cohort-validate")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, ingestion.validator.validate, raws, now, tenant)

    @staticmethod
    def _log(request: Request, status: int, started: float, principal: Principal | None, events: int) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        line: dict[str, Any] = {
            "method": request.method,
            "path": "/events",
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
            "tenant": principal.tenant if principal else None,
            "subject": principal.subject if principal else None,
            "events": events,
        }
        log.info(orjson.dumps(line).decode())


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        raise _Refused(400, "send an Idempotency-Key header: one key per batch, the same on every retry")
    if not _KEY.fullmatch(key):
        raise _Refused(400, f"the Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters")
    return key


async def _body(request: Request, max_bytes: int) -> bytes:
    length = request.headers.get("content-length")
    too_large = _Refused(413, f"the request body is larger than {max_bytes} bytes", "PAYLOAD_TOO_LARGE")
    if length is not None and length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
