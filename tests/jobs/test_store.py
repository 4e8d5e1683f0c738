"""The Table Storage status store, against a real Azurite."""

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from errors import Cancelled, JobFinished, JobNotFound, StaleUpdate, Superseded
from jobs.model import JobState, JobUpdate


def new_id() -> str:
    return str(uuid.uuid4())


async def test_create_get_and_update_round_trip(store):
    job_id = new_id()
    created = await store.create(job_id, "Sleep", "alice", 60)
    assert created.status.status is JobState.QUEUED and created.status.version == 1
    running = await store.update(created, JobUpdate(status=JobState.RUNNING, progress=0.25, message="hi"))
    read = await store.get(job_id)
    assert read.status == running.status
    assert (read.owner, read.status.version, read.status.progress) == ("alice", 2, 0.25)


async def test_creating_the_same_job_twice_fails(store):
    job_id = new_id()
    await store.create(job_id, "Sleep", "alice", 60)
    with pytest.raises(StaleUpdate):
        await store.create(job_id, "Sleep", "alice", 60)


async def test_stale_writer_loses_to_the_etag_and_retries_on_fresh_data(store):
    job_id = new_id()
    created = await store.create(job_id, "Sleep", "alice", 60)
    finished = await store.update(created, JobUpdate(status=JobState.COMPLETED))
    # A writer still holding the Queued row (old ETag) tries to mark it Running.
    with pytest.raises(StaleUpdate):
        await store.update(created, JobUpdate(status=JobState.RUNNING))
    assert (await store.get(job_id)).status == finished.status


async def test_concurrent_writers_never_regress_and_versions_are_unique(store):
    job_id = new_id()
    record = await store.claim((await store.create(job_id, "Sleep", "a", 60)).job_id, "run", 1, 5)
    results = await asyncio.gather(
        *(store.update(record, JobUpdate(progress=p / 20)) for p in range(1, 21)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, Exception)]
    final = await store.get(job_id)
    assert final.status.progress == 1.0
    versions = sorted({r.status.version for r in results})
    assert versions[-1] == final.status.version


async def test_claim_is_a_no_op_for_a_finished_job(store):
    job_id = new_id()
    created = await store.create(job_id, "Sleep", "a", 60)
    await store.update(created, JobUpdate(status=JobState.FAILED, error="x"))
    assert await store.claim(job_id, "run-2", 2, 5) is None


async def test_a_new_claim_supersedes_the_old_run(store):
    job_id = new_id()
    await store.create(job_id, "Sleep", "a", 60)
    first = await store.claim(job_id, "run-1", 1, 5)
    second = await store.claim(job_id, "run-2", 2, 5)
    assert second.status.message == "retrying (attempt 2 of 5)"
    with pytest.raises(Superseded):
        await store.update(first, JobUpdate(progress=0.5), run_id="run-1")
    await store.update(second, JobUpdate(progress=0.5), run_id="run-2")


async def test_unknown_job(store):
    assert await store.get(new_id()) is None
    with pytest.raises(JobNotFound):
        await store.update(new_id(), JobUpdate(progress=0.1))


async def test_every_change_reaches_the_feed_and_terminal_leaves_the_active_index(store):
    job_id = new_id()
    created = await store.create(job_id, "Sleep", "a", 60)
    assert job_id in {a.job_id for a in await store.active_jobs()}
    running = await store.update(created, JobUpdate(status=JobState.RUNNING))
    await store.update(running, JobUpdate(status=JobState.COMPLETED))
    changes = [c for c in await store.changes_since(created.created_at - timedelta(seconds=1)) if c.job_id == job_id]
    assert [c.version for c in changes] == [2, 3]  # creation (v1) is not a change anyone can miss
    assert changes[-1].status is JobState.COMPLETED
    assert job_id not in {a.job_id for a in await store.active_jobs()}


async def test_listeners_hear_each_write(store):
    heard = []
    store.add_listener(heard.append)
    created = await store.create(new_id(), "Sleep", "a", 60)
    await store.update(created, JobUpdate(status=JobState.RUNNING))
    assert [s.version for s in heard] == [2]  # changes, not the creation


