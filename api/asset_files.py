"""Static assets bundled in the repo (never a CDN): only `.js` and `.css` files, with explicit
types so that `nosniff` never meets a platform's odd mimetypes table."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSET_TYPES = {".js": "text/javascript", ".css": "text/css"}


class AssetFiles(StaticFiles):
    """StaticFiles that serves only `.js` and `.css` files, with `nosniff` (and `no-cache`: the
    browser revalidates with the ETag, so a rebuilt bundle is picked up at once)."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if Path(path).suffix not in ASSET_TYPES:
            return "", None
        return super().lookup_path(path)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if isinstance(response, FileResponse):
            media_type = ASSET_TYPES[Path(full_path).suffix]
            response.headers["Content-Type"] = f"{media_type}; charset=utf-8"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Cache-Control", "no-cache")
        return response
