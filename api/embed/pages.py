"""The dashboard a page shows: `GET /embed/dashboards/{name}/spec` (JSON, for the page's code)
and `GET /embed/dashboards/{name}` (the page framed by the host, with its framing policy).

An embed session reads the spec of the dashboards it was minted for only (403 for any
other, whether it exists or not); other principals read any. The page itself holds no
data and needs no token: it gets one from the host (docs/embedding.md).
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.endpoints import Refused, authenticated, json_response, within_rate_limit
from authz.principal import Principal
from schema.dashboard_documents import dashboard_view
from schema.registry import Registry
from schema.spec import is_name


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


def _placeholder(title: str, name: str) -> str:
    # The page's real body (scripts under /embed/static) comes with the dashboard page.
    return (
        '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f'<body><main id="cohort-dashboard" data-dashboard="{html.escape(name)}"'
        f' data-spec="/embed/dashboards/{html.escape(name)}/spec">{html.escape(title)}</main>'
        "</body>\n</html>\n"
    )


async def dashboard_page(request: Request) -> Response:
    state = request.app.state.cohort
    name = request.path_params["name"]
    headers = frame_headers(state.settings.embed.origins)
    registry: Registry = state.runtime.registry
    dashboard = registry.dashboards.get(name) if is_name(name) else None
    if dashboard is None:
        return HTMLResponse(_placeholder("No such dashboard", "-"), 404, headers=headers)
    return HTMLResponse(_placeholder(dashboard.title, name), headers=headers)


def _opens(principal: Principal, name: str, registry: Registry) -> bool:
    if principal.embed is not None:
        return name in principal.embed.dashboards and name in registry.dashboards
    return name in registry.dashboards


async def dashboard_spec(request: Request) -> Response:
    state = request.app.state.cohort
    name = request.path_params["name"]
    try:
        principal = await authenticated(request)
        headers = await within_rate_limit(request, principal)
        registry: Registry = state.runtime.registry
        if not _opens(principal, name, registry):
            if principal.embed is None:
                raise Refused(404, "no such dashboard", "NOT_FOUND")
            state.authorizer.audit.event(
                "embed_dashboard_refused", principal, level=logging.WARNING, dashboard=name[:64]
            )
            raise Refused(403, "this embed session may not open that dashboard", "FORBIDDEN")
    except Refused as refused:
        return refused.response()
    view = dashboard_view(registry, registry.dashboards[name])
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
