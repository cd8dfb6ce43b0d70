"""Embed sessions in access decisions: only their dashboards' models, and locked filters
added like row filters wherever the locked model is reached; who may mint what."""

from __future__ import annotations

import logging

import orjson
import pytest

from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.errors import AccessDenied
from authz.policy_check import check_policy
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from authz.principal import EmbedScope, LockedFilter, Principal
from schema.query import And, Condition, DimensionRef, EffectiveQuery, Or, SemanticQuery
from schema.registry import Registry

UNI = "northbridge-university"
COURSES = LockedFilter("courses", "id", "in", (3, 7))


@pytest.fixture(scope="module")
def enforcer() -> PolicyEnforcer:
    return PolicyEnforcer(read_policy_file(DEFAULT_POLICY), version=1)


def session(
    *locked: LockedFilter, models: tuple[str, ...] = ("enrollments", "courses", "skills")
) -> Principal:
    scope = EmbedScope("s1", ("university_overview",), frozenset(models), locked, "token:9")
    return Principal("embed:dean", UNI, ("platform_admin",), kind="embed", embed=scope)


def authorize(
    registry: Registry, enforcer: PolicyEnforcer, principal: Principal, query: SemanticQuery
) -> EffectiveQuery:
    return Authorizer(lambda: enforcer, Audit()).authorize(registry, principal, query)


def test_a_locked_filter_on_the_queried_model(registry: Registry, enforcer: PolicyEnforcer) -> None:
    effective = authorize(registry, enforcer, session(COURSES), SemanticQuery("courses", ("count",)))
    assert effective.mandatory_filters == (Condition("id", "in", (3, 7)),)


def test_a_locked_filter_reaches_its_model_through_joins(
    registry: Registry, enforcer: PolicyEnforcer
) -> None:
    query = SemanticQuery("enrollments", ("count",), (DimensionRef("status"),))
    effective = authorize(registry, enforcer, session(COURSES), query)
    assert effective.mandatory_filters == (Condition("course.id", "in", (3, 7)),)


def test_every_node_of_the_locked_model_is_filtered(registry: Registry, enforcer: PolicyEnforcer) -> None:
    # feedback reaches courses directly and through its enrollment
    query = SemanticQuery("feedback", ("responses",), (DimensionRef("enrollment.course.title"),))
    effective = authorize(registry, enforcer, session(COURSES, models=("feedback",)), query)
    assert set(effective.mandatory_filters) == {
        Condition("course.id", "in", (3, 7)),
        Condition("enrollment.course.id", "in", (3, 7)),
    }


def test_a_client_or_cannot_widen_a_locked_filter(registry: Registry, enforcer: PolicyEnforcer) -> None:
    wide = Or((Condition("course.id", "equals", (1,)), Condition("course.id", "notEquals", (1,))))
    query = SemanticQuery("enrollments", ("count",), filters=(wide,))
    effective = authorize(registry, enforcer, session(COURSES), query)
    assert effective.query.filters == (wide,)  # the client's, ANDed with:
    assert effective.mandatory_filters == (Condition("course.id", "in", (3, 7)),)


def test_locked_filters_join_the_row_filters(registry: Registry, enforcer: PolicyEnforcer) -> None:
    scope = EmbedScope("s1", ("course_progress",), frozenset({"enrollments"}), (COURSES,), "token:9")
    admin = Principal("embed:dean", UNI, ("university_admin",), kind="embed", embed=scope)
    effective = authorize(registry, enforcer, admin, SemanticQuery("enrollments", ("count",)))
    assert set(effective.mandatory_filters) == {
        And((Condition("partner_id", "equals", (UNI,)),)),
        And((Condition("course.partner_id", "equals", (UNI,)),)),  # the node the lock added is scoped
        Condition("course.id", "in", (3, 7)),
        Condition("learners", "gte", (5,)),
    }


def test_a_locked_filter_that_cannot_apply_refuses(
    registry: Registry, enforcer: PolicyEnforcer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "cohort.audit"), pytest.raises(AccessDenied) as denied:
        authorize(registry, enforcer, session(COURSES), SemanticQuery("skills", ("count",)))
    assert str(denied.value) == "this embed session's locked filter on courses.id cannot apply to skills"
    assert denied.value.kind == "embed"
    [record] = [orjson.loads(r.getMessage()) for r in caplog.records]
    assert record["session"] == "s1" and record["minted_by"] == "token:9" and record["kind"] == "embed"


def test_only_the_dashboards_models(registry: Registry, enforcer: PolicyEnforcer) -> None:
    with pytest.raises(AccessDenied) as denied:
        authorize(registry, enforcer, session(), SemanticQuery("learners", ("count",)))
    assert str(denied.value) == (
        "this embed session may not query learners; its dashboards query courses, enrollments, skills"
    )


def test_embed_grants_come_from_the_policy(enforcer: PolicyEnforcer) -> None:
    assert enforcer.allowed_objects(("partner_integration",), UNI, "embed") == (
        "role:instructor",
        "role:university_admin",
    )
    assert "tenant:*" in enforcer.allowed_objects(("embed_host",), UNI, "embed")
    assert enforcer.allowed_objects(("university_admin",), UNI, "embed") == ()
    assert enforcer.decide(("embed_host",), UNI, "tenant:acme-corp", "embed") == "allow"
    assert enforcer.decide(("partner_integration",), UNI, "tenant:acme-corp", "embed") == "none"
    assert enforcer.decide(("partner_integration",), UNI, "role:platform_admin", "embed") == "none"


def test_policy_check_knows_embed_rules(registry: Registry) -> None:
    rules = [
        ("p", "role:host", "*", "role:instructor", "embed", "allow"),
        ("p", "role:host", "*", "tenant:*", "embed", "allow"),
        ("p", "role:host", "*", "courses", "embed", "allow"),
        ("p", "role:host", "*", "role:bad name", "embed", "allow"),
    ]
    issues = [issue.reason for issue in check_policy(rules, registry)]
    assert issues[0] == "an embed rule's object is role:<name> or tenant:<name> (* for any)"
    assert issues[1].startswith("invalid role name 'bad name'")
    assert len(issues) == 2
