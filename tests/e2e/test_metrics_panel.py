"""The demo's server-metrics panel in a real Chromium, reading the local host's /local/diagnostics."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Request

from tests.e2e.conftest import DemoPage, HostFactory, OpenDemo, server_streams_settle


def panel_text(demo: DemoPage, test_id: str) -> str:
    return demo.page.get_by_test_id("metrics").get_by_test_id(test_id).inner_text().strip()


def wait_for_panel(demo: DemoPage, predicate: str, timeout_s: float = 30) -> None:
    """Wait for a JS predicate over the panel: `(text, peak, runTimes) => boolean`, where
    `text(id)` reads a figure by test id and runTimes maps outcome -> average cell."""
    demo.page.wait_for_function(
        f"""() => {{
            const panel = document.querySelector('[data-testid=metrics]');
            if (!panel) return false;
            const text = (id) => panel.querySelector(`[data-testid="${{id}}"]`)?.textContent.trim() ?? '';
            const peak = Number(panel.querySelector('[data-testid=open-streams-spark]').dataset.peak);
            const runTimes = Object.fromEntries([...panel.querySelectorAll('[data-testid=run-time]')]
              .map(row => [row.dataset.outcome, row.querySelector('[data-testid=run-time-avg]').textContent.trim()]));
            return ({predicate})(text, peak, runTimes);
        }}""",
        timeout=timeout_s * 1000,
        polling=200,
    )


@pytest.mark.browser
def test_metrics_panel_shows_requests_streams_and_run_times_live(
    host_factory: HostFactory, open_demo: OpenDemo
) -> None:
    host = host_factory()
    demo = open_demo(host)
    reads: list[Request] = []
    demo.page.on("request", lambda r: reads.append(r) if r.url.endswith("/local/diagnostics") else None)
    wait_for_panel(demo, "(text) => text('metrics-state').startsWith('live')", timeout_s=10)
    assert panel_text(demo, "server-open-streams") == "0"

    demo.start("sleep", 3, seconds=4)
    demo.start("fail", 1, after=1, message="panel test")

    # While the jobs run: requests reach the host, and their stream shows as open.
    wait_for_panel(demo, "(text) => Number(text('request-rate')) > 0")
    wait_for_panel(demo, "(text, peak) => peak >= 1")
    demo.wait_all_settled(4, timeout_s=30)

    # Once they are done: the stream is closed, and each outcome has a run time.
    wait_for_panel(
        demo,
        "(text, peak, runTimes) => text('server-open-streams') === '0' && runTimes.Completed && runTimes.Failed",
        timeout_s=15,
    )
    table = panel_text(demo, "run-times")
    run_times = {
        row.get_attribute("data-outcome"): row.get_by_test_id("run-time-avg").inner_text()
        for row in demo.page.get_by_test_id("run-time").all()
    }
    value, unit = run_times["Completed"].split()
    assert unit == "s" and 3.5 <= float(value) <= 10, table  # 4 s Sleep jobs
    assert float(panel_text(demo, "request-rate")) > 0  # the last minute still holds the burst
    assert int(panel_text(demo, "errors")) >= 1  # the failed job
    assert re.fullmatch(r"\d+(\.\d)? (ms|s)", panel_text(demo, "notify-p95")), panel_text(demo, "notify-p95")
    assert server_streams_settle(host).open == 0

    # The panel's reads are its own: not in the demo's "requests for watching" counter.
    counts = demo.counts()
    assert int(demo.stat("requests")) == counts["token"] + counts["stream"] + counts["poll"]
    assert len(reads) >= 3
    assert int(panel_text(demo, "metrics-reads").split()[0]) >= 3  # and it shows its own count

    # Paused, it leaves nothing running in the page, and reads no more.
    quiet = demo.assert_quiet(host)
    assert quiet.probe["fetchesInFlight"] == quiet.probe["timeouts"] == quiet.probe["intervals"] == 0, quiet.probe
    assert not [url for url in quiet.requests if url.endswith("/local/diagnostics")]
