"""Authorization cost per query: Authorizer.authorize with a small and a 100,000-line policy.

    .venv/bin/python -m bench.authz_cost [--calls 3000] [--cold-big 9] [--mix-big 6]

No database: the policy is built in memory, as `PolicyStore.load` would hand it over.
Two policies:
- the default per-role policy (`authz/policies/default.csv`);
- the same plus 100,000 per-tenant lines: 10,000 tenants (half universities, half
  enterprises) x 10 lines each (8 `p` lines re-granting the tenant's models or denying a
  member, one `p2` row rule, one `p3` group size), i.e. what writing the policy per tenant
  would look like.
The workload is a tenant's dashboard: enrollments by course.subject and month (count,
learners, completion_rate) and feedback by course.subject and month, by the tenant's admin,
plus, for universities, an instructor's query selecting a masked member (learner.email).

Scenarios, each on a fresh enforcer: cold (the first query of a tenant never seen), warm
(the same principals repeating their queries), and round-robin mixes over 10,000 and 1,000
tenants after one full pass. Every one is run with the shipped PolicyEnforcer and with
`IndexedEnforcer`, a prototype kept here (see below), after checking that both decide alike.
Prints Markdown tables for bench/README.md.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Annotated

import typer
from casbin.util import key_match

from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import Decision, PolicyEnforcer, RowRule, Rule
from authz.names import ROLE_PREFIX
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from authz.principal import Principal
from schema.query import Condition, DimensionRef, EffectiveQuery, OrderBy, SemanticQuery
from schema.registry import Registry
from schema.validator import load_registry

MODELS_DIR = Path(__file__).resolve().parents[1] / "schema" / "models"
TENANTS = 10_000
ROLES = ("platform_admin", "university_admin", "instructor", "enterprise_admin", "partner_integration")

DASHBOARD = SemanticQuery(
    "enrollments",
    measures=("count", "learners", "completion_rate"),
    dimensions=(DimensionRef("course.subject"), DimensionRef("enrolled_at", "month")),
    filters=(Condition("enrolled_at", "inDateRange", ("2025-01-01", "2025-12-31")),),
    order=(OrderBy("enrolled_at", "month"),),
)
FEEDBACK = SemanticQuery(
    "feedback",
    measures=("responses", "avg_rating", "nps"),
    dimensions=(DimensionRef("course.subject"), DimensionRef("submitted_at", "month")),
    filters=(Condition("rating", "gte", (1,)),),
)
MASKED = SemanticQuery(  # for an instructor: learner.email comes back masked
    "enrollments",
    measures=("count", "avg_progress"),
    dimensions=(DimensionRef("learner.email"), DimensionRef("learner.country"), DimensionRef("status")),
    order=(OrderBy("count", descending=True),),
)

Call = tuple[Principal, SemanticQuery]


def tenant_name(i: int) -> str:
    return f"uni-{i:05d}" if i % 2 == 0 else f"ent-{i:05d}"


def tenant_rules(i: int) -> list[Rule]:
    """Ten lines a per-tenant policy would hold for tenant i."""
    t = tenant_name(i)
    if i % 2 == 0:
        return [
            *(
                ("p", "role:university_admin", t, model, "read", "allow")
                for model in ("courses", "enrollments", "feedback", "progress_events")
            ),
            ("p", "role:instructor", t, "courses", "read", "allow"),
            ("p", "role:instructor", t, "enrollments", "read", "allow"),
            ("p", "role:instructor", t, "learners.email", "mask", "allow"),
            ("p", "role:partner_integration", t, "feedback.comment", "read", "deny"),
            ("p2", "role:university_admin", t, "feedback", "partner_id", "tenant"),
            ("p3", "role:instructor", t, "10"),
        ]
    return [
        *(
            ("p", "role:enterprise_admin", t, model, "read", "allow")
            for model in (
                "learners",
                "enrollments",
                "progress_events",
                "feedback",
                "skill_scores",
                "submissions",
            )
        ),
        ("p", "role:enterprise_admin", t, "instructors", "read", "deny"),
        ("p", "role:enterprise_admin", t, "feedback.comment", "read", "deny"),
        ("p2", "role:enterprise_admin", t, "enrollments", "enterprise_id", "tenant"),
        ("p3", "role:enterprise_admin", t, "5"),
    ]


def small_policy() -> list[Rule]:
    return read_policy_file(DEFAULT_POLICY)


def big_policy(tenants: int = TENANTS) -> list[Rule]:
    return [*small_policy(), *(rule for i in range(tenants) for rule in tenant_rules(i))]


@cache
def calls_for(i: int) -> tuple[Call, ...]:
    """Tenant i's dashboard: its admin's two queries, and an instructor's for universities."""
    t = tenant_name(i)
    if i % 2 == 0:
        admin = Principal(f"user:admin-{t}", t, ("university_admin",))
        teacher = Principal(f"user:teacher-{t}", t, ("instructor",), {"instructor_id": i + 1})
        return ((admin, DASHBOARD), (admin, FEEDBACK), (teacher, MASKED))
    admin = Principal(f"user:admin-{t}", t, ("enterprise_admin",))
    return ((admin, DASHBOARD), (admin, FEEDBACK))


