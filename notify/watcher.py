"""One watcher per process carries status changes from other processes to the hub.

It reads the change feed on a short tick: one query per tick, however many
streams are open. Each read overlaps the previous one by a few seconds, so rows
written late by a writer with a slower clock are still seen; the hub drops the
repeats by version. A slow reconciliation reads the active-jobs index and
point-reads only watched jobs that have left it (they finished), so a terminal
state is never lost even if a feed row was.

The watcher runs only while something is watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from jobs.clock import Clock, SystemClock
from jobs.storage import is_outage
from jobs.store import StatusStore
from notify.hub import Arrival, Hub
from telemetry.metrics import FeedRead, metrics

log = logging.getLogger(__name__)


class FeedWatcher:
    def __init__(
        self,
        store: StatusStore,
        hub: Hub,
        *,
        poll_seconds: float = 0.75,
        reconcile_seconds: float = 30.0,
        skew_seconds: float = 3.0,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._poll = poll_seconds
        self._reconcile_every = reconcile_seconds
        self._skew = timedelta(seconds=skew_seconds)
        self._clock = clock or SystemClock()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def ensure_running(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="feed-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        since = self._clock.now() - self._skew
        next_reconcile = self._clock.monotonic() + self._reconcile_every
        while True:
            self._hub.forget_expired()
            if not self._hub.active():
                break
            await asyncio.sleep(self._poll)
            started = self._clock.now()
            try:
                for status in await self._store.changes_since(since, self._hub.wants):
                    self._hub.publish(status, path=Arrival.FEED)
                since = started - self._skew
                metrics().feed_reads.add(1, {"read": FeedRead.CHANGES.value})
            except Exception as exc:
                # Storage is down: keep `since`, so nothing is skipped when it returns.
                log.warning("change feed read failed: %s", type(exc).__name__, exc_info=not is_outage(exc))
            if self._clock.monotonic() >= next_reconcile:
                next_reconcile = self._clock.monotonic() + self._reconcile_every
                try:
                    await self.reconcile()
                except Exception as exc:
                    log.warning("reconciliation failed: %s", type(exc).__name__, exc_info=not is_outage(exc))

    async def reconcile(self) -> None:
        unfinished = self._hub.unfinished()
        if not unfinished:
            return
        metrics().feed_reads.add(1, {"read": FeedRead.RECONCILE.value})
        active = {job.job_id for job in await self._store.active_jobs()}
        for job_id in unfinished:
            if job_id not in active:
                record = await self._store.get(job_id)
                if record is not None:
                    self._hub.publish(record.status, path=Arrival.FEED)
