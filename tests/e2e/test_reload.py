"""My jobs after a reload, and cancel, in a real Chromium: the demo calls `resume()` when it
loads, so a tab reloaded mid-run shows every job it was watching again and sees each one
finish; the Cancel button on a running row ends that job `Failed`, "cancelled"."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import TERMINAL, HostFactory, OpenDemo


@pytest.mark.browser
def test_a_tab_reloaded_mid_run_shows_every_job_again_and_each_finishes_live(
    host_factory: HostFactory, open_demo: OpenDemo
) -> None:
    host = host_factory()  # a host of its own: the caller's active jobs are this test's only
    demo = open_demo(host)
    # One job ends before the reload (resume() brings back what ended in the last minute
    # too), the others run on through it.
    demo.start("sleep", 1, seconds=1)
    demo.wait_until("rows => rows.length === 1 && rows[0].status === 'Completed'", timeout_s=30)
    demo.start("sleep", 4, seconds=8)
    demo.start("story", 2, step=1.5)  # six steps: 9 s
    demo.start("fail", 1, after=6, message="disk full")
    demo.wait_until("rows => rows.length === 8 && rows.filter(r => r.status === 'Running').length === 7", timeout_s=30)
    before = {row["id"]: row["type"] for row in demo.rows()}
    assert len(before) == 8

    lists_before = demo.counts()["list"]
    reloaded = time.monotonic()
    demo.page.reload()
    demo.page.get_by_role("heading", name="Job events").wait_for()
    # The page starts empty and gets its rows back from the server's list of the caller's jobs.
    demo.page.get_by_test_id("resumed").wait_for(timeout=15_000)
    print(f"\nreload: the 8 rows were back {time.monotonic() - reloaded:.1f} s after the reload began")
    assert demo.stat("resumed").startswith("8 jobs"), demo.stat("resumed")
    assert demo.counts()["list"] == lists_before + 2, demo.counts()  # active, and recent for the ended

    demo.wait_all_settled(8, timeout_s=60)
    rows = demo.rows()
    assert {row["id"]: row["type"] for row in rows} == before, rows  # the same jobs, no other
    for row in rows:
        if row["type"] == "Fail":
            assert row["status"] == "Failed", row
            assert "disk full" in row["message"], row
        else:
            assert row["status"] == "Completed", row
        assert row["via"] == "sse", row  # watched live again, not polled
    assert demo.stat("jobs-done") == "8 / 8"
    # The server agrees with the page.
    for job_id, job_type in before.items():
        status = httpx.get(f"{host.base_url}/api/jobs/{job_type}/{job_id}", timeout=5).json()
        assert status["status"] in TERMINAL, status
    assert httpx.get(f"{host.base_url}/api/jobs?status=active", timeout=5).json()["jobs"] == []
    demo.assert_quiet(host)


@pytest.mark.browser
def test_cancel_in_the_browser_ends_the_row_failed_cancelled(host_factory: HostFactory, open_demo: OpenDemo) -> None:
    host = host_factory()
    demo = open_demo(host)
    demo.start("sleep", 1, seconds=12)
    demo.start("sleep", 1, seconds=3)
    demo.wait_until("rows => rows.length === 2 && rows.every(r => r.status === 'Running')", timeout_s=30)
    row = demo.page.locator("[data-testid=job]", has_text="12s in 5 steps")
    victim = row.get_attribute("data-job-id") or ""
    [other] = [r["id"] for r in demo.rows() if r["id"] != victim]

    clicked = time.monotonic()
    row.get_by_test_id("cancel").click()
    # The worker sees the cancel at its next progress write or within the check bound (2 s).
    demo.page.locator(f"[data-testid=job][data-job-id='{victim}'][data-status=Failed]").wait_for(timeout=15_000)
    took = time.monotonic() - clicked
    print(f"\ncancel: the row showed Failed {took:.1f} s after the click")

    demo.wait_all_settled(2, timeout_s=30)
    by_id = {r["id"]: r for r in demo.rows()}
    assert by_id[victim]["status"] == "Failed", by_id[victim]
    assert by_id[victim]["message"].startswith("cancelled"), by_id[victim]
    assert by_id[other]["status"] == "Completed", by_id[other]  # the other job ran on
    assert row.get_by_role("button").count() == 0  # nothing left to cancel or stop
    assert demo.counts()["cancel"] == 1, demo.counts()

    status = httpx.get(f"{host.base_url}/api/jobs/Sleep/{victim}", timeout=5).json()
    assert (status["status"], status["message"]) == ("Failed", "cancelled"), status
    demo.assert_quiet(host)
