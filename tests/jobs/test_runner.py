"""The runner: at-least-once deliveries never run a finished job twice or regress it."""

import asyncio
import time
import uuid

import pytest

from errors import RetryLater
from jobs.model import JobState, JobStatus
from jobs.queue import JobMessage
from jobs.runner import JobRunner

MAX = 3


def message(job_id: str, job_type: str, **params) -> str:
    return JobMessage(job_id=job_id, job_type=job_type, input=params).to_json()


async def start(store, job_type="Sleep", timeout_seconds=60):
    job_id = str(uuid.uuid4())
    await store.create(job_id, job_type, "alice", timeout_seconds)
    return job_id


def watch(store) -> list[JobStatus]:
    seen: list[JobStatus] = []
    store.add_listener(seen.append)
    return seen


def assert_never_regresses(seen: list[JobStatus]) -> None:
    by_job: dict[str, list[JobStatus]] = {}
    for s in seen:
        by_job.setdefault(s.job_id, []).append(s)
    for history in by_job.values():
        versions = [s.version for s in history]
        assert versions == sorted(versions) and len(set(versions)) == len(versions), versions
        ranks = [s.status.rank for s in history]
        assert ranks == sorted(ranks), [s.status for s in history]
        progress = [s.progress for s in history]
        assert progress == sorted(progress)


async def test_completes_and_reports_progress(store):
    seen = watch(store)
    job_id = await start(store)
    outcome = await JobRunner(store, MAX).handle(message(job_id, "Sleep", seconds=0.9, steps=3), 1)
    assert outcome.state is JobState.COMPLETED and outcome.ran
    assert [s.status for s in seen][-1] is JobState.COMPLETED
    assert any(0 < s.progress < 1 for s in seen)
    assert_never_regresses(seen)


async def test_redelivery_of_a_finished_job_is_a_no_op(store):
    seen = watch(store)
    job_id = await start(store)
    body = message(job_id, "Sleep", seconds=0, steps=1)
    runner = JobRunner(store, MAX)
    await runner.handle(body, 1)
    version = (await store.get(job_id)).status.version
    again = await runner.handle(body, 2)
    assert not again.ran and again.state is JobState.COMPLETED
    assert (await store.get(job_id)).status.version == version
    assert_never_regresses(seen)


async def test_concurrent_duplicate_deliveries_finish_once_without_regression(store):
    seen = watch(store)
    job_id = await start(store)
    body = message(job_id, "Sleep", seconds=0.6, steps=6)
    runner = JobRunner(store, MAX)
    outcomes = await asyncio.gather(runner.handle(body, 1), runner.handle(body, 2))
    assert (await store.get(job_id)).status.status is JobState.COMPLETED
    assert sum(o.state is JobState.COMPLETED for o in outcomes) == 1
    assert_never_regresses(seen)


async def test_job_error_fails_at_once_without_a_stack_trace(store):
    job_id = await start(store, "Fail")
    outcome = await JobRunner(store, MAX).handle(message(job_id, "Fail", message="disk full", afterSeconds=0), 1)
    status = (await store.get(job_id)).status
    assert outcome.state is JobState.FAILED
    assert status.status is JobState.FAILED and status.error == "disk full" and status.message == "failed"
    assert "Traceback" not in status.model_dump_json()


async def test_unexpected_error_is_retried_then_fails_on_the_last_delivery(store):
    job_id = await start(store, "Fail")
    body = message(job_id, "Fail", message="flaky", afterSeconds=0, transient=True)
    runner = JobRunner(store, MAX)
    for attempt in range(1, MAX):
        with pytest.raises(RetryLater):
            await runner.handle(body, attempt)
        status = (await store.get(job_id)).status
        assert status.status is JobState.RUNNING
        assert status.message == f"attempt {attempt} of {MAX} failed; retrying"
    with pytest.raises(RetryLater):  # re-raised so the platform dead-letters it
        await runner.handle(body, MAX)
    status = (await store.get(job_id)).status
    assert status.status is JobState.FAILED
    assert status.message == f"failed after {MAX} attempts" and status.error == "RuntimeError: flaky"


