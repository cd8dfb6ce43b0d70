"""The in-browser GraphiQL IDE, served from assets bundled in the repo (never a CDN).

``graphiql_routes()`` gives two routes to add to the app:

- ``GET /graphiql``: the page from ``api/static/graphiql/index.html``, with the endpoint and
  the initial query JSON-encoded into a ``<script type="application/json">`` element (read by
  ``init.js`` with ``JSON.parse``), a strict Content-Security-Policy and ``nosniff``;
- ``/graphiql/static``: the React, ReactDOM and GraphiQL builds listed in
  ``api/static/graphiql/VERSIONS.md``, plus ``init.js`` and ``page.css``.

The template is read and filled once, when the routes are built.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from api.asset_files import AssetFiles

STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
TEMPLATE_PATH = STATIC_DIR / "index.html"
CONFIG_PLACEHOLDER = "__GRAPHIQL_CONFIG__"

# Scripts: only our own files (init.js included), no inline script and no eval.  Styles: our
# files, plus inline styles, which GraphiQL needs (its dialogs inject a <style> element through
# react-remove-scroll, CodeMirror positions elements with style attributes).  Fonts and icons
# are data: URIs inside graphiql.min.css.
_CSP_TEMPLATE = (
    "default-src 'none'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src {connect}; "
    "base-uri 'none'; "
    "form-action 'none'; "
    "frame-ancestors 'none'"
)


def _script_json(value: object) -> str:
    """JSON for a ``<script type="application/json">`` element: no ``</script>``, no ``<!--``."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _connect_src(endpoint: str) -> str:
    """``connect-src`` for the page: 'self', plus the endpoint's origin when it is absolute."""
    parts = urlsplit(endpoint)
    if not parts.scheme and not parts.netloc:
        return "'self'"
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or any(c in host for c in " ;,'\""):
        raise ValueError(f"GraphiQL endpoint must be a path or an http(s) URL, not {endpoint!r}")
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return f"'self' {origin}"


def render_page(endpoint: str, default_query: str) -> str:
    """The GraphiQL page with its config filled in."""
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    if template.count(CONFIG_PLACEHOLDER) != 1:
        raise RuntimeError(f"{TEMPLATE_PATH} must contain {CONFIG_PLACEHOLDER} exactly once")
    config = {"endpoint": endpoint, "defaultQuery": default_query}
    return template.replace(CONFIG_PLACEHOLDER, _script_json(config))


def graphiql_routes(endpoint: str = "/graphql", default_query: str = "") -> list[BaseRoute]:
    """Routes for the GraphiQL page at ``/graphiql`` and its assets at ``/graphiql/static``."""
    body = render_page(endpoint, default_query).encode("utf-8")
    headers = {
        "Content-Security-Policy": _CSP_TEMPLATE.format(connect=_connect_src(endpoint)),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }

    async def graphiql_page(request: Request) -> Response:
        return HTMLResponse(body, headers=headers)

    return [
        Route("/graphiql", graphiql_page, methods=["GET"], name="graphiql"),
        Mount("/graphiql/static", app=AssetFiles(directory=STATIC_DIR), name="graphiql-static"),
    ]
