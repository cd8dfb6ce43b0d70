"""One JSON line per GraphQL request on the `cohort.access` logger: what operators need to
find a slow or failing request (status, latency, principal, operation, cache) and nothing
a client sent (no token, no variables, no document).

It replaces uvicorn's access log, which writes an unstructured line per request and costs
more than a cached answer does under load. Off with `COHORT_ACCESS_LOG=false`; where the
`cohort` logger is not configured (tests, an embedding application), nothing is formatted.
"""

from __future__ import annotations

import logging

import orjson

log = logging.getLogger("cohort.access")


def log_request(
    method: str,
    status: int,
    seconds: float,
    *,
    tenant: str | None,
    subject: str | None,
    operation: str | None,
    cache: str,
) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    line = {
        "method": method,
        "path": "/graphql",
        "status": status,
        "ms": round(seconds * 1000, 2),
        "tenant": tenant,
        "subject": subject,
        "operation": operation,
        "cache": cache,  # "response": answered before GraphQL; "hit": every field cached; "miss"; ""
    }
    log.info(orjson.dumps(line).decode())
