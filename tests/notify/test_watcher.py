"""The feed watcher (notify/watcher.py): a status written by another process reaches the stream."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.model import JobState, JobStatus, JobUpdate
from notify.hub import Arrival, Hub
from notify.watcher import FeedWatcher
from tests.support.api import start_job as start
from tests.support.api import stream_job as stream
from tests.support.inbox import Inbox


def test_status_written_by_another_process_reaches_the_stream(azurite, host_factory):
    from harness.processes import isolated_settings

    env = isolated_settings(azurite)
    api_only = host_factory(env, "--no-worker")
    worker = host_factory(env, "--no-timers")
    job = start(api_only.base_url, "Sleep", {"seconds": 1, "steps": 4})
    transcript = stream(api_only.base_url, job, timeout=30)
    statuses = transcript.statuses()
    assert statuses[-1]["status"] == "Completed"
    assert len(statuses) >= 3  # progress crossed processes too, not only the final state
    assert api_only.diagnostics().watcher.polls > 0
    assert worker.diagnostics().queue[0].succeeded >= 1


# --- the watcher itself, on Azurite, without HTTP ------------------------------------------------


async def test_a_change_written_elsewhere_arrives_through_the_feed(store):
    # The store writes with no listener, as another process would: only the feed can tell.
    hub = Hub()
    inbox = Inbox()
    job_id = str(uuid.uuid4())
    record = await store.create(job_id, "Sleep", "anonymous", 60)
    hub.subscribe([job_id], inbox)
    watcher = FeedWatcher(store, hub, poll_seconds=0.1)
    watcher.ensure_running()
    try:
        record = await store.update(record, JobUpdate(status=JobState.RUNNING))
        await store.update(record, JobUpdate(status=JobState.COMPLETED))
        await asyncio.wait_for(inbox.finished.wait(), 10)
    finally:
        await watcher.stop()
    assert [c.path for c in inbox.changes] == [Arrival.FEED] * len(inbox.changes)
    assert inbox.changes[-1].version == 3


async def test_reconciliation_finds_a_finished_job_whatever_the_feed_said(store):
    hub = Hub()
    inbox = Inbox()
    job_id = str(uuid.uuid4())
    record = await store.create(job_id, "Sleep", "anonymous", 60)
    hub.subscribe([job_id], inbox)
    hub.publish(record.status)  # the stream knows version 1
    record = await store.update(record, JobUpdate(status=JobState.RUNNING))
    await store.update(record, JobUpdate(status=JobState.FAILED, error="boom"))
    await FeedWatcher(store, hub).reconcile()  # no feed read at all
    assert [(c.version, c.terminal) for c in inbox.changes][-1] == (3, True)


async def test_the_watcher_stops_when_nothing_is_watched(store):
    hub = Hub(grace_seconds=0)
    inbox = Inbox()
    hub.subscribe(["a"], inbox)
    watcher = FeedWatcher(store, hub, poll_seconds=0.05)
    watcher.ensure_running()
    await asyncio.sleep(0.1)
    assert watcher.running
    hub.unsubscribe(["a"], inbox)
    async with asyncio.timeout(5):
        while watcher.running:  # noqa: ASYNC110 (the watcher offers no event: its state is what is tested)
            await asyncio.sleep(0.05)


# --- the read windows: a short overlap each tick, the whole skew once per sweep ------------------


class _LaggingClock:
    """A writer's clock that runs `lag` seconds behind: its feed rows look late."""

    def __init__(self, lag: float) -> None:
        self._lag = timedelta(seconds=lag)

    def now(self) -> datetime:
        return datetime.now(UTC) - self._lag

    def monotonic(self) -> float:
        return time.monotonic()


