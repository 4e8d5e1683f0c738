"""The Table Storage status store, against a real Azurite."""

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from errors import JobNotFound, StaleUpdate, Superseded
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
