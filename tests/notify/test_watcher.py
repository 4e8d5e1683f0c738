"""The feed watcher (notify/watcher.py): a status written by another process reaches the stream."""

from __future__ import annotations

import asyncio
import uuid

from jobs.model import JobState, JobUpdate
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
