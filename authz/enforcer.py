"""A typed layer over pycasbin: decisions, row filters and group sizes for sets of roles.

Casbin loads and stores the policy (authz/model.conf) and resolves role inheritance
(`g`). Decisions are not made by `enforce`, which evaluates the matcher on every `p` line:
with per-tenant lines (10,000 tenants x 10 lines) one call reads 80,000 lines and takes
0.4-0.5 s (bench/README.md). The matcher can only match lines of the request's roles (or
roles they inherit) in domain "*" or the request's tenant, so the lines are indexed by
(subject, domain) and a decision reads the few under those keys, applying the matcher's
`keyMatch` and the "deny overrides allow" effect itself. `decide_with_casbin` makes the
same decision through Casbin; tests hold the two to the same answers.

Decisions are memoized per (roles, tenant, object, action); a tenant without lines of its
own shares the memo of the "*" domain. The memo lives as long as this enforcer, which is
rebuilt whenever the policy changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import casbin
from casbin.model import Model
from casbin.util import key_match

from authz.names import ROLE_PREFIX, role_subject

MODEL_PATH = Path(__file__).resolve().parent / "model.conf"
Decision = Literal["allow", "deny", "none"]
Rule = tuple[str, ...]  # (ptype, v0, v1, ...)
ANY = "*"


@dataclass(frozen=True, slots=True)
class RowRule:
    """Rows of a model a role may see: `column` equals the principal's `attribute`."""

    role: str
    column: str  # a member path from the model, "*" (all rows) or "-" (joined only)
    attribute: str  # "tenant", "attrs.<name>", "*", "joined" or "masked"


