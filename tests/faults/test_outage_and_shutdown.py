"""Storage outage and graceful shutdown: 503s instead of 500s, streams survive or end
cleanly, and every job still completes afterwards."""

import asyncio
import signal
import time

import httpx
import pytest

from harness.processes import isolated_settings
from harness.sse import read_stream, watch_job

pytestmark = pytest.mark.faults


async def test_storage_outage_answers_503_keeps_streams_alive_and_loses_nothing(own_azurite, host_factory):
    env = isolated_settings(own_azurite, SSE_KEEPALIVE_SECONDS="0.5")
    host = host_factory(env, "--lease-seconds", "5")
    base = host.base_url
    async with httpx.AsyncClient(timeout=30) as client:
        jobs = []
        for _ in range(5):
            response = await client.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 5, "steps": 10})
            jobs.append(response.json())
        watchers = [asyncio.create_task(watch_job(client, base, job, deadline=120)) for job in jobs]
        raw = asyncio.create_task(
            asyncio.to_thread(
                read_stream, f"{base}{jobs[0]['eventsUrl']}", params={"access_token": jobs[0]["token"]}, timeout=120
            )
        )
        await asyncio.sleep(1.0)

        await asyncio.to_thread(own_azurite.stop)
        outage_started = time.monotonic()
        start = await client.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 1})
        status = await client.get(f"{base}{jobs[1]['statusUrl']}")
        health = await client.get(f"{base}/api/health")
        await asyncio.sleep(3)
        outage = (outage_started, time.monotonic())
        await asyncio.to_thread(own_azurite.start)

        logs = await asyncio.gather(*watchers)
        transcript = await raw

    for answer in (start, status):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"].isdigit()
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert health.status_code == 503 and health.json()["checks"]["storage"].startswith("unavailable")
    # The stream opened before the outage kept its keep-alives during it.
    relative = transcript.elapsed and [t for t, text in transcript.comments if text == "keep-alive"]
    assert relative, "no keep-alive at all"
    assert transcript.statuses()[-1]["status"] == "Completed"
    # After recovery every job completed and every watcher learned it.
    for log in logs:
        assert log.terminal and log.terminal[0]["status"] == "Completed"
    async with httpx.AsyncClient(timeout=10) as client:
        for job in jobs:
            assert (await client.get(f"{base}{job['statusUrl']}")).json()["status"] == "Completed"
    assert outage[1] - outage[0] >= 3


def test_sigterm_ends_streams_cleanly_releases_the_message_and_exits_quickly(azurite, host_factory):
    env = isolated_settings(azurite)
    host = host_factory(env, "--no-timers", "--lease-seconds", "60")
    base = host.base_url
    job = httpx.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 12, "steps": 12}).json()
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}) as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "retry: 3000"
        deadline = time.monotonic() + 10
        while httpx.get(f"{base}{job['statusUrl']}").json()["status"] != "Running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        sent = time.monotonic()
        host.signal(signal.SIGTERM)
        rest = list(lines)  # the server ends the stream itself
    assert "event: reconnect" in rest
    data = rest[rest.index("event: reconnect") + 1]
    assert '"reason":"shutdown"' in data
    # uvicorn re-raises SIGTERM after its clean shutdown, so the exit status is -15.
    assert host.proc.wait(15) in (0, -signal.SIGTERM)
    assert time.monotonic() - sent < 10, "shutdown took too long"
    assert "Application shutdown complete" in host.log()

    # The message was released, not left leased for 60 s: a new host picks it up at once.
    host.start()
    restarted = time.monotonic()
    deadline = restarted + 30
    while (status := httpx.get(f"{base}{job['statusUrl']}").json())["message"] != "retrying (attempt 2 of 5)":
        assert status["status"] != "Failed", status
        assert time.monotonic() < deadline, "the in-flight message was lost or stuck"
        time.sleep(0.2)
    assert time.monotonic() - restarted < 10
    final = read_stream(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}, timeout=30)
    assert final.statuses()[-1]["status"] == "Completed"
