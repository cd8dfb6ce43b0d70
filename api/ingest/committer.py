"""Group commit: the batches of concurrent requests written in one transaction, each request
answered only once that transaction has committed.

One committer task per process takes every batch waiting (up to `max_group_events`) into a
group and commits it; while it commits, new batches wait, so groups grow with the load and
the number of commits stays small. In one transaction, under the lock of the ingest state
row (which serializes ingest commits across processes, so `ingest_seq` is committed in
order and concurrent retries of one Idempotency-Key see each other's rows):

1. batches already stored under their (tenant, Idempotency-Key) get their stored answer
   and add nothing (a different body under the same key is refused);
2. the other batches' event ids go into `event_ids`; those already there (or repeated in
   the group) are duplicates;
3. the new events are copied into `events` with consecutive `ingest_seq`, rejected events
   into `failed_events`, each batch's answer into `batches`, and `state.last_seq` moves.

A batch is never half written: it commits whole with its group, or not at all. Overload is
refused up front (too many events waiting: `Overloaded`) or after `queue_timeout_ms`
without a place in a commit; a database that is down, frozen or too slow fails the group
within `commit_timeout_ms` (`Unavailable`). Both are 503 with Retry-After: the client
retries with the same Idempotency-Key, and a commit whose answer was lost (the connection
broke during COMMIT) is then answered from `batches`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import asyncpg
import msgspec

from api.ingest.tables import SCHEMA, create_partitions
from api.ingest.validation import AcceptedEvent, RejectedEvent
from resolvers.database import is_unavailable

log = logging.getLogger("cohort.ingest")
_encode = msgspec.json.Encoder().encode

_EVENT_COLUMNS = ("tenant", "ingest_seq", "event_id", "event_type", "occurred_at", "data")
_FAILED_COLUMNS = ("tenant", "idempotency_key", "event_index", "event_id", "event_type", "reason", "payload")
_BATCH_COLUMNS = (
    "tenant",
    "idempotency_key",
    "request_hash",
    "response",
    "events",
    "accepted",
    "duplicates",
    "rejected",
    "first_seq",
    "last_seq",
)
_STORED = f"""
    select b.tenant, b.idempotency_key, b.request_hash, b.response
    from {SCHEMA}.batches b
    join unnest($1::text[], $2::text[]) as k (tenant, idempotency_key) using (tenant, idempotency_key)
"""  # noqa: S608
_CLAIM_KEYS = f"""
    insert into {SCHEMA}.event_ids (event_key)
    select * from unnest($1::bytea[])
    on conflict do nothing
    returning event_key
