"""Liveness and readiness."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from resolvers.database import bounded


async def healthz(request: Request) -> JSONResponse:
    """The process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database answers within the lookup timeout (COHORT_DB_LOOKUP_TIMEOUT_MS)."""
    state = request.app.state.cohort
    try:
        async with bounded(state.engine, state.settings.database_timeouts, "readiness") as conn:
            await conn.execute(text("select 1"))
    except Exception as exc:  # any failure means not ready; the reason is logged, not shown
        request.app.state.cohort.log.warning("not ready: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse(
        {"status": "ok", "database": "ok", "models": request.app.state.cohort.runtime.registry.version}
    )
