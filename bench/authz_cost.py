"""Authorization cost per query: Authorizer.authorize with a small and a 100,000-line policy.

    .venv/bin/python -m bench.authz_cost [--calls 3000] [--cold 2000] [--casbin-calls 3]

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

What is timed, always with the shipped `PolicyEnforcer`:
- one decision: pycasbin's `enforce_ex` (what `decide_with_casbin` calls; it evaluates the
  matcher on every `p` line, so only a handful of calls on 100k lines), the indexed
  decision uncached (`_decide_indexed`) and a memo hit (`decide`);
- building the enforcer (what every policy edit does), and its (subject, domain) index;
- `Authorizer.authorize` per query, each scenario on a fresh enforcer: cold (the first
  query of a tenant never seen), empty memo (every memo emptied before each query, as
  right after a policy edit), warm (the same principals repeating their queries), and
  round-robin mixes over 10,000 and 1,000 tenants after one full pass.
First, a sanity check: `decide` equals `decide_with_casbin` on a sample of requests against
a policy with the per-tenant lines of a few tenants (tests/authz/test_enforcer.py is the
real check). Prints Markdown tables for bench/README.md.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Annotated

import typer

from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer, Rule
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


def sanity_check(registry: Registry, sample: int) -> int:
    """`decide` (index + memo) equals `decide_with_casbin` (Casbin's matcher) on `sample`
    requests drawn from every role, role pairs, 7 tenants, every model and member, wildcard
    objects, read and mask; a policy with the per-tenant lines of 6 tenants."""
    enforcer = PolicyEnforcer(big_policy(tenants=6), 1)
    objects = ["*", "nothing", "learners.*"]
    for name, spec in registry.models.items():
        objects += [name, *(f"{name}.{member}" for member in (*spec.dimensions, *spec.measures))]
    role_sets = [(role,) for role in (*ROLES, "nobody")] + [
        ("university_admin", "partner_integration"),
        ("instructor", "university_admin"),
        ("enterprise_admin", "instructor"),
    ]
    tenants = [tenant_name(i) for i in range(6)] + ["elsewhere"]
    requests = [
        (roles, tenant, obj, act)
        for roles in role_sets
        for tenant in tenants
        for obj in objects
        for act in ("read", "mask")
    ]
    for request in random.Random(42).sample(requests, min(sample, len(requests))):
        expected, got = enforcer.decide_with_casbin(*request), enforcer.decide(*request)
        assert expected == got, (request, expected, got)
    return min(sample, len(requests))


@dataclass
class Result:
    samples: list[float]  # µs
    hits: int = 0  # decide memo
    misses: int = 0
    other_hits: int = 0  # row-rule and group-size memos
    other_misses: int = 0

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

    @property
    def other_hit_rate(self) -> float:
        return self.other_hits / max(1, self.other_hits + self.other_misses)


def _memo_counts(enforcer: PolicyEnforcer) -> tuple[int, int, int, int]:
    decide = enforcer._decide.cache_info()
    rows, sizes = enforcer._row_rules_memo.cache_info(), enforcer._min_group_size_memo.cache_info()
    return decide.hits, decide.misses, rows.hits + sizes.hits, rows.misses + sizes.misses


def _empty_memos(enforcer: PolicyEnforcer) -> None:
    """What a rebuilt enforcer starts with (the counters are reset too)."""
    for memo in (enforcer._decide, enforcer._row_rules_memo, enforcer._min_group_size_memo):
        memo.cache_clear()
    enforcer._subjects.cache_clear()


class Bench:
    def __init__(self, registry: Registry, rules: Sequence[Rule]) -> None:
        self.registry = registry
        self.rules = rules

    def _fresh(self) -> tuple[PolicyEnforcer, Callable[[Principal, SemanticQuery], EffectiveQuery]]:
        enforcer = PolicyEnforcer(self.rules, 1)
        authorizer = Authorizer(lambda: enforcer, Audit())
        return enforcer, lambda principal, query: authorizer.authorize(self.registry, principal, query)

    def _timed(
        self,
        enforcer: PolicyEnforcer,
        authorize: Callable[[Principal, SemanticQuery], EffectiveQuery],
        calls: Iterator[Call],
        empty_memos: bool = False,
    ) -> Result:
        result = Result([])
        before = _memo_counts(enforcer)
        for principal, query in calls:
            if empty_memos:
                _empty_memos(enforcer)
                before = (0, 0, 0, 0)
            start = time.perf_counter_ns()
            authorize(principal, query)
            result.samples.append((time.perf_counter_ns() - start) / 1_000)
            if empty_memos:
                counts = _memo_counts(enforcer)
                result.hits, result.misses = result.hits + counts[0], result.misses + counts[1]
                result.other_hits += counts[2]
                result.other_misses += counts[3]
        if not empty_memos:
            after = _memo_counts(enforcer)
            result.hits, result.misses, result.other_hits, result.other_misses = (
                a - b for a, b in zip(after, before, strict=True)
            )
        return result

    @staticmethod
    def _first_calls(n: int) -> Iterator[Call]:
        """The first query of tenants 0..n-1 (call kinds rotate)."""
        return (calls_for(i)[(i // 2) % len(calls_for(i))] for i in range(n))

    def cold(self, n: int) -> Result:
        """The first query of n tenants never seen."""
        enforcer, authorize = self._fresh()
        return self._timed(enforcer, authorize, self._first_calls(n))

    def empty(self, n: int) -> Result:
        """The first query of n tenants, every memo emptied before each one."""
        enforcer, authorize = self._fresh()
        return self._timed(enforcer, authorize, self._first_calls(n), empty_memos=True)

    def warm(self, n: int) -> Result:
        """Two tenants' dashboards (5 calls) repeated: the memo answers every decision."""
        enforcer, authorize = self._fresh()
        fixed = [*calls_for(0), *calls_for(1)]
        for principal, query in fixed:
            authorize(principal, query)
        return self._timed(enforcer, authorize, (fixed[k % len(fixed)] for k in range(n)))

    def mix(self, tenants: int, n: int) -> Result:
        """Round-robin over `tenants` tenants, each visit running that tenant's dashboard;
        timed after one full pass."""
        enforcer, authorize = self._fresh()

        def round_robin() -> Iterator[Call]:
            while True:
                for i in range(tenants):
                    yield from calls_for(i)

        calls = round_robin()
        for _ in range(sum(len(calls_for(i)) for i in range(tenants))):
            authorize(*next(calls))
        return self._timed(enforcer, authorize, (next(calls) for _ in range(n)))


def _median_us(work: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        work()
        samples.append((time.perf_counter_ns() - start) / 1_000)
    return statistics.median(samples)


def raw_decisions(rules: Sequence[Rule], casbin_calls: int, calls: int) -> dict[str, float]:
    """One decision, µs (median): Casbin's enforce_ex (`casbin_calls` each), the indexed
    decision uncached and a memo hit (`calls` each)."""
    enforcer = PolicyEnforcer(rules, 1)
    tenant = tenant_name(TENANTS - 2)  # its lines come last in the big policy
    requests = {
        "allow": ("university_admin", tenant, "enrollments", "read"),
        "none": ("university_admin", tenant, "enrollments.count", "mask"),
        "deny": ("partner_integration", tenant, "learners.email", "read"),
    }
    found: dict[str, float] = {}
    for kind, (role, dom, obj, act) in requests.items():
        scan = partial(enforcer._casbin.enforce_ex, f"role:{role}", dom, obj, act)
        found[f"casbin {kind}"] = _median_us(scan, casbin_calls)
        lookup = partial(enforcer._decide_indexed, (role,), enforcer._domain(dom), obj, act)
        found[f"indexed {kind}"] = _median_us(lookup, calls)
    enforcer.decide(("university_admin",), tenant, "enrollments", "read")
    found["memo hit"] = _median_us(
        lambda: enforcer.decide(("university_admin",), tenant, "enrollments", "read"), calls
    )
    return found


def build_times(rules: Sequence[Rule], n: int) -> tuple[float, float]:
    """Building a PolicyEnforcer (a policy edit), and the index alone: medians in seconds."""
    builds, indexes = [], []
    for _ in range(n):
        start = time.perf_counter()
        enforcer = PolicyEnforcer(rules, 1)
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        enforcer._index()
        indexes.append(time.perf_counter() - start)
    return statistics.median(builds), statistics.median(indexes)


def _us(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"


def _cells(result: Result) -> str:
    p99 = _us(result.p99) + (" (max)" if len(result.samples) < 100 else "")
    hits = f"{result.hit_rate:.0%} / {result.other_hit_rate:.0%}"
    return f"{_us(result.median)} | {p99} | {hits} | {len(result.samples):,}"


def _main(calls: int, cold: int, casbin_calls: int, sample: int) -> None:
    began = time.perf_counter()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    registry = load_registry(MODELS_DIR)
    started = time.perf_counter()
    checked = sanity_check(registry, sample)
    elapsed = time.perf_counter() - started
    print(f"decide == decide_with_casbin on {checked:,} sampled requests ({elapsed:.1f} s)")

    policies = {"small": small_policy(), "big": big_policy()}
    builds = {}
    for name, rules in policies.items():
        enforcer = PolicyEnforcer(rules, 1)
        lines = {ptype: len(enforcer._casbin.get_named_policy(ptype)) for ptype in ("p", "p2", "p3")}
        assert sum(lines.values()) == len(rules)
        builds[name] = build_times(rules, 5 if name == "big" else 50)
        print(
            f"{name} policy: {len(rules):,} lines {lines}; PolicyEnforcer built in "
            f"{builds[name][0] * 1e3:,.1f} ms (index {builds[name][1] * 1e3:,.1f} ms), median"
        )

    print(f"\n### One decision (µs, median; enforce_ex: {casbin_calls} calls each on 100k lines)\n")
    small_raw = raw_decisions(policies["small"], 500, 20_000)
    big_raw = raw_decisions(policies["big"], casbin_calls, 20_000)
    print(
        f"| one decision | default policy ({len(policies['small'])} lines) | {len(policies['big']):,} lines |"
    )
    print("|---|---:|---:|")
    labels = {
        "casbin allow": "pycasbin `enforce_ex`, allowed (scans every `p` line)",
        "casbin none": "pycasbin `enforce_ex`, no rule (scans every `p` line)",
        "casbin deny": "pycasbin `enforce_ex`, denied (stops at the deny, here an early line)",
        "indexed allow": "`PolicyEnforcer._decide_indexed`, uncached, allowed",
        "indexed none": "`PolicyEnforcer._decide_indexed`, uncached, no rule",
        "indexed deny": "`PolicyEnforcer._decide_indexed`, uncached, denied",
        "memo hit": "`PolicyEnforcer.decide`, memo hit",
    }
    for key, label in labels.items():
        print(f"| {label} | {_us(small_raw[key])} | {_us(big_raw[key])} |")

    started = time.perf_counter()
    small, big = Bench(registry, policies["small"]), Bench(registry, policies["big"])
    rows: list[tuple[str, Result, Result]] = [
        ("cold: first query of a new tenant", small.cold(cold), big.cold(cold)),
        ("empty memo: first query after a policy edit", small.empty(cold), big.empty(cold)),
        ("warm: the same dashboards repeated", small.warm(calls), big.warm(calls)),
        ("mix: round-robin over 10,000 tenants", small.mix(TENANTS, calls), big.mix(TENANTS, calls)),
        ("mix: round-robin over 1,000 tenants", small.mix(1_000, calls), big.mix(1_000, calls)),
    ]
    elapsed = time.perf_counter() - started
    print(f"\n### Authorizer.authorize with PolicyEnforcer (µs per query; scenarios ran {elapsed:.0f} s)\n")
    print(
        "| scenario | small: median | p99 | memo hits | calls "
        "| 100k lines: median | p99 | memo hits | calls |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, left, right in rows:
        print(f"| {label} | {_cells(left)} | {_cells(right)} |")
    print("\nmemo hits: decide / row rules + group sizes")
    for label, left, right in rows:
        print(f"max {label}: small {_us(max(left.samples))} µs, 100k {_us(max(right.samples))} µs")
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"total {time.perf_counter() - began:.0f} s")


def main(
    calls: Annotated[int, typer.Option(help="Timed calls per warm and mix scenario.")] = 3_000,
    cold: Annotated[int, typer.Option(help="Timed calls per cold and empty-memo scenario.")] = 2_000,
    casbin_calls: Annotated[int, typer.Option(help="enforce_ex calls per request on 100k lines.")] = 3,
    sample: Annotated[int, typer.Option(help="Requests in the decide == decide_with_casbin check.")] = 2_000,
) -> None:
    _main(calls, cold, casbin_calls, sample)


if __name__ == "__main__":
    typer.run(main)
