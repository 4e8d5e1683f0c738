"""A start whose message cannot be queued fails the job instead of leaving it Queued."""

import httpx
import pytest

from jobs.model import JobState
from local_host.server import build_app
from services import build_services, set_services
from settings import Settings
from telemetry.snapshot import snapshot, total
from tests.support.processes import isolated_settings


@pytest.fixture
async def api(azurite):
    settings = Settings.model_validate(isolated_settings(azurite, JOBS_QUEUE_NAME="no-such-queue"))
    services = build_services(settings)
    await services.store.ensure_tables()  # the queue itself is never created
    set_services(services)
    app = build_app(run_worker=False, run_timers=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        yield client, services
    set_services(None)
    await services.close()


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


async def test_storage_outage_is_503_not_500(azurite):
    settings = Settings.model_validate(
        isolated_settings(
            azurite,
            AzureWebJobsStorage=isolated_settings(azurite)["AzureWebJobsStorage"].replace(str(azurite.table), "1"),
        )
    )
    services = build_services(settings)
    set_services(services)
    try:
        app = build_app(run_worker=False, run_timers=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
            response = await client.post("/api/jobs/Sleep/start", json={"seconds": 1})
            status = await client.get("/api/jobs/Sleep/3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f")
    finally:
        set_services(None)
        await services.close()
    for answer in (response, status):
        assert answer.status_code == 503
        assert answer.headers["retry-after"].isdigit()
        assert answer.headers["content-type"].startswith("application/problem+json")
