"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse


async def healthz(request: Request) -> JSONResponse:
    """The process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database answers within two seconds."""
    engine = request.app.state.cohort.engine
    try:
        async with asyncio.timeout(2):
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
    except Exception as exc:  # any failure means not ready; the reason is logged, not shown
        request.app.state.cohort.log.warning("not ready: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse(
        {"status": "ok", "database": "ok", "models": request.app.state.cohort.runtime.registry.version}
    )