async def test_republish_repairs_a_cut_short_terminal_write(store):
    job_id = new_id()
    created = await store.create(job_id, "Sleep", "a", 60)
    done = await store.update(created, JobUpdate(status=JobState.COMPLETED))
    # Simulate a crash between the status write and the index delete.
    await store._active.upsert_entity(
        {"PartitionKey": "active", "RowKey": job_id, "JobType": "Sleep", "Deadline": created.deadline}
    )
    await store.republish(replace(done))
    assert job_id not in {a.job_id for a in await store.active_jobs()}


# --- cancel


async def test_cancelling_a_queued_job_ends_it_at_once(store):
    job_id = new_id()
    seen: list = []
    store.add_listener(seen.append)
    await store.create(job_id, "Sleep", "alice", 60)
    done = await store.cancel(job_id, timedelta(seconds=30))
    assert (done.status.status, done.status.message, done.status.error) == (
        JobState.FAILED,
        "cancelled",
        "its owner cancelled it",
    )
    assert seen[-1] == done.status  # watchers hear the terminal change
    assert job_id not in {a.job_id for a in await store.active_jobs()}
    assert await store.claim(job_id, "run", 1, 5) is None  # its queued message then does nothing


async def test_cancelling_a_running_job_flags_it_and_its_next_write_raises(store):
    job_id = new_id()
    await store.create(job_id, "Sleep", "alice", 600)
    run = await store.claim(job_id, "run-1", 1, 5)
    asked = await store.cancel(job_id, timedelta(seconds=30))
    assert asked.status == run.status  # still Running: no new version for the watchers
    assert asked.cancel_requested_at is not None
    again = await store.cancel(job_id, timedelta(seconds=30))
    assert again.etag == asked.etag  # a second cancel writes nothing
    # The active index's deadline moved close, so the sweeper ends it if the worker is gone.
    (active,) = [a for a in await store.active_jobs() if a.job_id == job_id]
    assert (active.deadline - asked.cancel_requested_at).total_seconds() == pytest.approx(30, abs=1)
    with pytest.raises(Cancelled):
        await store.update(run, JobUpdate(progress=0.5), run_id="run-1")  # the old ETag: re-read, then refused
    with pytest.raises(Cancelled):
        await store.update(run, JobUpdate(status=JobState.COMPLETED), run_id="run-1")
    failed = await store.update(run, JobUpdate(status=JobState.FAILED, message="cancelled"), run_id="run-1")
    assert failed.status.status is JobState.FAILED


async def test_a_redelivery_of_a_job_cancelled_while_its_worker_was_gone_ends_it(store):
    job_id = new_id()
    await store.create(job_id, "Sleep", "alice", 600)
    await store.claim(job_id, "run-1", 1, 5)
    await store.cancel(job_id, timedelta(seconds=30))
    ended = await store.claim(job_id, "run-2", 2, 5)
    assert ended.status.status is JobState.FAILED and ended.status.message == "cancelled"
    assert await store.claim(job_id, "run-3", 3, 5) is None


async def test_a_finished_job_cannot_be_cancelled(store):
    job_id = new_id()
    created = await store.create(job_id, "Sleep", "alice", 60)
    done = await store.update(created, JobUpdate(status=JobState.COMPLETED))
    with pytest.raises(JobFinished):
        await store.cancel(job_id, timedelta(seconds=30))
    assert (await store.get(job_id)).status == done.status


async def test_the_sweeper_ends_a_cancelled_job_whose_worker_is_gone(store):
    from jobs.clock import FrozenClock
    from jobs.sweeper import sweep

    job_id = new_id()
    await store.create(job_id, "Sleep", "alice", 600)
    await store.claim(job_id, "run-1", 1, 5)
    asked = await store.cancel(job_id, timedelta(seconds=30))
    await sweep(store, FrozenClock(asked.cancel_requested_at + timedelta(seconds=10)))
    assert (await store.get(job_id)).status.status is JobState.RUNNING  # its worker still has time
    await sweep(store, FrozenClock(asked.cancel_requested_at + timedelta(seconds=31)))
    final = (await store.get(job_id)).status
    assert (final.status, final.message) == (JobState.FAILED, "cancelled")


