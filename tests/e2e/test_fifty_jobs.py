"""The demo's "50 jobs" button in a real Chromium: over SSE, then the same jobs with polling forced.

One local host serves both runs (module scope), so their request counts compare
like for like. The counts and a screenshot are written to test-artifacts/.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser

from harness.processes import Azurite, LocalHostProcess, isolated_settings
from tests.e2e.conftest import TERMINAL, new_demo, write_artifact

if TYPE_CHECKING:
    from local_host.diagnostics import StreamFigures

MIX = {"StoryPublish": 20, "Sleep": 20, "Fail": 10}


@dataclass
class FiftyRun:
    mode: str
    rows: list[dict[str, str]]
    counts: Counter[str]
    fallback_polls: int
    ui_requests: int
    ui: dict[str, str]
    probe_mid: dict[str, int]
    probe: dict[str, int]  # once all was done (DemoPage.assert_quiet)
    streams: StreamFigures
    seconds: float
    screenshots: list[Path]

    @property
    def watch_requests(self) -> int:
        """Every request made to learn how the jobs went (not the 50 starts)."""
        return sum(n for kind, n in self.counts.items() if kind != "start")

    @property
    def mean_time_to_done(self) -> float:
        return sum(float(row["time"].split()[0]) for row in self.rows) / len(self.rows)


def run_fifty(browser: Browser, host: LocalHostProcess, *, polling: bool) -> FiftyRun:
    mode = "polling" if polling else "sse"
    demo = new_demo(browser, host)
    try:
        if polling:
            demo.force_polling()
        started = time.monotonic()
        demo.start_fifty()
        # Some done, some still going: the screenshot the issue asks for.
        demo.wait_until(
            """(rows, terminal) => rows.filter(r => terminal.includes(r.status)).length >= 8
                   && rows.filter(r => ['Queued', 'Running'].includes(r.status)).length >= 8""",
            list(TERMINAL),
            timeout_s=60,
        )
        probe_mid = demo.probe()
        in_progress = demo.screenshot(f"demo-50-jobs-{mode}-in-progress.png")
        demo.wait_all_settled(50, timeout_s=120)
        seconds = time.monotonic() - started
        done = demo.screenshot(f"demo-50-jobs-{mode}-done.png")
        quiet = demo.assert_quiet(host)  # nothing left running, in the page or on the server
        assert quiet.streams is not None
        return FiftyRun(
            mode=mode,
            rows=demo.rows(),
            counts=demo.counts(),
            fallback_polls=sum(1 for call in demo.calls if call.kind == "poll" and call.fallback),
            ui_requests=int(demo.stat("requests")),
            ui={"jobs-done": demo.stat("jobs-done")},
            probe_mid=probe_mid,
            probe=quiet.probe,
            streams=quiet.streams,
            seconds=seconds,
            screenshots=[in_progress, done],
        )
    finally:
        demo.page.context.close()


@pytest.fixture(scope="module")
def demo_host(azurite: Azurite) -> Iterator[LocalHostProcess]:
    host = LocalHostProcess(isolated_settings(azurite)).start()
    yield host
    host.close()


@pytest.fixture(scope="module")
def sse_run(browser: Browser, demo_host: LocalHostProcess) -> FiftyRun:
    return run_fifty(browser, demo_host, polling=False)


def assert_all_fifty_finished(run: FiftyRun) -> None:
    assert len(run.rows) == 50
    assert Counter(row["type"] for row in run.rows) == MIX
    for row in run.rows:
        if row["type"] == "Fail":
            assert row["status"] == "Failed", row
            assert "simulated failure #" in row["message"], row
        else:
            assert row["status"] == "Completed", row
        assert row["time"].endswith(" s"), row
    assert run.ui["jobs-done"] == "50 / 50"
    # Nothing left running (no EventSource, fetch, timer or request in the page; no open
    # stream on the server): run_fifty asserted it with DemoPage.assert_quiet.


@pytest.mark.browser
def test_fifty_jobs_finish_live_over_at_most_two_connections(sse_run: FiftyRun) -> None:
    assert_all_fifty_finished(sse_run)
    assert {row["via"] for row in sse_run.rows} == {"sse"}
    assert sse_run.probe_mid["openEventSources"] >= 1, "the probe should see the stream while jobs run"

    counts = sse_run.counts
    assert counts["start"] >= 50  # a start answered 503 (not started) is retried
    assert counts["poll"] == 0, "SSE mode fell back to polling"
    assert counts["job-stream"] == counts["job-token"] == counts["other"] == 0
    assert counts["stream"] >= 1
    # Many jobs, few connections: never more than two streams at once in the tab.
    assert sse_run.probe["maxOpenEventSources"] <= 2, sse_run.probe
    assert sse_run.probe["eventSources"] == counts["stream"]
    # The server saw exactly the streams the page opened, and they all ended.
    assert sse_run.streams.opened == counts["stream"]
    # The demo's counter tells the truth.
    assert sse_run.ui_requests == counts["token"] + counts["stream"]


@pytest.mark.browser
def test_screenshots_of_jobs_in_progress_and_done(sse_run: FiftyRun) -> None:
    for path in sse_run.screenshots:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), path
        assert len(data) > 20_000, f"{path} looks empty"


@pytest.mark.browser
def test_forced_polling_finishes_the_same_jobs_with_far_more_requests(
    browser: Browser, demo_host: LocalHostProcess, sse_run: FiftyRun
) -> None:
    polling = run_fifty(browser, demo_host, polling=True)

    assert_all_fifty_finished(polling)
    assert {row["via"] for row in polling.rows} == {"polling"}
    assert polling.probe_mid["intervals"] >= 1, "the probe should see the poll timers while jobs run"
    assert polling.counts["stream"] == polling.counts["token"] == 0
    assert polling.fallback_polls == 0, "asked-for polling is not a fallback"
    assert polling.probe["eventSources"] == 0
    assert polling.ui_requests == polling.counts["poll"]

    summary = {
        "jobs": MIX,
        "note": "requests made to learn the outcome of the same 50 jobs (the 50 starts not included)",
        **{
            run.mode: {
                "requests": run.watch_requests,
                "byKind": {kind: n for kind, n in sorted(run.counts.items()) if kind != "start"},
                "maxOpenEventSources": run.probe["maxOpenEventSources"],
                "secondsUntilAllDone": round(run.seconds, 1),
                "meanSecondsFromStartToDone": round(run.mean_time_to_done, 2),
            }
            for run in (sse_run, polling)
        },
    }
    write_artifact("request-counts.json", summary)
    print(f"\nrequests for 50 jobs: SSE {sse_run.watch_requests}, polling {polling.watch_requests}")

    # The point of SSE: the same outcome for a small fraction of the requests.
    assert polling.watch_requests >= 5 * sse_run.watch_requests, summary
