"""Open streams (notify/streams.py) over real HTTP: capacity, resume, keep-alive, lifetime,
several jobs on one stream, and the token refusals a stream answers with."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime

import httpx
import pytest

from errors import AtCapacity
from harness.sse import read_stream
from jobs.model import JobState, JobStatus, JobUpdate, apply_update, new_job
from notify import sse
from notify.hub import Hub
from notify.streams import Stream, StreamManager
from tests.support.api import assert_problem
from tests.support.api import start_job as start
from tests.support.api import stream_job as stream


def test_stream_without_token_is_401_with_challenge(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    response = httpx.get(f"{shared_host.base_url}{job['eventsUrl']}")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_token_for_another_job_is_403(shared_host):
    one = start(shared_host.base_url, "Sleep", {"seconds": 0})
    other = start(shared_host.base_url, "Sleep", {"seconds": 0})
    response = httpx.get(f"{shared_host.base_url}{one['eventsUrl']}", params={"access_token": other["token"]})
    assert_problem(response, 403)


def test_stream_capacity_is_503_with_retry_after(host_factory):
    host = host_factory(SSE_MAX_STREAMS="1")
    base = host.base_url
    job = start(base, "Sleep", {"seconds": 5, "steps": 1})
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}) as first,
    ):
        assert first.status_code == 200
        lines = first.iter_lines()  # held: dropping the iterator would close the stream
        assert next(lines) == "retry: 3000"
        second = httpx.get(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]})
        assert_problem(second, 503)
        assert second.headers["retry-after"].isdigit()
        # Polling still works when streams are full.
        assert httpx.get(f"{base}{job['statusUrl']}").status_code == 200


def test_resume_with_last_event_id_sends_nothing_already_seen(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 1.5, "steps": 5})
    first = stream(base, job, stop_after=2)
    seen = [int(e.id) for e in first.messages]
    assert len(seen) == 2
    resumed = stream(base, job, headers={"Last-Event-ID": str(seen[-1])})
    ids = [int(e.id) for e in resumed.messages]
    assert ids and min(ids) > seen[-1]
    assert resumed.statuses()[-1]["status"] == "Completed"
    # The query-string form works the same (a new EventSource cannot set headers).
    again = read_stream(f"{base}{job['eventsUrl']}", params={"access_token": job["token"], "lastEventId": str(ids[-2])})
    assert [int(e.id) for e in again.messages] == [ids[-1]]


def test_up_to_date_client_of_a_finished_job_gets_204(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 0})
    final = stream(base, job).messages[-1]
    response = httpx.get(
        f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}, headers={"Last-Event-ID": final.id}
    )
    assert response.status_code == 204


def test_bad_last_event_id_is_400(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    response = httpx.get(
        f"{shared_host.base_url}{job['eventsUrl']}",
        params={"access_token": job["token"]},
        headers={"Last-Event-ID": "1.2.3"},
    )
    assert_problem(response, 400)


def test_keep_alive_and_planned_close_at_the_lifetime(host_factory):
    host = host_factory(SSE_KEEPALIVE_SECONDS="0.3", SSE_STREAM_LIFETIME_SECONDS="1.5")
    job = start(host.base_url, "Sleep", {"seconds": 30, "steps": 1})
    transcript = stream(host.base_url, job, timeout=10)
    assert transcript.closed_by_server
    assert 1.2 <= transcript.elapsed <= 4.0
    keepalives = [t for t, text in transcript.comments if text == "keep-alive"]
    assert len(keepalives) >= 2
    reconnect = transcript.events[-1]
    assert reconnect.event == "reconnect"
    assert reconnect.json() == {"reason": "lifetime", "lastEventId": transcript.messages[-1].id}
    # The job is not finished, and resuming from the announced id continues the stream.
    resumed = stream(host.base_url, job, headers={"Last-Event-ID": reconnect.json()["lastEventId"]}, timeout=10)
    assert resumed.status == 200


def test_no_keep_alive_while_events_flow_quickly(host_factory):
    host = host_factory(SSE_KEEPALIVE_SECONDS="5")
    job = start(host.base_url, "Sleep", {"seconds": 1, "steps": 5})
    transcript = stream(host.base_url, job)
    assert transcript.statuses()[-1]["status"] == "Completed"
    assert transcript.comments == []


def test_one_stream_carries_several_jobs_with_a_version_vector(shared_host):
    base = shared_host.base_url
    jobs = [start(base, "Sleep", {"seconds": 0.5 + i * 0.3, "steps": 2}) for i in range(3)]
    jobs.append(start(base, "Fail", {"afterSeconds": 0.2}))
    grant = httpx.post(
        f"{base}/api/watch", json={"jobs": [{"jobType": j["jobType"], "jobId": j["jobId"]} for j in jobs]}
    )
    assert grant.status_code == 200
    body = grant.json()
    assert body["jobIds"] == [j["jobId"] for j in jobs]
    assert re.fullmatch(r"/api/watch/[0-9a-f]{32}/events", body["eventsUrl"])
    transcript = read_stream(f"{base}{body['eventsUrl']}", params={"access_token": body["token"]})
    finals = {}
    vectors = []
    for event in transcript.messages:
        status = event.json()
        finals[status["jobId"]] = status["status"]
        vectors.append([int(v) for v in event.id.split(".")])
    assert finals == {j["jobId"]: ("Failed" if j["jobType"] == "Fail" else "Completed") for j in jobs}
    for before, after in itertools.pairwise(vectors):
        assert all(a >= b for a, b in zip(after, before, strict=True)) and after != before
    assert transcript.closed_by_server
    # Resuming from the last vector: everything is finished and known → 204.
    done = httpx.get(
        f"{base}/api/watch/events", params={"access_token": body["token"], "lastEventId": transcript.messages[-1].id}
    )
    assert done.status_code == 204


# --- the stream manager itself, without HTTP -----------------------------------------------------

JOB = "3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"


def _versions(hub: Hub, *updates: JobUpdate) -> list[JobStatus]:
    """The job's statuses after each update, published into `hub`."""
    status = new_job(JOB, "Sleep", datetime.now(UTC))
    out = [status]
    for update in updates:
        next_status = apply_update(status, update)
        assert next_status is not None
        status = next_status
        out.append(status)
    return out


