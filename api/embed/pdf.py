"""`POST /embed/dashboards/{name}.pdf` (or GET, for the filters' defaults): the dashboard as a
PDF for the request's principal, an embed session's scope included. The body is
`{"filters": {<name>: [values]}}`, the page's current filter values; every tile runs through
the normal GraphQL path (api/embed/tile_runs.py), so locked filters and row filters hold."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.embed.pages import dashboard_caller
from api.embed.pdf_document import render
from api.embed.tile_runs import filter_values, run_tiles
from api.endpoints import NO_STORE, Refused, json_body

_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")


async def dashboard_pdf(request: Request) -> Response:
    state = request.app.state.cohort
    name = request.path_params["name"]
    try:
        principal, headers, view = await dashboard_caller(request)
        given: Any = None
        if request.method == "POST":
            given = (await json_body(request, state.settings.limits.max_body_bytes)).get("filters")
        values = filter_values(view, given)
        runs = await run_tiles(state.runtime, principal, view, values, state.settings.export.timeout_s)
    except Refused as refused:
        return refused.response()
    scope = principal.embed
    locked = [
        f"{lock.model}.{lock.member} {lock.op} {', '.join(map(str, lock.values))}"
        for lock in (scope.locked if scope is not None else ())
    ]
    body = await asyncio.to_thread(render, view, runs, values, principal.tenant, locked)
    filename = _FILENAME.sub("-", name)
    return Response(
        body,
        200,
        headers={
            **NO_STORE,
            **headers,
            "Content-Disposition": f'attachment; filename="{filename}.pdf"',
            "X-Content-Type-Options": "nosniff",
        },
        media_type="application/pdf",
    )
