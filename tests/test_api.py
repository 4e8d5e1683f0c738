"""End to end over real HTTP: local host + Azurite, the whole start → queue → worker → status/SSE flow."""

from __future__ import annotations

import itertools
import re
import time
import uuid

import httpx
import jwt
import pytest

from harness.sse import read_stream
from jobs.clock import FrozenClock
from notify.tokens import StreamTokens, key_id
from tests.support.api import assert_problem
from tests.support.api import start_job as start


def stream(base: str, job: dict, **kwargs):
    return read_stream(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}, **kwargs)


def test_start_answers_202_with_everything_a_client_needs(shared_host):
    response = httpx.post(f"{shared_host.base_url}/api/jobs/Sleep/start", json={"seconds": 0.1, "steps": 1})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "Queued" and body["jobType"] == "Sleep"
    uuid.UUID(body["jobId"])
    assert response.headers["location"] == body["statusUrl"] == f"/api/jobs/Sleep/{body['jobId']}"
    assert body["eventsUrl"] == f"/api/jobs/Sleep/{body['jobId']}/events"
    assert response.headers["retry-after"].isdigit()
    assert body["token"] and body["tokenExpiresAt"].endswith("Z")
    assert body["token"] not in response.headers["location"]


def test_sleep_job_over_sse_then_polling_with_etags(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 1.2, "steps": 4})
    transcript = stream(base, job)

    assert transcript.status == 200
    assert transcript.headers["content-type"].startswith("text/event-stream")
    assert transcript.headers["cache-control"] == "no-store"
    assert transcript.headers["x-accel-buffering"] == "no"
    assert "gzip" not in transcript.headers.get("content-encoding", "")
    assert transcript.retry == 3000
    statuses = transcript.statuses()
    assert statuses[0]["status"] in ("Queued", "Running")
    assert any(s["status"] == "Running" and 0 < s["progress"] < 1 for s in statuses)
    assert statuses[-1]["status"] == "Completed" and statuses[-1]["progress"] == 1.0
    ids = [int(e.id) for e in transcript.messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert ids == [s["version"] for s in statuses]
    assert transcript.closed_by_server

    status = httpx.get(f"{base}{job['statusUrl']}")
    assert status.status_code == 200
    assert status.json() == statuses[-1]
    assert status.headers["etag"] == f'"{statuses[-1]["version"]}"'
    assert status.headers["cache-control"] == "no-store"
    assert status.headers["x-content-type-options"] == "nosniff"
    assert "retry-after" not in status.headers  # finished: nothing to wait for
    unchanged = httpx.get(f"{base}{job['statusUrl']}", headers={"If-None-Match": status.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    changed = httpx.get(f"{base}{job['statusUrl']}", headers={"If-None-Match": '"1"'})
    assert changed.status_code == 200


def test_running_job_status_carries_retry_after(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 3, "steps": 3})
    response = httpx.get(f"{base}{job['statusUrl']}")
    assert response.status_code == 200 and response.json()["status"] in ("Queued", "Running")
    assert response.headers["retry-after"] == "2"


def test_running_job_with_progress_is_asked_about_when_it_should_be_done(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 40, "steps": 8})  # 12.5 % every 5 s
    status = {}
    deadline = time.monotonic() + 20
    while status.get("progress", 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        response = httpx.get(f"{base}{job['statusUrl']}")
        status = response.json()
    assert status["status"] == "Running" and status["progress"] > 0, status
    # About 35 s of the 40 are left after the first step; the hint says so, capped at 60.
    assert 25 <= int(response.headers["retry-after"]) <= 40, response.headers["retry-after"]


def test_fail_job_streams_failed_with_its_message(shared_host):
    base = shared_host.base_url
    job = start(base, "Fail", {"message": "printer on fire", "afterSeconds": 0.2})
    statuses = stream(base, job).statuses()
    assert statuses[-1]["status"] == "Failed"
    assert statuses[-1]["error"] == "printer on fire"
    assert httpx.get(f"{base}{job['statusUrl']}").json()["status"] == "Failed"


def test_story_publish_reports_each_step(shared_host):
    base = shared_host.base_url
    job = start(
        base, "StoryPublish", {"storyId": "s-1", "title": "Hello", "channels": ["web", "amp"], "stepSeconds": 0.1}
    )
    statuses = stream(base, job).statuses()
    messages = [s.get("message") for s in statuses]
    assert "Publishing to amp" in messages or "Rendering images" in messages
    assert statuses[-1]["status"] == "Completed"
    assert statuses[-1]["resultRef"] == "stories/s-1/published"


# --- the error table ------------------------------------------------------------------------


def test_unknown_job_type_is_404(shared_host):
    assert_problem(httpx.post(f"{shared_host.base_url}/api/jobs/Nope/start", json={}), 404)
    assert_problem(httpx.get(f"{shared_host.base_url}/api/jobs/Nope/{uuid.uuid4()}"), 404)


def test_unknown_job_is_404(shared_host):
    assert_problem(httpx.get(f"{shared_host.base_url}/api/jobs/Sleep/{uuid.uuid4()}"), 404)
    assert_problem(httpx.post(f"{shared_host.base_url}/api/jobs/Sleep/{uuid.uuid4()}/token"), 404)


def test_job_of_another_type_is_404(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    assert_problem(httpx.get(f"{shared_host.base_url}/api/jobs/Fail/{job['jobId']}"), 404)


def test_malformed_json_is_400(shared_host):
    response = httpx.post(
        f"{shared_host.base_url}/api/jobs/Sleep/start",
        content=b'{"seconds": ',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400)


def test_input_failing_the_model_is_422_listing_the_fields(shared_host):
    response = httpx.post(f"{shared_host.base_url}/api/jobs/Sleep/start", json={"seconds": -5, "steps": "many"})
    body = assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"seconds", "steps"}
    assert "seconds" in body["detail"] and "steps" in body["detail"]
    unknown = httpx.post(f"{shared_host.base_url}/api/jobs/Sleep/start", json={"sleep": 1})
    assert [e["field"] for e in assert_problem(unknown, 422)["errors"]] == ["sleep"]
    missing = httpx.post(f"{shared_host.base_url}/api/jobs/StoryPublish/start", json={})
    assert [e["field"] for e in assert_problem(missing, 422)["errors"]] == ["storyId"]
    not_object = httpx.post(f"{shared_host.base_url}/api/jobs/Sleep/start", json=[1, 2])
    assert_problem(not_object, 422)


def test_body_too_large_is_413(shared_host):
    big = {"message": "x" * 40_000}
    assert_problem(httpx.post(f"{shared_host.base_url}/api/jobs/Fail/start", json=big), 413)


def test_body_too_large_without_content_length_is_413(shared_host):
    def chunks():
        yield b'{"message": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = httpx.post(
        f"{shared_host.base_url}/api/jobs/Fail/start", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


def test_non_json_body_is_415(shared_host):
    response = httpx.post(f"{shared_host.base_url}/api/jobs/Sleep/start", data={"seconds": "1"})
    assert_problem(response, 415)


def test_wrong_method_and_unknown_route_are_problems(shared_host):
    assert_problem(httpx.delete(f"{shared_host.base_url}/api/jobs/Sleep/{uuid.uuid4()}"), 405)
    assert_problem(httpx.get(f"{shared_host.base_url}/api/nothing/here"), 404)


def test_stream_without_token_is_401_with_challenge(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    response = httpx.get(f"{shared_host.base_url}{job['eventsUrl']}")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_expired_token_is_401(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    clock = FrozenClock()
    clock.advance(-3600)
    expired, _ = StreamTokens(shared_host.env["STREAM_TOKEN_SIGNING_KEY"], clock=clock).issue(
        "anonymous", [job["jobId"]]
    )
    response = httpx.get(f"{shared_host.base_url}{job['eventsUrl']}", params={"access_token": expired})
    assert "expired" in assert_problem(response, 401)["detail"]
    assert "www-authenticate" in response.headers


def test_token_for_another_job_is_403(shared_host):
    one = start(shared_host.base_url, "Sleep", {"seconds": 0})
    other = start(shared_host.base_url, "Sleep", {"seconds": 0})
    response = httpx.get(f"{shared_host.base_url}{one['eventsUrl']}", params={"access_token": other["token"]})
    assert_problem(response, 403)


def test_tampered_and_unsigned_tokens_are_401(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    header, payload, signature = job["token"].split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    unsigned = jwt.encode(
        jwt.decode(job["token"], options={"verify_signature": False}),
        key=None,
        algorithm="none",
        headers={"kid": key_id(shared_host.env["STREAM_TOKEN_SIGNING_KEY"])},
    )
    for token in (tampered, unsigned, "garbage"):
        response = httpx.get(f"{shared_host.base_url}{job['eventsUrl']}", params={"access_token": token})
        assert_problem(response, 401)


def test_fresh_token_endpoint_mints_a_working_token(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 0.3, "steps": 1})
    minted = httpx.post(f"{base}/api/jobs/Sleep/{job['jobId']}/token")
    assert minted.status_code == 200
    body = minted.json()
    assert body["eventsUrl"] == job["eventsUrl"]
    transcript = read_stream(f"{base}{body['eventsUrl']}", params={"access_token": body["token"]})
    assert transcript.statuses()[-1]["status"] == "Completed"


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


# --- resume, keep-alive, lifetime ------------------------------------------------------------


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


# --- several jobs on one stream ----------------------------------------------------------------


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


def test_watch_refuses_unknown_and_too_many_jobs(shared_host):
    base = shared_host.base_url
    unknown = httpx.post(f"{base}/api/watch", json={"jobs": [{"jobType": "Sleep", "jobId": str(uuid.uuid4())}]})
    assert_problem(unknown, 404)
    many = [{"jobType": "Sleep", "jobId": str(uuid.uuid4())} for _ in range(51)]
    assert_problem(httpx.post(f"{base}/api/watch", json={"jobs": many}), 422)
    assert_problem(httpx.post(f"{base}/api/watch", json={"jobs": []}), 422)


# --- cross-process: the stream is served by a process that does not run the job ---------------


def test_status_written_by_another_process_reaches_the_stream(azurite, host_factory):
    from harness.processes import isolated_settings

    env = isolated_settings(azurite)
    api_only = host_factory(env, "--no-worker")
    worker = host_factory(env, "--no-timers")
    job = start(api_only.base_url, "Sleep", {"seconds": 1, "steps": 4})
    transcript = stream(api_only.base_url, job, timeout=30)
    statuses = transcript.statuses()
    assert statuses[-1]["status"] == "Completed"
    assert len(statuses) >= 3  # progress crossed processes too, not only the final state
    assert api_only.diagnostics()["watcher"]["polls"] > 0
    assert worker.diagnostics()["queue"][0]["succeeded"] >= 1


# --- logs ---------------------------------------------------------------------------------------


def test_tokens_never_reach_the_logs(host_factory):
    host = host_factory()
    base = host.base_url
    job = start(base, "Sleep", {"seconds": 0.2, "steps": 1})
    stream(base, job)
    httpx.get(f"{base}{job['eventsUrl']}", params={"access_token": job["token"] + "x"})
    httpx.get(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}, headers={"Last-Event-ID": "999"})
    minted = httpx.post(f"{base}/api/jobs/Sleep/{job['jobId']}/token").json()["token"]
    host.stop()
    log = host.log()
    assert "/events" in log  # the requests were logged...
    for secret in (job["token"], minted, job["token"].split(".")[1], "access_token="):
        assert secret not in log  # ...without their tokens or query strings


@pytest.mark.parametrize("origin,allowed", [("http://localhost:4200", True), ("https://evil.example", False)])
def test_cors_only_for_configured_origins(shared_host, origin, allowed):
    response = httpx.options(
        f"{shared_host.base_url}/api/jobs/Sleep/start",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    if allowed:
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert "POST" in response.headers["access-control-allow-methods"]
    else:
        assert response.headers.get("access-control-allow-origin") != origin
