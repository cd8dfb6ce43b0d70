"""Typed settings, read once from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api.ingest.settings import DEFAULT_EVENTS_FILE, IngestSettings
from api.limits import Limits
from resolvers.database import DatabaseTimeouts

_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class RollupSettings:
    """Rollups (docs/rollups.md): served when built; kept by `cohort rollups refresh`."""

    enabled: bool = True  # queries may be served from rollups
    poll_s: float = 5.0  # how often the server reads which rollups are built
    # Where `cohort rollups` writes: a role that may create tables in the warehouse's
    # database (None: COHORT_INGEST_DATABASE_URL, else DATABASE_URL).
    database_url: str | None = None
    statement_timeout_s: int = 3_600  # one build or refresh statement


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw else None


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How bearer tokens are checked. With no JWT key configured, a development secret is
    generated under the data folder (see api/auth/jwt_verifier.py)."""

    jwt_secret: str | None = None  # HS256
    jwt_public_key_file: Path | None = None  # PEM: RS256 or ES256
    jwt_jwks_file: Path | None = None  # a JWKS document: RS256 or ES256
    jwt_algorithms: tuple[str, ...] = ()  # pinned; empty: derived from the key kind
    jwt_audience: str = "cohort"
    jwt_issuer: str = "cohort"
    jwt_leeway_s: int = 30

    def __post_init__(self) -> None:
        if not 0 <= self.jwt_leeway_s <= 60:
            raise SettingsError("COHORT_JWT_LEEWAY_S must be between 0 and 60")


