"""The job state machine: forward only, versions rise, duplicates are no-ops."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.model import (
    JobState,
    JobUpdate,
    StaleUpdate,
    apply_update,
    is_job_id,
    is_job_type_name,
    new_job,
    seconds_left,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
JOB = "3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"


def running(progress: float = 0.0):
    job = new_job(JOB, "Sleep", NOW)
    return apply_update(job, JobUpdate(status=JobState.RUNNING, progress=progress), NOW)


def test_new_job_is_queued_at_version_1():
    job = new_job(JOB, "Sleep", NOW)
    assert (job.status, job.version, job.progress) == (JobState.QUEUED, 1, 0.0)


def test_each_change_raises_the_version_by_one():
    job = running()
    assert job.version == 2
    job = apply_update(job, JobUpdate(progress=0.5), NOW)
    assert job.version == 3
    done = apply_update(job, JobUpdate(status=JobState.COMPLETED), NOW)
    assert (done.status, done.version, done.progress) == (JobState.COMPLETED, 4, 1.0)


def test_identical_update_changes_nothing():
    job = running(0.5)
    assert apply_update(job, JobUpdate(progress=0.5)) is None
    assert apply_update(job, JobUpdate(status=JobState.RUNNING)) is None


@pytest.mark.parametrize("terminal", [JobState.COMPLETED, JobState.FAILED])
def test_finished_job_never_changes(terminal):
    done = apply_update(running(), JobUpdate(status=terminal), NOW)
    for update in (JobUpdate(status=JobState.RUNNING), JobUpdate(progress=0.1), JobUpdate(status=terminal)):
        with pytest.raises(StaleUpdate):
            apply_update(done, update, NOW)


def test_running_cannot_go_back_to_queued():
    with pytest.raises(StaleUpdate):
        apply_update(running(), JobUpdate(status=JobState.QUEUED), NOW)


def test_completed_cannot_become_failed():
    done = apply_update(running(), JobUpdate(status=JobState.COMPLETED), NOW)
    with pytest.raises(StaleUpdate):
        apply_update(done, JobUpdate(status=JobState.FAILED, error="late"), NOW)


def test_progress_never_goes_down():
    job = running(0.6)
    again = apply_update(job, JobUpdate(progress=0.2, message="restarted"), NOW)
    assert again.progress == 0.6 and again.message == "restarted"


def test_long_messages_are_clipped():
    job = apply_update(running(), JobUpdate(message="x" * 5000), NOW)
    assert len(job.message) == 1000


def test_payload_is_camel_case_without_nulls():
    data = running().model_dump(mode="json", by_alias=True, exclude_none=True)
    assert set(data) == {"jobId", "jobType", "status", "progress", "timestamp", "version"}


@pytest.mark.parametrize(
    "value",
    ["../../etc/passwd", "a/b", "a\\b", "a#b", "a?b", "x" * 300, "ünïcode", "tab\there", "nul\0", "", JOB.upper()],
)
def test_hostile_ids_are_not_job_ids(value):
    assert not is_job_id(value)
    assert not is_job_type_name(value) or value.isalnum()


def test_real_ids_pass():
    assert is_job_id(JOB)
    assert is_job_type_name("StoryPublish")


def test_seconds_left_follows_the_pace_so_far():
    # Started at NOW, 25 % done after 10 s: 30 s to go, minus the 4 s since that report.
    job = apply_update(running(), JobUpdate(progress=0.25), NOW + timedelta(seconds=10))
    assert seconds_left(job, NOW, NOW + timedelta(seconds=14)) == pytest.approx(26.0)
    # Overdue: never negative.
    assert seconds_left(job, NOW, NOW + timedelta(seconds=100)) == 0.0


def test_seconds_left_is_unknown_without_a_pace():
    assert seconds_left(new_job(JOB, "Sleep", NOW), None, NOW) is None  # queued
    assert seconds_left(running(), NOW, NOW) is None  # no progress yet
    assert seconds_left(running(0.5), None, NOW) is None  # start time unknown
    assert seconds_left(running(0.5), NOW, NOW) is None  # no time worked
    done = apply_update(running(0.5), JobUpdate(status=JobState.COMPLETED), NOW + timedelta(seconds=5))
    assert seconds_left(done, NOW, NOW + timedelta(seconds=5)) is None
