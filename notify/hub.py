"""The in-process hub: fans each status change out to the streams watching it.

Every change is encoded once (`data:` block) and shared by all its streams; the whole
event of a one-job stream (its id is the version) is framed once too.
The hub keeps the latest change only for jobs someone watches, and forgets a
job when its last stream leaves, so its size follows the open streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from jobs.clock import Clock, SystemClock
from jobs.model import JobStatus
from notify import sse
from telemetry.metrics import metrics


class Arrival(StrEnum):
    """How a change reached this process (the `path` of the notification latency metric)."""

    LOCAL = "local"  # written in this process
    FEED = "feed"  # written by another process, read from the change feed
    READ = "read"  # read from storage when a stream opened: not a notification


@dataclass(slots=True)
class Change:
    job_id: str
    job_type: str
    version: int
    terminal: bool
    data: bytes  # the pre-encoded `data:` block
    written_at: datetime
    path: Arrival
    measured: bool = False
    _event: bytes | None = None  # the one-job stream's event, framed by the first that sends it

    @classmethod
    def of(cls, status: JobStatus, path: Arrival) -> Change:
        return cls(
            status.job_id,
            status.job_type,
            status.version,
            status.status.terminal,
            sse.data_block(status.to_json()),
            status.timestamp,
            path,
            measured=path is Arrival.READ,
        )

    def event(self) -> bytes:
        """This change as a one-job stream sends it, the same bytes for all of them."""
        if self._event is None:
            self._event = sse.event(self.data, id=str(self.version))
        return self._event

    def measure(self) -> None:
        """Record status written -> first event sent, once per change (not per stream)."""
        self.measured = True
        latency_ms = (datetime.now(UTC) - self.written_at).total_seconds() * 1000
        metrics().notify_latency.record(latency_ms, _PATH_ATTRIBUTES[self.path])


# One attributes mapping per path, not a new dict per change.
_PATH_ATTRIBUTES = {path: {"path": path.value} for path in Arrival}


class Subscriber(Protocol):
    def deliver(self, change: Change) -> None: ...


class Hub:
    """Subscribers and the latest change of each job they watch.

    A job's latest change outlives its last subscriber by `grace_seconds`: a stream
    that reconnects (every planned close does) finds it here instead of reading
    storage. While anything is held the watcher keeps running, so it stays fresh.
    """

    def __init__(self, clock: Clock | None = None, grace_seconds: float = 30.0) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._latest: dict[str, Change] = {}
        self._held: dict[str, tuple[Change, float]] = {}  # unwatched: (latest, forget at)
        self._clock = clock or SystemClock()
        self._grace = grace_seconds

    def publish(self, status: JobStatus, path: Arrival = Arrival.LOCAL) -> Change | None:
        """Deliver `status` if someone watches it and it is newer than what they have."""
        subscribers = self._subscribers.get(status.job_id)
        if not subscribers:
            held = self._held.get(status.job_id)
            if held is not None and held[0].version < status.version:
                self._held[status.job_id] = (Change.of(status, path), held[1])
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
            held = self._held.pop(job_id, None)
            # Past its grace the held state may be stale: the watcher stops when
            # nothing is watched, so let the caller read storage instead.
            if held is not None and held[1] > self._clock.monotonic() and job_id not in self._latest:
                self._latest[job_id] = held[0]

    def unsubscribe(self, job_ids: Iterable[str], subscriber: Subscriber) -> None:
        for job_id in job_ids:
            subscribers = self._subscribers.get(job_id)
            if subscribers is None:
                continue
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[job_id]
                latest = self._latest.pop(job_id, None)
                if latest is not None:
                    self._held[job_id] = (latest, self._clock.monotonic() + self._grace)

    def latest(self, job_id: str) -> Change | None:
        return self._latest.get(job_id)

    def watched(self) -> list[str]:
        return list(self._subscribers)

    def unfinished(self) -> list[str]:
        """Watched jobs not yet known to be finished: what reconciliation checks."""
        return [j for j in self._subscribers if not ((c := self._latest.get(j)) and c.terminal)]

    def wants(self, job_id: str, version: int) -> bool:
        """Whether this version of a job is news here (watched or held for a reconnect, and
        newer than what is known): the watcher parses only those feed rows. A row this
        process wrote, or one an overlapping read saw already, is not."""
        if job_id in self._subscribers:
            latest = self._latest.get(job_id)
            return latest is None or latest.version < version
        held = self._held.get(job_id)
        return held is not None and held[0].version < version

    def forget_expired(self) -> None:
        """Drop held jobs whose grace has passed."""
        if self._held:
            now = self._clock.monotonic()
            for job_id in [j for j, (_, until) in self._held.items() if until <= now]:
                del self._held[job_id]

    def active(self) -> bool:
        """Anything watched or held (call forget_expired() first for a fresh answer)."""
        return bool(self._subscribers) or bool(self._held)
