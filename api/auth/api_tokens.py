"""Long-lived API tokens for partner integrations, stored as SHA-256 hashes in cohort.api_tokens.

`verify` keeps what it learned in a small in-process cache for `cache_ttl_s` seconds (default
5), keyed by the hash: a revocation made elsewhere takes effect within that time everywhere
(at once in the process that revoked). `last_used_at` is written at most once every
`touch_interval_s` (default 60) per token, never once per request.

The lookup is bounded by `timeouts.lookup_s` (checkout included): a database that is down
or frozen raises `DatabaseUnavailable` (the request gets 503 with Retry-After), never a
hang nor a 500.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    Row,
    Table,
    Text,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.auth.claims import check_attributes, check_roles, check_tenant
from api.auth.errors import AuthenticationError
from api.auth.token_format import PREFIX, checksum_ok, last_four, new_token, token_hash
from authz.principal import AttributeValue, Principal
from resolvers.database import DatabaseTimeouts, bounded

__all__ = ["ApiTokenRecord", "ApiTokenStore", "checksum_ok", "new_token", "token_hash"]

DEFAULT_CACHE_TTL_S = 5.0
DEFAULT_TOUCH_INTERVAL_S = 60.0
MAX_NAME = 200
log = logging.getLogger(__name__)

api_tokens = Table(
    "api_tokens",
    MetaData(schema="cohort"),
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    Column("last_four", Text, nullable=False),
    Column("tenant", Text, nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("attributes", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
)
# Everything but the hash: records never carry it.
_RECORD = [column for column in api_tokens.c if column.name != "token_hash"]


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    id: int
    name: str
    tenant: str
    roles: tuple[str, ...]
    attributes: Mapping[str, AttributeValue]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_four: str

    @property
    def display(self) -> str:
        return f"{PREFIX}...{self.last_four}"

    @classmethod
    def from_row(cls, row: Row[Any]) -> ApiTokenRecord:
        return cls(
            id=row.id,
            name=row.name,
            tenant=row.tenant,
            roles=tuple(row.roles),
            attributes=row.attributes,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
            last_four=row.last_four,
        )


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal
    token_id: int
    expires_at: datetime | None
    cached_at: float


class ApiTokenStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
        touch_interval_s: float = DEFAULT_TOUCH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        max_cached: int = 10_000,
        timeouts: DatabaseTimeouts | None = None,
    ) -> None:
        self.engine = engine
        self.timeouts = timeouts or DatabaseTimeouts()
        self.cache_ttl_s = cache_ttl_s
        self.touch_interval_s = touch_interval_s
        self._clock = clock
        self._max_cached = max_cached
        self._cache: dict[bytes, _Cached] = {}

    async def create(
        self,
        name: str,
        tenant: str,
        roles: Sequence[str],
        attributes: Mapping[str, AttributeValue] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, ApiTokenRecord]:
        """A new token: its plaintext (to show once; it is not stored) and its record."""
        name = name.strip()
        if not 0 < len(name) <= MAX_NAME:
            raise ValueError(f"a token name has 1 to {MAX_NAME} characters")
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
            raise ValueError("expires_at must be a timezone-aware time in the future")
        token = new_token()
        values = {
            "name": name,
            "token_hash": token_hash(token),
            "last_four": last_four(token),
            "tenant": check_tenant(tenant),
            "roles": list(check_roles(list(roles))),
            "attributes": check_attributes(dict(attributes) if attributes is not None else None),
            "expires_at": expires_at,
        }
        async with self.engine.begin() as conn:
            row = (await conn.execute(insert(api_tokens).values(values).returning(*_RECORD))).one()
        return token, ApiTokenRecord.from_row(row)

    async def list(self, tenant: str | None = None) -> builtins.list[ApiTokenRecord]:
        query = select(*_RECORD).order_by(api_tokens.c.id)
        if tenant is not None:
            query = query.where(api_tokens.c.tenant == tenant)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ApiTokenRecord.from_row(row) for row in rows]

    async def revoke(self, token_id: int) -> bool:
        """True when an active token was revoked; False when there is none with that id."""
        statement = (
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(api_tokens.c.id)
        )
        async with self.engine.begin() as conn:
            revoked = (await conn.execute(statement)).one_or_none() is not None
        for digest, cached in builtins.list(self._cache.items()):
            if cached.token_id == token_id:
                del self._cache[digest]
        return revoked

    async def verify(self, token: str) -> Principal:
        if not checksum_ok(token):
            raise AuthenticationError("the API token is malformed")
        digest = token_hash(token)
        cached = self._cache.get(digest)
        if cached is not None:
            if self._fresh(cached):
                # A copy: callers never share (and so never alter) the cached attributes.
                return replace(cached.principal, attributes=dict(cached.principal.attributes))
            del self._cache[digest]
        principal, entry = await self._load(digest)
        if self.cache_ttl_s > 0:
            if len(self._cache) >= self._max_cached:
                self._cache.clear()  # crude but bounded; entries live seconds anyway
            self._cache[digest] = entry
        return principal

    async def _load(self, digest: bytes) -> tuple[Principal, _Cached]:
        query = select(*_RECORD, func.now().label("now")).where(api_tokens.c.token_hash == digest)
        async with (
            bounded(self.engine, self.timeouts, "the API token could not be checked") as conn,
            conn.begin(),
        ):
            row = (await conn.execute(query)).one_or_none()
            if row is None:
                raise AuthenticationError("the API token is not recognised")
            if row.revoked_at is not None:
                raise AuthenticationError("the API token has been revoked")
            if row.expires_at is not None and row.expires_at <= row.now:
                raise AuthenticationError("the API token has expired")
            try:
                principal = Principal(
                    subject=f"token:{row.id}",
                    tenant=row.tenant,
                    roles=tuple(row.roles),
                    attributes=check_attributes(row.attributes),
                    kind="api_token",
                )
            except ValueError:
                log.error("API token %s has an invalid tenant, role or attribute in the database", row.id)
                raise AuthenticationError("the API token cannot be used") from None
            touch_after = timedelta(seconds=self.touch_interval_s)
            if row.last_used_at is None or row.now - row.last_used_at >= touch_after:
                await self._touch(conn, row.id)
        return principal, _Cached(principal, row.id, row.expires_at, self._clock())

    def _fresh(self, cached: _Cached) -> bool:
        if self._clock() - cached.cached_at >= self.cache_ttl_s:
            return False
        return cached.expires_at is None or cached.expires_at > datetime.now(UTC)

    async def _touch(self, conn: AsyncConnection, token_id: int) -> None:
        # The condition is repeated in SQL so that workers racing on one token write once.
        interval = timedelta(seconds=self.touch_interval_s)
        await conn.execute(
            update(api_tokens)
            .where(
                api_tokens.c.id == token_id,
                or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= func.now() - interval),
            )
            .values(last_used_at=func.now())
        )
