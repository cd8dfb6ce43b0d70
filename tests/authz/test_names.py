"""Every name checked with a regular expression is checked to its very end: Python's `$`
also matches before a final newline, so `re.match(r"^[a-z]+$", "acme\n")` succeeds."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import jwt
import pytest

from api.auth.claims import check_attributes, check_roles, check_subject, check_tenant
from authz.names import InvalidNameError, check_name
from authz.principal import Principal
from schema.snippets import is_column
from schema.spec import is_name
from tests.tokens import TEST_JWT_SECRET

ENDINGS = ["\n", "\r\n", "\n\n", " ", "\t"]


@pytest.mark.parametrize("ending", ENDINGS)
def test_tenant_and_role_names_with_a_trailing_newline_are_refused(ending: str) -> None:
    assert check_name("acme-corp", "tenant") == "acme-corp"
    with pytest.raises(InvalidNameError):
        check_name("acme-corp" + ending, "tenant")
    with pytest.raises(InvalidNameError):
        Principal(subject="user:x", tenant="acme" + ending, roles=("instructor",))
    with pytest.raises(InvalidNameError):
        Principal(subject="user:x", tenant="acme", roles=("instructor" + ending,))
    with pytest.raises(InvalidNameError):
        check_tenant("acme" + ending)
    with pytest.raises(InvalidNameError):
        check_roles(["instructor" + ending])


@pytest.mark.parametrize("ending", ENDINGS)
def test_subjects_attribute_keys_and_model_names_end_where_they_seem_to(ending: str) -> None:
    assert check_subject("dean@northbridge.example") == "dean@northbridge.example"
    with pytest.raises(ValueError):
        check_subject("dean@northbridge.example" + ending)
    assert check_attributes({"instructor_id": 3}) == {"instructor_id": 3}
    with pytest.raises(ValueError):
        check_attributes({"instructor_id" + ending: 3})
    assert is_name("enrollments") and not is_name("enrollments" + ending)
    assert is_column("learner_id") and not is_column("learner_id" + ending)


def _claims(**overrides: Any) -> dict[str, Any]:
    return {
        "iss": "cohort",
        "aud": "cohort",
        "sub": "tester",
        "tenant": "northbridge-university",
        "roles": ["university_admin"],
        "exp": int(time.time()) + 600,
        **overrides,
    }


@pytest.mark.integration
@pytest.mark.parametrize(
    "claims",
    [
        {"tenant": "northbridge-university\n"},
        {"roles": ["university_admin\n"]},
        {"sub": "tester\n"},
        {"attrs": {"instructor_id\n": 3}},
    ],
    ids=["tenant", "role", "sub", "attribute"],
)
async def test_tokens_with_a_trailing_newline_are_401(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    query = {"query": "{ enrollments { count } }"}
    good = jwt.encode(_claims(), TEST_JWT_SECRET, algorithm="HS256")
    response = await client.post("/graphql", json=query, headers={"authorization": f"Bearer {good}"})
    assert response.status_code == 200, response.text
    bad = jwt.encode(_claims(**claims), TEST_JWT_SECRET, algorithm="HS256")
    response = await client.post("/graphql", json=query, headers={"authorization": f"Bearer {bad}"})
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("model", ["*", "enroll*", "feedback\n", "[a-z]*"])
def test_cache_flush_takes_model_names_only(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A glob would flush other models' results (the name becomes part of a SCAN pattern)."""
    from typer.testing import CliRunner

    from api.cli import app as cli

    monkeypatch.setenv("REDIS_URL", os.environ.get("COHORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    result = CliRunner().invoke(cli, ["cache", "flush", "--model", model])
    assert result.exit_code == 2, result.output
    assert "not a model name" in result.output
