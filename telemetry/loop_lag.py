"""The event loop's lag: how late a short timer fires, the first sign of a process out of CPU.

One small task per event loop, started by the first request (so under the Functions
worker too, whose loop the app does not own), records `jobevents.process.loop_lag`.
"""

from __future__ import annotations

import asyncio

from telemetry.metrics import metrics

INTERVAL_SECONDS = 0.25

_task: asyncio.Task[None] | None = None


def ensure_running() -> None:
    """Cheap when already running on this loop."""
    global _task
    loop = asyncio.get_running_loop()
    if _task is None or _task.done() or _task.get_loop() is not loop:
        _task = loop.create_task(_measure(), name="loop-lag")


async def _measure() -> None:
    loop = asyncio.get_running_loop()
    histogram = metrics().loop_lag
    while True:
        started = loop.time()
        await asyncio.sleep(INTERVAL_SECONDS)
        histogram.record(max(0.0, (loop.time() - started - INTERVAL_SECONDS) * 1000))