async def test_a_job_past_its_deadline_times_out(store):
    job_id = await start(store, timeout_seconds=0.3)
    outcome = await JobRunner(store, MAX).handle(message(job_id, "Sleep", seconds=5, steps=5), 1)
    status = (await store.get(job_id)).status
    assert outcome.state is JobState.FAILED and status.message == "timed out"


async def test_invalid_input_in_a_message_fails_the_job(store):
    job_id = await start(store)
    await JobRunner(store, MAX).handle(message(job_id, "Sleep", seconds=-1), 1)
    status = (await store.get(job_id)).status
    assert status.status is JobState.FAILED and status.error.startswith("invalid input")


async def test_malformed_message_goes_to_the_dead_letter_path(store):
    with pytest.raises(RetryLater):
        await JobRunner(store, MAX).handle(b"{not json", 1)


# --- cancel


async def _cancel_when_running(store, job_id: str, delay: float = 0.3) -> float:
    from datetime import timedelta

    for _ in range(500):  # the runner claims it within a few reads
        if (await store.get(job_id)).status.status is JobState.RUNNING:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(delay)
    await store.cancel(job_id, timedelta(seconds=30))
    return time.monotonic()


async def test_a_cancel_between_progress_reports_stops_the_job_within_the_check_bound(store):
    from jobs.runner import CANCEL_CHECK_SECONDS

    seen = watch(store)
    job_id = await start(store)
    run = asyncio.create_task(JobRunner(store, MAX).handle(message(job_id, "Sleep", seconds=60, steps=2), 1))
    asked = await _cancel_when_running(store, job_id)
    outcome = await run
    took = time.monotonic() - asked
    assert outcome.state is JobState.FAILED
    final = seen[-1]
    assert (final.status, final.message, final.error) == (JobState.FAILED, "cancelled", "its owner cancelled it")
    assert took < CANCEL_CHECK_SECONDS + 1.0, took  # not the 30 s until its next report
    assert_never_regresses(seen)


async def test_a_cancel_reaches_a_job_that_reports_often_at_its_next_report(store):
    seen = watch(store)
    job_id = await start(store)
    run = asyncio.create_task(JobRunner(store, MAX).handle(message(job_id, "Sleep", seconds=30, steps=100), 1))
    asked = await _cancel_when_running(store, job_id, delay=0.5)
    outcome = await run
    assert outcome.state is JobState.FAILED and seen[-1].message == "cancelled"
    assert time.monotonic() - asked < 1.0  # a report every 0.3 s meets the cancel's ETag
    assert [s for s in seen if s.status.terminal] == [seen[-1]]


async def test_a_redelivered_message_for_a_cancelled_job_does_nothing(store):
    from datetime import timedelta

    seen = watch(store)
    job_id = await start(store)
    await store.cancel(job_id, timedelta(seconds=30))
    before = len(seen)
    outcome = await JobRunner(store, MAX).handle(message(job_id, "Sleep", seconds=0, steps=1), 1)
    assert not outcome.ran and outcome.state is JobState.FAILED
    assert len(seen) == before  # no new version


async def test_a_job_that_swallows_the_cancel_still_ends_cancelled(store, monkeypatch):
    """The task's CancelledError caught by the job function: its result write is refused."""
    from jobs import registry
    from jobs.registry import JobInput, JobResult, job_type

    class Stubborn(JobInput):
        pass

    # Registered in a copy of the registry, so the tests that read every shipped type never see it.
    monkeypatch.setattr(registry, "_REGISTRY", registry.job_types())

    @job_type("Stubborn", timeout_seconds=60)
    async def stubborn(ctx, params: Stubborn) -> JobResult:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            pass
        return JobResult(message="done anyway")

    seen = watch(store)
    job_id = await start(store, "Stubborn")
    run = asyncio.create_task(JobRunner(store, MAX).handle(message(job_id, "Stubborn"), 1))
    await _cancel_when_running(store, job_id)
    assert (await run).state is JobState.FAILED
    assert seen[-1].message == "cancelled"
