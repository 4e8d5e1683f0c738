"""The health check (api/meta.py) tells the truth."""

import time

import httpx

from harness.processes import isolated_settings


def test_health_tells_the_truth_with_storage_up_and_down(host_factory, own_azurite):
    azurite = own_azurite
    host = host_factory(isolated_settings(azurite))
    up = httpx.get(f"{host.base_url}/api/health")
    assert up.status_code == 200
    assert up.json()["status"] == "healthy" and up.json()["checks"] == {"storage": "ok", "queue": "ok"}
    azurite.stop()
    started = time.monotonic()
    down = httpx.get(f"{host.base_url}/api/health", timeout=15)
    assert time.monotonic() - started < 8, "a probe must answer quickly even when storage is down"
    assert down.status_code == 503 and down.headers["retry-after"].isdigit()
    assert down.json()["status"] == "unhealthy"
    assert down.json()["checks"]["storage"].startswith("unavailable")
    for answer in (up, down):
        assert "AccountKey" not in answer.text and "devstoreaccount1" not in answer.text
    azurite.start()
    assert httpx.get(f"{host.base_url}/api/health").status_code == 200
