"""A start whose message cannot be queued fails the job instead of leaving it Queued."""

import pytest

from harness.processes import isolated_settings
from jobs.model import JobState
from telemetry.snapshot import snapshot, total


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
    assert total(snapshot(reader), "jobevents.jobs.failed", job_type="Sleep", reason="unqueued") == 1


async def test_storage_outage_is_503_not_500(azurite, asgi_api):
    storage = isolated_settings(azurite)["AzureWebJobsStorage"].replace(str(azurite.table), "1")
    client, _ = await asgi_api(create_tables=False, AzureWebJobsStorage=storage)
    response = await client.post("/api/jobs/Sleep/start", json={"seconds": 1})
    status = await client.get("/api/jobs/Sleep/3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f")
    for answer in (response, status):
        assert answer.status_code == 503
        assert answer.headers["retry-after"].isdigit()
        assert answer.headers["content-type"].startswith("application/problem+json")
