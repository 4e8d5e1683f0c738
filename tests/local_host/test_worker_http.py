"""The promises hold where Azure runs the app: `function_app.py` imported into the
Functions worker's own uvicorn (local_host/worker_http.py: the FastAPI extension's
WebApp + WebServer, uvicorn's default logging config and signal handling, the root
logger at INFO), with no local-host set-up in the process.

- no stream token and no query string in anything the process writes;
- the Azure SDKs' HTTP logs stay quiet;
- SIGTERM gives every open stream its planned `reconnect` and the process exits soon.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from api.cookies import COOKIE_NAME
from harness.processes import Azurite, LocalHostProcess, isolated_settings
from harness.sse import read_stream
from tests.support.api import start_job

EXIT_BOUND_SECONDS = 10


@pytest.fixture
def worker(azurite: Azurite, host_factory) -> Iterator[LocalHostProcess]:
    """The app under the worker's HTTP server; the jobs run in a local host beside it."""
    env = isolated_settings(azurite, SSE_KEEPALIVE_SECONDS="1")
    host_factory(env, "--no-timers")
    process = LocalHostProcess(env, module="local_host.worker_http", ready_path="/api/health").start()
    yield process
    process.close()


def test_tokens_sdk_logs_and_sigterm_under_the_workers_uvicorn(worker):
    base = worker.base_url
    # A job watched to its end with the query-string fallback: the cross-process path,
    # so the feed watcher reads storage all along.
    done = start_job(base, "Sleep", {"seconds": 1.5, "steps": 3})
    transcript = read_stream(f"{base}{done['eventsUrl']}", params={"access_token": done["token"]}, timeout=30)
    assert transcript.statuses()[-1]["status"] == "Completed"

    # A long job on a /watch stream opened with its cookie, open when SIGTERM comes.
    running = start_job(base, "Sleep", {"seconds": 60, "steps": 60})
    grant = httpx.post(f"{base}/api/watch", json={"jobs": [{"jobType": "Sleep", "jobId": running["jobId"]}]})
    watch = grant.json()
    secrets = [done["token"], running["token"], watch["token"]]
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "GET", f"{base}{watch['eventsUrl']}", headers={"Cookie": f"{COOKIE_NAME}={watch['token']}"}
        ) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines) == "retry: 3000"
        time.sleep(1.5)  # keep-alives and feed reads flow
        sent = time.monotonic()
        worker.signal(signal.SIGTERM)
        rest = list(lines)  # the server must end the stream itself
        ended = time.monotonic() - sent
    assert "event: reconnect" in rest, rest[-5:]
    assert '"reason":"shutdown"' in rest[rest.index("event: reconnect") + 1]
    assert ended < EXIT_BOUND_SECONDS
    assert worker.proc is not None
    assert worker.proc.wait(EXIT_BOUND_SECONDS) in (0, -signal.SIGTERM)
    assert time.monotonic() - sent < EXIT_BOUND_SECONDS, "the process did not exit in time"

    written = worker.log()
    assert "Uvicorn running on" in written  # uvicorn's default logging config was in force
    for secret in secrets:
        for part in (secret, secret.split(".")[1]):
            assert part not in written
    assert "access_token" not in written and "eyJ" not in written
    assert not re.search(r"/api/\S*\?", written), "a URL with its query string was logged"
    sdk = [line for line in written.splitlines() if re.match(r"(DEBUG|INFO) azure\.", line)]
    assert sdk == [], f"{len(sdk)} Azure SDK records at INFO, e.g. {sdk[:2]}"
