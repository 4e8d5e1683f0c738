import httpx
from httpx_sse import connect_sse


def test_sleep_job_streams_to_completion(shared_host):
    base = shared_host.base_url
    started = httpx.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 0.6, "steps": 3})
    assert started.status_code == 202
    job = started.json()
    with (
        httpx.Client(timeout=30) as client,
        connect_sse(client, "GET", f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}) as source,
    ):
        events = [e for e in source.iter_sse() if e.data]
    statuses = [e.json()["status"] for e in events]
    assert statuses[-1] == "Completed"
