"""Every GraphQL example of docs/querying.md runs on the demo data without errors, and the
funnel example gives rows to the demo's university admin (the course is theirs)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.resolvers.oracle import oracle
from tests.tokens import Mint

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "querying.md"
VARIABLES = {"from": "2025-01-01", "to": "2025-06-30"}


def examples() -> list[str]:
    """The documents of the ```graphql blocks: one per paragraph (comments stripped)."""
    found = []
    for block in re.findall(r"```graphql\n(.*?)```", DOC.read_text(), re.DOTALL):
        for paragraph in re.split(r"\n\s*\n", block):
            document = "\n".join(line for line in paragraph.splitlines() if not line.lstrip().startswith("#"))
            if document.strip():
                found.append(document)
    return found


def test_the_doc_has_examples() -> None:
    assert len(examples()) >= 6


def _name(document: str) -> str:
    return re.sub(r"\W+", "-", document.strip())[:40]


@pytest.mark.parametrize("document", examples(), ids=_name)
async def test_each_example_runs(client: httpx.AsyncClient, document: str) -> None:
    body = {"query": document, "variables": VARIABLES if "$from" in document else None}
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload["errors"]
    assert any(payload["data"].values()), "the example returns nothing on the demo data"


async def test_the_funnel_example_is_the_demo_admins_own(
    client: httpx.AsyncClient, engine: AsyncEngine, mint: Mint
) -> None:
    funnel = next(document for document in examples() if "moduleFunnel" in document)
    [(partner,)] = await oracle(engine, "select partner_id from courses where id = 1")
    token = mint(tenant=partner, roles=["university_admin"])
    response = await client.post(
        "/graphql", json={"query": funnel}, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["moduleFunnel"], "course 1's funnel is empty for its own university"