"""  # noqa: S608
# Faults of the moment, not of the batch: the group is failed with 503, never split.
_TRANSIENT = (
    asyncpg.QueryCanceledError,  # statement_timeout: the database is too slow now
    asyncpg.LockNotAvailableError,  # lock_timeout: another process's commit holds the state row
    asyncpg.InterfaceError,  # a connection closed under us
)
_RETRY_ONCE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


class IngestError(Exception):
    """A batch that was not written; `status` and `code` are what the client gets."""

    status = 503
    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, retry_after_s: int | None = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Overloaded(IngestError):
    code = "OVERLOADED"


class Unavailable(IngestError):
    pass


class NotSetUp(IngestError):
    code = "INGESTION_NOT_SET_UP"


class KeyReused(IngestError):
    status = 422
    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for a batch with a different body", None)


class WriteFailed(IngestError):
    status = 500
    code = "INTERNAL_SERVER_ERROR"


class _MissingPartition(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Outcome:
    body: bytes  # the answer, as sent the first time
    replayed: bool  # answered from `batches`: the batch had been committed before
    accepted: int = 0  # written by this commit (0 for a replay)
    duplicates: int = 0
    rejected: int = 0


@dataclass(eq=False)
class Batch:
    tenant: str
    key: str  # the Idempotency-Key
    request_hash: bytes
    accepted: list[AcceptedEvent]
    rejected: list[RejectedEvent]
    future: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    taken: bool = False  # in a group being committed: it is no longer withdrawn on a timeout

    @property
    def size(self) -> int:
        return len(self.accepted) + len(self.rejected)


@dataclass
class CommitStats:
    commits: int = 0
    batches: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    replayed: int = 0
    refused: int = 0  # batches answered 503 for overload
    failed: int = 0  # batches whose commit failed
    observe_commit: Callable[[float, int], None] | None = None  # seconds, events


class GroupCommitter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_group_events: int,
        max_pending_events: int,
        queue_timeout_s: float,
        commit_timeout_s: float,
        retry_after_s: int = 1,
        create_partitions_for: Callable[[asyncpg.Connection, list[date]], Awaitable[Any]] = create_partitions,
    ) -> None:
        self.pool = pool
        self.max_group_events = max_group_events
        self.max_pending_events = max_pending_events
        self.queue_timeout_s = queue_timeout_s
        self.commit_timeout_s = commit_timeout_s
        self.retry_after_s = retry_after_s
        self.stats = CommitStats()
        self._create_partitions = create_partitions_for
        self._pending: collections.deque[Batch] = collections.deque()
        self._pending_events = 0
        self._inflight: dict[tuple[str, str], Batch] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def pending_events(self) -> int:
        return self._pending_events

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cohort-ingest-committer")

    async def close(self, drain_s: float = 5.0) -> None:
        """Refuse new batches, commit those waiting (for at most `drain_s`), then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=drain_s)
            if not done:
                self._task.cancel()
                await asyncio.wait({self._task})
        for batch in [*self._pending, *self._inflight.values()]:
            if not batch.future.done():
                batch.future.set_exception(Unavailable("the server is shutting down", self.retry_after_s))
        self._pending.clear()

    async def submit(self, batch: Batch) -> Outcome:
        """The batch's answer, once its group has committed; IngestError otherwise."""
        if self._closing:
            raise Unavailable("the server is shutting down", self.retry_after_s)
        same = self._inflight.get((batch.tenant, batch.key))
        if same is not None:  # a concurrent retry of a batch still on its way: one write, one answer
            if same.request_hash != batch.request_hash:
                raise KeyReused()
            first = await asyncio.shield(same.future)
            return Outcome(first.body, replayed=True)
        if self._pending_events + batch.size > self.max_pending_events:
            self.stats.refused += 1
            raise Overloaded(
                f"{self._pending_events} events are waiting to be written; try again shortly",
                self.retry_after_s,
            )
        self._inflight[(batch.tenant, batch.key)] = batch
        self._pending.append(batch)
        self._pending_events += batch.size
        self._wake.set()
        try:
            done, _ = await asyncio.wait({batch.future}, timeout=self.queue_timeout_s)
            if not done and not batch.taken:
                self._withdraw(batch)
                self.stats.refused += 1
                raise Overloaded(
                    f"the batch found no place in a commit within {self.queue_timeout_s:g} s; "
                    "try again shortly",
                    self.retry_after_s,
                )
            # Taken: the commit is bounded by commit_timeout_s; this is a last resort only.
            async with asyncio.timeout(self.commit_timeout_s + 5):
                return await asyncio.shield(batch.future)
        except TimeoutError:
            raise Unavailable("the commit did not finish in time", self.retry_after_s) from None
        finally:
            if not batch.taken:
                self._withdraw(batch)

    def _withdraw(self, batch: Batch) -> None:
        if self._inflight.get((batch.tenant, batch.key)) is batch:
            del self._inflight[(batch.tenant, batch.key)]
        try:
            self._pending.remove(batch)
        except ValueError:
            return
        self._pending_events -= batch.size
        if not batch.future.done():
            batch.future.cancel()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            group = self._take()
            try:
                await self._commit(group)
            finally:
                for batch in group:
                    if self._inflight.get((batch.tenant, batch.key)) is batch:
                        del self._inflight[(batch.tenant, batch.key)]

    def _take(self) -> list[Batch]:
        group: list[Batch] = []
        events = 0
        while self._pending and (not group or events + self._pending[0].size <= self.max_group_events):
            batch = self._pending.popleft()
            batch.taken = True
            events += batch.size
            group.append(batch)
        self._pending_events -= events
        return group

    async def _commit(self, group: list[Batch]) -> None:
        fixed_partitions = retried = False
        while True:
            started = time.perf_counter()
            try:
                outcomes = await self._bounded_write(group)
            except _MissingPartition:
                if fixed_partitions:
                    return self._fail(group, WriteFailed("the events' partitions could not be created"))
                fixed_partitions = True
                try:
                    await self._add_partitions(group)
                except IngestError as error:
                    return self._fail(group, error)
                continue
            except _RETRY_ONCE:
                if retried:
                    return self._fail(
                        group, Unavailable("the commit conflicted; try again", self.retry_after_s)
                    )
                retried = True
                continue
            except IngestError as error:
                return self._fail(group, error)
            except Exception:
                if len(group) > 1:  # find the batch at fault: the others still commit
                    for batch in group:
                        await self._commit([batch])
                    return None
                log.exception("an ingest batch could not be written")
                return self._fail(group, WriteFailed("the batch could not be written", None))
            self._record(group, outcomes, time.perf_counter() - started)
            return None

    def _fail(self, group: list[Batch], error: IngestError) -> None:
        self.stats.failed += len(group)
        for batch in group:
            if not batch.future.done():
                batch.future.set_exception(error)

    def _record(self, group: list[Batch], outcomes: list[Outcome | IngestError], seconds: float) -> None:
        stats = self.stats
        stats.commits += 1
        events = sum(batch.size for batch in group)
        if stats.observe_commit is not None:
            stats.observe_commit(seconds, events)
        for batch, outcome in zip(group, outcomes, strict=True):
            stats.batches += 1
            if isinstance(outcome, Outcome):
                stats.replayed += outcome.replayed
                stats.events += 0 if outcome.replayed else batch.size
                stats.accepted += outcome.accepted
                stats.duplicates += outcome.duplicates
                stats.rejected += outcome.rejected
            if batch.future.done():
                continue
            if isinstance(outcome, IngestError):
                batch.future.set_exception(outcome)
            else:
                batch.future.set_result(outcome)

    async def _bounded_write(self, group: list[Batch]) -> list[Outcome | IngestError]:
        conn: asyncpg.Connection | None = None
        broken = False
        try:
            async with asyncio.timeout(self.commit_timeout_s):
                conn = await self.pool.acquire()
                return await self._write(conn, group)
        except TimeoutError:
            broken = True
            raise Unavailable("the database did not commit in time; try again", self.retry_after_s) from None
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            raise NotSetUp("ingestion is not set up in this database: run `cohort ingest setup`") from None
        except asyncpg.CheckViolationError as error:
            if "no partition" in str(error):
                raise _MissingPartition() from error
            raise
        except _TRANSIENT as error:
            broken = isinstance(error, asyncpg.InterfaceError)
            raise Unavailable(
                f"the database could not commit now ({type(error).__name__}); try again"
            ) from error
        except Exception as error:
            if is_unavailable(error):
                broken = True
                raise Unavailable(
                    "the database is unreachable; try again shortly", self.retry_after_s
                ) from error
            raise
        finally:
            if conn is not None:
                await self._release(conn, broken)

    async def _release(self, conn: asyncpg.Connection, broken: bool) -> None:
        # A lost connection may have been taken back by the pool already (InterfaceError).
        if broken:
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()  # frozen or lost: never wait on it again
        try:
            async with asyncio.timeout(2):
                await self.pool.release(conn)
        except Exception:
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()

    async def _add_partitions(self, group: list[Batch]) -> None:
        days = sorted(
            {event.occurred_at.astimezone(UTC).date() for batch in group for event in batch.accepted}
        )
        conn = None
        try:
            async with asyncio.timeout(self.commit_timeout_s):
                conn = await self.pool.acquire()
                created = await self._create_partitions(conn, days)
            if created:
                log.warning("created missing ingest partitions for %s", ", ".join(map(str, created)))
        except Exception as error:
            raise Unavailable("the events' partitions could not be created; try again") from error
        finally:
            if conn is not None:
                await self._release(conn, False)

    async def _write(self, conn: asyncpg.Connection, group: list[Batch]) -> list[Outcome | IngestError]:
        async with conn.transaction():
            last_seq: int = await conn.fetchval(f"select last_seq from {SCHEMA}.state for update")  # noqa: S608
            rows = await conn.fetch(_STORED, [b.tenant for b in group], [b.key for b in group])
            stored = {(row[0], row[1]): (bytes(row[2]), bytes(row[3])) for row in rows}
            fresh = [batch for batch in group if (batch.tenant, batch.key) not in stored]
            # The first copy of each event in the group claims its key; `new` holds those that
            # no earlier commit had claimed.
            unique = list(dict.fromkeys(e.key for b in fresh for e in b.accepted))
            new: set[bytes] = set()
            if unique:
                new = {bytes(row[0]) for row in await conn.fetch(_CLAIM_KEYS, unique)}
            records: list[tuple[Any, ...]] = []
            answers: dict[Batch, Outcome] = {}
            batch_rows = []
            seq = last_seq
            for batch in fresh:
                duplicates = []
                first_seq = seq + 1
                for event in batch.accepted:
                    if event.key in new:
                        new.discard(event.key)  # a second copy in the group is a duplicate
                        seq += 1
                        records.append(
                            (
                                batch.tenant,
                                seq,
                                event.event_id,
                                event.event_type,
                                event.occurred_at,
                                event.data,
                            )
                        )
                    else:
                        duplicates.append(event)
                written = seq - first_seq + 1
                body = _answer(batch, written, duplicates)
                answers[batch] = Outcome(body, False, written, len(duplicates), len(batch.rejected))
                batch_rows.append(
                    (
                        batch.tenant,
                        batch.key,
                        batch.request_hash,
                        body,
                        batch.size,
                        written,
                        len(duplicates),
                        len(batch.rejected),
                        first_seq if written else None,
                        seq if written else None,
                    )
                )
            if records:
                await conn.copy_records_to_table(
                    "events", schema_name=SCHEMA, columns=_EVENT_COLUMNS, records=records
                )
            failed = [
                (b.tenant, b.key, r.position, r.event_id, r.event_type, r.reason, r.payload)
                for b in fresh
                for r in b.rejected
            ]
            if failed:
                await conn.copy_records_to_table(
                    "failed_events", schema_name=SCHEMA, columns=_FAILED_COLUMNS, records=failed
                )
            if batch_rows:
                await conn.copy_records_to_table(
                    "batches", schema_name=SCHEMA, columns=_BATCH_COLUMNS, records=batch_rows
                )
            if seq != last_seq:
                await conn.execute(
                    f"update {SCHEMA}.state set last_seq = $1, committed_at = now()",  # noqa: S608
                    seq,
                )
        outcomes: list[Outcome | IngestError] = []
        for batch in group:
            if batch in answers:
                outcomes.append(answers[batch])
                continue
            request_hash, response = stored[(batch.tenant, batch.key)]
            outcomes.append(
                Outcome(response, replayed=True) if request_hash == batch.request_hash else KeyReused()
            )
        return outcomes


def _answer(batch: Batch, accepted: int, duplicates: list[AcceptedEvent]) -> bytes:
    return _encode(
        {
            "idempotency_key": batch.key,
            "events": batch.size,
            "accepted": accepted,
            "duplicates": len(duplicates),
            "rejected": len(batch.rejected),
            "duplicate_events": [{"index": e.position, "id": e.event_id} for e in duplicates],
            "rejected_events": [
                {"index": r.position, "id": r.event_id, "type": r.event_type, "reason": r.reason}
                for r in batch.rejected
            ],
        }
    )
