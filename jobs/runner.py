"""Runs one delivery of a job message. Both queue triggers call this.

Delivery is at least once, so every path is idempotent:

- a message for a finished job is a no-op (it only repairs bookkeeping);
- a JobError fails the job at once; the message is completed;
- any other exception is retried while deliveries remain, and on the last one
  fails the job and re-raises, so the platform dead-letters the message;
- a second delivery of a running job (the first worker died) takes it over:
  the old run loses the ETag race and stops (Superseded);
- a cancel (from any instance) is a flag on the status row. The run sees it at its
  next write (the row's ETag moved: `progress()` raises Cancelled) or, between
  writes, within CANCEL_CHECK_SECONDS by reading the row: `ctx.cancelled` turns
  true and the job function's task is cancelled at its next await. Either way the
  job ends Failed, "cancelled".
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError

from errors import Cancelled, JobError, JobNotFound, RetryLater, StaleUpdate, Superseded
from jobs.clock import Clock, SystemClock
from jobs.failures import Failure
from jobs.model import JobState, JobUpdate
from jobs.queue import JobMessage
from jobs.registry import JobResult, get_job_type
from jobs.store import JobRecord, StatusStore
from telemetry.jobs import job_finished
from telemetry.logs import correlated
from telemetry.metrics import metrics

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.25  # seconds between progress writes; faster reports are coalesced
# How often a run whose job wrote nothing lately reads its row to see a cancel: the bound
# (plus one read) on how long a cancelled job keeps running between its progress reports.
CANCEL_CHECK_SECONDS = 2.0
# After a cancel, how long a running job's worker has to end it before the sweeper does
# (the worker may be gone). Far above the check interval: a live worker always wins.
CANCEL_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class Outcome:
    job_id: str | None
    state: JobState | None
    ran: bool


class _Context:
    def __init__(self, store: StatusStore, record: JobRecord, run_id: str, attempt: int, clock: Clock) -> None:
        self._store = store
        self.record = record
        self._run_id = run_id
        self._clock = clock
        self._last_write = float("-inf")
        self.job_id = record.job_id
        self.job_type = record.status.job_type
        self.attempt = attempt
        self.cancelled = False

    @property
    def last_write(self) -> float:
        return self._last_write

    async def progress(self, fraction: float, message: str | None = None) -> None:
        if self.cancelled:
            raise Cancelled(f"job {self.job_id} was cancelled")
        now = self._clock.monotonic()
        if now - self._last_write < PROGRESS_INTERVAL:
            return
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.record = await self._store.update(
            self.record, JobUpdate(progress=fraction, message=message), run_id=self._run_id
        )
        self._last_write = now


class JobRunner:
    def __init__(self, store: StatusStore, max_attempts: int, clock: Clock | None = None) -> None:
        self._store = store
        self._max_attempts = max_attempts
        self._clock = clock or SystemClock()

    async def handle(self, body: str | bytes, attempt: int) -> Outcome:
        """Run one delivery. `attempt` is the platform's delivery count (1-based)."""
        try:
            message = JobMessage.model_validate_json(body)
        except ValidationError:
            # Nothing to fail: no trustworthy job id. Let it reach the dead-letter queue.
            log.error("malformed job message (attempt %s) will be dead-lettered", attempt)
            raise RetryLater("malformed job message") from None
        with correlated(job_id=message.job_id):
            return await self._run(message, attempt)

    async def _run(self, message: JobMessage, attempt: int) -> Outcome:
        job_type = get_job_type(message.job_type)
        run_id = uuid.uuid4().hex
        record = await self._store.claim(message.job_id, run_id, attempt, self._max_attempts)
        if record is None:
            finished = await self._store.get(message.job_id)
            if finished is not None:
                await self._store.republish(finished)
            log.info("job %s is already finished; delivery %s ignored", message.job_id, attempt)
            return Outcome(message.job_id, finished.status.status if finished else None, ran=False)

        if attempt <= 1 and record.started_at is not None:
            wait = (record.started_at - record.created_at).total_seconds()
            metrics().queue_wait.record(max(wait, 0.0), {"job_type": record.status.job_type})
        if job_type is None:
            return await self._fail(record, run_id, Failure.INVALID, f"unknown job type {message.job_type!r}")
        try:
            params = job_type.input_model.model_validate(message.input)
        except ValidationError as exc:
            return await self._fail(record, run_id, Failure.INVALID, f"invalid input: {exc.error_count()} error(s)")

        if record.status.status.terminal:  # cancelled while no worker held it
            job_finished(record, Failure.CANCELLED)
            return Outcome(message.job_id, record.status.status, ran=False)

        ctx = _Context(self._store, record, run_id, attempt, self._clock)
        remaining = (record.deadline - self._clock.now()).total_seconds()
        work = asyncio.ensure_future(job_type.handler(ctx, params))
        checker = asyncio.ensure_future(self._check_cancel(ctx, work))
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                result = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not ctx.cancelled or (current is not None and current.cancelling()):
                raise  # not our cancel: the host is stopping this invocation
            return await self._fail(ctx.record, run_id, Failure.CANCELLED, Failure.CANCELLED.meaning)
        except Cancelled:
            return await self._fail(ctx.record, run_id, Failure.CANCELLED, Failure.CANCELLED.meaning)
        except (Superseded, StaleUpdate) as exc:
            log.info("job %s: this delivery stops: %s", message.job_id, exc)
            return Outcome(message.job_id, None, ran=True)
        except JobError as exc:
            return await self._fail(ctx.record, run_id, Failure.ERROR, str(exc) or "job failed")
        except TimeoutError:
            return await self._fail(
                ctx.record, run_id, Failure.TIMED_OUT, f"no result within {job_type.timeout_seconds:g}s"
            )
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            last = attempt >= self._max_attempts
            try:
                if last:
                    await self._fail(ctx.record, run_id, Failure.EXHAUSTED, reason, attempts=attempt)
                else:
                    await self._note(ctx.record, run_id, f"attempt {attempt} of {self._max_attempts} failed; retrying")
            except Exception as bookkeeping:
                # Storage is down too: the redelivery (or the sweeper) settles the status.
                log.warning("job %s: could not record the failure (%s)", message.job_id, type(bookkeeping).__name__)
            log.warning(
                "job %s attempt %s failed (%s)%s",
                message.job_id,
                attempt,
                reason,
                "; dead-lettering" if last else "; it will be retried",
            )
            raise RetryLater(reason if not last else f"job {message.job_id} failed on its last delivery") from None
        finally:
            checker.cancel()

        result = result or JobResult()
        try:
            done = await self._store.update(
                ctx.record,
                JobUpdate(
                    status=JobState.COMPLETED, message=result.message or "completed", result_ref=result.result_ref
                ),
                run_id=run_id,
            )
        except (Superseded, StaleUpdate):
            return Outcome(message.job_id, None, ran=True)
        except Cancelled:  # asked while the job was finishing: the cancel was answered, so it holds
            return await self._fail(ctx.record, run_id, Failure.CANCELLED, Failure.CANCELLED.meaning)
        job_finished(done)
        return Outcome(message.job_id, done.status.status, ran=True)

    async def _check_cancel(self, ctx: _Context, work: asyncio.Future[JobResult | None]) -> None:
        """Between the job's own writes, read its row for a cancel asked elsewhere."""
        while not work.done():
            await asyncio.sleep(CANCEL_CHECK_SECONDS)
            if self._clock.monotonic() - ctx.last_write < CANCEL_CHECK_SECONDS:
                continue  # a write that recent would have met the cancel's ETag
            try:
                record = await self._store.get(ctx.job_id)
            except Exception as exc:  # storage trouble: the next check or write tells
                log.debug("job %s: cancel check failed (%s)", ctx.job_id, type(exc).__name__)
                continue
            if record is not None and record.cancel_requested_at is not None:
                log.info("job %s: cancelled by its owner; stopping it", ctx.job_id)
                ctx.cancelled = True
                work.cancel()
                return

    async def _fail(
        self, record: JobRecord, run_id: str, failure: Failure, error: str, *, attempts: int | None = None
    ) -> Outcome:
        update = JobUpdate(status=JobState.FAILED, message=failure.message(attempts), error=error)
        try:
            done = await self._store.update(record, update, run_id=run_id)
        except (Superseded, StaleUpdate, JobNotFound):
            return Outcome(record.job_id, None, ran=True)
        job_finished(done, failure)
        return Outcome(record.job_id, done.status.status, ran=True)

    async def _note(self, record: JobRecord, run_id: str, message: str) -> None:
        try:
            await self._store.update(record, JobUpdate(message=message), run_id=run_id)
        except (Superseded, StaleUpdate):
            pass
