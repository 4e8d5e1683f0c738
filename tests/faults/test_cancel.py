"""Cancel across processes: the HTTP call on one instance, the job's worker on another."""

import asyncio
import time

import httpx
import pytest

from harness.processes import isolated_settings
from harness.sse import watch_job
from jobs.runner import CANCEL_CHECK_SECONDS
from tests.faults.test_worker_faults import assert_monotonic, start, wait_for
from tests.support.api import assert_problem

pytestmark = pytest.mark.faults


async def test_a_cancel_on_one_instance_stops_the_job_on_another_and_every_watcher_hears_it(azurite, host_factory):
    env = isolated_settings(azurite)
    api = host_factory(env, "--no-worker", "--no-timers")
    worker = host_factory(env, "--no-timers")
    async with httpx.AsyncClient(timeout=30) as client:
        # Two reports 30 s apart: the cancel lands between them.
        job = await start(client, api.base_url, "Sleep", {"seconds": 60, "steps": 2})
        bases = (api.base_url, worker.base_url)
        watchers = [asyncio.create_task(watch_job(client, base, job, deadline=30)) for base in bases]
        await wait_for(client, api.base_url, job, lambda s: s["status"] == "Running")
        asked = time.monotonic()
        answer = await client.post(f"{api.base_url}/api/jobs/Sleep/{job['jobId']}/cancel")
        assert answer.status_code == 202 and answer.json()["status"] == "Running"
        logs = await asyncio.gather(*watchers)
        took = time.monotonic() - asked
    for log in logs:
        final = log.terminal[0]
        assert (final["status"], final["message"], final["error"]) == ("Failed", "cancelled", "its owner cancelled it")
        assert_monotonic(log)
    # The bound: one check interval and a read, and the watchers' feed tick (0.75 s) to hear it.
    assert took < CANCEL_CHECK_SECONDS + 3, took
    queue = worker.diagnostics().queue[0]
    assert (queue.succeeded, queue.in_flight) == (1, 0)  # its message settled: nothing to redeliver


async def test_a_cancel_while_the_worker_is_dead_is_ended_by_the_redelivery_and_ends_once(azurite, host_factory):
    env = isolated_settings(azurite)
    api = host_factory(env, "--no-worker")  # runs the sweeper too (every 2 s in tests): it races the redelivery
    worker = host_factory(env, "--no-timers", "--lease-seconds", "3")
    async with httpx.AsyncClient(timeout=30) as client:
        job = await start(client, api.base_url, "Sleep", {"seconds": 60, "steps": 60})
        watcher = asyncio.create_task(watch_job(client, api.base_url, job, deadline=60))
        await wait_for(client, api.base_url, job, lambda s: s["progress"] > 0)
        worker.kill()  # no clean-up: its message comes back when the lease runs out
        answer = await client.post(f"{api.base_url}/api/jobs/Sleep/{job['jobId']}/cancel")
        assert answer.status_code == 202
        worker.start()
        log = await watcher
        again = await client.post(f"{api.base_url}/api/jobs/Sleep/{job['jobId']}/cancel")
    assert log.terminal[0]["message"] == "cancelled"
    assert_monotonic(log)  # one terminal event, versions and progress never back
    assert_problem(again, 409)
    assert not any("retrying" in (e.get("message") or "") for e in log.events)  # the redelivery never ran it
