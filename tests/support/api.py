"""HTTP helpers the API tests share: start a job, and check a problem+json answer."""

from __future__ import annotations

from typing import Any

import httpx

from harness.sse import Transcript, read_stream

PROBLEM = "application/problem+json"


def start_job(base: str, job_type: str = "Sleep", body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """POST .../start; the 202 answer's body."""
    response = httpx.post(f"{base}/api/jobs/{job_type}/start", json=body or {}, **kwargs)
    assert response.status_code == 202, response.text
    return response.json()


def assert_problem(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """A problem+json error with `status` (any 4xx when not given), and no stack trace."""
    if status is None:
        assert 400 <= response.status_code < 500, (response.request.url, response.status_code)
    else:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "Traceback" not in response.text
    body = response.json()
    assert body["status"] == response.status_code and body["detail"] and body["title"]
    return body


def stream_job(base: str, job: dict[str, Any], **kwargs: Any) -> Transcript:
    """Read a started job's whole stream, with the start's token in the query (the fallback path)."""
    return read_stream(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}, **kwargs)
