"""telemetry/loop_lag.py: a blocked event loop shows up as lag."""

from __future__ import annotations

import asyncio
import time

from telemetry import loop_lag
from telemetry.metrics import MetricName
from telemetry.snapshot import HistogramPoint, snapshot


async def test_a_blocked_loop_is_recorded_as_lag(reader):
    loop_lag.ensure_running()
    loop_lag.ensure_running()  # once per loop
    await asyncio.sleep(0.3)
    time.sleep(0.4)  # noqa: ASYNC251 (blocking on purpose: a handler that hogs the CPU)
    await asyncio.sleep(0.3)
    [point] = snapshot(reader)[MetricName.LOOP_LAG]
    assert isinstance(point, HistogramPoint)
    # At least the block less one interval: the timer was due somewhere in the 400 ms.
    assert point.count >= 2 and point.max is not None and point.max >= 400 - 250 - 10
    assert point.min is not None and point.min < 50  # the unblocked ticks are on time
