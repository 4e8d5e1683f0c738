"""The naive design benchmark 3 compares against: one point read per open stream per tick.

Each open stream re-reads its job's status row every tick (TableStatusStore.get, one
`table GET` each), which is what a per-stream polling loop on the server does. Storage
work grows with the number of streams: N / tick reads per second.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any


class NaiveWatcher:
    def __init__(self, store: Any, job_ids: list[str], *, tick: float, concurrency: int = 64) -> None:
        self._store = store
        self._job_ids = job_ids
        self._tick = tick
        self._semaphore = asyncio.Semaphore(concurrency)
        self.ticks = 0
        self.late_ticks = 0  # ticks whose reads took longer than the tick itself
        self.reads = 0

    async def _read(self, job_id: str) -> None:
        async with self._semaphore:
            await self._store.get(job_id)
            self.reads += 1

    async def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            await asyncio.gather(*(self._read(j) for j in self._job_ids))
            self.ticks += 1
            spent = time.monotonic() - started
            if spent > self._tick:
                self.late_ticks += 1
            await asyncio.sleep(max(0.0, min(self._tick - spent, end - time.monotonic())))
