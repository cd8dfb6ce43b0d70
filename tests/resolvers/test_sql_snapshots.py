"""Golden SQL: each representative query's SQL and parameters, reviewed in the diff.

Regenerate with `pytest tests/resolvers/test_sql_snapshots.py --update-snapshots`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from resolvers.compiler import compile_plan
from resolvers.planner import plan
from schema.registry import Registry
from tests.resolvers.queries import SNAPSHOT_QUERIES

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "snapshots"


def render(registry: Registry, name: str) -> str:
    compiled = compile_plan(plan(registry, SNAPSHOT_QUERIES[name]))
    parameters = "\n".join(f"-- ${i}: {value!r}" for i, value in enumerate(compiled.params, start=1))
    return f"{compiled.sql.strip()}\n\n-- columns: {', '.join(compiled.columns)}\n{parameters}\n"


@pytest.mark.parametrize("name", sorted(SNAPSHOT_QUERIES))
def test_sql_matches_snapshot(registry: Registry, name: str, request: pytest.FixtureRequest) -> None:
    path = SNAPSHOTS / f"{name}.sql"
    actual = render(registry, name)
    if request.config.getoption("--update-snapshots") or not path.exists():
        path.write_text(actual, encoding="utf-8")
        if not request.config.getoption("--update-snapshots"):
            pytest.fail(f"wrote a new snapshot {path.name}; review and commit it")
    assert actual == path.read_text(encoding="utf-8")


def test_every_client_value_is_a_parameter(registry: Registry) -> None:
    for name, query in SNAPSHOT_QUERIES.items():
        compiled = compile_plan(plan(registry, query))
        for value in compiled.params:
            if isinstance(value, str):
                assert f"'{value}'" not in compiled.sql, (name, value)
                assert f"'%{value}%'" not in compiled.sql, (name, value)
