"""Prometheus metrics: requests and latency per operation, SQL time, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from api.rate_limit import RateLimiter
from api.response_cache import ResponseCache
from resolvers.caching import ResultCaching
from resolvers.rollups.catalog import RollupCatalog

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_OPERATION_LABELS = 200  # clients choose operation names: keep the label set bounded


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cohort_graphql_requests", "GraphQL requests.", ["operation", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "cohort_graphql_request_seconds",
            "Time to answer a GraphQL request.",
            ["operation"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.sql = Histogram(
            "cohort_sql_seconds",
            "Time in PostgreSQL per statement.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "cohort_graphql_errors", "GraphQL errors by code.", ["code"], registry=self.registry
        )
        self.rollups = Counter(
            "cohort_rollup_answers",
            "Root fields of models with rollups, by the rollup that answered (raw: none could).",
            ["rollup"],
            registry=self.registry,
        )
        self.denials = Counter(
            "cohort_access_denials",
            "Queries refused by access control, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.unauthenticated = Counter(
            "cohort_unauthenticated_requests", "Requests without valid credentials.", registry=self.registry
        )
        self.rate_limited = Counter(
            "cohort_rate_limited_requests", "Requests refused with 429.", registry=self.registry
        )
        self.rate_limit_failures = Gauge(
            "cohort_rate_limit_redis_failures",
            "Rate-limit calls to Redis that failed (the requests were allowed: fail open).",
            registry=self.registry,
        )
        self.rate_limit_degraded = Gauge(
            "cohort_rate_limit_degraded_checks",
            "Requests allowed without a rate-limit decision (Redis failing).",
            registry=self.registry,
        )
        self._operations: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        if name in self._operations:
            return name
        if len(self._operations) < MAX_OPERATION_LABELS:
            self._operations.add(name)
            return name
        return "other"

    def _outcomes(self, name: str, help: str, outcomes: dict[str, Callable[[], float]]) -> None:
        """A gauge with an `outcome` label, each value read when scraped."""
        gauge = Gauge(name, help, ["outcome"], registry=self.registry)
        for label, read in outcomes.items():
            gauge.labels(label).set_function(read)

    def watch_rollups(self, catalog: RollupCatalog) -> None:
        self.registry.register(_RollupStates(catalog))

    def watch_cache(self, caching: ResultCaching) -> None:
        cache, leases, revalidations = caching.cache, caching.leases, caching.revalidations
        self._outcomes(
            "cohort_result_cache",
            "Result cache lookups and failures.",
            {
                "hit": lambda: cache.hits,
                "miss": lambda: cache.misses,
                "stale": lambda: caching.stale_hits,
                "redis_failure": lambda: cache.failures,
                "too_large": lambda: cache.too_large,
            },
        )
        self._outcomes(
            "cohort_result_cache_leases",
            "Misses shared across processes: ran under a lease, waited for one, got another's "
            "result, ran without a lease (Redis failing or the wait bound reached).",
            {
                "acquired": lambda: leases.acquired,
                "waited": lambda: leases.waited,
                "shared": lambda: leases.shared,
                "local": lambda: leases.local,
            },
        )
        self._outcomes(
            "cohort_result_cache_refreshes",
            "Background refreshes of stale results: started, failed, skipped (too many running).",
            {
                "started": lambda: revalidations.started,
                "failed": lambda: revalidations.failed,
                "skipped": lambda: revalidations.skipped,
            },
        )

    def watch_responses(self, responses: ResponseCache) -> None:
        self._outcomes(
            "cohort_response_cache",
            "Whole-response cache lookups: hit, miss, outdated (new data), redis_failure.",
            {
                "hit": lambda: responses.hits,
                "miss": lambda: responses.misses,
                "outdated": lambda: responses.outdated,
                "redis_failure": lambda: responses.failures,
            },
        )

    def watch_rate_limiter(self, limiter: RateLimiter) -> None:
        self.rate_limit_failures.set_function(lambda: limiter.failures)
        self.rate_limit_degraded.set_function(lambda: limiter.degraded_checks)

    def observe_sql(self, seconds: float) -> None:
        self.sql.observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class _RollupStates(Collector):
    """Each built rollup's refresh age and rows, as the server last read them. The age is what
    to alert on: past a stopped refresh worker, every answer reads more raw rows."""

    def __init__(self, catalog: RollupCatalog) -> None:
        self.catalog = catalog

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "cohort_rollup_refresh_age_seconds", "Seconds since the rollup's last refresh.", labels=["rollup"]
        )
        rows = GaugeMetricFamily("cohort_rollup_rows", "Rows of the rollup's table.", labels=["rollup"])
        now = datetime.now(UTC)
        for key, state in sorted(self.catalog.states.items()):
            age.add_metric([key], (now - state.refreshed_at).total_seconds())
            rows.add_metric([key], state.rows)
        yield age
        yield rows