class IndexedEnforcer(PolicyEnforcer):
    """PROTOTYPE, bench only: PolicyEnforcer's decisions from Casbin's own rules, indexed by
    (subject, domain), instead of `enforce_ex` evaluating the matcher on every `p` line.

    The matcher is `g(r.sub, p.sub) && (p.dom == "*" || r.dom == p.dom) &&
    keyMatch(r.obj, p.obj) && r.act == p.act` with "deny overrides allow": the only lines that
    can match are those of the role (or a role it inherits) in domain "*" or the request's
    tenant. So a decision looks at the handful of lines under those keys and applies
    keyMatch and the effect itself; p2 and p3 are indexed the same way (Casbin's
    `get_filtered_named_policy` scans every line of the type). The index is built from what
    Casbin loaded, so it holds exactly the same lines, in the same order.
    """

    def __init__(self, rules: Sequence[Sequence[str]], version: int) -> None:
        super().__init__(rules, version)
        self._p: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        self._p2: dict[tuple[str, str], list[tuple[int, str, str, str]]] = {}
        self._p3: dict[tuple[str, str], list[int]] = {}
        for sub, dom, obj, act, eft in self._casbin.get_named_policy("p"):
            self._p.setdefault((sub, dom), []).append((obj, act, eft))
        for n, (sub, dom, obj, column, attribute) in enumerate(self._casbin.get_named_policy("p2")):
            self._p2.setdefault((sub, dom), []).append((n, obj, column, attribute))
        for sub, dom, size in self._casbin.get_named_policy("p3"):
            self._p3.setdefault((sub, dom), []).append(int(size))
        self._subjects = lru_cache(maxsize=4_096)(self._role_subjects)

    def _role_subjects(self, role: str) -> tuple[str, ...]:
        return tuple(self._roles((role,)))

    def _decide(self, roles: tuple[str, ...], tenant: str, obj: str, act: str) -> Decision:
        allowed = False
        for role in roles:
            effects = {
                eft
                for subject in self._subjects(role)
                for domain in ("*", tenant)
                for p_obj, p_act, eft in self._p.get((subject, domain), ())
                if p_act == act and key_match(obj, p_obj)
            }
            if "deny" in effects:
                return "deny"
            allowed = allowed or "allow" in effects
        return "allow" if allowed else "none"

    def _row_rules(self, roles: tuple[str, ...], tenant: str, model: str) -> dict[str, tuple[RowRule, ...]]:
        found: dict[str, tuple[RowRule, ...]] = {}
        for role in roles:
            rules: list[RowRule] = []
            for subject in self._subjects(role):
                lines = sorted([*self._p2.get((subject, "*"), ()), *self._p2.get((subject, tenant), ())])
                rules.extend(
                    RowRule(subject.removeprefix(ROLE_PREFIX), column, attribute)
                    for _, obj, column, attribute in lines
                    if obj in ("*", model)
                )
            found[role] = tuple(rules)
        return found

    def _min_group_size(self, roles: tuple[str, ...], tenant: str) -> int:
        sizes = [1]
        for subject in self._roles(roles):
            for domain in ("*", tenant):
                sizes.extend(self._p3.get((subject, domain), ()))
        return max(sizes)


Factory = Callable[[Sequence[Rule], int], PolicyEnforcer]
ENFORCERS: dict[str, Factory] = {"PolicyEnforcer": PolicyEnforcer, "IndexedEnforcer": IndexedEnforcer}


def check_same_decisions(registry: Registry) -> int:
    """Both enforcers agree on every decision, row rule and group size (a policy with the
    per-tenant lines of a few tenants: the index does not depend on how many there are)."""
    rules = big_policy(tenants=6)
    shipped, indexed = PolicyEnforcer(rules, 1), IndexedEnforcer(rules, 1)
    objects = ["*", "nothing", "learners.*"]
    for name, spec in registry.models.items():
        objects += [name, *(f"{name}.{member}" for member in (*spec.dimensions, *spec.measures))]
    role_sets = [(role,) for role in (*ROLES, "nobody")] + [
        ("university_admin", "partner_integration"),
        ("instructor", "university_admin"),
        ("enterprise_admin", "instructor"),
    ]
    tenants = [tenant_name(i) for i in range(6)] + ["elsewhere"]
    checked = 0
    for roles in role_sets:
        for tenant in tenants:
            assert shipped._min_group_size(roles, tenant) == indexed._min_group_size(roles, tenant)
            for model in registry.models:
                assert shipped._row_rules(roles, tenant, model) == indexed._row_rules(roles, tenant, model)
            for obj in objects:
                for act in ("read", "mask"):
                    expected = shipped._decide(roles, tenant, obj, act)
                    got = indexed._decide(roles, tenant, obj, act)
                    assert expected == got, (roles, tenant, obj, act, expected, got)
                    checked += 1
    return checked


