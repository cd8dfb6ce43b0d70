"""The embedded dashboard in a real browser (Debian's chromium, headless, through Playwright):
a real uvicorn serves Cohort, a host page on another origin frames a dashboard with an embed
token, and the numbers the page shows (its tables' and numbers' data-value) are checked
against hand-written SQL, before and after a filter changes; the CSV and the PDF are
downloaded and checked; another tenant's session sees its own numbers only; an expired
session says so and asks the host, and a fresh token brings the page back.

Screenshots go to the test's tmp folder (COHORT_SCREENSHOTS=<dir> keeps them elsewhere)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.embed.tokens import EmbedSession, EmbedTokens
from api.settings import Settings
from tests.databases import free_port, redis_url
from tests.embed.conftest import UNI, bearer
from tests.embed.host_page import host_html, host_site
from tests.processes import server_env, start, stop, wait_until_healthy
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration
CHROMIUM = Path(os.environ.get("COHORT_TEST_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(
        f"no chromium at {CHROMIUM} (apt-get install chromium, or set COHORT_TEST_CHROMIUM): "
        "the dashboard page's browser tests need it",
        allow_module_level=True,
    )
playwright = pytest.importorskip("playwright.async_api", reason="playwright is a dev dependency")

DASHBOARD = "university_overview"
K = 5  # the university roles' smallest group (authz/policies/default.csv)
TIMEOUT_MS = 30_000


@dataclass
class Site:
    cohort: str
    host: str
    folder: Path
    screenshots: Path
    minters: dict[str, str]

    async def session(self, minter: str = "partner", **body: Any) -> str:
        wanted = {
            "user": "dean@northbridge.example",
            "roles": ["university_admin"],
            "dashboards": [DASHBOARD],
        }
        async with httpx.AsyncClient(base_url=self.cohort, timeout=10) as client:
            response = await client.post(
                "/embed/sessions", json={**wanted, **body}, headers=bearer(self.minters[minter])
            )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def host_page(self, name: str, token: str, fresh: str | None = None) -> str:
        (self.folder / f"{name}.html").write_text(host_html(self.cohort, DASHBOARD, token, fresh))
        return f"{self.host}/{name}.html"


@pytest.fixture(scope="module")
async def site(
    database_url: str, settings: Settings, minters: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Site]:
    folder = tmp_path_factory.mktemp("host")
    await asyncio.to_thread((folder / "favicon.ico").write_bytes, b"")
    shots = Path(os.environ.get("COHORT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    await asyncio.to_thread(shots.mkdir, parents=True, exist_ok=True)
    keep: list[object] = []
    with host_site(folder) as host:
        port = free_port()
        log = folder / "uvicorn.log"
        env = server_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url(keep),
            COHORT_RELOAD_INTERVAL_MS="0",
            COHORT_DATA_DIR=str(settings.data_dir),
            COHORT_EMBED_ORIGINS=host,
            COHORT_RATE_LIMIT_PER_MINUTE="0",
        )
        process = start(port, env, log)
        try:
            await wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
            yield Site(f"http://127.0.0.1:{port}", host, folder, shots, minters)
        finally:
            stop(process)
        output = log.read_text(errors="replace")
        assert "Traceback" not in output, output


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with playwright.async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    opened = await context.new_page()
    opened.problems = []  # console errors (a CSP violation among them) and uncaught exceptions
    opened.on("console", lambda m: m.type == "error" and opened.problems.append(m.text))
    opened.on("pageerror", lambda e: opened.problems.append(str(e)))
    yield opened
    await context.close()


def dashboard(page: Any) -> Any:
    return page.frame_locator("#dashboard")


async def ready(page: Any, filters: str = "{}") -> Any:
    """The frame once its tiles are drawn for these filter values (JSON, as the page keeps them)."""
    frame = next(f for f in page.frames if "/embed/dashboards/" in f.url)
    await frame.wait_for_function(
        "want => document.body.dataset.state === 'ready' && document.body.dataset.filters === want",
        arg=filters,
        timeout=TIMEOUT_MS,
    )
    return frame


async def number(frame: Any, tile: str) -> str:
    return str(await frame.get_attribute(f"[data-tile={tile}] .tile-number", "data-value"))


async def table(frame: Any, tile: str) -> list[list[str]]:
    rows: list[list[str]] = await frame.eval_on_selector_all(
        f"[data-tile={tile}] tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.dataset.value))",
    )
    return rows


async def want_numbers(
    engine: AsyncEngine, tenant: str, where: str = "true", **params: Any
) -> dict[str, Any]:
    base = f"from enrollments e join courses c on c.id = e.course_id where e.partner_id = :t and {where}"
    [(count, learners)] = await oracle(
        engine, f"select count(*), count(distinct e.learner_id) {base}", t=tenant, **params
    )
    by_subject = await oracle(
        engine,
        "select c.subject, avg((e.status = 'completed')::int)::float8, count(*) "
        f"{base} group by 1 having count(distinct e.learner_id) >= {K}",
        t=tenant,
        **params,
    )
    return {"count": count, "learners": learners, "by_subject": sorted(by_subject)}


async def shown_numbers(frame: Any) -> dict[str, Any]:
    rows = await table(frame, "completion_by_subject")
    return {
        "count": int(await number(frame, "enrollments")),
        "learners": int(await number(frame, "learners")),
        "by_subject": sorted((s, float(rate), int(n)) for s, rate, n in rows),
    }


def same(shown: dict[str, Any], want: dict[str, Any]) -> None:
    assert (shown["count"], shown["learners"]) == (want["count"], want["learners"])
    assert [(s, n) for s, _, n in shown["by_subject"]] == [(s, n) for s, _, n in want["by_subject"]]
    for (_, got, _), (_, rate, _) in zip(shown["by_subject"], want["by_subject"], strict=True):
        assert got == pytest.approx(rate)


async def test_the_framed_dashboard_shows_the_sessions_numbers(
    site: Site, page: Any, engine: AsyncEngine
) -> None:
    await page.goto(site.host_page("uni", await site.session()))
    frame = await ready(page)
    want = await want_numbers(engine, UNI)
    assert want["count"] > 0 and len(want["by_subject"]) > 1
    same(await shown_numbers(frame), want)
    assert await frame.title() == "University partner overview"
    await page.screenshot(path=site.screenshots / "dashboard-desktop.png", full_page=True)

    # A date range re-queries every tile.
    [(first, last)] = await oracle(
        engine,
        "select min(enrolled_at)::date, max(enrolled_at)::date from enrollments where partner_id = :t",
        t=UNI,
    )
    middle = first + (last - first) / 2
    frame_ui = dashboard(page)
    await frame_ui.get_by_label("Enrolled between: from").fill(first.isoformat())
    await frame_ui.get_by_label("Enrolled between: to").fill(middle.isoformat())
    chosen = f'{{"period":["{first.isoformat()}","{middle.isoformat()}"]}}'
    frame = await ready(page, chosen)
    dated = await want_numbers(
        engine, UNI, "(e.enrolled_at at time zone 'UTC')::date between :a and :b", a=first, b=middle
    )
    assert 0 < dated["count"] < want["count"]
    same(await shown_numbers(frame), dated)

    # A subject too (a select filter, its choices the tenant's own).
    await frame.wait_for_selector(
        "select[data-filter=subject] option", state="attached"
    )  # loaded beside the tiles
    subjects = await frame.eval_on_selector_all(
        "select[data-filter=subject] option", "options => options.map(o => o.textContent)"
    )
    [(mine,)] = await oracle(
        engine,
        "select array_agg(distinct subject order by subject) from courses where partner_id = :t",
        t=UNI,
    )
    assert subjects == mine
    await frame_ui.get_by_label("Subject", exact=True).select_option(label=subjects[0])
    both = chosen[:-1] + f',"subject":["{subjects[0]}"]}}'
    frame = await ready(page, both)
    narrowed = await want_numbers(
        engine,
        UNI,
        "(e.enrolled_at at time zone 'UTC')::date between :a and :b and c.subject = :s",
        a=first,
        b=middle,
        s=subjects[0],
    )
    same(await shown_numbers(frame), narrowed)
    await page.screenshot(path=site.screenshots / "dashboard-filtered.png", full_page=True)

    # The CSV of a tile: the same rows the page shows, with the filters applied.
    async with page.expect_download() as download_info:
        await frame_ui.get_by_role("button", name="Download Completion rate by subject as CSV").click()
    download = await download_info.value
    lines = list(csv.reader(io.StringIO(await asyncio.to_thread(Path(await download.path()).read_text))))
    assert lines[0] == ["Course: Subject", "Completion rate", "Enrollments"]
    same({**narrowed, "by_subject": sorted((s, float(r), int(n)) for s, r, n in lines[1:])}, narrowed)

    # The PDF: its numbers, for the tenant and the filters shown.
    async with page.expect_download() as download_info:
        await frame_ui.get_by_role("button", name="Download PDF").click()
    download = await download_info.value
    assert download.suggested_filename == f"{DASHBOARD}.pdf"
    await download.save_as(site.screenshots / "dashboard.pdf")
    text = pdf_text(Path(await download.path()))
    assert "University partner overview" in text and f"Tenant: {UNI}" in text
    assert f"Enrolled between: {first.isoformat()}, {middle.isoformat()}" in text
    assert f"{narrowed['count']:,}" in text and f"{narrowed['learners']:,}" in text
    for subject, _, count in narrowed["by_subject"]:
        assert re.search(rf"{re.escape(subject)}\s.*{count:,}", text), (subject, count)
    assert page.problems == []


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


async def test_another_tenants_session_shows_its_numbers_only(
    site: Site, page: Any, engine: AsyncEngine
) -> None:
    [(other,)] = await oracle(
        engine,
        "select partner_id from enrollments where partner_id <> :t group by 1 order by count(*) desc limit 1",
        t=UNI,
    )
    token = await site.session("host", tenant=other, user="dean@other.example")
    await page.goto(site.host_page("other", token))
    frame = await ready(page)
    want = await want_numbers(engine, other)
    assert want["count"] != (await want_numbers(engine, UNI))["count"]
    same(await shown_numbers(frame), want)
    assert page.problems == []


async def test_on_a_phone(site: Site, browser: Any, engine: AsyncEngine) -> None:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    try:
        page = await context.new_page()
        await page.goto(site.host_page("phone", await site.session()))
        frame = await ready(page)
        assert int(await number(frame, "enrollments")) == (await want_numbers(engine, UNI))["count"]
        wide = await frame.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, "the page scrolls sideways on a phone"
        await page.screenshot(path=site.screenshots / "dashboard-phone.png", full_page=True)
    finally:
        await context.close()


def expired_token(settings: Settings) -> str:
    tokens = EmbedTokens.from_settings(settings.embed, settings.data_dir, clock=lambda: 1_000_000.0)  # 1970
    session = EmbedSession(
        "dean",
        UNI,
        ("university_admin",),
        {},
        (DASHBOARD,),
        frozenset({"enrollments", "courses"}),
        (),
        "token:1",
    )
    return tokens.mint(session, 600).token


async def test_an_expired_session_says_so_and_asks_the_host(
    site: Site, page: Any, settings: Settings, engine: AsyncEngine
) -> None:
    await page.goto(site.host_page("expired", expired_token(settings), fresh=await site.session()))
    frame = next(f for f in page.frames if "/embed/dashboards/" in f.url)
    await frame.wait_for_function("() => document.body.dataset.state === 'expired'", timeout=TIMEOUT_MS)
    banner = frame.locator("#cohort-banner")
    assert "session has expired" in (await banner.inner_text())
    assert await banner.is_visible()
    events = await page.evaluate("window.cohortEvents.map(e => e.type)")
    assert events[:2] == ["cohort:ready", "cohort:session-expired"]
    await page.screenshot(path=site.screenshots / "dashboard-expired.png")
    await page.evaluate("window.sendFresh()")
    frame = await ready(page)
    assert int(await number(frame, "enrollments")) == (await want_numbers(engine, UNI))["count"]
    assert await banner.is_hidden()
    # The 401s of the expired token are the only console errors.
    assert all("401" in problem for problem in page.problems), page.problems


async def test_the_pdf_needs_a_session_that_may_open_the_dashboard(site: Site, settings: Settings) -> None:
    token = await site.session(dashboards=["course_progress"])
    async with httpx.AsyncClient(base_url=site.cohort, timeout=30) as client:
        other = await client.post(f"/embed/dashboards/{DASHBOARD}.pdf", json={}, headers=bearer(token))
        assert other.status_code == 403 and other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        expired = await client.get(
            f"/embed/dashboards/{DASHBOARD}.pdf", headers=bearer(expired_token(settings))
        )
        assert expired.status_code == 401
        assert expired.json()["errors"][0]["extensions"]["code"] == "EMBED_SESSION_EXPIRED"
        mine = bearer(await site.session())
        wrong = await client.post(
            f"/embed/dashboards/{DASHBOARD}.pdf", json={"filters": {"nope": [1]}}, headers=mine
        )
        assert wrong.status_code == 400 and "has no filter 'nope'" in wrong.text
        bad = await client.post(
            f"/embed/dashboards/{DASHBOARD}.pdf", json={"filters": {"period": ["2025-01-01"]}}, headers=mine
        )
        assert bad.status_code == 400 and "two dates" in bad.text
        typed = await client.post(
            f"/embed/dashboards/{DASHBOARD}.pdf", json={"filters": {"course": ["x"]}}, headers=mine
        )
        assert typed.status_code == 200  # the tiles say what is wrong, in the PDF
        assert "could not be loaded" in pdf_text_bytes(typed.content)
        static = await client.get("/embed/static/dashboard.js")
        assert static.status_code == 200 and static.headers["content-type"].startswith("text/javascript")
        assert (await client.get("/embed/static/VERSIONS.md")).status_code == 404


def pdf_text_bytes(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
