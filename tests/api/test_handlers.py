"""The HTTP endpoints (api/handlers.py) over real HTTP: local host + Azurite, the whole
start → queue → worker → status/SSE flow, and the error table."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from harness.processes import isolated_settings
from harness.sse import read_stream
from jobs.model import JobState
from telemetry.metrics import MetricName
from telemetry.snapshot import snapshot, total
from tests.support.api import assert_problem
from tests.support.api import start_job as start
from tests.support.api import stream_job as stream


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


def test_fresh_token_endpoint_mints_a_working_token(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 0.3, "steps": 1})
    minted = httpx.post(f"{base}/api/jobs/Sleep/{job['jobId']}/token")
    assert minted.status_code == 200
    body = minted.json()
    assert body["eventsUrl"] == job["eventsUrl"]
    transcript = read_stream(f"{base}{body['eventsUrl']}", params={"access_token": body["token"]})
    assert transcript.statuses()[-1]["status"] == "Completed"


def test_watch_refuses_unknown_and_too_many_jobs(shared_host):
    base = shared_host.base_url
    unknown = httpx.post(f"{base}/api/watch", json={"jobs": [{"jobType": "Sleep", "jobId": str(uuid.uuid4())}]})
    assert_problem(unknown, 404)
    many = [{"jobType": "Sleep", "jobId": str(uuid.uuid4())} for _ in range(51)]
    assert_problem(httpx.post(f"{base}/api/watch", json={"jobs": many}), 422)
    assert_problem(httpx.post(f"{base}/api/watch", json={"jobs": []}), 422)


# --- a start that cannot be queued, storage that is down (in-process app) ----------------------


@pytest.fixture
async def api(asgi_api):
    return await asgi_api(JOBS_QUEUE_NAME="no-such-queue")  # the queue itself is never created


async def test_unqueueable_start_is_503_and_the_job_is_failed(api, reader):
    client, services = api
    response = await client.post("/api/jobs/Sleep/start", json={"seconds": 1})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"].isdigit()
    assert "not started" in response.json()["detail"]
    # The row that was written is Failed, not stuck in Queued, and left the active index.
    failed = [r for r in [await services.store.get(a.job_id) for a in await services.store.active_jobs()] if r]
    assert failed == []
    records = [c for c in await services.store.changes_since(services.clock.now().replace(year=2000))]
    assert records and records[-1].status is JobState.FAILED
    assert records[-1].message == "could not be queued"
    # ...and counted with the other failed jobs.
    assert total(snapshot(reader), MetricName.JOBS_FAILED, job_type="Sleep", reason="unqueued") == 1


async def test_storage_outage_is_503_not_500(azurite, asgi_api):
    storage = isolated_settings(azurite)["AzureWebJobsStorage"].replace(str(azurite.table), "1")
    client, _ = await asgi_api(create_tables=False, AzureWebJobsStorage=storage)
    response = await client.post("/api/jobs/Sleep/start", json={"seconds": 1})
    status = await client.get("/api/jobs/Sleep/3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f")
    for answer in (response, status):
        assert answer.status_code == 503
        assert answer.headers["retry-after"].isdigit()
        assert answer.headers["content-type"].startswith("application/problem+json")


# --- a start that can be retried: Idempotency-Key (in-process app) ------------------------------


async def _queued_messages(services) -> int:
    """Messages in the app's job queue (nobody takes them: the in-process app runs no worker)."""
    from jobs.storage import storage_queue

    async with storage_queue(services.settings, services.settings.queue_name) as queue:
        return (await queue.get_queue_properties()).approximate_message_count


async def _with_queue(asgi_api):
    return await _with_queue_of(asgi_api)


async def _with_queue_of(asgi_api, **settings: str):
    from jobs.storage import storage_queue

    client, services = await asgi_api(**settings)
    async with storage_queue(services.settings, services.settings.queue_name) as queue:
        await queue.create_queue()
    return client, services


