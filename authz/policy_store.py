"""Policies in PostgreSQL (cohort.casbin_rule), seeded from a policy file, reloaded when
their version (bumped by a trigger on every edit) moves.

Every read is bounded by `timeout_s` (the engine's own connect and command timeouts come
first): a database that is down or frozen fails the load, and the policy in force stays
in force until a later reload succeeds."""

from __future__ import annotations

import asyncio
import csv
import logging
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.enforcer import PolicyEnforcer, Rule

log = logging.getLogger("cohort.policies")

DEFAULT_POLICY = Path(__file__).resolve().parent / "policies" / "default.csv"
_COLUMNS = ("v0", "v1", "v2", "v3", "v4", "v5")


def read_policy_file(path: Path) -> list[Rule]:
    rules = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, skipinitialspace=True):
            if row and not row[0].lstrip().startswith("#"):
                rules.append(tuple(part.strip() for part in row))
    return rules


class PolicyStore:
    def __init__(self, engine: AsyncEngine, *, timeout_s: float | None = None) -> None:
        self.engine = engine
        self.timeout_s = timeout_s  # None: only the engine's own timeouts

    async def version(self) -> int:
        async with asyncio.timeout(self.timeout_s), self.engine.connect() as conn:
            return int((await conn.execute(text("select version from cohort.policy_version"))).scalar_one())

    async def rules(self) -> list[Rule]:
        async with asyncio.timeout(self.timeout_s), self.engine.connect() as conn:
            rows = await conn.execute(
                text("select ptype, v0, v1, v2, v3, v4, v5 from cohort.casbin_rule order by id")
            )
            return [tuple(value for value in row if value != "") for row in rows]

    async def load(self) -> PolicyEnforcer:
        # One snapshot: rules and version agree.
        async with asyncio.timeout(self.timeout_s), self.engine.connect() as conn, conn.begin():
            await conn.execute(text("set transaction isolation level repeatable read"))
            version = int(
                (await conn.execute(text("select version from cohort.policy_version"))).scalar_one()
            )
            rows = await conn.execute(
                text("select ptype, v0, v1, v2, v3, v4, v5 from cohort.casbin_rule order by id")
            )
            rules = [tuple(value for value in row if value != "") for row in rows]
        return PolicyEnforcer(rules, version)

    async def replace(self, rules: list[Rule]) -> None:
        """Swap every rule for `rules` in one transaction (the version moves once)."""
        PolicyEnforcer(rules, 0)  # refuse rules Casbin cannot load before touching the table
        params = []
        for rule in rules:
            ptype, *values = rule
            params.append(
                {
                    "ptype": ptype,
                    **{c: (values[i] if i < len(values) else "") for i, c in enumerate(_COLUMNS)},
                }
            )
        async with self.engine.begin() as conn:
            await conn.execute(text("delete from cohort.casbin_rule"))
            if params:
                await conn.execute(
                    text(
                        "insert into cohort.casbin_rule (ptype, v0, v1, v2, v3, v4, v5) "
                        "values (:ptype, :v0, :v1, :v2, :v3, :v4, :v5)"
                    ),
                    params,
                )

    async def seed(self, path: Path = DEFAULT_POLICY, replace: bool = False) -> bool:
        """Load the policy file if the table is empty (or `replace`); True if loaded."""
        if not replace:
            async with self.engine.connect() as conn:
                if (
                    await conn.execute(text("select exists (select 1 from cohort.casbin_rule)"))
                ).scalar_one():
                    return False
        await self.replace(read_policy_file(path))
        return True


class PolicyHolder:
    """The policy in force; `watch` reloads it within `interval_s` of an edit."""

    def __init__(self, store: PolicyStore, enforcer: PolicyEnforcer) -> None:
        self.store = store
        self.current = enforcer

    def __call__(self) -> PolicyEnforcer:
        return self.current

    async def refresh(self) -> bool:
        if await self.store.version() == self.current.version:
            return False
        self.current = await self.store.load()
        log.info("policy reloaded: version %s", self.current.version)
        return True

    async def watch(self, interval_s: float) -> None:
        failing = False
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except Exception:  # keep the policy in force; try again next time
                if not failing:  # logged once per outage, not at every interval
                    log.exception("policy reload failed; keeping version %s", self.current.version)
                failing = True
            else:
                if failing:
                    log.info("policy reload works again: version %s", self.current.version)
                failing = False
