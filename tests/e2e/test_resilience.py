"""The demo when things go wrong, in a real Chromium: a host restart mid-run, failed and
timed-out jobs, streams cut by their lifetime, and streams refused at capacity."""

from __future__ import annotations

import pytest

from notify.streams import CloseReason
from telemetry.metrics import MetricName
from tests.e2e.conftest import HostFactory, OpenDemo, server_streams_settle


@pytest.mark.browser
def test_host_restart_mid_run_still_shows_every_terminal_state(host_factory: HostFactory, open_demo: OpenDemo) -> None:
    host = host_factory()
    demo = open_demo(host)
    demo.start("sleep", 6, seconds=6)
    demo.start("story", 4, step=1)
    demo.wait_until("rows => rows.length === 10 && rows.every(r => r.status === 'Running')", timeout_s=30)
    streams_before = demo.counts()["stream"]

    # Drop every connection: the host stops (streams end, running jobs drain), then comes back.
    host.stop()
    host.start()

    demo.wait_all_settled(10, timeout_s=90)
    rows = demo.rows()
    assert [row["status"] for row in rows] == ["Completed"] * 10, rows
    # The page reacted to the drop: it reopened its stream, and polled if that kept failing.
    counts = demo.counts()
    assert counts["stream"] > streams_before, counts
    assert {row["via"] for row in rows} <= {"sse", "fallback"}, rows
    demo.assert_quiet(host)


@pytest.mark.browser
def test_failed_and_timed_out_jobs_render_with_their_messages(host_factory: HostFactory, open_demo: OpenDemo) -> None:
    host = host_factory(JOBS_TIMEOUT_OVERRIDES='{"Sleep": 3}')
    demo = open_demo(host)
    demo.start("fail", 2, after=0.5, message="disk full")
    demo.start("sleep", 1, seconds=60)  # outlives its 3 s timeout: the sweeper fails it
    demo.start("story", 1, step=0.1)
    demo.wait_all_settled(4, timeout_s=30)

    by_type: dict[str, list[dict[str, str]]] = {}
    for row in demo.rows():
        by_type.setdefault(row["type"], []).append(row)
    assert [r["status"] for r in by_type["Fail"]] == ["Failed", "Failed"]
    assert all("disk full" in r["message"] for r in by_type["Fail"]), by_type["Fail"]
    [timed_out] = by_type["Sleep"]
    assert timed_out["status"] == "Failed"
    assert timed_out["message"].startswith("timed out"), timed_out
    assert [r["status"] for r in by_type["StoryPublish"]] == ["Completed"]

    # What a person sees: a red "Failed" pill and the reason, on screen.
    failed = demo.page.locator("[data-testid=job][data-status=Failed]")
    assert failed.count() == 3
    for i in range(3):
        assert failed.nth(i).get_by_test_id("status").inner_text() == "Failed"
        assert failed.nth(i).get_by_test_id("message").is_visible()
    assert demo.page.get_by_test_id("jobs-done").inner_text() == "4 / 4"
    demo.assert_quiet(host)


@pytest.mark.browser
def test_jobs_longer_than_the_stream_lifetime_keep_streaming(host_factory: HostFactory, open_demo: OpenDemo) -> None:
    host = host_factory(SSE_STREAM_LIFETIME_SECONDS="3")
    demo = open_demo(host)
    demo.start("sleep", 3, seconds=10)
    demo.wait_all_settled(3, timeout_s=40)

    rows = demo.rows()
    assert [row["status"] for row in rows] == ["Completed"] * 3
    assert {row["via"] for row in rows} == {"sse"}, "a planned close is routine, not a reason to poll"
    counts = demo.counts()
    assert counts["poll"] == 0, counts
    assert counts["stream"] >= 3, counts  # several planned reconnects
    assert counts["token"] < counts["stream"], counts  # the token is reused while it is fresh
    streams = server_streams_settle(host)
    assert streams.open == 0
    assert streams.closed[CloseReason.LIFETIME] >= 2, streams
    demo.assert_quiet(host)


@pytest.mark.browser
def test_streams_refused_at_capacity_fall_back_to_polling(host_factory: HostFactory, open_demo: OpenDemo) -> None:
    host = host_factory(SSE_MAX_STREAMS="1")
    demo = open_demo(host)
    demo.start("sleep", 1, seconds=8)
    demo.wait_until("rows => rows.length === 1 && rows[0].status === 'Running' && rows[0].via === 'sse'")
    [first] = demo.rows()
    # Two more jobs need a combined stream, and the host has no second slot: 503, twice
    # retried with a fresh token, then those two are polled. The first job keeps its stream.
    demo.start("sleep", 2, seconds=3)
    demo.wait_all_settled(3, timeout_s=60)

    rows = demo.rows()
    assert [row["status"] for row in rows] == ["Completed"] * 3
    assert {row["id"]: row["via"] for row in rows} == {
        row["id"]: "sse" if row["id"] == first["id"] else "fallback" for row in rows
    }, rows
    counts = demo.counts()
    assert counts["stream"] >= 4, counts  # the first stream, then the refused one and its two retries
    assert counts["poll"] > 0, counts
    # Fallback polls say so (?fallback=1), and the server counts them as the fallback rate.
    polls = [call for call in demo.calls if call.kind == "poll"]
    assert all(call.fallback for call in polls), [call.query for call in polls]
    assert host.diagnostics().total(MetricName.POLLS, fallback=True) == len(polls)
    demo.assert_quiet(host)
