"""Browser fixtures: Debian's chromium driven by Playwright, and the demo page as an object
(harness/browser.py) with the tests' assertions on top."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, sync_playwright

from harness import browser as driver
from harness.browser import CHROMIUM as CHROMIUM
from harness.browser import CHROMIUM_ARGS as CHROMIUM_ARGS
from harness.browser import TERMINAL as TERMINAL
from harness.browser import classify as classify
from harness.browser import server_streams_settle as server_streams_settle
from harness.processes import ROOT, LocalHostProcess

if TYPE_CHECKING:
    from local_host.diagnostics import StreamFigures

ARTIFACTS = ROOT / "test-artifacts"

HostFactory = Callable[..., LocalHostProcess]  # the host_factory fixture (tests/conftest.py)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    problem = driver.missing()
    if problem:
        pytest.fail(problem)
    with sync_playwright() as playwright:
        browser = driver.launch(playwright)
        yield browser
        browser.close()


@dataclass
class Quiet:
    """What DemoPage.assert_quiet saw: the page probe, the requests of the quiet period
    (none), and the host's stream counters."""

    probe: dict[str, int]
    requests: list[str]
    streams: StreamFigures | None


class DemoPage(driver.DemoPage):
    """The demo app in one browser tab (harness/browser.py), with the tests' checks."""

    def assert_quiet(self, host: LocalHostProcess | None = None, quiet_s: float = 3) -> Quiet:
        """Once every job is done, nothing is left running: with the metrics panel paused (it
        polls by design), the page has no EventSource open, no fetch in flight and no timer or
        interval pending; it makes no request at all for `quiet_s` seconds; it shows no open
        stream and nothing watched; and the host (if given) has every stream closed."""
        self.pause_metrics()
        probe = self.wait_for_idle_page()
        assert probe["openEventSources"] == 0, probe
        assert probe["fetchesInFlight"] == 0, probe
        assert probe["intervals"] == 0, probe
        assert probe["timeouts"] == 0, probe
        before = len(self.requests)
        calls = self.quiet_period(quiet_s)
        requests = self.requests[before:]
        assert calls == [], "API requests after every job had finished"
        assert requests == [], "requests after every job had finished (metrics panel paused)"
        assert self.stat("open-streams") == "0"
        assert self.stat("watching") == "0"
        streams = None
        if host is not None:
            streams = server_streams_settle(host)
            assert streams.open == 0, streams
        return Quiet(probe, requests, streams)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


OpenDemo = Callable[[LocalHostProcess], DemoPage]  # the open_demo fixture below


def new_demo(browser: Browser, host: LocalHostProcess) -> DemoPage:
    """The demo of `host` in a fresh browser context (its own connections); close `demo.page.context`."""
    return DemoPage(driver.new_context(browser).new_page(), host)


@pytest.fixture
def open_demo(browser: Browser) -> Iterator[OpenDemo]:
    """Open the demo of a host in a fresh browser context; closed after the test."""
    demos: list[DemoPage] = []

    def open_(host: LocalHostProcess) -> DemoPage:
        demos.append(new_demo(browser, host))
        return demos[-1]

    yield open_
    for demo in demos:
        demo.page.context.close()


def write_artifact(name: str, data: object) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
