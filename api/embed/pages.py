"""The dashboard a page shows: `GET /embed/dashboards/{name}/spec` (JSON, for the page's code)
and `GET /embed/dashboards/{name}` (the page framed by the host, with its framing policy; its
script, built from web/, is served from /embed/static).

An embed session reads the spec of the dashboards it was minted for only (403 for any
other, whether it exists or not); other principals read any. The page itself holds no
data and needs no token: it gets one from the host (docs/embedding.md).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.asset_files import AssetFiles
from api.endpoints import Refused, authenticated, json_response, within_rate_limit
from authz.principal import Principal
from schema.dashboard_documents import dashboard_view
from schema.registry import Registry
from schema.spec import is_name

STATIC_DIR = Path(__file__).resolve().parents[1] / "static" / "embed"
STATIC_PATH = "/embed/static"


def frame_headers(origins: tuple[str, ...]) -> dict[str, str]:
    """The page may be framed by Cohort itself and the configured embed origins only; it loads
    nothing from elsewhere, and sends no referrer (the host's page address stays there)."""
    ancestors = " ".join(("'self'", *origins))
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


def _page(title: str, name: str, origins: tuple[str, ...]) -> str:
    """The page: its script and styles from /embed/static (no inline script), the dashboard it
    shows and the origins it takes tokens from in data attributes (docs/embedding.md)."""
    e = html.escape
    return (
        '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title>"
        f'<link rel="stylesheet" href="{STATIC_PATH}/dashboard.css">'
        f'<script src="{STATIC_PATH}/dashboard.js" defer></script></head>\n'
        f'<body data-dashboard="{e(name)}" data-spec="/embed/dashboards/{e(name)}/spec"'
        f' data-origins="{e(" ".join(origins))}">\n'
        '<div id="cohort-banner" class="banner" role="status" hidden></div>\n'
        f'<main id="cohort-dashboard"><h1>{e(title)}</h1>'
        "<noscript>This dashboard needs JavaScript.</noscript></main>\n</body>\n</html>\n"
    )


def _missing() -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>No such dashboard</title>'
        "</head>\n<body><main><h1>No such dashboard</h1></main></body>\n</html>\n"
    )


async def dashboard_page(request: Request) -> Response:
    state = request.app.state.cohort
    name = request.path_params["name"]
    headers = frame_headers(state.settings.embed.origins)
    registry: Registry = state.runtime.registry
    dashboard = registry.dashboards.get(name) if is_name(name) else None
    if dashboard is None:
        return HTMLResponse(_missing(), 404, headers=headers)
    return HTMLResponse(_page(dashboard.title, name, state.settings.embed.origins), headers=headers)


def opens_dashboard(request: Request, principal: Principal, name: str, registry: Registry) -> None:
    """Refused unless the principal may open the dashboard: an embed session its own ones only
    (403, audited, whether the name exists or not); other principals any that exists (404)."""
    if principal.embed is None:
        if name not in registry.dashboards:
            raise Refused(404, "no such dashboard", "NOT_FOUND")
        return
    if name in principal.embed.dashboards and name in registry.dashboards:
        return
    request.app.state.cohort.authorizer.audit.event(
        "embed_dashboard_refused", principal, level=logging.WARNING, dashboard=name[:64]
    )
    raise Refused(403, "this embed session may not open that dashboard", "FORBIDDEN")


async def dashboard_caller(request: Request) -> tuple[Principal, dict[str, str], dict[str, Any]]:
    """Who opens the dashboard in the path, within their rate limit and scope: the principal,
    the rate limit headers and the dashboard's view. Refused otherwise."""
    name = request.path_params["name"]
    principal = await authenticated(request)
    headers = await within_rate_limit(request, principal)
    registry: Registry = request.app.state.cohort.runtime.registry
    opens_dashboard(request, principal, name, registry)
    return principal, headers, dashboard_view(registry, registry.dashboards[name])


async def dashboard_spec(request: Request) -> Response:
    try:
        principal, headers, view = await dashboard_caller(request)
    except Refused as refused:
        return refused.response()
    scope = principal.embed
    view["session"] = (
        None
        if scope is None
        else {
            "id": scope.session,
            "dashboards": list(scope.dashboards),
            "locked": [
                {"member": f"{lock.model}.{lock.member}", "op": lock.op, "values": list(lock.values)}
                for lock in scope.locked
            ],
        }
    )
    return json_response(view, 200, headers)


def static_assets() -> AssetFiles:
    return AssetFiles(directory=STATIC_DIR)