class _Reads:
    """The store, recording each feed read: how far back it reached, and what it returned."""

    def __init__(self, store: Any, fail_on: set[int] | None = None) -> None:
        self._store = store
        self._fail_on = fail_on or set()
        self.reads: list[tuple[float, datetime, int]] = []  # (reach-back s, since, rows returned)

    async def changes_since(self, since: datetime, wanted: Any = None) -> list[JobStatus]:
        reach = (datetime.now(UTC) - since).total_seconds()
        if len(self.reads) in self._fail_on:
            self.reads.append((reach, since, -1))
            raise ConnectionError("storage is down")
        changes: list[JobStatus] = await self._store.changes_since(since, wanted)
        self.reads.append((reach, since, len(changes)))
        return changes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_late_row_is_missed_by_the_short_reads_and_found_by_the_next_sweep(store, azurite):
    from harness.processes import isolated_settings
    from jobs.storage import table_service
    from jobs.store import TableStatusStore
    from settings import Settings

    hub = Hub()
    inbox = Inbox()
    job_id = str(uuid.uuid4())
    await store.create(job_id, "Sleep", "anonymous", 60)
    hub.subscribe([job_id], inbox)
    reads = _Reads(store)
    watcher = FeedWatcher(reads, hub, poll_seconds=0.1, overlap_seconds=0.5, sweep_seconds=1.5, skew_seconds=3.0)
    # Another process whose clock lags 2 s: its rows are keyed 2 s in the past, within the skew.
    settings = Settings.model_validate(isolated_settings(azurite))
    lagging = TableStatusStore(table_service(settings), store.table_names[0], _LaggingClock(2.0))
    watcher.ensure_running()
    try:
        await asyncio.sleep(0.3)
        written = time.monotonic()
        await lagging.update(job_id, JobUpdate(status=JobState.COMPLETED))
        await asyncio.wait_for(inbox.finished.wait(), 10)
        arrived = time.monotonic()
    finally:
        await watcher.stop()
        await lagging.close()
    assert inbox.changes[-1].version == 2 and inbox.changes[-1].path is Arrival.FEED
    delivering = next(r for r in reads.reads if r[2] > 0)
    assert delivering[0] > 2.5, f"a short read found the late row: {delivering}"
    # The short reads reached back only the overlap (plus a tick), and they ran meanwhile.
    short = [r for r in reads.reads if r[0] < 1.0]
    assert len(short) >= 3 and max(r[0] for r in short) < 0.5 + 0.1 + 0.3
    assert arrived - written < 1.5 + 1.0  # within a sweep period (and a tick) of its write


async def test_most_reads_reach_back_the_overlap_and_one_per_sweep_the_whole_skew(store):
    hub = Hub()
    hub.subscribe(["a"], Inbox())
    reads = _Reads(store)
    watcher = FeedWatcher(reads, hub, poll_seconds=0.05, overlap_seconds=0.25, sweep_seconds=0.6, skew_seconds=3.0)
    watcher.ensure_running()
    await asyncio.sleep(1.5)
    await watcher.stop()
    sweeps = [r for r in reads.reads if r[0] >= 3.0]
    short = [r for r in reads.reads if r[0] < 3.0]
    assert 2 <= len(sweeps) <= 4, reads.reads
    assert len(short) >= 4 * len(sweeps)
    # A sweep reaches back from the previous sweep: the skew plus the time since (about 0.6 s).
    assert all(r[0] < 3.0 + 0.6 + 0.5 for r in sweeps[1:])
    assert all(r[0] < 0.25 + 0.05 + 0.3 for r in short)


async def test_with_no_sweep_period_every_read_reaches_back_the_whole_skew(store):
    hub = Hub()
    hub.subscribe(["a"], Inbox())
    reads = _Reads(store)
    watcher = FeedWatcher(reads, hub, poll_seconds=0.05, sweep_seconds=0, skew_seconds=3.0)
    watcher.ensure_running()
    await asyncio.sleep(0.5)
    await watcher.stop()
    assert len(reads.reads) >= 4
    assert all(3.0 <= r[0] < 3.0 + 0.05 + 0.3 for r in reads.reads)


async def test_a_failed_read_moves_neither_mark(store):
    hub = Hub()
    hub.subscribe(["a"], Inbox())
    reads = _Reads(store, fail_on={3})
    watcher = FeedWatcher(reads, hub, poll_seconds=0.05, overlap_seconds=0.25, sweep_seconds=60, skew_seconds=3.0)
    watcher.ensure_running()
    async with asyncio.timeout(5):
        while len(reads.reads) < 6:  # noqa: ASYNC110 (the reads are what is tested)
            await asyncio.sleep(0.02)
    await watcher.stop()
    failed, after = reads.reads[3], reads.reads[4]
    assert failed[2] == -1 and after[2] >= 0
    assert after[1] == failed[1], "the read after a failure must start where the failed one did"
    assert reads.reads[5][1] > after[1]
