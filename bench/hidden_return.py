"""Benchmark 8: what a hidden-tab pause costs the user on return, in a real Chromium.

    .venv/bin/python -m bench.hidden_return [--pauses 5000,30000] [--spells 3,10,20,45] [--repeats 5] [--quick]

The library closes a tab's streams once the page has been hidden for `hiddenPauseMs`, makes
no request while paused, and on return reopens each stream with `lastEventId` (reusing the
paused token and cookie: one request). For each pause and hidden spell, a fresh demo tab
(`/?hiddenPauseMs=`) starts one Sleep job timed to end 1-2 s (seeded) before the tab is
shown again, is hidden for the spell, then shown; per repetition it records:

- paused: the library paused (`window.jobEventsStats().pauses`);
- the page's requests while hidden (any), and its API requests on return until it has no
  stream open and no fetch in flight (token / stream / poll, classified as the browser tests do);
- shown -> terminal: ms from the `visibilitychange` that shows the tab to the row's terminal
  status in the DOM, both read in the page (`performance.now()`); 0 when the row was already
  terminal when shown (the stream stayed open and delivered the end while hidden);
- stream-seconds: how long the server held this tab's stream open during the spell (the
  host's `/local/diagnostics` streams.open read every 0.2 s): on Flex an open stream is
  billed instance time.

Headless Chromium always reports a page visible, so visibility is driven as the library
reads it (harness/browser.py `SET_VISIBILITY`): the page is not throttled as a really hidden
tab is, which changes nothing here (no timer runs while paused). Needs the built demo
(`make client`) and Debian's chromium (`bash scripts/ensure-chromium.sh`).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

from bench import common
from harness import browser as driver
from harness.processes import LocalHostProcess

COLUMNS = [
    "pause_ms",
    "spell_s",
    "repeats",
    "paused",
    "hidden_requests",
    "return_requests",
    "return_kinds",
    "p50_ms",
    "p95_ms",
    "max_ms",
    "stream_s",
]
KINDS = ("token", "stream", "poll")
SAMPLE_S = 0.2
JOB_STEP_S = 0.5  # the demo's Seconds field moves in half seconds

# Installed before the tab is hidden: when the row first shows a terminal status, by the page's clock.
WATCH_TERMINAL = """(terminal) => {
  window.__terminalAt = null;
  const check = () => {
    const row = document.querySelector('[data-testid=job]');
    if (window.__terminalAt === null && row && terminal.includes(row.dataset.status)) {
      window.__terminalAt = performance.now();
    }
  };
  new MutationObserver(check).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'],
  });
  check();
}"""


@dataclass
class Trial:
    pause_ms: int
    spell_s: float
    job_s: float
    paused: bool
    hidden_requests: int  # every request of the page, API or not (the metrics panel is paused)
    hidden_kinds: dict[str, int]
    return_requests: int  # token, stream and poll requests from showing until nothing is open or in flight
    return_kinds: list[str]
    shown_to_terminal_ms: float
    stream_s: float
    job_done_when_shown: bool
    stats: dict[str, int] = field(default_factory=dict)


def job_seconds(spell_s: float, rng: random.Random) -> float:
    """A Sleep job that ends 1-2 s before the tab is shown (the hide comes just after it runs)."""
    ends_before = rng.uniform(1.0, 2.0)
    return max(JOB_STEP_S, round((spell_s - ends_before) / JOB_STEP_S) * JOB_STEP_S)


def trial(browser: Browser, host: LocalHostProcess, pause_ms: int, spell_s: float, job_s: float) -> Trial:
    driver.server_streams_settle(host)  # the previous tab's stream is gone: streams.open is this tab's
    context = driver.new_context(browser)
    try:
        demo = driver.DemoPage(context.new_page(), host, path=f"/?hiddenPauseMs={pause_ms}")
        demo.pause_metrics()  # it reads /local/diagnostics every 2 s by design, hidden or not
        demo.start("sleep", 1, seconds=job_s)
        demo.wait_until(
            "(rows, terminal) => rows.length === 1 && rows[0].via === 'sse' "
            "&& (rows[0].status === 'Running' || terminal.includes(rows[0].status))",
            list(driver.TERMINAL),
            timeout_s=20,
        )
        job_id = demo.rows()[0]["id"]
        demo.page.evaluate(WATCH_TERMINAL, list(driver.TERMINAL))

        requests_before, calls_before = len(demo.requests), len(demo.calls)
        demo.set_hidden(True)
        hidden_at = last = time.monotonic()
        open_s = 0.0
        while (now := time.monotonic()) < hidden_at + spell_s:
            open_s += host.diagnostics().streams.open * (now - last)  # held since the last reading
            last = now
            # Waiting in the page, not in Python: Playwright delivers the page's request events meanwhile.
            demo.page.wait_for_timeout(max(1.0, min(SAMPLE_S, hidden_at + spell_s - now) * 1000))
        open_s += host.diagnostics().streams.open * (time.monotonic() - last)
        status = httpx.get(f"{host.base_url}/api/jobs/Sleep/{job_id}", timeout=5).json()["status"]
        hidden = demo.calls[calls_before:]
        hidden_requests = len(demo.requests) - requests_before
        stats_hidden: dict[str, int] = demo.page.evaluate("window.jobEventsStats()")

        calls_at_show = len(demo.calls)
        shown_at = demo.set_hidden(False)
        demo.page.wait_for_function("() => window.__terminalAt !== null", timeout=30_000, polling=50)
        terminal_at: float = demo.page.evaluate("window.__terminalAt")
        # Every job is done, so the library closes its stream: what it asked for on return is in.
        demo.page.wait_for_function(
            "() => window.__probe().openEventSources === 0 && window.__probe().fetchesInFlight === 0",
            timeout=10_000,
            polling=50,
        )
        returned = [call.kind for call in demo.calls[calls_at_show:] if call.kind in KINDS]
        stats: dict[str, int] = demo.page.evaluate("window.jobEventsStats()")
        return Trial(
            pause_ms=pause_ms,
            spell_s=spell_s,
            job_s=job_s,
            paused=stats_hidden["pauses"] > 0,
            hidden_requests=hidden_requests,
            hidden_kinds=dict(Counter(call.kind for call in hidden)),
            return_requests=len(returned),
            return_kinds=returned,
            shown_to_terminal_ms=round(max(0.0, terminal_at - shown_at), 1),
            stream_s=round(open_s, 2),
            job_done_when_shown=status in driver.TERMINAL,
            stats=stats,
        )
    finally:
        context.close()


def summarize(pause_ms: int, spell_s: float, trials: list[Trial]) -> dict[str, Any]:
    waits = [t.shown_to_terminal_ms for t in trials]
    kinds = Counter("+".join(t.return_kinds) or "none" for t in trials)
    return {
        "pause_ms": pause_ms,
        "spell_s": spell_s,
        "repeats": len(trials),
        "paused": common.rnd(sum(t.paused for t in trials) / len(trials), 2),
        "hidden_requests": max(t.hidden_requests for t in trials),
        "return_requests": common.median([t.return_requests for t in trials]),
        "return_kinds": ", ".join(f"{k} x{n}" if len(kinds) > 1 else k for k, n in kinds.most_common()),
        "p50_ms": common.rnd(common.percentile(waits, 50), 0),
        "p95_ms": common.rnd(common.percentile(waits, 95), 0),
        "max_ms": max(waits),
        "stream_s": common.rnd(common.median([t.stream_s for t in trials]), 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    problem = driver.missing()
    if problem:
        raise SystemExit(problem)
    started = time.monotonic()
    rng = random.Random(args.seed)
    cells = [(pause, spell) for pause in args.pauses for spell in args.spells]
    trials: dict[tuple[int, float], list[Trial]] = {cell: [] for cell in cells}
    with (
        common.azurite_running() as azurite,
        common.local_host(common.system_env(azurite)) as host,
        sync_playwright() as playwright,
    ):
        settings = common.recorded_settings(common.settings_for(host.env))
        browser = driver.launch(playwright)
        for _ in range(args.warmup):  # the first tab, stream and job of the host: not measured
            trial(browser, host, min(args.pauses), min(args.spells), job_seconds(min(args.spells), rng))
        for repeat in range(args.repeats):
            order = cells[:]
            rng.shuffle(order)  # no cell always runs first, or after the same one
            for pause, spell in order:
                t = trial(browser, host, pause, spell, job_seconds(spell, rng))
                trials[(pause, spell)].append(t)
                common.log(
                    f"repeat {repeat + 1}/{args.repeats} pause {pause} ms, spell {spell:g} s: "
                    f"paused {t.paused}, hidden {t.hidden_requests} requests, return {t.return_kinds}, "
                    f"{t.shown_to_terminal_ms:.0f} ms to terminal, stream open {t.stream_s:.1f} s"
                )
        browser.close()
    rows = [summarize(pause, spell, trials[(pause, spell)]) for pause, spell in cells]
    late = sum(not t.job_done_when_shown for ts in trials.values() for t in ts)
    return common.write_results(
        "hidden_return",
        args,
        COLUMNS,
        rows,
        common.machine(),
        started,
        details={
            "settings": settings,
            "jobs_not_done_when_shown": late,  # such a return waits for the job itself: should be 0
            "trials": [asdict(t) for ts in trials.values() for t in ts],
        },
    )


def numbers(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument(
        "--pauses", type=lambda s: [int(v) for v in numbers(s)], default=[5000, 30000], help="hiddenPauseMs values"
    )
    parser.add_argument("--spells", type=numbers, default=[3.0, 10.0, 20.0, 45.0], help="seconds hidden")
    parser.add_argument("--repeats", type=int, default=5, help="tabs per (pause, spell)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded tabs first")
    parser.add_argument("--quick", action="store_true", help="2 repeats (about a third of the time)")
    args = parser.parse_args()
    if args.quick:
        args.repeats = min(args.repeats, 2)
    run(args)


if __name__ == "__main__":
    main()
