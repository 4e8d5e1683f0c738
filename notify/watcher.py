"""One watcher per process carries status changes from other processes to the hub.

It reads the change feed on a short tick: one query per tick, however many
streams are open. A feed row is keyed by its writer's clock, so it can become
visible after a read that should have seen it (a slow write, a writer whose clock
lags). Most reads therefore start just before the previous read (`overlap_seconds`,
what a write takes), and every `sweep_seconds` one read reaches back the whole
skew bound (`skew_seconds`) from the previous sweep: every row that can still
arrive late is read once per sweep instead of once per tick, and none is missed.
The hub drops the repeats by version. A slow reconciliation reads the active-jobs
index and point-reads only watched jobs that have left it (they finished), so a
terminal state is never lost even if a feed row was.

The watcher runs only while something is watched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from jobs.clock import Clock, SystemClock
from jobs.storage import is_outage
from jobs.store import StatusStore
from notify.hub import Arrival, Hub
from telemetry.metrics import FeedRead, metrics

log = logging.getLogger(__name__)

# A row written within this long of its timestamp is read by the next tick: a write and
# its batch round take well under it (jobs/feed.py's WINDOW_SECONDS, 0.1 s).
OVERLAP_SECONDS = 0.5
# A row later than that is read by the next sweep. 0 sweeps on every tick (the design
# before the high-water mark: 5 reads of every row at a 0.75 s tick).
SWEEP_SECONDS = 6.0


class FeedWatcher:
    def __init__(
        self,
        store: StatusStore,
        hub: Hub,
        *,
        poll_seconds: float = 0.75,
        reconcile_seconds: float = 30.0,
        skew_seconds: float = 3.0,
        overlap_seconds: float = OVERLAP_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._poll = poll_seconds
        self._reconcile_every = reconcile_seconds
        self._skew = timedelta(seconds=skew_seconds)
        self._overlap = timedelta(seconds=min(overlap_seconds, skew_seconds))
        self._sweep_every = sweep_seconds
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
        # The high-water marks: where the next tick's read and the next sweep start.
        recent_since = swept_since = self._clock.now() - self._skew
        next_sweep = self._clock.monotonic()  # the first read is a sweep
        next_reconcile = self._clock.monotonic() + self._reconcile_every
        while True:
            self._hub.forget_expired()
            if not self._hub.active():
                break
            await asyncio.sleep(self._poll)
            started = self._clock.now()
            sweep = self._clock.monotonic() >= next_sweep
            try:
                await self._read(min(recent_since, swept_since) if sweep else recent_since)
                # Only a read that answered moves a mark: after an outage the next read covers it.
                recent_since = started - self._overlap
                if sweep:
                    swept_since = started - self._skew
                    next_sweep = self._clock.monotonic() + self._sweep_every
                metrics().feed_reads.add(1, {"read": FeedRead.CHANGES.value})
            except Exception as exc:
                log.warning("change feed read failed: %s", type(exc).__name__, exc_info=not is_outage(exc))
            if self._clock.monotonic() >= next_reconcile:
                next_reconcile = self._clock.monotonic() + self._reconcile_every
                try:
                    await self.reconcile()
                except Exception as exc:
                    log.warning("reconciliation failed: %s", type(exc).__name__, exc_info=not is_outage(exc))

    async def _read(self, since: datetime) -> None:
        for status in await self._store.changes_since(since, self._hub.wants):
            self._hub.publish(status, path=Arrival.FEED)

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
