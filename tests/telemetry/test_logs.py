"""Logs (telemetry/logs.py): correlated, and never carrying a token, in the local host's log."""

from __future__ import annotations

import logging

import httpx
import pytest

from telemetry.logs import _PATTERNS, ContextFilter, correlated, harden, redact
from tests.support.api import start_job as start
from tests.support.api import stream_job as stream


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


def test_log_records_carry_job_and_invocation_ids_and_no_tokens(caplog):
    logger = logging.getLogger("tests.redaction")
    caplog.handler.addFilter(ContextFilter())
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
    with caplog.at_level(logging.INFO, logger="tests.redaction"), correlated(job_id="job-1", invocation_id="inv-9"):
        logger.info("GET /api/jobs/Sleep/x/events?access_token=%s&lastEventId=3", token)
        logger.info("Authorization: Bearer %s", token)
    assert all(r.jobId == "job-1" and r.invocationId == "inv-9" for r in caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in text and "access_token=[redacted]" in text and "Bearer [redacted]" in text


def test_harden_survives_uvicorns_default_logging_config(capsys):
    """What the worker does after importing the app: root at INFO, then uvicorn's dictConfig."""
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    harden()
    try:
        logging.config.dictConfig(LOGGING_CONFIG)
        root.setLevel(logging.INFO)
        root.handlers[:] = [logging.StreamHandler()]
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "1.2.3.4", "GET", "/e?access_token=s", "1.1", 200
        )
        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").info("Request URL: 'http://x/t?$top=1'")
        logging.getLogger("uvicorn.error").info("GET /x?access_token=secret2")
        logging.getLogger("api").info("still heard")
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    written = capsys.readouterr()
    text = written.out + written.err
    assert "still heard" in text and "[redacted]" in text
    assert "access_token=s" not in text and "secret2" not in text and "Request URL" not in text


@pytest.mark.parametrize(
    "text",
    [
        "GET /api/jobs/{jobType}/{jobId} -> 200 in 3.1 ms",
        "url http://h/x?access_token=abc.def&b=1",
        "retrying http://h/x?SIG=abcd&se=2030",
        "header Authorization: BEARER\tabc.def",
        "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig in a message",
        "no secret: token is what a client holds, code reads it",
        "form code=42 and Code=43",
    ],
)
def test_the_quick_check_scrubs_exactly_what_the_patterns_do(text: str) -> None:
    expected = text
    for pattern, replacement in _PATTERNS:
        expected = pattern.sub(replacement, expected)
    assert redact(text) == expected
