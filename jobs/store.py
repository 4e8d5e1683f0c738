"""Job status on Azure Table Storage: the source of truth.

Three tables share a prefix (default `jobs`):

- `jobs`        one row per job (PartitionKey = job id). Every write is
                ETag-conditional, so a stale writer loses and retries on fresh data.
- `jobsfeed`    the change feed, partitioned by UTC minute: one row per write round,
                holding that round's changes (jobs/feed.py). One watcher per process
                reads it (not one read per stream).
- `jobsactive`  one row per unfinished job, with its deadline and owner. The sweeper,
                the watcher's reconciliation and "my active jobs" read it instead of
                scanning `jobs`. The same partition holds one history row per job
                (RowKey `h-<owner hash>-<inverted creation ms>-<job id>`, newest first),
                written in one transaction with the active row: "my recent jobs" reads
                a range of it. Job ids are hex, so the active rows sort before `h`.

`jobs` also holds one row per Idempotency-Key (PartitionKey `idem-<principal hash>`,
RowKey the key): written insert-only, so concurrent starts with one key make one job.

Write order keeps every crash window recoverable: the active row is written
first and deleted last, so a job can never be unfinished and unlisted.

Feed rows and active-index rows of many jobs go out together (jobs/batching.py):
one entity-group transaction per partition and short window. The status row is
written alone (its ETag guards it), and the hub hears of a change at once, before
its feed row is sent. A progress row is only queued: a crash may lose it, and the
next change or the terminal one follows. A terminal row and a new job's active row
are awaited, so a crash before they are written fails the write (the message is
delivered again and `republish()` ends the bookkeeping); reconciliation reads the
status of any watched job that left the active index, whatever the feed holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient

from errors import (
    Cancelled,
    IdempotencyConflict,
    JobFinished,
    JobNotFound,
    StaleUpdate,
    StoreConflict,
    Superseded,
)
from jobs import feed
from jobs.batching import TRANSACTION_LIMIT, TableBatcher
from jobs.clock import Clock, SystemClock, epoch_ms
from jobs.failures import Failure
from jobs.model import JobState, JobStatus, JobUpdate, apply_update, new_job

log = logging.getLogger(__name__)

STATUS_ROW = "status"
ACTIVE_PARTITION = "active"
HISTORY_PREFIX = "h-"  # after every job id (hex) in the active partition
HISTORY_END = "h."  # the first key past every history row
RECENT_WINDOW = timedelta(hours=24)  # how far back "my recent jobs" reaches
_CONFLICT_RETRIES = 10


@dataclass(frozen=True)
class JobRecord:
    """The stored row: the public status plus what only the backend needs."""

    status: JobStatus
    owner: str
    created_at: datetime
    deadline: datetime
    run_id: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested_at: datetime | None = None  # set by a cancel while the job runs
    etag: str | None = None

    @property
    def job_id(self) -> str:
        return self.status.job_id


@dataclass(frozen=True)
class ActiveJob:
    job_id: str
    job_type: str
    deadline: datetime
    owner: str | None = None  # None on rows written before owners were indexed
    created_at: datetime | None = None


@dataclass(frozen=True)
class JobPage:
    """One page of a principal's jobs, newest first; `after` continues it (None: the end)."""

    jobs: list[JobRecord]
    after: str | None


Listener = Callable[[JobStatus], object]  # what it returns is not used
Mutation = Callable[[JobRecord], JobRecord | None]


