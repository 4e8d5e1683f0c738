"""The sweep: fail jobs that outlived their deadline, tidy the indexes.

It reads the active-jobs index (one query per 1,000 unfinished jobs) and
touches only rows past their deadline, so its cost follows the number of
unfinished jobs, never the size of the status table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from errors import StaleUpdate
from jobs.clock import Clock
from jobs.failures import Failure
from jobs.model import JobState, JobUpdate
from jobs.store import RECENT_WINDOW, StatusStore
from telemetry.jobs import job_finished

log = logging.getLogger(__name__)

FEED_RETENTION = timedelta(hours=1)
ORPHAN_GRACE = timedelta(minutes=5)  # an index row may briefly precede its status row
HISTORY_GRACE = timedelta(hours=1)  # history rows outlive the recent window a little: no edge to race


@dataclass(frozen=True)
class SweepReport:
    active: int
    timed_out: int
    tidied: int
    feed_rows_deleted: int


async def sweep(store: StatusStore, clock: Clock) -> SweepReport:
    now = clock.now()
    active = await store.active_jobs()
    timed_out = tidied = 0
    for job in active:
        if job.deadline > now:
            continue
        record = await store.get(job.job_id)
        if record is None:
            if job.deadline + ORPHAN_GRACE < now:
                await store.forget_active(job.job_id)
                tidied += 1
            continue
        if record.status.status.terminal:
            await store.republish(record)  # a crash cut its bookkeeping short
            tidied += 1
            continue
        # A cancel moves the deadline close: its worker is gone if the job is still here.
        if record.cancel_requested_at is not None:
            failure, error = Failure.CANCELLED, Failure.CANCELLED.meaning
        else:
            failure = Failure.TIMED_OUT
            error = f"no result by its deadline ({(now - record.created_at).total_seconds():.0f}s after start)"
        try:
            done = await store.update(record, JobUpdate(status=JobState.FAILED, message=failure.message(), error=error))
            timed_out += 1
            log.warning("job %s (%s) %s", job.job_id, job.job_type, failure.message(), extra={"jobId": job.job_id})
            job_finished(done, failure)
        except StaleUpdate:
            pass  # it finished meanwhile
    deleted = await store.delete_feed_before(now - FEED_RETENTION)
    tidied += await store.delete_history_before(now - RECENT_WINDOW - HISTORY_GRACE)
    return SweepReport(len(active), timed_out, tidied, deleted)
