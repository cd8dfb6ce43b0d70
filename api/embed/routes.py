"""The embed routes, for the app factory."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from api.embed.pages import dashboard_page, dashboard_spec
from api.embed.sessions import create_session


def embed_routes() -> list[BaseRoute]:
    return [
        Route("/embed/sessions", create_session, methods=["POST"]),
        Route("/embed/dashboards/{name}", dashboard_page, methods=["GET"]),
        Route("/embed/dashboards/{name}/spec", dashboard_spec, methods=["GET"]),
    ]
