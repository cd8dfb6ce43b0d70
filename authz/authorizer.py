"""Authorization of a semantic query, before any SQL exists.

For a principal and a SemanticQuery it decides, with the policy:
- every model the query touches (the root and every joined model) must be readable;
- no member it selects, filters or sorts on may be denied; masked dimensions come back
  as a constant and cannot be filtered on;
- every model in the join tree gets its row filters (tenant, instructor, ...), ANDed
  with whatever the client asked;
- groups with fewer distinct learners than the roles' minimum are suppressed;
- an embed session queries only its dashboards' models, and its locked filters are added
  like row filters: on the model they name, reached from the query's model through its
  joins (and on every node of that model in the join tree). A locked filter that cannot
  reach the queried model refuses the query: it is never left out.
The result is an EffectiveQuery; a refusal is AccessDenied, and is audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from authz.audit import Audit
from authz.enforcer import PolicyEnforcer, RowRule
from authz.errors import AccessDenied, PolicyUnavailable
from authz.principal import LockedFilter, Principal
from schema.paths import PathError, Step, walk
from schema.query import And, Condition, EffectiveQuery, Filter, Or, SemanticQuery
from schema.registry import Registry
from schema.spec import ModelSpec


@dataclass(frozen=True, slots=True)
class _Use:
    steps: list[Step]
    name: str
    selected: bool  # selected (may be masked) rather than filtered or sorted on


def _conditions(items: tuple[Filter, ...]) -> Iterator[Condition]:
    for item in items:
        if isinstance(item, Condition):
            yield item
        else:
            yield from _conditions(item.items)


def _members(query: SemanticQuery) -> Iterator[tuple[str, bool]]:
    yield from ((member, True) for member in query.measures)
    yield from ((ref.member, True) for ref in query.dimensions)
    yield from ((condition.member, False) for condition in _conditions(query.filters))
    yield from ((item.member, False) for item in query.order)


class Authorizer:
    def __init__(
        self,
        enforcer: Callable[[], PolicyEnforcer],
        audit: Audit,
        default_cost_budget: float | None = None,
    ) -> None:
        self.enforcer = enforcer  # the current policy; it changes when the policy does
        self.audit = audit
        self.default_cost_budget = default_cost_budget  # for roles without a p4 rule; None: none

    def cost_budget(self, principal: Principal) -> float | None:
        """The most a query of this principal may cost (PostgreSQL's estimate); None: no limit."""
        return self.enforcer().cost_budget(principal.roles, principal.tenant, self.default_cost_budget)

    @property
    def policy_version(self) -> int:
        return self.enforcer().version

    def authorize(self, registry: Registry, principal: Principal, query: SemanticQuery) -> EffectiveQuery:
        if query.model not in registry:
            return EffectiveQuery(query)  # planning reports the unknown model
        enforcer = self.enforcer()
        if enforcer.version < 0:
            raise PolicyUnavailable("the access policy is not loaded")
        try:
            scope = principal.embed
            if scope is not None and query.model not in scope.models:
                raise AccessDenied(
                    f"this embed session may not query {query.model}; its dashboards query "
                    f"{', '.join(sorted(scope.models))}",
                    (query.model,),
                    "embed",
                )
            return _Decision(registry, enforcer, principal, query).effective()
        except AccessDenied as denied:
            self.audit.denied(principal, denied.models, str(denied), denied.kind)
            raise


class _Decision:
    def __init__(
        self, registry: Registry, enforcer: PolicyEnforcer, principal: Principal, query: SemanticQuery
    ):
        self.registry = registry
        self.enforcer = enforcer
        self.principal = principal
        self.query = query
        self.root = registry.model(query.model)
        self.uses = self._uses()
        self.nodes: dict[tuple[str, ...], ModelSpec] = {(): self.root}
        for use in self.uses:
            self.nodes.update({step.joins: step.model for step in use.steps})
        # Before any decision: the models locked filters reach are read, and scoped, too.
        self.locked = self._locked(principal.embed.locked if principal.embed is not None else ())

    def _uses(self) -> list[_Use]:
        uses = []
        members = list(_members(self.query))
        members += [(segment, False) for segment in self.query.segments]
        for member, selected in members:
            try:
                steps, name = walk(self.registry, self.root, member)
            except PathError:
                continue  # the planner rejects it with the same message
            uses.append(_Use(steps, name, selected))
        return uses

    def _deny(self, message: str, kind: str) -> AccessDenied:
        return AccessDenied(message, tuple(sorted({model.model for model in self.nodes.values()})), kind)

    def _decide(self, obj: str, act: str) -> str:
        return self.enforcer.decide(self.principal.roles, self.principal.tenant, obj, act)

    def effective(self) -> EffectiveQuery:
        for model in {spec.model for spec in self.nodes.values()}:
            if self._decide(model, "read") != "allow":
                raise self._deny(f"you may not read {model}", "model")
        masked = self._masked()
        self.row_masks: dict[tuple[str, ...], Filter] = {}
        filters = self._row_filters()
        filters += self.locked
        filters += self._suppression()
        self._refuse_raw_reads_of_masked_rows()
        masks = tuple((".".join(joins), scope) for joins, scope in sorted(self.row_masks.items()))
        return EffectiveQuery(self.query, tuple(filters), frozenset(masked), masks)

    def _locked(self, locked: tuple[LockedFilter, ...]) -> list[Filter]:
        conditions: list[Filter] = []
        for lock in locked:
            steps = locked_steps(self.registry, self.root, lock)
            if steps is None:
                raise self._deny(
                    f"this embed session's locked filter on {lock.model}.{lock.member} cannot "
                    f"apply to {self.root.model}",
                    "embed",
                )
            self.nodes.update({step.joins: step.model for step in steps})
            paths = {joins for joins, model in self.nodes.items() if model.model == lock.model}
            for joins in sorted(paths):
                conditions.append(Condition(".".join((*joins, lock.member)), lock.op, lock.values))
        return conditions

    def _refuse_raw_reads_of_masked_rows(self) -> None:
        """Segments and measures other than counts would read a row-masked model's values
        on every row, the other tenants' too."""
        for use in self.uses:
            node = use.steps[-1]
            if node.joins not in self.row_masks:
                continue
            measure = node.model.measures.get(use.name)
            if use.name in node.model.segments or (measure is not None and measure.type != "count"):
                member = ".".join((*node.joins, use.name))
                raise self._deny(f"{member} reads a model masked outside your own rows", "masked")

    def _masked(self) -> set[str]:
        masked: set[str] = set()
        for use in self.uses:
            model = use.steps[-1].model.model
            obj = f"{model}.{use.name}"
            if self._decide(obj, "read") == "deny":
                raise self._deny(f"you may not read {obj}", "member")
            if self._decide(obj, "mask") == "allow":
                if not use.selected:
                    raise self._deny(f"{obj} is masked for you: it cannot be filtered or sorted on", "masked")
                masked.add(".".join((*use.steps[-1].joins, use.name)))
        return masked

    def _row_filters(self) -> list[Filter]:
        filters: list[Filter] = []
        filtered: set[tuple[str, ...]] = set()
        for joins in sorted(self.nodes, key=len):  # parents first
            model = self.nodes[joins]
            row_filter = self._node_filter(joins, model, filtered)
            if row_filter is not None:
                filters.append(row_filter)
                filtered.add(joins)
        return filters

    def _node_filter(
        self, joins: tuple[str, ...], model: ModelSpec, filtered: set[tuple[str, ...]]
    ) -> Filter | None:
        readers = tuple(role for role in self.principal.roles if self._role_reads(role, model.model))
        per_role = self.enforcer.row_rules(readers, self.principal.tenant, model.model)
        grants: list[Filter] = []
        if any(joins[:depth] in self.row_masks for depth in range(1, len(joins))):
            raise self._deny(
                f"{'.'.join(joins)} is reached through a masked model: it cannot be read", "rows"
            )
        # A role that masks this model is decided first: masking wins over `-, joined`.
        readers = tuple(
            sorted(readers, key=lambda role: not any(r.attribute == "masked" for r in per_role.get(role, ())))
        )
        for role in readers:
            rules = per_role.get(role, ())
            if any(rule.column == "*" for rule in rules):
                return None  # this role sees every row of the model
            through_parent = any(rule.column == "-" for rule in rules)
            if through_parent and joins and any(joins[:depth] in filtered for depth in range(len(joins))):
                if any(rule.attribute == "masked" for rule in rules):
                    # Rows kept (they are the filtered parent's), members masked outside the
                    # role's own scope: another tenant's organization is not this role's data.
                    scope = [self._condition(joins, model, r) for r in rules if r.column not in ("*", "-")]
                    if not scope or any(condition is None for condition in scope):
                        raise self._deny(f"the policy masks {model.model} without a scope to show", "rows")
                    self.row_masks[joins] = And(tuple(c for c in scope if c is not None))
                return None  # reached through a filtered model: its rows are already scoped
            conditions = [
                self._condition(joins, model, rule) for rule in rules if rule.column not in ("*", "-")
            ]
            if conditions and all(condition is not None for condition in conditions):
                grants.append(And(tuple(c for c in conditions if c is not None)))
        if not grants:
            where = "as the queried model" if not joins else "here"
            raise self._deny(f"you have no rows of {model.model} {where}", "rows")
        return grants[0] if len(grants) == 1 else Or(tuple(grants))

    def _role_reads(self, role: str, model: str) -> bool:
        return self.enforcer.decide((role,), self.principal.tenant, model, "read") == "allow"

    def _condition(self, joins: tuple[str, ...], model: ModelSpec, rule: RowRule) -> Condition | None:
        """`column = <principal's attribute>` on this node, or None if the principal
        has no such attribute (the role then grants nothing here). The value takes the
        column's type: a tenant `3` against an integer column is the number 3; a text
        column gets the value as text, case kept."""
        if rule.attribute == "tenant":
            found: str | int | None = self.principal.tenant
        elif rule.attribute.startswith("attrs."):
            found = self.principal.attributes.get(rule.attribute.removeprefix("attrs."))
        else:
            return None
        if found is None:
            return None
        steps, name = walk(self.registry, model, rule.column)
        dimension = steps[-1].model.dimensions.get(name)
        where = f"{model.model}.{rule.column}"
        if dimension is None:
            raise self._deny(f"the policy's row filter {where} is not a dimension", "rows")
        value = _typed(found, dimension.type)
        if value is None:
            raise self._deny(
                f"the policy's row filter {where} is a {dimension.type} column; "
                f"the principal's {rule.attribute} ({found!r}) is not one",
                "rows",
            )
        return Condition(".".join((*joins, rule.column)), "equals", (value,))

    def _suppression(self) -> list[Filter]:
        size = self.enforcer.min_group_size(self.principal.roles, self.principal.tenant)
        if size <= 1:
            return []
        return [
            Condition(".".join((*joins, model.learner_count)), "gte", (size,))
            for joins, model in self.nodes.items()
            if model.learner_count is not None
        ]


def locked_steps(registry: Registry, root: ModelSpec, lock: LockedFilter) -> list[Step] | None:
    """The models from `root` to the one a locked filter names, through the shortest chain
    of joins (the root alone when it is that model); None when there is no such chain."""
    if root.model == lock.model:
        return [Step((), root)]
    try:
        steps, _ = walk(registry, root, f"{lock.model}.{lock.member}")
    except PathError:
        return None
    return steps if steps[-1].model.model == lock.model else None


_INTEGER = re.compile(r"-?[0-9]{1,19}")


def _typed(value: str | int, column_type: str) -> str | int | None:
    """The principal's value as the column's type, or None if it cannot be one."""
    if column_type == "number":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value) and str(int(value)) == value:
            return int(value)  # canonical only: "03" is not tenant 3
        return None
    if column_type == "string":
        return str(value)
    return None