MAX_EMBED_TTL_S = 3600  # an embed session lives an hour at most, whatever is configured
_ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class EmbedSettings:
    """Embedded dashboards (docs/embedding.md)."""

    secret: str | None = None  # signs embed tokens (HS256); None: a development secret in the data folder
    origins: tuple[str, ...] = ()  # pages that may frame the dashboards and call the API from a browser
    ttl_s: int = 600  # an embed session's default length
    max_ttl_s: int = MAX_EMBED_TTL_S

    def __post_init__(self) -> None:
        if not 60 <= self.max_ttl_s <= MAX_EMBED_TTL_S:
            raise SettingsError(f"COHORT_EMBED_MAX_TTL_S must be between 60 and {MAX_EMBED_TTL_S}")
        if not 1 <= self.ttl_s <= self.max_ttl_s:
            raise SettingsError("COHORT_EMBED_TTL_S must be between 1 and COHORT_EMBED_MAX_TTL_S")
        if self.secret is not None and len(self.secret.encode()) < 32:
            raise SettingsError("COHORT_EMBED_SECRET must be at least 32 bytes")
        for origin in self.origins:
            if not _ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"COHORT_EMBED_ORIGINS: {origin!r} is not an origin: scheme://host[:port], in "
                    "lower case, without a path or a trailing slash (https://lms.example.com)"
                )


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """CSV downloads (`POST /export.csv`)."""

    max_rows: int = 1_000_000  # an export stops here, with an error as its last line
    concurrency: int = 2  # exports at a time in one process (each holds a connection throughout)
    timeout_s: float = 600.0  # the whole of one export
    batch_rows: int = 2_000  # rows per fetch from the server-side cursor


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("COHORT_EMBED_ORIGINS") or ""
    return tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None
    # Cohort's own state (policies, tokens, ...) apart from the warehouse; default: the same.
    state_database_url: str | None
    redis_url: str | None
    data_dir: Path
    models_dir: Path
    host: str
    port: int
    statement_timeout_ms: int
    pool_size: int
    pool_max_overflow: int
    pool_timeout_s: int
    db_connect_timeout_ms: int
    db_command_timeout_ms: int
    db_lookup_timeout_ms: int
    db_jit: bool  # PostgreSQL's JIT on the warehouse's connections (resolvers/database.py)
    demo_scale: str
    demo_seed: int
    graphiql: bool
    reload_interval_s: float
    workers: int
    limits: Limits
    auth: AuthSettings
    redis_cluster: bool  # REDIS_URL names a node of a Redis Cluster
    cache: bool  # the result cache (needs Redis)
    cache_max_bytes: int
    cache_compress_above: int
    cache_stale_s: int  # serve a result this long after it stops being fresh, refreshing it; 0: off
    cache_lease_ms: int  # the lease that shares a miss across processes (cache/lease.py)
    rate_limit_per_minute: int  # 0 turns rate limiting off
    rate_limit_burst: int
    access_log: bool  # one JSON line per request on the cohort.access logger
    policy_reload_interval_s: float
    query_cost_budget: int  # for roles without a p4 rule; 0: no budget
    dashboards_dir: Path | None = None  # None: `dashboards` beside the models folder
    embed: EmbedSettings = EmbedSettings()
    export: ExportSettings = ExportSettings()

    @property
    def dashboards(self) -> Path:
        """The dashboard files' folder: schema/dashboards beside schema/models, dashboards/
        beside models/, unless COHORT_DASHBOARDS_DIR says otherwise."""
        return self.dashboards_dir or self.models_dir.parent / "dashboards"

    ingest: IngestSettings = field(default_factory=IngestSettings)  # POST /events (docs/ingestion.md)
    rollups: RollupSettings = field(default_factory=RollupSettings)

    @property
    def database_timeouts(self) -> DatabaseTimeouts:
        return DatabaseTimeouts(
            connect_s=self.db_connect_timeout_ms / 1000,
            command_s=self.db_command_timeout_ms / 1000,
            statement_s=self.statement_timeout_ms / 1000,
            pool_s=self.pool_timeout_s,
            lookup_s=self.db_lookup_timeout_ms / 1000,
            jit=self.db_jit,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            state_database_url=env.get("COHORT_STATE_DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            data_dir=Path(env.get("COHORT_DATA_DIR") or _ROOT / ".data"),
            models_dir=Path(env.get("COHORT_MODELS_DIR") or _ROOT / "schema" / "models"),
            dashboards_dir=_path(env, "COHORT_DASHBOARDS_DIR"),
            host=env.get("COHORT_HOST") or "127.0.0.1",
            port=_int(env, "COHORT_PORT", 8000, minimum=1),
            statement_timeout_ms=_int(env, "COHORT_STATEMENT_TIMEOUT_MS", 15_000, minimum=1),
            pool_size=_int(env, "COHORT_POOL_SIZE", 10, minimum=1),
            pool_max_overflow=_int(env, "COHORT_POOL_MAX_OVERFLOW", 5),
            pool_timeout_s=_int(env, "COHORT_POOL_TIMEOUT_S", 10, minimum=1),
            db_connect_timeout_ms=_int(env, "COHORT_DB_CONNECT_TIMEOUT_MS", 2_000, minimum=1),
            db_command_timeout_ms=_int(env, "COHORT_DB_COMMAND_TIMEOUT_MS", 2_000, minimum=1),
            db_lookup_timeout_ms=_int(env, "COHORT_DB_LOOKUP_TIMEOUT_MS", 3_000, minimum=1),
            db_jit=_bool(env, "COHORT_DB_JIT", False),
            demo_scale=env.get("COHORT_DEMO_SCALE") or "default",
            demo_seed=_int(env, "COHORT_DEMO_SEED", 42),
            graphiql=_bool(env, "COHORT_GRAPHIQL", True),
            reload_interval_s=_int(env, "COHORT_RELOAD_INTERVAL_MS", 2_000) / 1000,
            workers=_int(env, "COHORT_WORKERS", 1, minimum=1),
            auth=AuthSettings(
                jwt_secret=env.get("COHORT_JWT_SECRET") or None,
                jwt_public_key_file=_path(env, "COHORT_JWT_PUBLIC_KEY_FILE"),
                jwt_jwks_file=_path(env, "COHORT_JWT_JWKS_FILE"),
                jwt_algorithms=tuple(
                    a.strip() for a in (env.get("COHORT_JWT_ALGORITHMS") or "").split(",") if a.strip()
                ),
                jwt_audience=env.get("COHORT_JWT_AUDIENCE") or "cohort",
                jwt_issuer=env.get("COHORT_JWT_ISSUER") or "cohort",
                jwt_leeway_s=_int(env, "COHORT_JWT_LEEWAY_S", 30),
            ),
            redis_cluster=_bool(env, "COHORT_REDIS_CLUSTER", False),
            cache=_bool(env, "COHORT_CACHE", True),
            cache_max_bytes=_int(env, "COHORT_CACHE_MAX_BYTES", 4_000_000, minimum=1),
            cache_compress_above=_int(env, "COHORT_CACHE_COMPRESS_ABOVE", 16_384),
            cache_stale_s=_int(env, "COHORT_CACHE_STALE_S", 0),
            cache_lease_ms=_int(env, "COHORT_CACHE_LEASE_MS", 2_000, minimum=100),
            rate_limit_per_minute=_int(env, "COHORT_RATE_LIMIT_PER_MINUTE", 600),
            rate_limit_burst=_int(env, "COHORT_RATE_LIMIT_BURST", 60, minimum=1),
            access_log=_bool(env, "COHORT_ACCESS_LOG", True),
            policy_reload_interval_s=_int(env, "COHORT_POLICY_RELOAD_MS", 2_000) / 1000,
            query_cost_budget=_int(env, "COHORT_QUERY_COST_BUDGET", 5_000_000),
            embed=EmbedSettings(
                secret=env.get("COHORT_EMBED_SECRET") or None,
                origins=_origins(env),
                ttl_s=_int(env, "COHORT_EMBED_TTL_S", 600, minimum=1),
                max_ttl_s=_int(env, "COHORT_EMBED_MAX_TTL_S", MAX_EMBED_TTL_S, minimum=1),
            ),
            export=ExportSettings(
                max_rows=_int(env, "COHORT_EXPORT_MAX_ROWS", 1_000_000, minimum=1),
                concurrency=_int(env, "COHORT_EXPORT_CONCURRENCY", 2, minimum=1),
                timeout_s=_int(env, "COHORT_EXPORT_TIMEOUT_S", 600, minimum=1),
                batch_rows=_int(env, "COHORT_EXPORT_BATCH_ROWS", 2_000, minimum=1),
            ),
            ingest=_ingest(env),
            rollups=RollupSettings(
                enabled=_bool(env, "COHORT_ROLLUPS", True),
                poll_s=_int(env, "COHORT_ROLLUPS_POLL_S", 5, minimum=1),
                database_url=env.get("COHORT_ROLLUPS_DATABASE_URL") or None,
                statement_timeout_s=_int(env, "COHORT_ROLLUPS_STATEMENT_TIMEOUT_S", 3_600, minimum=1),
            ),
            limits=Limits(
                max_depth=_int(env, "COHORT_MAX_DEPTH", 8, minimum=1),
                max_aliases=_int(env, "COHORT_MAX_ALIASES", 30),
                max_tokens=_int(env, "COHORT_MAX_TOKENS", 2_000, minimum=10),
                max_document_chars=_int(env, "COHORT_MAX_DOCUMENT_CHARS", 20_000, minimum=100),
                max_body_bytes=_int(env, "COHORT_MAX_BODY_BYTES", 256_000, minimum=1_000),
                introspection=_bool(env, "COHORT_INTROSPECTION", True),
            ),
        )


def _ingest(env: Mapping[str, str]) -> IngestSettings:
    try:
        return IngestSettings(
            enabled=_bool(env, "COHORT_INGEST", True),
            database_url=env.get("COHORT_INGEST_DATABASE_URL") or None,
            events_file=_path(env, "COHORT_EVENTS_FILE") or DEFAULT_EVENTS_FILE,
            max_batch_events=_int(env, "COHORT_INGEST_MAX_BATCH_EVENTS", 5_000, minimum=1),
            max_body_bytes=_int(env, "COHORT_INGEST_MAX_BODY_BYTES", 5_000_000, minimum=1_000),
            max_group_events=_int(env, "COHORT_INGEST_MAX_GROUP_EVENTS", 20_000, minimum=1),
            max_pending_events=_int(env, "COHORT_INGEST_MAX_PENDING_EVENTS", 40_000, minimum=1),
            queue_timeout_ms=_int(env, "COHORT_INGEST_QUEUE_TIMEOUT_MS", 2_000, minimum=1),
            commit_timeout_ms=_int(env, "COHORT_INGEST_COMMIT_TIMEOUT_MS", 10_000, minimum=1),
            retention_days=_int(env, "COHORT_INGEST_RETENTION_DAYS", 30, minimum=1),
            partitions_ahead_days=_int(env, "COHORT_INGEST_PARTITIONS_AHEAD_DAYS", 3, minimum=2),
            maintenance_interval_s=_int(env, "COHORT_INGEST_MAINTENANCE_S", 3_600),
            pool_size=_int(env, "COHORT_INGEST_POOL_SIZE", 2, minimum=2),
        )
    except ValueError as error:
        raise SettingsError(str(error)) from None
