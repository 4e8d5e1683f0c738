"""What a job reports when it reaches a terminal state, wherever that happens:
the runner, the sweeper, or a start that could not queue.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telemetry.metrics import metrics

if TYPE_CHECKING:
    from jobs.failures import Failure
    from jobs.store import JobRecord

log = logging.getLogger("jobs.finished")


def job_finished(record: JobRecord, reason: Failure | None = None) -> None:
    """Metrics and one structured log line; the operator's KQL queries read its durations.
    `reason` says why a job failed (`jobevents.jobs.failed`); a Failed job needs one."""
    status = record.status
    outcome = status.status.value
    run_seconds = (
        (record.finished_at - record.started_at).total_seconds() if record.started_at and record.finished_at else None
    )
    wait_seconds = (record.started_at - record.created_at).total_seconds() if record.started_at else None
    measure = metrics()
    measure.jobs_finished.add(1, {"job_type": status.job_type, "outcome": outcome})
    if run_seconds is not None:
        measure.run_time.record(run_seconds, {"job_type": status.job_type, "outcome": outcome})
    if outcome == "Failed":
        assert reason is not None, "a failed job needs its reason"
        measure.jobs_failed.add(1, {"job_type": status.job_type, "reason": reason.value})
    log.info(
        "job %s %s",
        status.job_id,
        outcome,
        extra={
            "jobId": status.job_id,
            "jobType": status.job_type,
            "outcome": outcome,
            "failureReason": reason.value if reason else None,
            "queueWaitSeconds": wait_seconds,
            "runSeconds": run_seconds,
            "attempts": record.attempts,
        },
    )
