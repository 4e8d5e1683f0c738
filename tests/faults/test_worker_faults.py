"""Worker crash, poison messages and stuck jobs: every job still reaches a terminal state."""

import asyncio
import base64
import json
import time

import httpx
import pytest
from azure.storage.queue import QueueClient

from harness.processes import isolated_settings
from harness.sse import WatchLog, watch_job
from jobs.model import JobState

pytestmark = pytest.mark.faults


def assert_monotonic(log: WatchLog) -> None:
    assert log.ids == sorted(log.ids) and len(set(log.ids)) == len(log.ids), log.ids
    ranks = [JobState(e["status"]).rank for e in log.events]
    assert ranks == sorted(ranks), [e["status"] for e in log.events]
    progress = [e["progress"] for e in log.events]
    assert progress == sorted(progress), progress
    assert len(log.terminal) == 1


async def start(client: httpx.AsyncClient, base: str, job_type: str, body: dict) -> dict:
    response = await client.post(f"{base}/api/jobs/{job_type}/start", json=body)
    assert response.status_code == 202, response.text
    return response.json()


async def wait_for(client: httpx.AsyncClient, base: str, job: dict, predicate, within: float = 30) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = (await client.get(f"{base}{job['statusUrl']}")).json()
        if predicate(status):
            return status
        await asyncio.sleep(0.1)
    raise TimeoutError(f"condition not met for {job['jobId']}")


async def test_worker_killed_mid_job_is_redelivered_and_finishes_without_regression(azurite, host_factory):
    env = isolated_settings(azurite)
    api = host_factory(env, "--no-worker", "--no-timers")
    worker = host_factory(env, "--no-timers", "--lease-seconds", "3")
    async with httpx.AsyncClient(timeout=30) as client:
        job = await start(client, api.base_url, "Sleep", {"seconds": 4, "steps": 20})
        watcher = asyncio.create_task(watch_job(client, api.base_url, job, deadline=60))
        before = await wait_for(client, api.base_url, job, lambda s: s["progress"] >= 0.3)
        worker.kill()  # SIGKILL: no clean-up at all
        await asyncio.sleep(0.5)
        worker.start()
        log = await watcher
    assert log.terminal[0]["status"] == "Completed"
    assert_monotonic(log)
    assert any(e.get("message") == "retrying (attempt 2 of 5)" for e in log.events)
    # Progress resumed from where watchers last saw it, never lower.
    assert min(e["progress"] for e in log.events if e["version"] > before["version"]) >= before["progress"]


async def test_poison_job_ends_failed_and_its_message_moves_to_the_poison_queue(azurite, host_factory):
    env = isolated_settings(azurite)
    host = host_factory(env, "--no-timers")
    async with httpx.AsyncClient(timeout=30) as client:
        job = await start(
            client, host.base_url, "Fail", {"message": "always broken", "afterSeconds": 0, "transient": True}
        )
        log = await watch_job(client, host.base_url, job, deadline=90)
    final = log.terminal[0]
    assert final["status"] == "Failed"
    assert final["message"] == "failed after 5 attempts" and final["error"] == "RuntimeError: always broken"
    assert_monotonic(log)
    poison = QueueClient.from_connection_string(env["AzureWebJobsStorage"], f"{env['JOBS_QUEUE_NAME']}-poison")
    deadline = time.monotonic() + 10
    messages = []
    while time.monotonic() < deadline and not messages:
        messages = poison.peek_messages(max_messages=5)
        await asyncio.sleep(0.2)
    assert len(messages) == 1
    assert json.loads(base64.b64decode(messages[0].content))["jobId"] == job["jobId"]
    assert host.diagnostics().queue[0].poisoned == 1


async def test_sweeper_fails_queued_and_running_jobs_past_their_timeout_and_streams_hear_it(azurite, host_factory):
    env = isolated_settings(azurite, JOBS_TIMEOUT_OVERRIDES=json.dumps({"Sleep": 3}))
    api = host_factory(env, "--no-worker")  # runs the sweeper timer (every 2 s in tests), no jobs
    worker = host_factory(env, "--no-timers", "--lease-seconds", "60")
    async with httpx.AsyncClient(timeout=30) as client:
        running = await start(client, api.base_url, "Sleep", {"seconds": 30, "steps": 30})
        await wait_for(client, api.base_url, running, lambda s: s["status"] == "Running")
        worker.kill()  # its lease outlives the deadline: only the sweeper can end this job
        queued = [await start(client, api.base_url, "Sleep", {"seconds": 1}) for _ in range(3)]
        logs = await asyncio.gather(*(watch_job(client, api.base_url, j, deadline=30) for j in [running, *queued]))
    for log in logs:
        final = log.terminal[0]
        assert final["status"] == "Failed" and final["message"] == "timed out"
        assert_monotonic(log)
    assert logs[0].events[0]["status"] in ("Running", "Queued")


async def test_the_sweep_reads_only_unfinished_jobs(store):
    import uuid

    from jobs.clock import SystemClock
    from jobs.model import JobUpdate
    from jobs.sweeper import sweep
    from local_host.diagnostics import OPERATIONS

    async def sweep_cost(finished: int) -> int:
        for _ in range(finished):
            record = await store.create(str(uuid.uuid4()), "Sleep", "a", 60)
            await store.update(record, JobUpdate(status=JobState.COMPLETED))
        overdue = [await store.create(str(uuid.uuid4()), "Sleep", "a", 0) for _ in range(2)]
        await store.create(str(uuid.uuid4()), "Sleep", "a", 600)  # active, not due
        await sweep(store, SystemClock())  # settle earlier leftovers
        overdue += [await store.create(str(uuid.uuid4()), "Sleep", "a", 0) for _ in range(2)]
        before = OPERATIONS.total()
        report = await sweep(store, SystemClock())
        assert report.timed_out == 2
        return OPERATIONS.total() - before

    small, large = await sweep_cost(5), await sweep_cost(60)
    # active-index query + per overdue job (read, write, feed, index delete) + feed and history tidy queries
    assert 0 < small == large <= 1 + 2 * 4 + 2
