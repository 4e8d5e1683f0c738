"""The in-process hub: held states for reconnects, and only while they are fresh."""

from datetime import UTC, datetime

from jobs.clock import FrozenClock
from jobs.model import JobState, JobUpdate, apply_update, new_job
from notify.hub import Hub
from tests.support.inbox import Inbox

JOB = "3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"


def running_job():
    return apply_update(new_job(JOB, "Sleep", datetime.now(UTC)), JobUpdate(status=JobState.RUNNING))


def held_hub(clock: FrozenClock) -> Hub:
    """A hub whose only stream for JOB saw version 2 and left."""
    hub = Hub(clock, grace_seconds=30)
    first = Inbox()
    hub.subscribe([JOB], first)
    hub.publish(running_job())
    assert [c.version for c in first.changes] == [2]
    hub.unsubscribe([JOB], first)
    return hub


def test_a_reconnect_within_the_grace_finds_the_held_state():
    clock = FrozenClock()
    hub = held_hub(clock)
    clock.advance(29)
    hub.subscribe([JOB], Inbox())
    latest = hub.latest(JOB)
    assert latest is not None and latest.version == 2


def test_a_held_state_past_its_grace_is_not_taken_over():
    # Nothing called active() meanwhile (no watcher ran), so only subscribe can tell.
    clock = FrozenClock()
    hub = held_hub(clock)
    clock.advance(31)
    hub.subscribe([JOB], Inbox())
    assert hub.latest(JOB) is None  # the stream reads storage instead


def test_the_watcher_parses_only_news():
    """wants(job, version): a feed row of a version the hub has (its own write, or one an
    overlapping read saw) is skipped before its payload is parsed."""
    clock = FrozenClock()
    hub = Hub(clock)
    inbox = Inbox()
    assert not hub.wants(JOB, 1)  # nobody watches it
    hub.subscribe([JOB], inbox)
    assert hub.wants(JOB, 1)  # watched, nothing known yet
    hub.publish(running_job())
    assert not hub.wants(JOB, 2) and hub.wants(JOB, 3)
    hub.unsubscribe([JOB], inbox)
    assert not hub.wants(JOB, 2) and hub.wants(JOB, 3)  # held for a reconnect