class StatusStore(Protocol):
    """The status-store seam. TableStatusStore is the implementation."""

    async def reserve_start(self, principal: str, key: str, job_id: str, fingerprint: str) -> str: ...
    async def release_start(self, principal: str, key: str) -> None: ...
    async def create(self, job_id: str, job_type: str, owner: str, timeout_seconds: float) -> JobRecord: ...
    async def get(self, job_id: str) -> JobRecord | None: ...
    async def update(self, job: JobRecord | str, change: JobUpdate, *, run_id: str | None = None) -> JobRecord: ...
    async def claim(self, job_id: str, run_id: str, attempt: int, max_attempts: int) -> JobRecord | None: ...
    async def cancel(self, job_id: str, grace: timedelta) -> JobRecord: ...
    async def list_active(self, owner: str, limit: int, after: str | None = None) -> JobPage: ...
    async def list_recent(self, owner: str, limit: int, after: str | None = None) -> JobPage: ...
    async def delete_history_before(self, cutoff: datetime) -> int: ...
    async def changes_since(
        self, since: datetime, wanted: Callable[[str, int], bool] | None = None
    ) -> list[JobStatus]: ...
    async def active_jobs(self) -> list[ActiveJob]: ...
    async def forget_active(self, job_id: str) -> None: ...
    async def republish(self, record: JobRecord) -> None: ...
    async def delete_feed_before(self, cutoff: datetime) -> int: ...
    def add_listener(self, listener: Listener) -> None: ...


def table_names(prefix: str) -> tuple[str, str, str]:
    """The status table, its change feed and its active index, in that order."""
    return (prefix, f"{prefix}feed", f"{prefix}active")