async def _chunks(manager: StreamManager, stream: Stream, wanted: int) -> list[bytes]:
    body = manager.body(stream)
    chunks = []
    async with asyncio.timeout(5):
        async for chunk in body:
            chunks.append(chunk)
            if len(chunks) == wanted:
                break
    await body.aclose()
    return chunks


async def test_a_slow_stream_gets_the_latest_progress_only_and_ends_after_the_terminal_event():
    hub = Hub()
    manager = StreamManager(hub)
    stream = manager.open([JOB], [0])
    statuses = _versions(
        hub,
        JobUpdate(status=JobState.RUNNING),
        JobUpdate(progress=0.3),
        JobUpdate(progress=0.6),
    )
    for status in statuses:
        hub.publish(status)
    chunk, done = stream.drain()
    assert chunk.count(b"id: ") == 1 and b"id: 4\n" in chunk and b'"progress":0.6' in chunk and not done
    done_status = apply_update(statuses[-1], JobUpdate(status=JobState.COMPLETED))
    assert done_status is not None
    hub.publish(done_status)
    chunk, done = stream.drain()
    assert b'"status":"Completed"' in chunk and done


async def test_capacity_refuses_the_next_stream_and_shutdown_refuses_all():
    manager = StreamManager(Hub(), max_streams=1)
    manager.open([JOB], [0])
    with pytest.raises(AtCapacity):
        manager.open([JOB], [0])
    roomy = StreamManager(Hub())
    roomy.shutdown()
    with pytest.raises(AtCapacity):
        roomy.open([JOB], [0])


async def test_an_idle_stream_gets_keep_alives_then_its_planned_close():
    manager = StreamManager(Hub(), keepalive_seconds=0.2, lifetime_seconds=0.9)
    stream = manager.open([JOB], [1])
    first, *rest = await _chunks(manager, stream, 6)
    assert first.startswith(b"retry: ")
    assert sse.KEEP_ALIVE in rest
    assert any(b"event: reconnect" in c and b'"reason":"lifetime"' in c for c in rest)
    assert manager.open_count == 0  # the planned close freed it


async def test_shutdown_ends_every_stream_with_a_reconnect():
    manager = StreamManager(Hub())
    streams = [manager.open([JOB], [1]) for _ in range(3)]
    bodies = [asyncio.ensure_future(_chunks(manager, s, 2)) for s in streams]
    await asyncio.sleep(0.05)
    manager.shutdown()
    for chunks in await asyncio.gather(*bodies):
        assert b'"reason":"shutdown"' in chunks[-1] and b'"lastEventId":"1"' in chunks[-1]
    assert manager.open_count == 0


async def test_one_job_streams_share_one_framed_event_and_a_many_job_stream_frames_its_own():
    hub = Hub()
    manager = StreamManager(hub)
    other = "00000000-0000-4000-8000-00000000000b"
    ones = [manager.open([JOB], [0]) for _ in range(3)]
    many = manager.open([other, JOB], [2, 0])
    running = _versions(hub, JobUpdate(status=JobState.RUNNING))[-1]
    hub.publish(running)
    sent = [s.drain()[0] for s in ones]
    assert sent[0] == sse.event(sse.data_block(running.to_json()), id="2")
    assert all(chunk is sent[0] for chunk in sent)  # framed once, not once per stream
    chunk, done = many.drain()
    assert chunk == sse.event(sse.data_block(running.to_json()), id="2.2") and not done