# --- my jobs


async def test_active_and_recent_list_the_owners_jobs_newest_first(store):
    mine = [new_id() for _ in range(5)]
    for job_id in mine:
        await store.create(job_id, "Sleep", "alice", 60)
    others = new_id()
    await store.create(others, "Sleep", "bob", 60)
    first = await store.get(mine[0])
    await store.update(first, JobUpdate(status=JobState.COMPLETED))

    active = await store.list_active("alice", 10)
    assert [r.job_id for r in active.jobs] == mine[:0:-1] and active.after is None
    recent = await store.list_recent("alice", 10)
    assert [r.job_id for r in recent.jobs] == mine[::-1] and recent.after is None
    assert recent.jobs[-1].status.status is JobState.COMPLETED
    assert [r.job_id for r in (await store.list_recent("bob", 10)).jobs] == [others]
    assert (await store.list_active("carol", 10)).jobs == []
    # The history rows share the active index's partition but are not active jobs.
    assert {a.job_id for a in await store.active_jobs()} == {*mine[1:], others}


async def test_a_finished_job_whose_index_row_is_still_there_is_not_listed_as_active(store):
    # The row of a finished job waits for its delete round; a crash can leave it for the sweeper.
    job_id = new_id()
    created = await store.create(job_id, "Sleep", "alice", 60)
    await store.update(created, JobUpdate(status=JobState.COMPLETED))
    row = {"PartitionKey": "active", "RowKey": job_id, "JobType": "Sleep", "Owner": "alice"}
    await store._active.upsert_entity({**row, "Deadline": created.deadline, "CreatedAt": created.created_at})
    assert job_id in {a.job_id for a in await store.active_jobs()}
    assert (await store.list_active("alice", 10)).jobs == []
    assert [r.job_id for r in (await store.list_recent("alice", 10)).jobs] == [job_id]


async def test_listings_page_without_gaps_or_repeats(store):
    mine = [new_id() for _ in range(7)]
    for job_id in mine:
        await store.create(job_id, "Sleep", "alice", 60)
    for listing in (store.list_active, store.list_recent):
        seen, after, pages = [], None, 0
        while True:
            page = await listing("alice", 3, after)
            seen += [r.job_id for r in page.jobs]
            pages += 1
            if page.after is None:
                break
            after = page.after
        assert seen == mine[::-1] and pages == 3, listing.__name__


async def test_history_rows_leave_after_the_recent_window(store):
    old, new = new_id(), new_id()
    await store.create(old, "Sleep", "alice", 60)
    await asyncio.sleep(0.05)
    cutoff = store._clock.now()
    await store.create(new, "Sleep", "alice", 60)
    assert await store.delete_history_before(cutoff) == 1
    assert [r.job_id for r in (await store.list_recent("alice", 10)).jobs] == [new]
    assert {a.job_id for a in await store.active_jobs()} == {old, new}  # the active rows stay


async def test_a_write_sends_only_what_changed_and_the_row_is_what_a_full_write_would_be(store):
    from jobs.store import STATUS_ROW, _changed, _entity_from_record

    job_id = new_id()
    record = await store.claim((await store.create(job_id, "Sleep", "alice", 60)).job_id, "run-1", 1, 5)
    progressed = await store.update(record, JobUpdate(progress=0.5, message="half way"), run_id="run-1")
    entity, mode = _changed(record, progressed)
    assert mode.value == "merge"
    assert set(entity) == {"PartitionKey", "RowKey", "Progress", "Message", "UpdatedAt", "Version"}
    await store.cancel(job_id, timedelta(seconds=30))
    with pytest.raises(Cancelled):
        await store.update(progressed, JobUpdate(progress=0.75), run_id="run-1")
    final = await store.get(job_id)
    stored = dict(await store._jobs.get_entity(job_id, STATUS_ROW))
    assert stored == _entity_from_record(final)  # nothing left over, nothing missing
    # A property that must go (none does today) is removed by a full write instead.
    assert final.cancel_requested_at is not None
    entity, mode = _changed(final, replace(final, cancel_requested_at=None))
    assert mode.value == "replace" and "CancelRequestedAt" not in entity and "Owner" in entity
