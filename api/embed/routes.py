"""The embed routes, for the app factory."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from api.embed.pages import STATIC_PATH, dashboard_page, dashboard_spec, static_assets
from api.embed.pdf import dashboard_pdf
from api.embed.sessions import create_session


def embed_routes() -> list[BaseRoute]:
    return [
        Route("/embed/sessions", create_session, methods=["POST"]),
        Route("/embed/dashboards/{name}.pdf", dashboard_pdf, methods=["GET", "POST"]),
        Route("/embed/dashboards/{name}", dashboard_page, methods=["GET"]),
        Route("/embed/dashboards/{name}/spec", dashboard_spec, methods=["GET"]),
        Mount(STATIC_PATH, app=static_assets(), name="embed-static"),
    ]
