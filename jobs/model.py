"""The job state machine and the standard payload every endpoint and event carries.

States only move forward: Queued -> Running -> Completed | Failed. A stale or
duplicate update is refused here, before any storage write, and the store
repeats the check under an ETag so two writers cannot both win.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from errors import StaleUpdate

# Job ids are server-made UUIDs; job types are short identifiers. Anything else
# is refused before it can reach a storage key (no `/ \ # ?`, no control chars).
JOB_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
JOB_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9]{0,63}$"
_JOB_ID_RE = re.compile(JOB_ID_PATTERN)
_JOB_TYPE_RE = re.compile(JOB_TYPE_PATTERN)

MAX_TEXT = 1000  # message / error length kept in the payload


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID_RE.fullmatch(value))


def is_job_type_name(value: str) -> bool:
    return bool(_JOB_TYPE_RE.fullmatch(value))


class JobState(StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED)


_RANK = {JobState.QUEUED: 0, JobState.RUNNING: 1, JobState.COMPLETED: 2, JobState.FAILED: 2}


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


class JobStatus(CamelModel):
    """The standard payload: the status endpoint's body and every SSE `data:` line."""

    job_id: str = Field(description="Server-assigned UUID.")
    job_type: str
    status: JobState
    progress: float = Field(0.0, ge=0.0, le=1.0, description="Fraction done, 0.0 to 1.0.")
    message: str | None = None
    result_ref: str | None = None
    error: str | None = None
    timestamp: datetime = Field(description="When this version was written (UTC).")
    version: int = Field(ge=1, description="Rises with every change; the SSE event id.")


class JobUpdate(BaseModel):
    """A requested change. Fields left as None keep their current value."""

    model_config = ConfigDict(frozen=True)

    status: JobState | None = None
    progress: float | None = Field(None, ge=0.0, le=1.0)
    message: str | None = None
    result_ref: str | None = None
    error: str | None = None


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def new_job(job_id: str, job_type: str, now: datetime) -> JobStatus:
    return JobStatus(job_id=job_id, job_type=job_type, status=JobState.QUEUED, timestamp=now, version=1)


def apply_update(current: JobStatus, update: JobUpdate, now: datetime | None = None) -> JobStatus | None:
    """The next version of `current`, or None when the update changes nothing.

    Raises StaleUpdate when the update would regress the job. Progress never goes
    down either, so a redelivered job that restarts its steps never looks like it
    went backwards to a watcher.
    """
    if current.status.terminal:
        raise StaleUpdate(f"job {current.job_id} is already {current.status}")
    status = update.status or current.status
    if status.rank < current.status.rank:
        raise StaleUpdate(f"job {current.job_id} cannot go from {current.status} to {status}")

    progress = current.progress if update.progress is None else max(current.progress, update.progress)
    if status is JobState.COMPLETED:
        progress = 1.0
    changes: dict[str, Any] = {
        "status": status,
        "progress": round(progress, 4),
        "message": _clip(update.message) if update.message is not None else current.message,
        "result_ref": update.result_ref if update.result_ref is not None else current.result_ref,
        "error": _clip(update.error) if update.error is not None else current.error,
    }
    if all(getattr(current, k) == v for k, v in changes.items()):
        return None
    return current.model_copy(update={**changes, "version": current.version + 1, "timestamp": now or datetime.now(UTC)})


def seconds_left(status: JobStatus, started_at: datetime | None, now: datetime) -> float | None:
    """How long a running job should still take if it keeps its pace so far, or
    None when that cannot be told (not running, no progress yet, or done).

    The pace is the progress at its last report over the time worked until then;
    a message-only update moves `timestamp` too, which only makes this cautious.
    """
    if status.status is not JobState.RUNNING or started_at is None or not 0.0 < status.progress < 1.0:
        return None
    worked = (status.timestamp - started_at).total_seconds()
    if worked <= 0:
        return None
    expected = worked * (1.0 - status.progress) / status.progress
    return max(0.0, expected - (now - status.timestamp).total_seconds())
