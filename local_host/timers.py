"""Runs timer-triggered functions on their NCRONTAB schedules (seconds first)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from croniter import croniter

from local_host.functions import TimerFunction, timer_request

log = logging.getLogger("local_host.timers")


def next_run(schedule: str, after: datetime) -> datetime:
    fields = schedule.split()
    if len(fields) != 6:
        raise ValueError(f"NCRONTAB schedules have six fields (seconds first): {schedule!r}")
    # croniter takes the seconds field last.
    return croniter(" ".join(fields[1:] + fields[:1]), after).get_next(datetime)


async def run_timer(timer: TimerFunction) -> None:
    if timer.run_on_startup:
        await _fire(timer)
    while True:
        now = datetime.now(UTC)
        await asyncio.sleep(max(0.0, (next_run(timer.schedule, now) - now).total_seconds()))
        await _fire(timer)


async def _fire(timer: TimerFunction) -> None:
    try:
        await timer.invoke(timer_request())
    except Exception as exc:
        log.warning("timer %s failed: %s", timer.name, type(exc).__name__, exc_info=True)
