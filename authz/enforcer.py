"""A typed layer over pycasbin: decisions, row filters and group sizes for sets of roles.

pycasbin scans the policy on every call (~0.1 ms with the demo rules, far more with
per-tenant rules), so decisions are memoized per (roles, tenant, object, action); the
memo lives as long as this enforcer, which is rebuilt whenever the policy changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import casbin
from casbin.model import Model

from authz.names import ROLE_PREFIX, role_subject

MODEL_PATH = Path(__file__).resolve().parent / "model.conf"
Decision = Literal["allow", "deny", "none"]
Rule = tuple[str, ...]  # (ptype, v0, v1, ...)


@dataclass(frozen=True, slots=True)
class RowRule:
    """Rows of a model a role may see: `column` equals the principal's `attribute`."""

    role: str
    column: str  # a member path from the model, "*" (all rows) or "-" (joined only)
    attribute: str  # "tenant", "attrs.<name>", "*" or "joined"


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
        self.decide = lru_cache(maxsize=65_536)(self._decide)
        self.row_rules = lru_cache(maxsize=16_384)(self._row_rules)
        self.min_group_size = lru_cache(maxsize=16_384)(self._min_group_size)

    def _roles(self, roles: tuple[str, ...]) -> list[str]:
        """The roles' subjects plus every role they inherit."""
        found: dict[str, None] = {}
        for role in roles:
            subject = role_subject(role)
            found[subject] = None
            for inherited in self._casbin.get_implicit_roles_for_user(subject):
                found[inherited] = None
        return list(found)

    def _decide(self, roles: tuple[str, ...], tenant: str, obj: str, act: str) -> Decision:
        """allow if a role allows and no role denies; deny overrides across roles too."""
        allowed = False
        for role in roles:
            ok, explanation = self._casbin.enforce_ex(role_subject(role), tenant, obj, act)
            if ok:
                allowed = True
            elif explanation:  # a deny rule matched
                return "deny"
        return "allow" if allowed else "none"

    def _row_rules(self, roles: tuple[str, ...], tenant: str, model: str) -> dict[str, tuple[RowRule, ...]]:
        """Per role (of those given): its row rules for `model` in this tenant."""
        found: dict[str, tuple[RowRule, ...]] = {}
        for role in roles:
            rules = []
            for subject in self._roles((role,)):
                for _, domain, obj, column, attribute in self._casbin.get_filtered_named_policy(
                    "p2", 0, subject
                ):
                    if domain in ("*", tenant) and obj in ("*", model):
                        rules.append(RowRule(subject.removeprefix(ROLE_PREFIX), column, attribute))
            found[role] = tuple(rules)
        return found

    def _min_group_size(self, roles: tuple[str, ...], tenant: str) -> int:
        """The largest minimum group size of the roles (the strictest wins); 1 if none."""
        sizes = [1]
        for subject in self._roles(roles):
            for _, domain, size in self._casbin.get_filtered_named_policy("p3", 0, subject):
                if domain in ("*", tenant):
                    sizes.append(int(size))
        return max(sizes)
