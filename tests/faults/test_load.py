"""500 jobs at once, each with a watcher: all reach their watchers, and the process
returns to its baseline afterwards (streams, tasks, file descriptors, memory).

Stated bounds: open streams and asyncio tasks return exactly to the baseline. File
descriptors may stay above it by the pooled keep-alive connections to storage (the
SDK's aiohttp pools, at most 100 per storage endpoint) but must not grow from one
round of load to the next. Memory grows less than 64 MiB over the first round (the
pools, caches and allocator arenas) and less than 16 MiB over a second round.
"""

import asyncio
import time

import httpx
import pytest

from harness.sse import watch_job
from local_host.diagnostics import Diagnostics

pytestmark = pytest.mark.faults

FIRST_ROUND, SECOND_ROUND = 500, 200
POOLED_CONNECTIONS = 200
POOL_JITTER = 8
FIRST_RSS_LIMIT_KIB, SECOND_RSS_LIMIT_KIB = 64 * 1024, 16 * 1024


async def settle(host, baseline: Diagnostics, within: float = 50.0) -> Diagnostics:
    """Diagnostics once the idle work has wound down: message tasks, the stream ticker,
    and the feed watcher, which keeps running 30 s after the last stream closes (the
    hub holds recent jobs that long for reconnects)."""
    deadline = time.monotonic() + within
    while True:
        now = host.diagnostics()
        idle = (
            now.streams.open == 0
            and not now.watcher.running
            and now.queue[0].in_flight == 0
            and now.process.asyncio_tasks <= baseline.process.asyncio_tasks
        )
        if idle or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.5)


async def start(client: httpx.AsyncClient, base: str) -> httpx.Response:
    """Start a job like the client library does: a 503 (the job was not started, storage
    was momentarily overloaded) is retried after its Retry-After."""
    for _ in range(3):
        response = await client.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 1, "steps": 2})
        if response.status_code != 503:
            return response
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    return response


async def round_of(base: str, jobs: int) -> float:
    """One round with its own client, closed at the end: its connections must not count."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=jobs + 50)) as client:
        responses = await asyncio.gather(*(start(client, base) for _ in range(jobs)))
        assert [r.status_code for r in responses] == [202] * jobs
        logs = await asyncio.gather(*(watch_job(client, base, r.json(), deadline=240) for r in responses))
    assert all(len(log.terminal) == 1 and log.terminal[0]["status"] == "Completed" for log in logs)
    return time.monotonic() - started


def assert_idle(now: Diagnostics, baseline: Diagnostics) -> None:
    assert now.streams.open == 0
    assert now.watcher.running is False
    assert now.hub.watched_jobs == 0
    assert now.queue[0].in_flight == 0
    assert now.process.asyncio_tasks <= baseline.process.asyncio_tasks


async def test_500_concurrent_jobs_with_watchers_and_no_leaks(host_factory):
    host = host_factory()
    base = host.base_url
    # Warm up every code path once, so the baseline is a process that has run.
    await round_of(base, 1)
    baseline = await settle(host, host.diagnostics())

    first_time = await round_of(base, FIRST_ROUND)
    first = await settle(host, baseline)
    second_time = await round_of(base, SECOND_ROUND)
    second = await settle(host, baseline)

    assert first.streams.opened - baseline.streams.opened >= FIRST_ROUND
    for after in (first, second):
        assert_idle(after, baseline)
    fds = [d.process.open_files for d in (baseline, first, second)]
    assert fds[1] <= fds[0] + POOLED_CONNECTIONS
    # The SDK's connection pool may reach a new high-water mark in a later round (batched feed
    # writes add concurrent requests at random moments): a few sockets, not one per job. A leak
    # of even one socket in twenty jobs would add 10 in the 200-job round.
    assert fds[2] <= fds[1] + POOL_JITTER, f"file descriptors grew between rounds: {fds}"
    rss = [d.process.rss_kib for d in (baseline, first, second)]
    assert rss[1] - rss[0] < FIRST_RSS_LIMIT_KIB, rss
    assert rss[2] - rss[1] < SECOND_RSS_LIMIT_KIB, rss
    print(
        f"load: {FIRST_ROUND} jobs + watchers in {first_time:.1f}s, {SECOND_ROUND} in {second_time:.1f}s; "
        f"tasks {baseline.process.asyncio_tasks}/{first.process.asyncio_tasks}/"
        f"{second.process.asyncio_tasks}, fds {fds}, rss KiB {rss}"
    )
