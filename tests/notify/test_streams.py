"""Open streams (notify/streams.py) over real HTTP: capacity, resume, keep-alive, lifetime,
several jobs on one stream, and the token refusals a stream answers with."""

from __future__ import annotations

import itertools
import re

import httpx

from harness.sse import read_stream
from tests.support.api import assert_problem
from tests.support.api import start_job as start


def stream(base: str, job: dict, **kwargs):
    return read_stream(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}, **kwargs)


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
