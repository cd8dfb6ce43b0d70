"""Prometheus metrics of ingestion, read from the committer's counters."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, Histogram

from api.ingest.committer import CommitStats, GroupCommitter

_COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_GROUP_BUCKETS = (1, 10, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)


class IngestMetrics:
    """Gauges over the attached committer (zero while ingestion is off or not started)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.committer: GroupCommitter | None = None
        events = Gauge("cohort_ingest_events", "Ingested events by outcome.", ["outcome"], registry=registry)
        events.labels("accepted").set_function(self._stat(lambda s: s.accepted))
        events.labels("duplicate").set_function(self._stat(lambda s: s.duplicates))
        events.labels("rejected").set_function(self._stat(lambda s: s.rejected))
        batches = Gauge("cohort_ingest_batches", "Batches by outcome.", ["outcome"], registry=registry)
        batches.labels("committed").set_function(self._stat(lambda s: s.batches - s.replayed))
        batches.labels("replayed").set_function(self._stat(lambda s: s.replayed))
        batches.labels("refused").set_function(self._stat(lambda s: s.refused))
        batches.labels("failed").set_function(self._stat(lambda s: s.failed))
        commits = Gauge("cohort_ingest_commits", "Ingest transactions committed.", registry=registry)
        commits.set_function(self._stat(lambda s: s.commits))
        pending = Gauge("cohort_ingest_pending_events", "Events waiting for a commit.", registry=registry)
        pending.set_function(lambda: self.committer.pending_events if self.committer is not None else 0)
        self.seconds = Histogram(
            "cohort_ingest_commit_seconds",
            "Time of one ingest commit.",
            buckets=_COMMIT_BUCKETS,
            registry=registry,
        )
        self.sizes = Histogram(
            "cohort_ingest_group_events",
            "Events in one ingest commit.",
            buckets=_GROUP_BUCKETS,
            registry=registry,
        )

    def attach(self, committer: GroupCommitter | None) -> None:
        self.committer = committer
        if committer is not None:
            committer.stats.observe_commit = self._observe

    def _observe(self, commit_s: float, group_events: int) -> None:
        self.seconds.observe(commit_s)
        self.sizes.observe(group_events)

    def _stat(self, read: Callable[[CommitStats], int]) -> Callable[[], int]:
        return lambda: read(self.committer.stats) if self.committer is not None else 0
