"""Stale-while-revalidate on a warehouse the test changes: a `scores` table whose refresh rule
(`select max(id) from scores`) sees every insert. The freshness clock is the test's, so a
check is due when the test says; every answer is compared with hand-written SQL."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette

from api.app import create_app
from api.migrations import upgrade
from api.settings import Settings
from authz.policy_store import PolicyStore
from cache.revalidation import Revalidations
from tests.cache import test_shared_fill
from tests.databases import redis_url, scratch_database
from tests.resolvers.oracle import oracle
from tests.tokens import Mint

pytestmark = pytest.mark.integration

MEMBERS = """dimensions:
  team: {type: string}
measures:
  count: {type: count}
  points: {type: sum, sql: points, data_type: integer}
"""
MODELS = {
    # Its own stale window.
    "scores": 'refresh: {sql: "select max(id) from scores", check_every: 1, stale_while_revalidate: 300}',
    # Never stale, whatever the server's default.
    "standings": 'refresh: {sql: "select max(id) from scores", check_every: 1, stale_while_revalidate: 0}',
    # The server's default (COHORT_CACHE_STALE_S).
    "tallies": 'refresh: {sql: "select max(id) from scores", check_every: 1}',
    # No rule: fresh for one second (its TTL), then stale for a minute.
    "quick_scores": "refresh: {ttl: 1, stale_while_revalidate: 60}",
}
HAND_WRITTEN = "select team, count(*), sum(points)::int from scores group by 1"


@pytest.fixture(scope="module")
async def warehouse(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with scratch_database(database_url, "scores") as url:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("create table scores (id serial primary key, team text, points int)"))
            await conn.execute(text("insert into scores (team, points) values ('red', 3), ('blue', 5)"))
        await upgrade(engine)  # Cohort's own state in the same database, with the default policy
        await PolicyStore(engine).seed()
        yield engine
        await engine.dispose()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    for name, refresh in MODELS.items():
        (folder / f"{name}.yml").write_text(
            f"model: {name}\ntable: scores\nprimary_key: id\n{refresh}\n{MEMBERS}"
        )
    return folder


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Apps:
    """Apps (workers) over the scores warehouse, one Redis, one freshness clock; every
    statement counted, and held while `gate` is closed."""

    def __init__(self, settings: Settings, url: str, stack: AsyncExitStack) -> None:
        self.settings, self.url, self.stack = settings, url, stack
        self.clock = Clock()
        self.gate = asyncio.Event()
        self.gate.set()
        self.statements = 0
        self.fail_next = False

    async def start(self, stale_s: int = 0) -> Starlette:
        app = create_app(replace(self.settings, cache_stale_s=stale_s), self.url)
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        state = app.state.cohort
        state.caching.freshness.clock = self.clock
        await state.caching.cache.flush()
        run = state.executor.run

        async def counting(query: Any, budget: float | None = None) -> Any:
            self.statements += 1
            await self.gate.wait()
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("the refresh failed")
            return await run(query, budget)

        state.executor.run = counting
        return app

    def data_changes(self) -> None:
        """What the test inserted is seen by the next freshness check (they are due)."""
        self.clock.now += 2


@pytest.fixture
async def apps(settings: Settings, warehouse: AsyncEngine, models: Path) -> AsyncIterator[Apps]:
    keep: list[object] = []
    configured = replace(settings, redis_url=redis_url(keep), cache=True, models_dir=models)
    url = warehouse.url.render_as_string(hide_password=False)
    async with AsyncExitStack() as stack:
        yield Apps(configured, url, stack)


async def score(warehouse: AsyncEngine) -> None:
    async with warehouse.begin() as conn:
        await conn.execute(
            text("insert into scores (team, points) values (:team, :points)"),
            {"team": secrets.choice(["red", "blue", "green"]), "points": secrets.randbelow(10) + 1},
        )


async def post(app: Starlette, query: str, token: str) -> dict[str, Any]:
    async with asyncio.timeout(5):  # a request that waits for a held statement fails, never hangs
        return await test_shared_fill.post(app, query, token)


def rows(body: dict[str, Any], field: str) -> set[tuple[Any, ...]]:
    return {(row["team"], row["count"], row["points"]) for row in body["data"][field]}


def note(body: dict[str, Any], field: str) -> dict[str, Any]:
    entry: dict[str, Any] = body["extensions"]["cache"][field]
    return entry


async def settled(*apps: Starlette) -> None:
    """Until no background refresh runs (bounded)."""
    for _ in range(1_000):
        if not any(len(app.state.cohort.caching.revalidations) for app in apps):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the background refreshes did not end within 10 s")


async def test_a_stale_result_is_served_at_once_and_refreshed_once_across_workers(
    apps: Apps, warehouse: AsyncEngine, mint: Mint
) -> None:
    one, two = await apps.start(), await apps.start()
    token = mint()
    query = "{ scores(limit: 901) { team count points } }"
    first = await post(one, query, token)
    old = set(await oracle(warehouse, HAND_WRITTEN))
    assert rows(first, "scores") == old and note(first, "scores")["hit"] is False
    assert note(await post(two, query, token), "scores")["hit"] is True  # one Redis for both
    assert apps.statements == 1

    await score(warehouse)
    apps.data_changes()
    apps.gate.clear()  # the refresh's statement waits: the answers below cannot be waiting for it
    async with asyncio.timeout(2):
        stale = await asyncio.gather(*(post(app, query, token) for app in (one, two, one, two)))
    for body in stale:
        assert rows(body, "scores") == old
        assert note(body, "scores") == {
            "hit": True,
            "stale": True,
            "dataAsOf": note(first, "scores")["dataAsOf"],
        }
    await asyncio.sleep(0.1)
    assert apps.statements == 2  # one refresh: the other worker's waits on its lease
    assert [len(app.state.cohort.caching.revalidations) for app in (one, two)] == [1, 1]
    apps.gate.set()
    await settled(one, two)
    assert apps.statements == 2
    new = set(await oracle(warehouse, HAND_WRITTEN))
    assert new != old
    for app in (one, two):
        body = await post(app, query, token)
        assert rows(body, "scores") == new
        assert note(body, "scores")["hit"] is True and "stale" not in note(body, "scores")
    assert apps.statements == 2
    assert sum(app.state.cohort.caching.stale_hits for app in (one, two)) == 4


async def test_with_the_window_off_no_stale_value_is_ever_served(
    apps: Apps, warehouse: AsyncEngine, mint: Mint
) -> None:
    off, on = await apps.start(stale_s=0), await apps.start(stale_s=120)
    token = mint()
    # The server's default off; the model's own window off (whatever the server's).
    cases = [(off, "tallies", 902), (off, "standings", 902), (on, "standings", 908)]
    for app, field, limit in cases:
        await post(app, f"{{ {field}(limit: {limit}) {{ team count points }} }}", token)
    await score(warehouse)
    apps.data_changes()
    new = set(await oracle(warehouse, HAND_WRITTEN))
    for app, field, limit in cases:
        body = await post(app, f"{{ {field}(limit: {limit}) {{ team count points }} }}", token)
        assert note(body, field)["hit"] is False and "stale" not in note(body, field), field
        assert rows(body, field) == new
    redis = off.state.cohort.caching.cache.redis
    assert [key async for key in redis.scan_iter(match="cohort:result:*:latest")] == []  # nothing kept

    # The server's default applies to a model without its own window.
    query = "{ tallies(limit: 907) { team count points } }"
    await post(on, query, token)
    await score(warehouse)
    apps.data_changes()
    body = await post(on, query, token)
    assert note(body, "tallies")["stale"] is True and rows(body, "tallies") == new
    await settled(on)


async def test_a_fresh_copy_is_a_plain_hit_when_the_fresh_entry_is_gone(
    apps: Apps, warehouse: AsyncEngine, mint: Mint
) -> None:
    """The entry for the current tokens evicted (memory pressure) while the latest copy, for
    the same tokens and within its TTL, is still there: a hit, neither stale nor refreshed."""
    app = await apps.start()
    token = mint()
    query = "{ scores(limit: 909) { team count points } }"
    first = await post(app, query, token)
    redis = app.state.cohort.caching.cache.redis
    entries = [key async for key in redis.scan_iter(match="cohort:result:scores:*")]
    fresh = [key for key in entries if not key.endswith(b":latest")]
    assert len(entries) == 2 and len(fresh) == 1
    await redis.delete(*fresh)
    body = await post(app, query, token)
    assert note(body, "scores") == {"hit": True, "dataAsOf": note(first, "scores")["dataAsOf"]}
    assert body["data"] == first["data"] and apps.statements == 1
    assert app.state.cohort.caching.revalidations.started == 0


async def test_renew_bypasses_a_stale_value(apps: Apps, warehouse: AsyncEngine, mint: Mint) -> None:
    app = await apps.start()
    token = mint()
    await post(app, "{ scores(limit: 903) { team count points } }", token)
    await score(warehouse)
    apps.data_changes()
    body = await post(app, "{ scores(limit: 903, renew: true) { team count points } }", token)
    assert note(body, "scores")["hit"] is False and "stale" not in note(body, "scores")
    assert rows(body, "scores") == set(await oracle(warehouse, HAND_WRITTEN))
    assert len(app.state.cohort.caching.revalidations) == 0


async def test_a_result_past_its_ttl_is_stale(apps: Apps, warehouse: AsyncEngine, mint: Mint) -> None:
    app = await apps.start()
    token = mint()
    query = "{ quickScores(limit: 904) { team count points } }"
    first = await post(app, query, token)
    assert note(await post(app, query, token), "quickScores")["hit"] is True
    await asyncio.sleep(1.1)  # Redis drops the fresh entry after its one-second TTL
    apps.clock.now += 2
    body = await post(app, query, token)
    assert note(body, "quickScores")["stale"] is True and body["data"] == first["data"]
    await settled(app)
    assert apps.statements == 2
    after = await post(app, query, token)
    assert note(after, "quickScores")["hit"] is True and "stale" not in note(after, "quickScores")
    assert rows(after, "quickScores") == set(await oracle(warehouse, HAND_WRITTEN))


async def test_a_failed_refresh_caches_nothing_and_is_tried_again(
    apps: Apps, warehouse: AsyncEngine, mint: Mint
) -> None:
    app = await apps.start()
    token = mint()
    query = "{ scores(limit: 905) { team count points } }"
    old = rows(await post(app, query, token), "scores")
    await score(warehouse)
    apps.data_changes()
    apps.fail_next = True
    assert note(await post(app, query, token), "scores")["stale"] is True
    await settled(app)
    revalidations = app.state.cohort.caching.revalidations
    assert revalidations.failed == 1
    again = await post(app, query, token)  # the error was not stored: still stale, a new refresh
    assert note(again, "scores")["stale"] is True and rows(again, "scores") == old
    await settled(app)
    assert revalidations.started == 2 and revalidations.failed == 1
    body = await post(app, query, token)
    assert "stale" not in note(body, "scores")
    assert rows(body, "scores") == set(await oracle(warehouse, HAND_WRITTEN))


async def test_shutdown_cancels_the_refreshes_still_running(
    settings: Settings, warehouse: AsyncEngine, models: Path, mint: Mint
) -> None:
    keep: list[object] = []
    configured = replace(settings, redis_url=redis_url(keep), cache=True, models_dir=models)
    url = warehouse.url.render_as_string(hide_password=False)
    async with AsyncExitStack() as stack:
        apps = Apps(configured, url, stack)
        app = await apps.start()
        query = "{ scores(limit: 906) { team count points } }"
        await post(app, query, mint())
        await score(warehouse)
        apps.data_changes()
        apps.gate.clear()  # the refresh never finishes by itself
        assert note(await post(app, query, mint()), "scores")["stale"] is True
        running = list(app.state.cohort.caching.revalidations._running.values())
        assert len(running) == 1
        started = time.monotonic()
    assert time.monotonic() - started < 5
    assert running[0].cancelled()


async def test_background_refreshes_are_bounded() -> None:
    refreshes = Revalidations(limit=2)
    release = asyncio.Event()

    def waiting() -> Callable[[], Coroutine[Any, Any, None]]:
        async def refresh() -> None:
            await release.wait()

        return refresh

    assert refreshes.start("a", waiting()) and refreshes.start("b", waiting())
    assert not refreshes.start("a", waiting())  # one per key
    assert not refreshes.start("c", waiting()) and refreshes.skipped == 1  # at most `limit`
    release.set()
    for _ in range(200):
        if not len(refreshes):
            break
        await asyncio.sleep(0.01)
    assert refreshes.start("c", waiting()) and refreshes.started == 3
    await refreshes.aclose()