class TableStatusStore:
    def __init__(self, service: TableServiceClient, prefix: str = "jobs", clock: Clock | None = None) -> None:
        self._service = service
        self.table_names = table_names(prefix)
        self._jobs = service.get_table_client(self.table_names[0])
        self._feed = service.get_table_client(self.table_names[1])
        self._active = service.get_table_client(self.table_names[2])
        self._clock = clock or SystemClock()
        self._listeners: list[Listener] = []
        self._feed_rows = TableBatcher(self._feed, window_seconds=feed.WINDOW_SECONDS, pack=feed.pack)
        # A start awaits its active row: share a transaction only with the starts under way.
        self._active_rows = TableBatcher(self._active, window_seconds=0.0)
        # A finished job's index row is off the notification path (its feed row carries the
        # news): it waits longer than a feed row for the others, so fewer rounds are written.
        self._active_deletes = TableBatcher(self._active, window_seconds=0.5)

    async def ensure_tables(self) -> None:
        for name in self.table_names:
            await self._service.create_table_if_not_exists(name)

    async def close(self) -> None:
        batchers = (self._feed_rows, self._active_rows, self._active_deletes)
        await asyncio.gather(*(b.drain() for b in batchers), return_exceptions=True)
        await self._service.close()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # --- reads

    async def ping(self) -> None:
        """One cheap read that fails if the status table is unreachable."""
        async for _ in self._jobs.query_entities("PartitionKey eq @p", parameters={"p": "ping"}, results_per_page=1):
            break

    async def get(self, job_id: str) -> JobRecord | None:
        try:
            entity = await self._jobs.get_entity(job_id, STATUS_ROW)
        except ResourceNotFoundError:
            return None
        return _record_from_entity(entity)

    async def changes_since(self, since: datetime, wanted: Callable[[str, int], bool] | None = None) -> list[JobStatus]:
        """Status changes written at or after `since`, oldest first (one query).

        `wanted(job_id, version)` filters on the row key before the payload is parsed: every
        process reads every change, but parses only the news about jobs it watches.
        """
        now = self._clock.now()
        entities = self._feed.query_entities(
            "PartitionKey ge @first and PartitionKey le @last and RowKey ge @since",
            parameters={
                "first": feed.partition(since),
                "last": feed.partition(now + timedelta(minutes=1)),
                "since": feed.since_key(since),
            },
            select=["RowKey", "Changes", "Payload"],
        )
        return [change async for entity in entities for change in feed.changes(entity, wanted)]

    async def active_jobs(self) -> list[ActiveJob]:
        entities = self._active.query_entities(
            "PartitionKey eq @p and RowKey lt @h",
            parameters={"p": ACTIVE_PARTITION, "h": HISTORY_PREFIX},
            select=["RowKey", "JobType", "Deadline", "Owner", "CreatedAt"],
        )
        return [
            ActiveJob(e["RowKey"], e["JobType"], e["Deadline"], e.get("Owner"), e.get("CreatedAt"))
            async for e in entities
        ]

    async def list_active(self, owner: str, limit: int, after: str | None = None) -> JobPage:
        """The owner's unfinished jobs, newest first: one query of the active rows (their
        number, not the status table's, bounds it; the filter runs in the service) and one
        point read per job listed. `after` is the `position` of the last job already seen."""
        entities = self._active.query_entities(
            "PartitionKey eq @p and RowKey lt @h and Owner eq @owner",
            parameters={"p": ACTIVE_PARTITION, "h": HISTORY_PREFIX, "owner": owner},
            select=["RowKey", "CreatedAt"],
        )
        positions = sorted([position(e["CreatedAt"], e["RowKey"]) async for e in entities])
        if after is not None:
            positions = [p for p in positions if p > after]
        return await self._page(positions, limit, owner, unfinished=True)

    async def list_recent(self, owner: str, limit: int, after: str | None = None) -> JobPage:
        """The owner's jobs of the last RECENT_WINDOW, newest first: one range query of
        the history rows (at most `limit` + 1) and one point read per job listed."""
        prefix = _history_prefix(owner)
        oldest = position(self._clock.now() - RECENT_WINDOW, "")
        entities = self._active.query_entities(
            "PartitionKey eq @p and RowKey gt @first and RowKey lt @last",
            parameters={"p": ACTIVE_PARTITION, "first": prefix + (after or ""), "last": prefix + oldest},
            select=["RowKey"],
            results_per_page=limit + 1,
        )
        positions: list[str] = []
        async for e in entities:
            positions.append(str(e["RowKey"])[len(prefix) :])
            if len(positions) > limit:
                break
        return await self._page(positions, limit, owner)

    async def _page(self, positions: list[str], limit: int, owner: str, *, unfinished: bool = False) -> JobPage:
        shown = positions[:limit]
        records = await asyncio.gather(*(self.get(job_id_at(p)) for p in shown))
        # An index row may briefly precede its status row (a start under way), or outlive it
        # (a finished job's row waits for its delete round): the status row decides.
        jobs = [
            r for r in records if r is not None and r.owner == owner and not (unfinished and r.status.status.terminal)
        ]
        return JobPage(jobs, shown[-1] if len(positions) > limit else None)

    # --- writes

    async def reserve_start(self, principal: str, key: str, job_id: str, fingerprint: str) -> str:
        """The job an Idempotency-Key names: `job_id` if this call is the first with the key
        (insert-only, so one wins whatever the interleaving), else the first call's job.
        Raises IdempotencyConflict when the key started a job with another body."""
        row = {"PartitionKey": _idempotency_partition(principal), "RowKey": key}
        try:
            await self._jobs.create_entity({**row, "JobId": job_id, "Fingerprint": fingerprint})
            return job_id
        except ResourceExistsError:
            pass
        first = await self._jobs.get_entity(row["PartitionKey"], key)
        if first["Fingerprint"] != fingerprint:
            raise IdempotencyConflict("this Idempotency-Key started a job with another body")
        return str(first["JobId"])

    async def release_start(self, principal: str, key: str) -> None:
        """Forget a key whose job could not be queued, so a retry with it starts afresh."""
        try:
            await self._jobs.delete_entity(_idempotency_partition(principal), key)
        except ResourceNotFoundError:
            pass

    async def create(self, job_id: str, job_type: str, owner: str, timeout_seconds: float) -> JobRecord:
        now = self._clock.now()
        deadline = now + timedelta(seconds=timeout_seconds)
        active = {
            "PartitionKey": ACTIVE_PARTITION,
            "RowKey": job_id,
            "JobType": job_type,
            "Deadline": deadline,
            "Owner": owner,
            "CreatedAt": now,
        }
        history = {"PartitionKey": ACTIVE_PARTITION, "RowKey": _history_prefix(owner) + position(now, job_id)}
        # Submitted together, so they share one transaction: the history costs no request.
        await asyncio.gather(self._active_rows.submit("upsert", active), self._active_rows.submit("upsert", history))
        record = JobRecord(status=new_job(job_id, job_type, now), owner=owner, created_at=now, deadline=deadline)
        try:
            meta = await self._jobs.create_entity(_entity_from_record(record))
        except ResourceExistsError:
            raise StaleUpdate(f"job {job_id} already exists") from None
        # No feed row for version 1: nobody can be watching a job before its start
        # answers, and a stream reads the current state when it opens.
        return replace(record, etag=meta["etag"])

    async def update(self, job: JobRecord | str, change: JobUpdate, *, run_id: str | None = None) -> JobRecord:
        """Apply `change`. Raises StaleUpdate if it would regress the job, Superseded
        if `run_id` no longer owns it. Returns the record unchanged for a no-op."""
        now = self._clock.now()

        def mutate(rec: JobRecord) -> JobRecord | None:
            if run_id is not None and rec.run_id != run_id:
                raise Superseded(f"job {rec.job_id} is now owned by another delivery")
            if run_id is not None and rec.cancel_requested_at is not None and change.status is not JobState.FAILED:
                raise Cancelled(f"job {rec.job_id} was cancelled")
            status = apply_update(rec.status, change, now)
            if status is None:
                return None
            finished = now if status.status.terminal else rec.finished_at
            return replace(rec, status=status, finished_at=finished)

        return await self._mutate(job, mutate)

    async def claim(self, job_id: str, run_id: str, attempt: int, max_attempts: int) -> JobRecord | None:
        """Take the job for one delivery: Running, owned by `run_id`.

        None when the job is already finished (a redelivery: nothing to do). A job whose
        cancel was asked while its worker was gone ends here, cancelled: the terminal
        record is returned and no delivery runs it.
        """
        now = self._clock.now()
        message = "started" if attempt <= 1 else f"retrying (attempt {attempt} of {max_attempts})"

        def mutate(rec: JobRecord) -> JobRecord | None:
            if rec.cancel_requested_at is not None:
                return _cancelled(rec, now)
            status = apply_update(rec.status, JobUpdate(status=JobState.RUNNING, message=message), now)
            # The run id always changes, so this is a write even when the status is not.
            return replace(
                rec, status=status or rec.status, run_id=run_id, attempts=attempt, started_at=rec.started_at or now
            )

        try:
            return await self._mutate(job_id, mutate)
        except StaleUpdate:
            return None

    async def cancel(self, job_id: str, grace: timedelta) -> JobRecord:
        """Cancel a job: a Queued one ends now (Failed, "cancelled"); a Running one is
        asked to stop (its worker sees it at its next write or check, and ends it). The
        job's deadline in the active index moves to `grace` from now, so the sweeper ends
        it if its worker is gone. Raises JobFinished for a finished job."""
        now = self._clock.now()

        def mutate(rec: JobRecord) -> JobRecord | None:
            if rec.status.status.terminal:
                raise JobFinished(f"job {rec.job_id} has already finished")
            if rec.status.status is JobState.QUEUED:
                return _cancelled(replace(rec, cancel_requested_at=now), now)
            if rec.cancel_requested_at is not None:
                return None  # asked already
            return replace(rec, cancel_requested_at=now)

        record = await self._mutate(job_id, mutate)
        if not record.status.status.terminal:
            try:
                await self._active.update_entity(
                    {"PartitionKey": ACTIVE_PARTITION, "RowKey": job_id, "Deadline": min(record.deadline, now + grace)},
                    mode=UpdateMode.MERGE,
                )
            except ResourceNotFoundError:
                pass  # it finished meanwhile: never bring its row back
        return record

    async def delete_history_before(self, cutoff: datetime) -> int:
        """Drop history rows of jobs created before `cutoff` (called by the sweeper).
        The rows are few (a day's jobs); only their keys are read."""
        entities = self._active.query_entities(
            "PartitionKey eq @p and RowKey ge @h and RowKey lt @end",
            parameters={"p": ACTIVE_PARTITION, "h": HISTORY_PREFIX, "end": HISTORY_END},
            select=["RowKey"],
        )
        oldest = position(cutoff, "")[:13]  # created before the cutoff: a larger inverted time
        stale = [str(e["RowKey"]) async for e in entities if str(e["RowKey"]).split("-", 2)[2][:13] > oldest]
        for start in range(0, len(stale), TRANSACTION_LIMIT):
            batch = stale[start : start + TRANSACTION_LIMIT]
            await self._active.submit_transaction(
                [("delete", {"PartitionKey": ACTIVE_PARTITION, "RowKey": key}) for key in batch]
            )
        return len(stale)

    async def republish(self, record: JobRecord) -> None:
        """Finish the bookkeeping of a terminal write that a crash may have cut short.

        Idempotent: a redelivered message for a finished job calls this.
        """
        await self._append_feed(record.status)
        await self.forget_active(record.job_id)

    async def forget_active(self, job_id: str) -> None:
        await self._active_deletes.submit("delete", {"PartitionKey": ACTIVE_PARTITION, "RowKey": job_id})

    async def delete_feed_before(self, cutoff: datetime) -> int:
        """Drop change-feed rows older than `cutoff` (called by the sweeper)."""
        entities = self._feed.query_entities(
            "PartitionKey lt @cutoff", parameters={"cutoff": feed.partition(cutoff)}, select=["PartitionKey", "RowKey"]
        )
        batches: dict[str, list[tuple[str, dict[str, str]]]] = {}
        deleted = 0
        async for e in entities:
            batch = batches.setdefault(e["PartitionKey"], [])
            batch.append(("delete", {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"]}))
            if len(batch) == 100:  # the transaction limit
                await self._feed.submit_transaction(batch)
                deleted += len(batch)
                batch.clear()
        for batch in batches.values():
            if batch:
                await self._feed.submit_transaction(batch)
                deleted += len(batch)
        return deleted

    # --- internals

    async def _mutate(self, job: JobRecord | str, mutate: Mutation) -> JobRecord:
        record = job if isinstance(job, JobRecord) else None
        job_id = job.job_id if isinstance(job, JobRecord) else job
        for attempt in range(_CONFLICT_RETRIES):
            current = record or await self.get(job_id)
            record = None
            if current is None:
                raise JobNotFound(job_id)
            updated = mutate(current)
            if updated is None:
                return current
            entity, mode = _changed(current, updated)
            try:
                meta = await self._jobs.update_entity(
                    entity, mode=mode, etag=current.etag, match_condition=MatchConditions.IfNotModified
                )
            except ResourceModifiedError:
                # Someone else wrote first: re-read and re-check, after a short random pause
                # so that writers who collided do not collide again (none before giving up).
                if attempt + 1 < _CONFLICT_RETRIES:
                    await asyncio.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))
                continue
            updated = replace(updated, etag=meta["etag"])
            if updated.status.version != current.status.version:  # a new status, not only bookkeeping
                await self._after_write(updated)
            return updated
        raise StoreConflict(f"job {job_id}: too many concurrent updates")

    async def _after_write(self, record: JobRecord) -> None:
        status = record.status
        for listener in self._listeners:
            try:
                listener(status)
            except Exception:  # a listener must never fail a status write
                log.exception("status listener failed")
        if not status.status.terminal:
            # Queued, not awaited: progress may be coalesced; the next change or the terminal one follows.
            self._append_feed(status).add_done_callback(_warn_if_failed)
            return
        # A terminal change must reach the feed and leave the active index. If either
        # fails the error propagates, the message is redelivered and republish() ends it.
        await self._append_feed(status)
        await self.forget_active(status.job_id)

    def _append_feed(self, status: JobStatus) -> asyncio.Future[None]:
        return self._feed_rows.submit("upsert", feed.row(status))


def _cancelled(record: JobRecord, now: datetime) -> JobRecord:
    failure = Failure.CANCELLED
    change = JobUpdate(status=JobState.FAILED, message=failure.message(), error=failure.meaning)
    return replace(record, status=apply_update(record.status, change, now) or record.status, finished_at=now)


def position(created_at: datetime, job_id: str) -> str:
    """A job's place in a newest-first listing: `<inverted creation ms>-<job id>`."""
    return f"{10**13 - 1 - epoch_ms(created_at):013d}-{job_id}"


def job_id_at(place: str) -> str:
    return place[14:]


def _history_prefix(owner: str) -> str:
    return f"{HISTORY_PREFIX}{_owner_hash(owner)}-"


def _warn_if_failed(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("change feed append failed (%s)", type(done.exception()).__name__)


def _owner_hash(principal: str) -> str:
    # A principal id may hold characters a key may not (/ \ # ?): its hash may not.
    return hashlib.sha256(principal.encode()).hexdigest()[:32]


def _idempotency_partition(principal: str) -> str:
    return "idem-" + _owner_hash(principal)


def _entity_from_record(record: JobRecord) -> dict[str, object]:
    s = record.status
    entity: dict[str, object] = {
        "PartitionKey": s.job_id,
        "RowKey": STATUS_ROW,
        "JobType": s.job_type,
        "Status": s.status.value,
        "Progress": float(s.progress),
        "Message": s.message,
        "ResultRef": s.result_ref,
        "Error": s.error,
        "UpdatedAt": s.timestamp,
        "Version": s.version,
        "Owner": record.owner,
        "CreatedAt": record.created_at,
        "Deadline": record.deadline,
        "RunId": record.run_id,
        "Attempts": record.attempts,
        "StartedAt": record.started_at,
        "FinishedAt": record.finished_at,
        "CancelRequestedAt": record.cancel_requested_at,
    }
    return {k: v for k, v in entity.items() if v is not None}


def _changed(current: JobRecord, updated: JobRecord) -> tuple[dict[str, object], UpdateMode]:
    """What to send to turn `current` into `updated` under `current`'s ETag: only the changed
    properties (a progress write changes 4 of 18), unless one must be removed."""
    old, new = _entity_from_record(current), _entity_from_record(updated)
    if not old.keys() <= new.keys():  # MERGE keeps what it is not sent
        return new, UpdateMode.REPLACE
    keys = ("PartitionKey", "RowKey")
    return {k: v for k, v in new.items() if k in keys or old.get(k) != v}, UpdateMode.MERGE


def _record_from_entity(e: dict[str, Any]) -> JobRecord:  # a table entity: values as the SDK typed them
    status = JobStatus(
        job_id=str(e["PartitionKey"]),
        job_type=str(e["JobType"]),
        status=JobState(str(e["Status"])),
        progress=float(e.get("Progress") or 0.0),
        message=e.get("Message"),
        result_ref=e.get("ResultRef"),
        error=e.get("Error"),
        timestamp=e["UpdatedAt"],
        version=int(e["Version"]),
    )
    return JobRecord(
        status=status,
        owner=str(e["Owner"]),
        created_at=e["CreatedAt"],
        deadline=e["Deadline"],
        run_id=e.get("RunId"),
        attempts=int(e.get("Attempts") or 0),
        started_at=e.get("StartedAt"),
        finished_at=e.get("FinishedAt"),
        cancel_requested_at=e.get("CancelRequestedAt"),
        etag=getattr(e, "metadata", {}).get("etag"),
    )
