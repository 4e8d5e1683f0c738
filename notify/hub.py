"""The in-process hub: fans each status change out to the streams watching it.

Every change is encoded once (`data:` block) and shared by all its streams.
The hub keeps the latest change only for jobs someone watches, and forgets a
job when its last stream leaves, so its size follows the open streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from jobs.model import JobStatus
from notify import sse


@dataclass(frozen=True, slots=True)
class Change:
    job_id: str
    job_type: str
    version: int
    terminal: bool
    data: bytes  # the pre-encoded `data:` block
    written_at: datetime
    path: str  # how it arrived: "local" (same process), "feed" (another process), "read" (at stream open)

    @classmethod
    def of(cls, status: JobStatus, path: str) -> Change:
        return cls(
            status.job_id,
            status.job_type,
            status.version,
            status.status.terminal,
            sse.data_block(status.to_json()),
            status.timestamp,
            path,
        )


class Subscriber(Protocol):
    def deliver(self, change: Change) -> None: ...


class Hub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._latest: dict[str, Change] = {}

    def publish(self, status: JobStatus, path: str = "local") -> Change | None:
        """Deliver `status` if someone watches it and it is newer than what they have."""
        subscribers = self._subscribers.get(status.job_id)
        if not subscribers:
            return None
        latest = self._latest.get(status.job_id)
        if latest is not None and latest.version >= status.version:
            return None
        change = Change.of(status, path)
        self._latest[status.job_id] = change
        for subscriber in tuple(subscribers):
            subscriber.deliver(change)
        return change

    def subscribe(self, job_ids: Iterable[str], subscriber: Subscriber) -> None:
        for job_id in job_ids:
            self._subscribers.setdefault(job_id, set()).add(subscriber)

    def unsubscribe(self, job_ids: Iterable[str], subscriber: Subscriber) -> None:
        for job_id in job_ids:
            subscribers = self._subscribers.get(job_id)
            if subscribers is None:
                continue
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[job_id]
                self._latest.pop(job_id, None)

    def latest(self, job_id: str) -> Change | None:
        return self._latest.get(job_id)

    def watched(self) -> list[str]:
        return list(self._subscribers)

    def unfinished(self) -> list[str]:
        """Watched jobs not yet known to be finished: what reconciliation checks."""
        return [j for j in self._subscribers if not ((c := self._latest.get(j)) and c.terminal)]

    def __bool__(self) -> bool:
        return bool(self._subscribers)