class PolicyEnforcer:
    def __init__(self, rules: Iterable[Sequence[str]], version: int) -> None:
        model = Model()
        model.load_model_from_text(MODEL_PATH.read_text(encoding="utf-8"))
        self._casbin = casbin.Enforcer(model)
        grouped: dict[str, list[list[str]]] = {}
        for rule in rules:
            parts = [part.strip() for part in rule]
            grouped.setdefault(parts[0], []).append(parts[1:])
        for ptype, values in grouped.items():
            if ptype.startswith("g"):
                self._casbin.add_named_grouping_policies(ptype, values)
            else:
                self._casbin.add_named_policies(ptype, values)
        self.version = version
        self._index()
        self._subjects = lru_cache(maxsize=4_096)(self._role_subjects)
        self._decide = lru_cache(maxsize=65_536)(self._decide_indexed)
        self._row_rules_memo = lru_cache(maxsize=16_384)(self._row_rules)
        self._min_group_size_memo = lru_cache(maxsize=16_384)(self._min_group_size)
        self._cost_budget_memo = lru_cache(maxsize=16_384)(self._cost_budget)

    def _index(self) -> None:
        """The lines Casbin loaded, by (subject, domain), in their order."""
        self._p: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        self._p2: dict[tuple[str, str], list[tuple[int, str, str, str]]] = {}
        self._p3: dict[tuple[str, str], list[int]] = {}
        self._p4: dict[tuple[str, str], list[float]] = {}
        for sub, dom, obj, act, eft in self._casbin.get_named_policy("p"):
            self._p.setdefault((sub, dom), []).append((obj, act, eft))
        for n, (sub, dom, obj, column, attribute) in enumerate(self._casbin.get_named_policy("p2")):
            self._p2.setdefault((sub, dom), []).append((n, obj, column, attribute))
        for sub, dom, size in self._casbin.get_named_policy("p3"):
            self._p3.setdefault((sub, dom), []).append(int(size))
        for sub, dom, cost in self._casbin.get_named_policy("p4"):
            budget = float(cost)
            if not 0 < budget < math.inf:
                raise ValueError(f"a p4 cost budget must be a positive number, got {cost!r}")
            self._p4.setdefault((sub, dom), []).append(budget)
        indexes = (self._p, self._p2, self._p3, self._p4)
        self._tenants = {dom for index in indexes for _, dom in index if dom != ANY}

    def _domain(self, tenant: str) -> str:
        """The memo's tenant: "*" for a tenant no line names (they all decide alike)."""
        return tenant if tenant in self._tenants else ANY

    def _role_subjects(self, role: str) -> tuple[str, ...]:
        """The role's subject and every role it inherits."""
        subject = role_subject(role)
        return (subject, *self._casbin.get_implicit_roles_for_user(subject))

    def _roles(self, roles: tuple[str, ...]) -> list[str]:
        return list(dict.fromkeys(subject for role in roles for subject in self._subjects(role)))

    def decide(self, roles: tuple[str, ...], tenant: str, obj: str, act: str) -> Decision:
        """allow if a role allows and no role denies; deny overrides across roles too."""
        return self._decide(roles, self._domain(tenant), obj, act)

    def _decide_indexed(self, roles: tuple[str, ...], tenant: str, obj: str, act: str) -> Decision:
        allowed = False
        for role in roles:
            effects = {
                eft
                for subject in self._subjects(role)
                for domain in {ANY, tenant}
                for p_obj, p_act, eft in self._p.get((subject, domain), ())
                if p_act == act and key_match(obj, p_obj)
            }
            if "deny" in effects:
                return "deny"
            allowed = allowed or "allow" in effects
        return "allow" if allowed else "none"

    def allowed_objects(self, roles: tuple[str, ...], tenant: str, act: str) -> tuple[str, ...]:
        """The objects (patterns included) that allow lines of the roles name for `act`, in this
        tenant: for `embed`, the roles and tenants a minter may grant (`role:instructor`,
        `tenant:*`). Empty: the roles may not `act` at all."""
        domains = {ANY, self._domain(tenant)}
        found = {
            obj
            for subject in self._roles(roles)
            for domain in domains
            for obj, p_act, eft in self._p.get((subject, domain), ())
            if p_act == act and eft == "allow"
        }
        return tuple(sorted(found))

    def decide_with_casbin(self, roles: tuple[str, ...], tenant: str, obj: str, act: str) -> Decision:
        """The same decision by Casbin's own matcher (reads every line: tests only)."""
        allowed = False
        for role in roles:
            ok, explanation = self._casbin.enforce_ex(role_subject(role), tenant, obj, act)
            if ok:
                allowed = True
            elif explanation:  # a deny rule matched
                return "deny"
        return "allow" if allowed else "none"

    def row_rules(self, roles: tuple[str, ...], tenant: str, model: str) -> dict[str, tuple[RowRule, ...]]:
        """Per role (of those given): its row rules for `model` in this tenant."""
        return self._row_rules_memo(roles, self._domain(tenant), model)

    def min_group_size(self, roles: tuple[str, ...], tenant: str) -> int:
        """The largest minimum group size of the roles (the strictest wins); 1 if none."""
        return self._min_group_size_memo(roles, self._domain(tenant))

    def _row_rules(self, roles: tuple[str, ...], tenant: str, model: str) -> dict[str, tuple[RowRule, ...]]:
        found: dict[str, tuple[RowRule, ...]] = {}
        for role in roles:
            rules: list[RowRule] = []
            for subject in self._subjects(role):
                lines = sorted({*self._p2.get((subject, ANY), ()), *self._p2.get((subject, tenant), ())})
                rules += [
                    RowRule(subject.removeprefix(ROLE_PREFIX), column, attribute)
                    for _, obj, column, attribute in lines
                    if obj in (ANY, model)
                ]
            found[role] = tuple(rules)
        return found

    def _min_group_size(self, roles: tuple[str, ...], tenant: str) -> int:
        sizes = [1]
        for subject in self._roles(roles):
            for domain in {ANY, tenant}:
                sizes += self._p3.get((subject, domain), ())
        return max(sizes)

    def cost_budget(self, roles: tuple[str, ...], tenant: str, default: float | None) -> float | None:
        """The largest cost budget of the roles (a budget is an allowance: the most generous
        role wins); None means no budget. A role's budget is its `p4` line for this tenant,
        else its line for "*" (the largest where there are several, inherited roles
        included), else `default`."""
        return self._cost_budget_memo(roles, self._domain(tenant), default)

    def _cost_budget(self, roles: tuple[str, ...], tenant: str, default: float | None) -> float | None:
        budgets: list[float | None] = []
        for role in roles:
            subjects = self._subjects(role)
            for domain in dict.fromkeys((tenant, ANY)):
                lines = [budget for subject in subjects for budget in self._p4.get((subject, domain), ())]
                if lines:
                    budgets.append(max(lines))
                    break
            else:
                budgets.append(default)
        if not budgets or any(budget is None for budget in budgets):
            return None
        return max(budget for budget in budgets if budget is not None)
