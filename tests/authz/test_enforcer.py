"""The indexed enforcer decides exactly as Casbin's own matcher does."""

from __future__ import annotations

import random

import pytest

from authz.enforcer import PolicyEnforcer
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from schema.registry import Registry

ROLES = (
    "platform_admin",
    "university_admin",
    "instructor",
    "enterprise_admin",
    "partner_integration",
    "nobody",
)


def _policy(tenants: list[str]) -> list[tuple[str, ...]]:
    """The default policy, tenant-specific lines, role inheritance and wildcard objects."""
    rules = list(read_policy_file(DEFAULT_POLICY))
    for i, tenant in enumerate(tenants):
        rules += [
            ("p", "role:enterprise_admin", tenant, "feedback", "read", "deny" if i % 2 else "allow"),
            ("p", "role:university_admin", tenant, "learners.*", "mask", "allow"),
            ("p", "role:instructor", tenant, "*", "read", "deny" if i % 3 == 0 else "allow"),
            ("p2", "role:enterprise_admin", tenant, "courses", "partner_id", "tenant"),
            ("p3", "role:enterprise_admin", tenant, str(3 + i)),
        ]
    rules += [
        ("p", "role:auditor", "*", "feedback*", "read", "allow"),
        ("g", "role:auditor", "role:enterprise_admin"),
        ("g", "role:chief_auditor", "role:auditor"),
    ]
    return rules


def test_decisions_row_rules_and_group_sizes_match_casbin(registry: Registry) -> None:
    tenants = [f"tenant-{i}" for i in range(6)]
    enforcer = PolicyEnforcer(_policy(tenants), version=1)
    objects = ["*", "nothing", "learners.*", "feedback_extra"]
    for name, spec in registry.models.items():
        objects += [name, *(f"{name}.{member}" for member in list(spec.dimensions)[:3])]
    objects += ["learners.email", "learners.full_name", "feedback.comment"]
    role_sets = [(role,) for role in (*ROLES, "auditor", "chief_auditor")]
    rng = random.Random(7)
    role_sets += [tuple(rng.sample(ROLES, 2)) for _ in range(4)]
    checked = 0
    for roles in role_sets:
        for tenant in [*tenants, "elsewhere"]:
            for obj in objects:
                for act in ("read", "mask"):
                    assert enforcer.decide(roles, tenant, obj, act) == enforcer.decide_with_casbin(
                        roles, tenant, obj, act
                    ), (roles, tenant, obj, act)
                    checked += 1
    assert checked > 5_000
    assert enforcer.decide(("chief_auditor",), "tenant-1", "feedback", "read") == "deny"  # inherited deny
    assert enforcer.decide(("chief_auditor",), "tenant-0", "feedback", "read") == "allow"
    assert enforcer.min_group_size(("enterprise_admin",), "tenant-4") == 7
    assert enforcer.min_group_size(("enterprise_admin",), "elsewhere") == 5
    rules = enforcer.row_rules(("enterprise_admin",), "tenant-2", "courses")["enterprise_admin"]
    assert [(rule.column, rule.attribute) for rule in rules] == [("*", "*"), ("partner_id", "tenant")]


def test_cost_budgets_per_role_tenant_and_default() -> None:
    rules = [
        *read_policy_file(DEFAULT_POLICY),
        ("p4", "role:enterprise_admin", "acme-corp", "900"),  # a tenant line wins over "*"
        ("p4", "role:enterprise_admin", "*", "300"),
        ("p4", "role:enterprise_admin", "*", "400"),  # several lines: the largest
        ("p4", "role:auditor", "*", "50"),
        ("g", "role:chief_auditor", "role:auditor"),  # inherited
    ]
    enforcer = PolicyEnforcer(rules, version=1)
    assert enforcer.cost_budget(("platform_admin",), "anyone", 10.0) == 50_000_000
    assert enforcer.cost_budget(("partner_integration",), "anyone", 10.0) == 2_000_000
    assert enforcer.cost_budget(("university_admin",), "anyone", 10.0) == 10.0  # no line: the default
    assert enforcer.cost_budget(("university_admin",), "anyone", None) is None  # no budget at all
    assert enforcer.cost_budget(("enterprise_admin",), "acme-corp", 10.0) == 900
    assert enforcer.cost_budget(("enterprise_admin",), "other-corp", 10.0) == 400
    assert enforcer.cost_budget(("chief_auditor",), "other-corp", 10.0) == 50
    # Several roles: the most generous budget (an allowance, unlike the group size).
    assert enforcer.cost_budget(("chief_auditor", "enterprise_admin"), "other-corp", 10.0) == 400
    assert enforcer.cost_budget(("chief_auditor", "university_admin"), "other-corp", None) is None


@pytest.mark.parametrize("bad", ["0", "-5", "lots", "inf", "nan"])
def test_a_cost_budget_must_be_a_positive_number(bad: str) -> None:
    with pytest.raises(ValueError, match=r"p4|could not convert"):
        PolicyEnforcer([("p4", "role:x", "*", bad)], version=1)
