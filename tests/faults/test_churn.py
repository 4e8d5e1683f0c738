"""Stream resume under churn: 50 watchers, every stream cut at random moments, 5+ times each."""

import asyncio

import httpx
import pytest

from harness.sse import WatchLog, watch_job
from tests.support.chaos import ChaosProxy

pytestmark = pytest.mark.faults

WATCHERS = 50


async def test_every_watcher_gets_each_terminal_event_exactly_once_with_rising_ids(shared_host):
    base = shared_host.base_url
    proxy = await ChaosProxy(shared_host.port, min_seconds=0.15, max_seconds=0.6, seed=2026).start()
    try:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:

            async def start_and_watch(i: int) -> tuple[dict, WatchLog]:
                # Each watcher starts with its job, so a slow start (a loaded machine) does
                # not eat into the 6 s in which its stream is cut.
                job_type, body = (
                    ("Fail", {"afterSeconds": 6}) if i % 10 == 0 else ("Sleep", {"seconds": 6, "steps": 30})
                )
                response = await client.post(f"{base}/api/jobs/{job_type}/start", json=body)
                assert response.status_code == 202
                job = response.json()
                return job, await watch_job(client, f"http://127.0.0.1:{proxy.port}", job, deadline=90)

            watched = await asyncio.gather(*(start_and_watch(i) for i in range(WATCHERS)))
            jobs, logs = [job for job, _ in watched], [log for _, log in watched]
    finally:
        await proxy.stop()

    for job, log in zip(jobs, logs, strict=True):
        assert len(log.terminal) == 1, f"{job['jobId']}: {len(log.terminal)} terminal events"
        assert log.terminal[0]["status"] == ("Failed" if job["jobType"] == "Fail" else "Completed")
        assert log.ids == sorted(log.ids) and len(set(log.ids)) == len(log.ids), log.ids
        assert log.events[-1] is log.terminal[0]
    cuts = [log.cuts for log in logs]
    assert min(cuts) >= 5, f"some streams were cut fewer than 5 times: {sorted(cuts)[:5]}"
    assert proxy.cuts >= 5 * WATCHERS
    print(
        f"churn: {WATCHERS} watchers, {sum(cuts)} cuts (min {min(cuts)}), "
        f"{sum(log.connections for log in logs)} connections, 0 lost"
    )