async def test_a_repeated_start_answers_the_same_job_and_queues_it_once(asgi_api):
    client, services = await _with_queue(asgi_api)
    body, key = {"seconds": 1, "steps": 1}, {"Idempotency-Key": "order-17:try"}
    first = await client.post("/api/jobs/Sleep/start", json=body, headers=key)
    again = await client.post("/api/jobs/Sleep/start", json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert first.json()["jobId"] == again.json()["jobId"]
    assert again.json()["token"]  # a token to stream with, as for the first answer
    other = await client.post("/api/jobs/Sleep/start", json=body, headers={"Idempotency-Key": "order-18"})
    assert other.json()["jobId"] != first.json()["jobId"]
    assert await _queued_messages(services) == 2


async def test_twenty_concurrent_starts_with_one_key_make_one_job(asgi_api):
    client, services = await _with_queue(asgi_api)
    answers = await asyncio.gather(
        *(
            client.post("/api/jobs/Sleep/start", json={"seconds": 1}, headers={"Idempotency-Key": "burst"})
            for _ in range(20)
        )
    )
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["jobId"] for a in answers}) == 1
    assert await _queued_messages(services) == 1


async def test_a_key_reused_with_another_body_is_409_and_a_bad_key_400(asgi_api):
    client, _ = await _with_queue(asgi_api)
    key = {"Idempotency-Key": "k1"}
    assert (await client.post("/api/jobs/Sleep/start", json={"seconds": 1}, headers=key)).status_code == 202
    assert_problem(await client.post("/api/jobs/Sleep/start", json={"seconds": 2}, headers=key), 409)
    # Another job type with the same key is another body too.
    assert_problem(await client.post("/api/jobs/Fail/start", json={}, headers=key), 409)
    for bad in ("", "x" * 129, "a/b", "a+b", "a b", "#1"):
        assert_problem(await client.post("/api/jobs/Sleep/start", json={}, headers={"Idempotency-Key": bad}), 400)


async def test_keys_are_per_principal(asgi_api):
    easy, _ = await _with_queue_of(asgi_api, AUTH_MODE="easyauth")
    body = {"seconds": 1}
    alice = await easy.post(
        "/api/jobs/Sleep/start", json=body, headers={"Idempotency-Key": "same", "X-MS-CLIENT-PRINCIPAL-ID": "alice"}
    )
    bob = await easy.post(
        "/api/jobs/Sleep/start", json=body, headers={"Idempotency-Key": "same", "X-MS-CLIENT-PRINCIPAL-ID": "bob"}
    )
    assert alice.status_code == bob.status_code == 202
    assert alice.json()["jobId"] != bob.json()["jobId"]


async def test_a_key_whose_job_could_not_be_queued_starts_afresh(api):
    client, services = api  # its queue does not exist: every start answers 503
    key = {"Idempotency-Key": "retry-me"}
    assert (await client.post("/api/jobs/Sleep/start", json={"seconds": 1}, headers=key)).status_code == 503
    fresh = str(uuid.uuid4())
    assert await services.store.reserve_start("anonymous", "retry-me", fresh, "any body") == fresh


# --- cancel and "my jobs" (in-process app: no worker takes the queued jobs) ---------------------


@pytest.fixture
async def queued_api(asgi_api):
    return await _with_queue(asgi_api)  # built before `reader`, which then sees its metrics


async def test_cancel_ends_a_queued_job_and_a_finished_one_is_409(queued_api, reader):
    client, _ = queued_api
    job = (await client.post("/api/jobs/Sleep/start", json={"seconds": 60})).json()
    cancel = f"/api/jobs/Sleep/{job['jobId']}/cancel"
    answer = await client.post(cancel)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["jobId"], body["status"], body["message"]) == (job["jobId"], "Failed", "cancelled")
    assert (await client.get(job["statusUrl"])).json() == body
    assert_problem(await client.post(cancel), 409)
    assert total(snapshot(reader), MetricName.JOBS_FAILED, job_type="Sleep", reason="cancelled") == 1


