"""CORS for the embed origins (`COHORT_EMBED_ORIGINS`): pages there may call the API that
dashboards use (`/graphql`, `/export.csv`, dashboard specs) with a bearer token. No cookies
are involved, so credentials are never allowed; `POST /embed/sessions` is not open to
browsers at all (the host's back end calls it). Without origins, nothing is cross-origin.
"""

from __future__ import annotations

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

BROWSER_PATHS = re.compile(r"/graphql|/export\.csv|/embed/dashboards/[^/]+/spec")
EXPOSED = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "Content-Disposition")


class EmbedCors:
    def __init__(self, app: ASGIApp, origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cors: ASGIApp | None = (
            CORSMiddleware(
                app,
                allow_origins=origins,
                allow_methods=("GET", "POST"),
                allow_headers=("authorization", "content-type", "accept"),
                expose_headers=EXPOSED,
                max_age=600,
            )
            if origins
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cors is not None and scope["type"] == "http" and BROWSER_PATHS.fullmatch(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
