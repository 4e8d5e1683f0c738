"""A start whose answer is lost, in a real Chromium: the library retries it with the same
Idempotency-Key, and the server answers the job it already started instead of a second one."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Route

from telemetry.metrics import MetricName
from tests.e2e.conftest import HostFactory, OpenDemo


@pytest.mark.browser
def test_a_start_whose_answer_is_lost_is_retried_into_the_same_job(
    host_factory: HostFactory, open_demo: OpenDemo
) -> None:
    host = host_factory()  # a host of its own: its counters are this test's jobs only
    demo = open_demo(host)
    keys: list[str | None] = []
    lost: list[dict[str, object]] = []  # the answer the page never saw

    def drop_first_answer(route: Route) -> None:
        keys.append(route.request.header_value("idempotency-key"))
        if lost:
            route.continue_()
            return
        # The server gets the request and starts the job; the page gets a failed fetch
        # (status 0), as when a connection resets before the answer arrives.
        answer = route.fetch()
        assert answer.status == 202, answer.text()
        lost.append(answer.json())
        route.abort()

    demo.page.route("**/api/jobs/*/start", drop_first_answer)
    demo.start("sleep", 1, seconds=1)
    demo.wait_all_settled(1, timeout_s=30)

    # The retry carried the first attempt's key, and only one attempt was retried.
    assert len(keys) == 2, keys
    assert keys[0] and keys[0] == keys[1], keys
    assert demo.counts()["start"] == 2, demo.counts()

    # The page shows one job, the one the lost answer named, finished, and no error.
    [row] = demo.rows()
    assert row["id"] == lost[0]["jobId"], (row, lost)
    assert row["status"] == "Completed", row
    assert demo.error_text() is None

    # The server ran one job, not two: one queue message received, one job finished.
    status = httpx.get(f"{host.base_url}/api/jobs/Sleep/{row['id']}", timeout=5)
    assert status.json()["status"] == "Completed", status.text
    # The worker counts a job finished once its terminal write is done, bookkeeping included:
    # the active-index delete waits up to 0.5 s for its round, after the page has seen the end.
    deadline = time.monotonic() + 5
    while (diagnostics := host.diagnostics()).total(MetricName.JOBS_FINISHED) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(queue.received for queue in diagnostics.queue) == 1, diagnostics.queue
    assert diagnostics.total(MetricName.JOBS_FINISHED) == 1, diagnostics.metrics
    demo.assert_quiet(host)