async def test_cancel_of_a_running_job_is_202_and_asks_its_worker(asgi_api):
    client, services = await _with_queue(asgi_api)
    job = (await client.post("/api/jobs/Sleep/start", json={"seconds": 60})).json()
    await services.store.claim(job["jobId"], "run-1", 1, 5)  # as a worker on another instance would
    for _ in range(2):  # idempotent
        answer = await client.post(f"/api/jobs/Sleep/{job['jobId']}/cancel")
        assert answer.status_code == 202 and answer.json()["status"] == "Running"
    assert (await services.store.get(job["jobId"])).cancel_requested_at is not None


async def test_cancel_of_an_unknown_or_foreign_job_is_404(asgi_api):
    easy, _ = await _with_queue_of(asgi_api, AUTH_MODE="easyauth")
    alice, bob = {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}, {"X-MS-CLIENT-PRINCIPAL-ID": "bob"}
    job = (await easy.post("/api/jobs/Sleep/start", json={"seconds": 60}, headers=alice)).json()
    assert_problem(await easy.post(f"/api/jobs/Sleep/{job['jobId']}/cancel", headers=bob), 404)
    assert_problem(await easy.post(f"/api/jobs/Fail/{job['jobId']}/cancel", headers=alice), 404)
    assert_problem(await easy.post(f"/api/jobs/Sleep/{uuid.uuid4()}/cancel", headers=alice), 404)
    assert_problem(await easy.post("/api/jobs/Sleep/not-a-uuid/cancel", headers=alice), 404)
    assert_problem(await easy.post(f"/api/jobs/Sleep/{job['jobId']}/cancel"), 401)
    assert (await easy.get(job["statusUrl"], headers=alice)).json()["status"] == "Queued"


async def test_my_jobs_lists_only_the_callers_newest_first_and_pages(asgi_api):
    easy, _ = await _with_queue_of(asgi_api, AUTH_MODE="easyauth")
    alice, bob = {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}, {"X-MS-CLIENT-PRINCIPAL-ID": "bob"}
    mine = [(await easy.post("/api/jobs/Sleep/start", json={"seconds": 60}, headers=alice)).json() for _ in range(5)]
    theirs = (await easy.post("/api/jobs/Sleep/start", json={"seconds": 60}, headers=bob)).json()
    await easy.post(f"/api/jobs/Sleep/{mine[0]['jobId']}/cancel", headers=alice)

    active = await easy.get("/api/jobs", params={"status": "active"}, headers=alice)
    assert active.status_code == 200 and active.headers["cache-control"] == "no-store"
    assert [j["jobId"] for j in active.json()["jobs"]] == [j["jobId"] for j in mine[:0:-1]]
    assert active.json()["continuationToken"] is None
    assert {j["status"] for j in active.json()["jobs"]} == {"Queued"}

    pages, token, seen = 0, None, []
    while True:
        params = {"status": "recent", "limit": "2", **({"continuationToken": token} if token else {})}
        page = (await easy.get("/api/jobs", params=params, headers=alice)).json()
        seen += page["jobs"]
        pages += 1
        token = page["continuationToken"]
        if token is None:
            break
    assert [j["jobId"] for j in seen] == [j["jobId"] for j in mine[::-1]] and pages == 3
    assert seen[-1]["status"] == "Failed" and seen[-1]["message"] == "cancelled"
    everyone = {j["jobId"] for j in (await easy.get("/api/jobs?status=recent", headers=bob)).json()["jobs"]}
    assert everyone == {theirs["jobId"]}
    assert_problem(await easy.get("/api/jobs"), 401)


async def test_my_jobs_refuses_a_bad_query(asgi_api):
    client, _ = await _with_queue(asgi_api)
    for params in (
        {"status": "done"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "many"},
        {"continuationToken": "0000000000000-not-a-job"},
        {"continuationToken": "%%%"},
        {"continuationToken": "x" * 300},
    ):
        assert_problem(await client.get("/api/jobs", params=params), 400)
    assert (await client.get("/api/jobs")).json() == {"jobs": [], "continuationToken": None}
