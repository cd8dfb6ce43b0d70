"""`cohort policies check`: a policy is checked against the models, every problem at once."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from api.cli import app
from authz.policy_check import check_policy
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from schema.registry import Registry

BROKEN = """\
p, role:analyst, *, enrollments, read, allow
p2, role:analyst, *, enrollments, partner_id, tenant
p, role:analyst, *, courses, read, allow
p, role:analyst, *, enrolments, read, allow
p, role:analyst, *, learners.emial, mask, allow
p2, role:analyst, *, enrollments, course.nothing, tenant
p2, role:analyst, *, enrollments, status, attrs.
p, analyst, *, enrollments, read, allow
p, role:analyst, *, enrollments, write, allow
p3, role:analyst, *, zero
p5, role:analyst, *, 1
p2, role:analyst, *, enrollments, partner_id
"""


def test_the_demo_policy_is_valid(registry: Registry) -> None:
    assert check_policy(read_policy_file(DEFAULT_POLICY), registry) == []


def test_every_problem_is_reported_at_once(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "policy.csv"
    path.write_text(BROKEN)
    issues = check_policy(read_policy_file(path), registry)
    found = {(issue.line, issue.reason.split(";")[0].split(":")[0]) for issue in issues}
    expected = {
        (0, "may read courses but has no row rule (p2) for it, so every query is refused"),
        (4, "unknown model 'enrolments'"),
        (5, "learners has no dimension or measure 'emial'"),
        (6, "'course.nothing'"),
        (7, "unknown attribute 'attrs.'"),
        (8, "the subject 'analyst' must be a role"),
        (9, "unknown action 'write'"),
        (10, "the minimum group size must be a whole number of 1 or more"),
        (11, "unknown rule type 'p5'"),
        (12, "p2 rules have 5 fields, this one has 4"),
    }
    assert found == expected, sorted(found ^ expected)


def test_the_command_checks_a_file_and_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "policy.csv"
    path.write_text(BROKEN)
    result = CliRunner().invoke(app, ["policies", "check", "--file", str(path), "--format", "json"])
    assert result.exit_code == 1
    assert len(orjson.loads(result.stdout)) == 10
    good = CliRunner().invoke(app, ["policies", "check", "--file", str(DEFAULT_POLICY)])
    assert good.exit_code == 0, good.stdout


@pytest.mark.parametrize("tenant", ["acme/corp", "*x", "a b"])
def test_tenant_domains_are_checked_as_names(registry: Registry, tenant: str) -> None:
    rules = [("p", "role:analyst", tenant, "enrollments", "read", "allow")]
    assert any("tenant" in issue.reason for issue in check_policy(rules, registry))


def test_ingest_rules(registry: Registry) -> None:
    from authz.enforcer import PolicyEnforcer

    rules = [
        ("p", "role:source", "*", "events/api_token", "ingest", "allow"),
        ("p", "role:source", "*", "events/jwt", "read", "allow"),
        ("p", "role:source", "*", "enrollments", "ingest", "allow"),
    ]
    issues = check_policy(rules, registry)
    assert [issue.line for issue in issues] == [2, 3]
    assert all("ingest rule" in issue.reason for issue in issues)
    enforcer = PolicyEnforcer([*rules[:1], ("p", "role:both", "*", "events/*", "ingest", "allow")], version=1)
    assert enforcer.decide(("source",), "t", "events/api_token", "ingest") == "allow"
    assert enforcer.decide(("source",), "t", "events/jwt", "ingest") == "none"
    assert enforcer.decide(("both",), "t", "events/jwt", "ingest") == "allow"
    assert enforcer.decide(("source",), "t", "events/api_token", "read") == "none"
