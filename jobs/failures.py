"""Why a job failed: the one vocabulary.

The value is the `reason` of the `jobevents.jobs.failed` metric; `message()` is the
short, user-facing `message` of the job's Failed status (its `error` says the detail).
The README and docs/observability.md list these; a test holds them to this enum.
"""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    ERROR = "error"  # the job function failed on purpose (JobError)
    INVALID = "invalid"  # an unknown job type, or input that fails its model, in the message
    TIMED_OUT = "timed_out"  # no result by the deadline (the runner's timeout or the sweeper)
    EXHAUSTED = "exhausted"  # the last delivery failed too; the platform dead-letters the message
    UNQUEUED = "unqueued"  # the start could not queue the job
    CANCELLED = "cancelled"  # its owner cancelled it (POST .../cancel)

    def message(self, attempts: int | None = None) -> str:
        if self is Failure.EXHAUSTED:
            return f"failed after {attempts} attempts"
        return _MESSAGES[self]

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MESSAGES = {
    Failure.ERROR: "failed",
    Failure.INVALID: "failed",
    Failure.TIMED_OUT: "timed out",
    Failure.UNQUEUED: "could not be queued",
    Failure.CANCELLED: "cancelled",
}
_MEANINGS = {
    Failure.ERROR: "the job failed on purpose",
    Failure.INVALID: "unknown job type or invalid input",
    Failure.TIMED_OUT: "no result by its deadline",
    Failure.EXHAUSTED: "its last delivery failed",
    Failure.UNQUEUED: "the start could not queue it",
    Failure.CANCELLED: "its owner cancelled it",
}
