"""Open SSE streams: capacity, keep-alives, lifetime and clean-up, for the whole process.

A stream carries one job or several (one connection for many jobs, because a
browser allows only six per site over HTTP/1.1). Its event id is the vector of
versions it has sent, one per job in token order (`"7"` for one job,
`"7.3.12"` for three). So `Last-Event-ID` tells the server exactly what a
reconnecting client has, for every job on the stream.

There are no per-stream timers: one ticker per process marks idle streams for
a keep-alive and expired ones for their planned close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum

from errors import AtCapacity, BadResume
from jobs.clock import Clock, SystemClock
from notify import sse
from notify.hub import Change, Hub
from notify.signals import chain_shutdown
from telemetry.metrics import metrics

log = logging.getLogger(__name__)


class CloseReason(StrEnum):
    TERMINAL = "terminal"
    CLIENT_GONE = "client_gone"
    LIFETIME = "lifetime"
    SHUTDOWN = "shutdown"
    # Never served: the token was refused, the process was full, or reading the jobs failed.
    AUTH = "auth"
    CAPACITY = "capacity"
    REJECTED = "rejected"


def parse_resume(value: str | None, jobs: int) -> list[int]:
    if value is None or value == "":
        return [0] * jobs
    parts = value.split(".")
    if len(parts) != jobs or not all(p.isdigit() and len(p) <= 12 for p in parts):
        raise BadResume("Last-Event-ID does not match this stream")
    return [int(p) for p in parts]


class Stream:
    """One open stream. Kept small: thousands live in one process (see bench/README.md)."""

    __slots__ = (
        "_finished",
        "_pending",
        "_waiter",
        "closing",
        "deadline",
        "job_ids",
        "keepalive",
        "last_write",
        "reason",
        "resumed",
        "sent",
    )

    def __init__(self, job_ids: Sequence[str], resume: list[int], deadline: float, now: float) -> None:
        self.job_ids = tuple(job_ids)
        self.sent = resume
        self._finished = [False] * len(self.job_ids)
        self._pending: dict[str, Change] = {}
        # A future only while the body waits: cheaper than an asyncio.Event per stream.
        self._waiter: asyncio.Future[None] | None = None
        self.closing: CloseReason | None = None
        self.keepalive = False
        self.deadline = deadline
        self.last_write = now
        self.reason = CloseReason.CLIENT_GONE
        self.resumed = any(resume)

    def _slot(self, job_id: str) -> int:
        return 0 if len(self.job_ids) == 1 else self.job_ids.index(job_id)

    def deliver(self, change: Change) -> None:
        if change.version <= self.sent[self._slot(change.job_id)]:
            return
        # Only the newest unsent change per job is kept: progress may be coalesced.
        self._pending[change.job_id] = change
        self.wake()

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        if self.has_work:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def seed(self, change: Change) -> None:
        """Mark a job finished when the client already has its terminal version."""
        i = self._slot(change.job_id)
        if change.terminal and change.version <= self.sent[i]:
            self._finished[i] = True

    @property
    def has_work(self) -> bool:
        return bool(self._pending) or self.closing is not None or self.keepalive

    @property
    def up_to_date_and_finished(self) -> bool:
        return all(self._finished) and not self._pending

    def drain(self) -> tuple[bytes, bool]:
        """The bytes to send now, and whether the stream ends after them."""
        parts: list[bytes] = []
        for change in self._pending.values():
            i = self._slot(change.job_id)
            if change.version <= self.sent[i]:
                continue
            if not change.measured:
                change.measure()  # once per change, by the first stream that sends it
            self.sent[i] = change.version
            self._finished[i] = change.terminal
            if len(self.sent) == 1:
                parts.append(change.event())
            else:
                parts.append(sse.event(change.data, id=".".join(map(str, self.sent))))
        self._pending.clear()
        if all(self._finished):
            self.reason = CloseReason.TERMINAL
            return b"".join(parts), True
        if self.closing is not None:
            self.reason = self.closing
            payload = {"reason": self.closing.value, "lastEventId": ".".join(map(str, self.sent))}
            parts.append(sse.event(json.dumps(payload, separators=(",", ":")), event="reconnect"))
            return b"".join(parts), True
        if self.keepalive and not parts:
            parts.append(sse.KEEP_ALIVE)
        self.keepalive = False
        return b"".join(parts), False


class StreamManager:
    def __init__(
        self,
        hub: Hub,
        *,
        keepalive_seconds: float = 15.0,
        lifetime_seconds: float = 180.0,
        retry_ms: int = 3000,
        max_streams: int = 5000,
        clock: Clock | None = None,
    ) -> None:
        self._hub = hub
        self.keepalive_seconds = keepalive_seconds
        self.lifetime_seconds = lifetime_seconds
        self._retry = sse.retry(retry_ms)
        self.max_streams = max_streams
        self._clock = clock or SystemClock()
        self._streams: set[Stream] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._random = random.Random()
        self.shutting_down = False

    @property
    def open_count(self) -> int:
        return len(self._streams)

    def open(self, job_ids: Sequence[str], resume: list[int]) -> Stream:
        if self.shutting_down or len(self._streams) >= self.max_streams:
            self.record_close(CloseReason.CAPACITY)
            raise AtCapacity()
        now = self._clock.monotonic()
        # Up to 10 % shorter, so streams opened together do not all reconnect together.
        lifetime = self.lifetime_seconds * (1 - 0.1 * self._random.random())
        stream = Stream(job_ids, resume, now + lifetime, now)
        self._streams.add(stream)
        self._hub.subscribe(stream.job_ids, stream)
        # Counted by the instruments only: the local host's diagnostics read them back.
        measure = metrics()
        measure.open_streams.add(1)
        measure.streams_opened.add(1, {"resumed": stream.resumed, "jobs": "one" if len(job_ids) == 1 else "many"})
        if self._ticker is None or self._ticker.done():
            loop = asyncio.get_running_loop()
            self._ticker = loop.create_task(self._tick(), name="sse-ticker")
            # Streams are opening, so the server is serving and owns the signals by now.
            chain_shutdown(self.shutdown, loop)
        return stream

    def record_close(self, reason: CloseReason) -> None:
        """Count a stream that ended, or that was refused before it opened (`auth`, `capacity`)."""
        metrics().streams_closed.add(1, {"reason": reason.value})

    def discard(self, stream: Stream, reason: CloseReason) -> None:
        """Forget a stream that was opened but never served: a 204 (`terminal`), or
        an error found while reading its jobs (`rejected`)."""
        if stream in self._streams:
            self._forget(stream, reason)

    def _forget(self, stream: Stream, reason: CloseReason) -> None:
        self._streams.discard(stream)
        self._hub.unsubscribe(stream.job_ids, stream)
        metrics().open_streams.add(-1)
        self.record_close(reason)

    async def body(self, stream: Stream) -> AsyncIterator[bytes]:
        """The response body. Clean-up is in `finally`, so a vanished client frees
        everything as soon as the server notices (at the latest, its next write)."""
        try:
            chunk, done = stream.drain()
            stream.last_write = self._clock.monotonic()
            yield self._retry + chunk
            while not done:
                await stream.wait()
                chunk, done = stream.drain()
                if chunk:
                    stream.last_write = self._clock.monotonic()
                    yield chunk
        finally:
            self._forget(stream, stream.reason)

    def shutdown(self) -> None:
        """Ask every stream to end now with a `reconnect` event (for SIGTERM)."""
        self.shutting_down = True
        for stream in self._streams:
            stream.closing = CloseReason.SHUTDOWN
            stream.wake()

    async def _tick(self) -> None:
        interval = min(1.0, self.keepalive_seconds / 3, self.lifetime_seconds / 3)
        while self._streams:
            await asyncio.sleep(interval)
            now = self._clock.monotonic()
            idle_since = now - self.keepalive_seconds
            for stream in self._streams:
                if stream.deadline <= now and stream.closing is None:
                    stream.closing = CloseReason.LIFETIME
                    stream.wake()
                elif stream.last_write <= idle_since:
                    stream.keepalive = True
                    stream.wake()
