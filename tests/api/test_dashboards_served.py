"""The demo dashboards as served: `meta` lists them, and every tile's document runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.dashboard_documents import dashboard_view
from schema.validator import load_registry
from tests.resolvers.oracle import oracle

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry(ROOT / "schema" / "models", ROOT / "schema" / "dashboards")
TILES = [
    (name, tile)
    for name, dashboard in REGISTRY.dashboards.items()
    for tile in dashboard_view(REGISTRY, dashboard)["tiles"]
]


async def test_meta_lists_the_dashboards(client: httpx.AsyncClient) -> None:
    query = """{ meta { dashboards { name title timezone filters { name type multiple }
                 tiles { name chart model measures dimensions listen { filter member } document } } } }"""
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    dashboards = {d["name"]: d for d in response.json()["data"]["meta"]["dashboards"]}
    assert set(dashboards) == set(REGISTRY.dashboards)
    progress = dashboards["course_progress"]
    assert progress["filters"] == [
        {"name": "course", "type": "select", "multiple": False},
        {"name": "period", "type": "date_range", "multiple": False},
    ]
    funnel = progress["tiles"][0]
    assert funnel["chart"] == "funnel"
    assert funnel["dimensions"] == ["module.position"]
    assert {"filter": "course", "member": "course.id"} in funnel["listen"]
    assert funnel["document"].startswith("query CourseProgressFunnel(")


@pytest.mark.parametrize(("dashboard", "tile"), TILES, ids=[f"{d}.{t['name']}" for d, t in TILES])
async def test_every_tile_runs(client: httpx.AsyncClient, dashboard: str, tile: dict[str, object]) -> None:
    body = {"query": tile["document"], "variables": {"where": tile["where"]}}
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload["errors"]
    assert payload["data"][tile["field"]], f"{dashboard}.{tile['name']} shows nothing on the demo data"


async def test_the_funnel_with_its_course_filter_matches_sql(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    [tile] = [t for d, t in TILES if d == "course_progress" and t["name"] == "funnel"]
    where = {"course": {"id": {"in": [1]}}, "reachedAt": {"inDateRange": ["2020-01-01", "2030-12-31"]}}
    body = {"query": tile["document"], "variables": {"where": where, "timezone": "Europe/London"}}
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    got = [
        (row["module"]["position"], row["learnersReached"], row["learnersCompleted"])
        for row in response.json()["data"]["moduleFunnel"]
    ]
    want = await oracle(
        engine,
        "select m.position, count(distinct e.learner_id),"
        " count(distinct e.learner_id) filter (where e.event_type = 'module_completed')"
        " from progress_events e join course_modules m on m.id = e.module_id"
        " where e.course_id = 1 group by m.position order by m.position",
    )
    assert got == [tuple(row) for row in want]
    assert len(got) > 1