@dataclass
class Result:
    samples: list[float]  # µs
    hits: int = 0
    misses: int = 0
    outputs: list[EffectiveQuery] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        """The 99th percentile; the maximum when there are fewer than 100 samples."""
        if len(self.samples) < 100:
            return max(self.samples)
        return statistics.quantiles(self.samples, n=100, method="inclusive")[98]

    @property
    def hit_rate(self) -> float:
        return self.hits / max(1, self.hits + self.misses)


class Bench:
    def __init__(self, registry: Registry, factory: Factory, rules: Sequence[Rule]) -> None:
        self.registry = registry
        self.factory = factory
        self.rules = rules

    def _fresh(self) -> tuple[PolicyEnforcer, Callable[[Principal, SemanticQuery], EffectiveQuery]]:
        enforcer = self.factory(self.rules, 1)
        authorizer = Authorizer(lambda: enforcer, Audit())
        return enforcer, lambda principal, query: authorizer.authorize(self.registry, principal, query)

    def _timed(
        self,
        enforcer: PolicyEnforcer,
        authorize: Callable[[Principal, SemanticQuery], EffectiveQuery],
        calls: Iterator[Call],
        keep: bool = False,
    ) -> Result:
        before = enforcer.decide.cache_info()
        samples, outputs = [], []
        for principal, query in calls:
            start = time.perf_counter_ns()
            effective = authorize(principal, query)
            samples.append((time.perf_counter_ns() - start) / 1_000)
            if keep:
                outputs.append(effective)
        after = enforcer.decide.cache_info()
        return Result(samples, after.hits - before.hits, after.misses - before.misses, outputs)

    def cold(self, n: int) -> Result:
        """The first query of n tenants never seen (call kinds rotate)."""
        enforcer, authorize = self._fresh()
        calls = (calls_for(i)[(i // 2) % len(calls_for(i))] for i in range(n))
        return self._timed(enforcer, authorize, calls, keep=True)

    def warm(self, n: int) -> Result:
        """Two tenants' dashboards (5 calls) repeated: the memo answers every decision."""
        enforcer, authorize = self._fresh()
        fixed = [*calls_for(0), *calls_for(1)]
        for principal, query in fixed:
            authorize(principal, query)
        return self._timed(enforcer, authorize, (fixed[k % len(fixed)] for k in range(n)))

    def mix(self, tenants: int, n: int, warm_up: bool = True) -> Result:
        """Round-robin over `tenants` tenants, each visit running that tenant's dashboard;
        timed after one full pass (unless warm_up is False: then the first pass is timed)."""
        enforcer, authorize = self._fresh()

        def round_robin() -> Iterator[Call]:
            while True:
                for i in range(tenants):
                    yield from calls_for(i)

        calls = round_robin()
        if warm_up:
            for _ in range(sum(len(calls_for(i)) for i in range(tenants))):
                authorize(*next(calls))
        return self._timed(enforcer, authorize, (next(calls) for _ in range(n)))


def raw_decisions(rules: Sequence[Rule], n: int) -> dict[str, float]:
    """One decision, µs (median of n): Casbin's enforce_ex, a memo hit, the indexed lookup."""
    shipped, indexed = PolicyEnforcer(rules, 1), IndexedEnforcer(rules, 1)
    tenant = tenant_name(TENANTS - 2)  # its lines come last in the big policy
    requests = {
        "allow": ("role:university_admin", tenant, "enrollments", "read"),
        "none": ("role:university_admin", tenant, "enrollments.count", "mask"),
        "deny": ("role:partner_integration", tenant, "learners.email", "read"),
    }

    def median_us(work: Callable[[], object]) -> float:
        samples = []
        for _ in range(n):
            start = time.perf_counter_ns()
            work()
            samples.append((time.perf_counter_ns() - start) / 1_000)
        return statistics.median(samples)

    found = {
        f"casbin {kind}": median_us(partial(shipped._casbin.enforce_ex, *r)) for kind, r in requests.items()
    }
    roles = ("university_admin",)
    shipped.decide(roles, tenant, "enrollments", "read")
    found["memo hit"] = median_us(lambda: shipped.decide(roles, tenant, "enrollments", "read"))
    found["indexed"] = median_us(lambda: indexed._decide(roles, tenant, "enrollments", "read"))
    return found


def _us(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"


def _cells(result: Result | None) -> str:
    if result is None:
        return "n/a | | |"
    p99 = _us(result.p99) + (" (max)" if len(result.samples) < 100 else "")
    return f"{_us(result.median)} | {p99} | {result.hit_rate:.0%} | {len(result.samples):,}"


def _main(calls: int, cold_big: int, mix_big: int) -> None:
    registry = load_registry(MODELS_DIR)
    started = time.perf_counter()
    checked = check_same_decisions(registry)
    elapsed = time.perf_counter() - started
    print(f"IndexedEnforcer agrees with PolicyEnforcer on {checked:,} decisions ({elapsed:.1f} s)")
    policies = {"small": small_policy(), "big": big_policy()}
    for name, rules in policies.items():
        started = time.perf_counter()
        enforcer = PolicyEnforcer(rules, 1)
        elapsed = time.perf_counter() - started
        lines = {ptype: len(enforcer._casbin.get_named_policy(ptype)) for ptype in ("p", "p2", "p3")}
        assert sum(lines.values()) == len(rules)
        print(f"{name} policy: {len(rules):,} lines {lines}; PolicyEnforcer built in {elapsed:.2f} s")

    print("\n### One decision (µs, median)\n")
    small_raw, big_raw = raw_decisions(policies["small"], 500), raw_decisions(policies["big"], 5)
    print(
        f"| one decision | default policy ({len(policies['small'])} lines) | {len(policies['big']):,} lines |"
    )
    print("|---|---:|---:|")
    labels = {
        "casbin allow": "pycasbin `enforce_ex`, allowed (scans every `p` line)",
        "casbin none": "pycasbin `enforce_ex`, no rule (scans every `p` line)",
        "casbin deny": "pycasbin `enforce_ex`, denied (stops at the deny, here an early line)",
        "memo hit": "`PolicyEnforcer.decide`, memo hit",
        "indexed": "prototype `IndexedEnforcer._decide`, uncached",
    }
    for key, label in labels.items():
        print(f"| {label} | {_us(small_raw[key])} | {_us(big_raw[key])} |")

    cold: dict[str, tuple[Result, Result]] = {}
    for enforcer_name, factory in ENFORCERS.items():
        small = Bench(registry, factory, policies["small"])
        big = Bench(registry, factory, policies["big"])
        slow = enforcer_name == "PolicyEnforcer"  # Casbin scans 80,000 `p` lines per decision
        started = time.perf_counter()
        cold[enforcer_name] = (small.cold(2_000), big.cold(cold_big if slow else 2_000))
        rows: list[tuple[str, Result, Result | None]] = [
            ("cold: first query of a new tenant", *cold[enforcer_name]),
            ("warm: the same dashboards repeated", small.warm(calls), big.warm(calls)),
            (
                "mix: round-robin over 10,000 tenants" + (" [1]" if slow else ""),
                small.mix(TENANTS, calls),
                big.mix(TENANTS, mix_big, warm_up=False) if slow else big.mix(TENANTS, calls),
            ),
            (
                "mix: round-robin over 1,000 tenants" + (" [2]" if slow else ""),
                small.mix(1_000, calls),
                None if slow else big.mix(1_000, calls),
            ),
        ]
        elapsed = time.perf_counter() - started
        print(f"\n### Authorizer.authorize with {enforcer_name} (µs per query; bench ran {elapsed:.0f} s)\n")
        print(
            "| scenario | small: median | p99 | memo hits | calls "
            "| 100k lines: median | p99 | memo hits | calls |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, left, right in rows:
            print(f"| {label} | {_cells(left)} | {_cells(right)} |")
        if slow:
            print(
                "\n[1] 100k lines: the first pass, timed (a full warm-up pass would take hours); in the\n"
                "steady state the memo thrashes just the same (see the small policy's hit rate).\n"
                "[2] 100k lines: not run, its warm-up pass (2,500 cold queries) would take hours."
            )

    shipped, indexed = cold["PolicyEnforcer"], cold["IndexedEnforcer"]
    same_small = shipped[0].outputs == indexed[0].outputs
    same_big = shipped[1].outputs == indexed[1].outputs[: len(shipped[1].outputs)]
    print(
        f"\nSame EffectiveQuery from both enforcers: {same_small} for {len(shipped[0].outputs):,} cold "
        f"queries (small), {same_big} for {len(shipped[1].outputs):,} (100k lines)."
    )
    assert same_small and same_big


def main(
    calls: Annotated[int, typer.Option(help="Timed calls per scenario.")] = 3_000,
    cold_big: Annotated[int, typer.Option(help="Cold queries with PolicyEnforcer on 100k lines.")] = 9,
    mix_big: Annotated[int, typer.Option(help="Mix queries with PolicyEnforcer on 100k lines.")] = 6,
) -> None:
    _main(calls, cold_big, mix_big)


if __name__ == "__main__":
    typer.run(main)
