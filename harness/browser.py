"""The demo app in Debian's Chromium, driven by Playwright: for the browser tests
(tests/e2e/conftest.py adds their assertions) and the browser benchmark (bench/hidden_return.py).

Every page gets a probe (installed before the app loads) that tracks what a
leak would leave behind: EventSources not closed, fetches in flight, and
pending timers and intervals.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from harness.processes import ROOT, LocalHostProcess

if TYPE_CHECKING:
    from local_host.diagnostics import StreamFigures

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_INDEX = ROOT / "client" / "dist" / "demo" / "browser" / "index.html"
TERMINAL = ("Completed", "Failed")

PROBE = """
(() => {
  // Weakly held and dropped once closed: the probe must not keep what it counts alive.
  let sources = [];
  let created = 0;
  let maxOpenSources = 0;
  const NativeEventSource = window.EventSource;
  const live = () => (sources = sources.filter((ref) => ref.deref()?.readyState < 2)).length;
  window.EventSource = class extends NativeEventSource {
    constructor(url, init) {
      super(url, init);
      sources.push(new WeakRef(this));
      created++;
      maxOpenSources = Math.max(maxOpenSources, live());
    }
  };

  let fetchesInFlight = 0;
  const nativeFetch = window.fetch.bind(window);
  window.fetch = (...args) => {
    fetchesInFlight++;
    return nativeFetch(...args).finally(() => fetchesInFlight--);
  };

  const timeouts = new Set();
  const intervals = new Set();
  const { setTimeout: st, clearTimeout: ct, setInterval: si, clearInterval: ci } = window;
  window.setTimeout = (fn, ms, ...rest) => {
    const id = st((...a) => { timeouts.delete(id); if (typeof fn === 'function') fn(...a); }, ms, ...rest);
    timeouts.add(id);
    return id;
  };
  window.clearTimeout = (id) => { timeouts.delete(id); ct(id); };
  window.setInterval = (fn, ms, ...rest) => { const id = si(fn, ms, ...rest); intervals.add(id); return id; };
  window.clearInterval = (id) => { intervals.delete(id); ci(id); };

  window.__probe = () => ({
    eventSources: created,
    openEventSources: live(),
    maxOpenEventSources: maxOpenSources,
    fetchesInFlight,
    timeouts: timeouts.size,
    intervals: intervals.size,
  });
})();
"""

# Headless Chromium always reports its pages visible (tests/e2e/test_hidden_tab.py lists what
# was tried), so the Page Visibility API is driven as the library reads it: the two properties
# overridden, then a `visibilitychange` dispatched. Returns `performance.now()` at the dispatch.
SET_VISIBILITY = """(hidden) => {
  for (const [name, value] of [['visibilityState', hidden ? 'hidden' : 'visible'], ['hidden', hidden]]) {
    Object.defineProperty(document, name, { configurable: true, get: () => value });
  }
  const at = performance.now();
  document.dispatchEvent(new Event('visibilitychange'));
  return at;
}"""


def missing() -> str | None:
    """What the browser tests and benchmark need and this machine lacks, as a hint; None if nothing."""
    if not CHROMIUM.exists():
        return "Debian chromium is missing: run `bash scripts/ensure-chromium.sh` (make test does)"
    if not DEMO_INDEX.exists():
        return "the demo is not built: run `make client` (make test does)"
    return None


def launch(playwright: Playwright, *extra_args: str) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])


@dataclass
class ApiCall:
    method: str
    path: str
    kind: str
    query: str = ""

    @property
    def fallback(self) -> bool:
        """A poll the library marked as made because streaming failed (`?fallback=1`)."""
        return "fallback=1" in self.query.split("&")


def classify(method: str, path: str) -> str:
    """What an API request is for."""
    if path == "/api/watch" and method == "POST":
        return "token"
    # /api/watch/{streamId}/events (by its cookie), or /api/watch/events (token only).
    if path.startswith("/api/watch/") and path.endswith("/events"):
        return "stream"
    if path == "/api/jobs" and method == "GET":
        return "list"  # the caller's jobs (the demo's resume() at page load)
    if path.startswith("/api/jobs/"):
        parts = path.split("/")  # ['', 'api', 'jobs', type, id-or-start, ...]
        if parts[-1] == "start":
            return "start"
        if parts[-1] == "cancel":
            return "cancel"
        if len(parts) == 5 and method == "GET":
            return "poll"
        if parts[-1] == "events":
            return "job-stream"
        if parts[-1] == "token":
            return "job-token"
    return "other"


@dataclass
class DemoPage:
    """The demo app in one browser tab, with every API request it makes recorded; opened at
    `path` (e.g. `/?hiddenPauseMs=1000`)."""

    page: Page
    host: LocalHostProcess
    calls: list[ApiCall] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for, API or not
    path: str = "/"

    def __post_init__(self) -> None:
        self.page.on("request", self._record)
        self.page.on("pageerror", lambda error: print(f"page error: {error}"))
        self.page.goto(self.host.base_url + self.path)
        self.page.get_by_role("heading", name="Job events").wait_for()

    def _record(self, request: Request) -> None:
        url = request.url
        self.requests.append(url)
        if not url.startswith(self.host.base_url + "/api/"):
            return
        path, _, query = url[len(self.host.base_url) :].partition("?")
        self.calls.append(ApiCall(request.method, path, classify(request.method, path), query))

    # --- actions -------------------------------------------------------------

    def force_polling(self, on: bool = True) -> None:
        switch = self.page.get_by_test_id("force-polling")
        switch.set_checked(on, force=True)  # the real input is visually hidden behind the track

    def pause_metrics(self) -> None:
        """Pause the server-metrics panel. It reads /local/diagnostics every 2 s by design;
        paused, it holds no timer and no request, so the page can go idle."""
        toggle = self.page.get_by_test_id("metrics-toggle")
        if toggle.count() and toggle.inner_text().strip() == "Pause":
            toggle.click()
            self.page.get_by_test_id("metrics-state").filter(has_text="paused").wait_for()

    def start_fifty(self) -> None:
        self.page.get_by_test_id("start-50").click()

    def start(self, kind: str, count: int, **fields: object) -> None:
        """kind: story | sleep | fail; fields: the form's other inputs by test id suffix."""
        self.page.get_by_test_id(f"{kind}-count").fill(str(count))
        for name, value in fields.items():
            self.page.get_by_test_id(f"{kind}-{name}").fill(str(value))
        self.page.get_by_test_id(f"start-{kind}").click()

    def set_hidden(self, hidden: bool) -> float:
        """Hide or show the tab as the library sees it; the page's `performance.now()` then."""
        at: float = self.page.evaluate(SET_VISIBILITY, hidden)
        return at

    # --- reading ---------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = self.page.eval_on_selector_all(
            "[data-testid=job]",
            """rows => rows.map(r => ({
                id: r.dataset.jobId, type: r.dataset.jobType, status: r.dataset.status, via: r.dataset.via,
                message: r.querySelector('[data-testid=message]').textContent.trim(),
                time: r.querySelector('[data-testid=time]').textContent.trim(),
            }))""",
        )
        return rows

    def wait_until(self, condition: str, arg: Any = None, timeout_s: float = 60) -> None:
        """Wait for a JS predicate over the job rows: `(rows, arg) => boolean` (rows as in `rows()`)."""
        self.page.wait_for_function(
            f"""([arg]) => {{
                const rows = [...document.querySelectorAll('[data-testid=job]')]
                  .map(r => ({{status: r.dataset.status, via: r.dataset.via, type: r.dataset.jobType}}));
                return ({condition})(rows, arg);
            }}""",
            arg=[arg],
            timeout=timeout_s * 1000,
            polling=100,
        )

    def wait_all_settled(self, count: int, timeout_s: float = 60) -> None:
        try:
            self.wait_until(
                "(rows, [n, terminal]) => rows.length === n && rows.every(r => terminal.includes(r.status))",
                [count, list(TERMINAL)],
                timeout_s,
            )
        except PlaywrightTimeoutError:
            rows = [(r["type"], r["status"], r["via"], r["message"]) for r in self.rows()]
            raise AssertionError(
                f"not every job finished within {timeout_s}s: {rows}; requests {dict(self.counts())}; "
                f"page {self.probe()}; error shown: {self.error_text()!r}"
            ) from None

    def error_text(self) -> str | None:
        error = self.page.get_by_test_id("error")
        return error.inner_text() if error.count() else None

    def probe(self) -> dict[str, int]:
        probe: dict[str, int] = self.page.evaluate("window.__probe()")
        return probe

    def stat(self, test_id: str) -> str:
        return self.page.get_by_test_id(test_id).inner_text().strip()

    def counts(self) -> Counter[str]:
        return Counter(call.kind for call in self.calls)

    def quiet_period(self, seconds: float) -> list[ApiCall]:
        """API requests made during the next `seconds` (there should be none once all is done)."""
        before = len(self.calls)
        self.page.wait_for_timeout(seconds * 1000)
        return self.calls[before:]

    def wait_for_idle_page(self, timeout_s: float = 5) -> dict[str, int]:
        """The probe once nothing is pending in the page (or as it is at the deadline)."""
        deadline = time.monotonic() + timeout_s
        while True:
            probe = self.probe()
            pending = ("openEventSources", "fetchesInFlight", "timeouts", "intervals")
            if not any(probe[key] for key in pending) or time.monotonic() > deadline:
                return probe
            self.page.wait_for_timeout(100)


def new_context(browser: Browser) -> BrowserContext:
    """A fresh browser context (its own connections and cookies) with the probe installed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(PROBE)
    return context


def server_streams_settle(host: LocalHostProcess, timeout_s: float = 5) -> StreamFigures:
    """The host's stream counters once it reports no open stream (or as they are at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        streams = host.diagnostics().streams
        if streams.open == 0 or time.monotonic() > deadline:
            return streams
        time.sleep(0.1)
