"""A hidden tab in a real Chromium: its streams close, it makes no request, and on return
the job that finished meanwhile shows its terminal state at once.

Headless Chromium always reports its pages visible: bringing another tab to the front,
minimising the window (`Browser.setWindowBounds`), `Emulation.setFocusEmulationEnabled` and
`Page.setWebLifecycleState` leave `document.visibilityState` at `visible` and fire no
`visibilitychange` (tried on Chromium 156). So the test drives the Page Visibility API as
the library reads it: `document.visibilityState` (and `hidden`) overridden, then a
`visibilitychange` dispatched. The demo reads a short pause from `?hiddenPauseMs=`.
"""

from __future__ import annotations

import time

import httpx
import pytest

from harness.browser import SET_VISIBILITY
from tests.e2e.conftest import TERMINAL, HostFactory, OpenDemo, server_streams_settle

PAUSE_MS = 1000


@pytest.mark.browser
def test_a_job_that_finishes_in_a_hidden_tab_shows_on_return_with_nothing_open_meanwhile(
    host_factory: HostFactory, open_demo: OpenDemo
) -> None:
    host = host_factory()
    demo = open_demo(host)
    demo.page.goto(f"{host.base_url}/?hiddenPauseMs={PAUSE_MS}")
    demo.page.get_by_role("heading", name="Job events").wait_for()

    demo.start("sleep", 1, seconds=6)
    demo.wait_until("rows => rows.length === 1 && rows[0].status === 'Running' && rows[0].via === 'sse'")
    job_id = demo.rows()[0]["id"]
    assert host.diagnostics().streams.open == 1

    # Hidden: after PAUSE_MS the library closes its stream.
    demo.page.evaluate(SET_VISIBILITY, True)
    hidden_at = time.monotonic()
    demo.page.wait_for_function(
        "() => window.jobEventsStats().pauses === 1 && window.__probe().openEventSources === 0", timeout=5000
    )
    paused_after_s = time.monotonic() - hidden_at
    assert PAUSE_MS / 1000 - 0.2 <= paused_after_s <= PAUSE_MS / 1000 + 2, paused_after_s
    requests_before = len(demo.requests)
    assert server_streams_settle(host).open == 0
    opened_before = host.diagnostics().streams.opened

    # The job finishes while the tab is hidden; the server never has a stream of this tab open.
    open_while_hidden: list[int] = []
    status = ""
    deadline = time.monotonic() + 20
    while status not in TERMINAL and time.monotonic() < deadline:
        open_while_hidden.append(host.diagnostics().streams.open)
        status = httpx.get(f"{host.base_url}/api/jobs/Sleep/{job_id}", timeout=5).json()["status"]
        time.sleep(0.2)
    assert status == "Completed"
    demo.page.wait_for_timeout(1000)  # and a moment more, hidden and done
    open_while_hidden.append(host.diagnostics().streams.open)
    hidden_requests = demo.requests[requests_before:]
    assert hidden_requests == [], "requests while the tab was hidden and paused"
    assert max(open_while_hidden) == 0, open_while_hidden
    assert host.diagnostics().streams.opened == opened_before
    assert demo.rows()[0]["status"] == "Running"  # the page has not learned it yet
    hidden_s = time.monotonic() - hidden_at

    # Visible again: one request, the stream on its paused token (and cookie), resuming from
    # the version the page has, and the terminal state at once.
    calls_before = len(demo.calls)
    demo.page.evaluate(SET_VISIBILITY, False)
    shown_at = time.monotonic()
    demo.wait_until("rows => rows[0].status === 'Completed'", timeout_s=5)
    shown_to_terminal_s = time.monotonic() - shown_at
    # At once: no batch window, no poll backoff (about 100 ms here; 3 s leaves room for a busy machine).
    assert shown_to_terminal_s < 3, shown_to_terminal_s
    resumed = [call for call in demo.calls[calls_before:] if call.kind != "other"]
    assert [call.kind for call in resumed] == ["stream"], resumed
    query = dict(part.partition("=")[::2] for part in resumed[0].query.split("&") if part)
    assert int(query["lastEventId"]) >= 1, query  # the version it had, so the server sends only what is newer
    assert "access_token" not in query  # the paused token's cookie, as for any stream

    assert demo.rows()[0]["via"] == "sse"  # no fallback: a pause is not a failure
    assert demo.counts()["poll"] == 0
    stats = demo.page.evaluate("window.jobEventsStats()")
    assert stats["pauses"] == 1 and stats["queryFallbacks"] == 0, stats
    assert stats["tokens"] == 1 and stats["streamsOpened"] == 2, stats
    demo.assert_quiet(host)
    print(
        f"paused {paused_after_s:.1f} s after hiding; hidden {hidden_s:.1f} s with {len(hidden_requests)} requests "
        f"and at most {max(open_while_hidden)} open streams on the server ({len(open_while_hidden)} readings); "
        f"terminal state {shown_to_terminal_s * 1000:.0f} ms after showing"
    )
