"""Security headers, CORS preflights, and tokens that leak nowhere."""

import hmac

import httpx
import pytest

from errors import TokenError
from notify.tokens import StreamTokens
from tests.support.api import start_job

JOB = "3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"


def start(base: str) -> dict:
    return start_job(base, "Sleep", {"seconds": 0.3, "steps": 1})


def test_status_and_stream_answers_carry_nosniff_and_no_store(shared_host):
    base = shared_host.base_url
    job = start(base)
    status = httpx.get(f"{base}{job['statusUrl']}")
    with httpx.stream("GET", f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}) as stream:
        stream_headers = stream.headers
    for headers in (status.headers, stream_headers):
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
    error = httpx.get(f"{base}/api/jobs/Sleep/{JOB}")
    assert error.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/api/jobs/Sleep/start", f"/api/jobs/Sleep/{JOB}/token", "/api/watch"])
def test_preflight_for_the_post_endpoints(shared_host, path):
    response = httpx.options(
        f"{shared_host.base_url}{path}",
        headers={
            "Origin": "http://localhost:4200",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:4200"
    assert response.headers["access-control-allow-credentials"] == "true"  # the stream cookie
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    refused = httpx.options(
        f"{shared_host.base_url}{path}",
        headers={"Origin": "https://attacker.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


def test_cross_origin_reads_expose_etag_and_retry_after(shared_host):
    job = start(shared_host.base_url)
    response = httpx.get(f"{shared_host.base_url}{job['statusUrl']}", headers={"Origin": "http://localhost:4200"})
    assert response.headers["access-control-allow-origin"] == "http://localhost:4200"
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "etag" in exposed and "retry-after" in exposed


def test_tokens_are_not_echoed_in_error_bodies_or_headers(shared_host):
    base = shared_host.base_url
    job = start(base)
    other = start(base)
    for token in (job["token"] + "x", other["token"], job["token"][:-10]):
        response = httpx.get(f"{base}{job['eventsUrl']}", params={"access_token": token})
        assert response.status_code in (401, 403)
        assert token not in response.text
        assert all(token not in value for value in response.headers.values())


def test_signature_check_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    tokens = StreamTokens("k" * 40)
    token, _ = tokens.issue("alice", [JOB])
    tokens.verify(token)
    with pytest.raises(TokenError):
        tokens.verify(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert len(calls) >= 2  # both the good and the bad signature went through compare_digest
