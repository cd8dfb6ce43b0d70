"""Ingestion's settings (read from the environment by api/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EVENTS_FILE = _ROOT / "schema" / "events.yml"


@dataclass(frozen=True, slots=True)
class IngestSettings:
    enabled: bool = True  # POST /events is served
    # Where the raw events are written; None: the warehouse (DATABASE_URL). Models read the
    # events table through the warehouse connection, so this names the same database (with a
    # role that may write), unless the data team makes the table reachable there otherwise.
    database_url: str | None = None
    events_file: Path = DEFAULT_EVENTS_FILE
    max_batch_events: int = 5_000  # events in one POST
    max_body_bytes: int = 5_000_000
    max_group_events: int = 20_000  # events in one commit (several batches)
    max_pending_events: int = 40_000  # waiting for a commit (about 1 s of throughput), beyond: 503
    queue_timeout_ms: int = 2_000  # a batch not taken into a commit within this: 503
    commit_timeout_ms: int = 10_000  # one commit, from checkout to COMMIT
    retention_days: int = 30  # partitions (by day of occurred_at) older than this are dropped
    partitions_ahead_days: int = 3
    maintenance_interval_s: int = 3_600  # partitions made ahead and dropped past retention
    pool_size: int = 2

    def __post_init__(self) -> None:
        checks = {
            "COHORT_INGEST_MAX_BATCH_EVENTS": self.max_batch_events >= 1,
            "COHORT_INGEST_MAX_GROUP_EVENTS": self.max_group_events >= self.max_batch_events,
            "COHORT_INGEST_MAX_PENDING_EVENTS": self.max_pending_events >= self.max_batch_events,
            "COHORT_INGEST_RETENTION_DAYS": self.retention_days >= 1,
            "COHORT_INGEST_PARTITIONS_AHEAD_DAYS": self.partitions_ahead_days >= 2,
            "COHORT_INGEST_QUEUE_TIMEOUT_MS": self.queue_timeout_ms >= 1,
            "COHORT_INGEST_COMMIT_TIMEOUT_MS": self.commit_timeout_ms >= 1,
            "COHORT_INGEST_POOL_SIZE": self.pool_size >= 2,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{name} is out of range (see docs/ingestion.md)")
