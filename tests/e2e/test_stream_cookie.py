"""The stream cookie in a real Chromium: by default no stream token travels in a URL.

`POST /api/watch` sets an HttpOnly cookie scoped to that one stream's path, and the
library opens the stream with it and no `access_token`. Where the cookie does not
arrive (blocked, here: stripped from the answers), the library falls back to the
token in the URL by itself, and every job still finishes over SSE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Request, Route

from notify.streams import CloseReason
from tests.e2e.conftest import DemoPage, HostFactory, OpenDemo

COOKIE = "jobevents_stream"


# Each EventSource the page creates from now on, as the page saw it: its URL, whether it
# sends credentials, opened, or was refused before it opened (readyState CLOSED at the error).
TRACK_STREAMS = """
(() => {
  const Base = window.EventSource;
  window.__streams = [];
  window.EventSource = class extends Base {
    constructor(url, init) {
      super(url, init);
      const seen = { url: String(url), withCredentials: this.withCredentials, opened: false, refused: false };
      window.__streams.push(seen);
      this.addEventListener('open', () => (seen.opened = true));
      this.addEventListener('error', () => { if (!seen.opened && this.readyState === 2) seen.refused = true; });
    }
  };
})();
"""


@dataclass
class Streams:
    """The stream requests of one page: what went over the network, and what the page saw."""

    demo: DemoPage
    cookie_sent: dict[str, bool] = field(default_factory=dict)  # by path?query: with the stream cookie

    def __post_init__(self) -> None:
        self.demo.page.evaluate(TRACK_STREAMS)  # the library looks up EventSource at each open
        self.demo.page.on("request", self._record)

    def _record(self, request: Request) -> None:
        path = request.url.partition("?")[0]
        if path.startswith(self.demo.host.base_url + "/api/watch/") and path.endswith("/events"):
            url = request.url[len(self.demo.host.base_url) :]  # as the page named it
            self.cookie_sent[url] = f"{COOKIE}=" in request.all_headers().get("cookie", "")

    def seen(self) -> list[dict[str, Any]]:
        return self.demo.page.evaluate("window.__streams")


def strip_stream_cookie(route: Route) -> None:
    """The real /api/watch answer, minus its Set-Cookie: a browser that keeps no cookie."""
    response = route.fetch()
    # route.fetch() keeps the answer's cookies in the context's jar; the page must not get them.
    route.request.frame.page.context.clear_cookies(name=COOKIE)
    headers = {name: value for name, value in response.headers.items() if name.lower() != "set-cookie"}
    route.fulfill(response=response, headers=headers)


@pytest.mark.browser
def test_fifty_jobs_stream_by_cookie_with_no_token_in_any_url(host_factory: HostFactory, open_demo: OpenDemo) -> None:
    host = host_factory()
    demo = open_demo(host)
    streams = Streams(demo)
    demo.start_fifty()
    demo.wait_all_settled(50, timeout_s=120)
    quiet = demo.assert_quiet(host)  # every stream has ended

    rows = demo.rows()
    assert len(rows) == 50
    assert {row["via"] for row in rows} == {"sse"}, rows
    # No secret in any URL the page asked for: API, streams, assets.
    assert [url for url in demo.requests if "access_token" in url] == []
    counts = demo.counts()
    assert counts["poll"] == 0, counts
    seen = streams.seen()
    # The jobs arrive in batches, so streams swap: the new one opens while the old one
    # still delivers, two at once in the tab.
    assert len(seen) == counts["stream"] >= 2, seen
    assert quiet.probe["maxOpenEventSources"] == 2, quiet.probe
    # Every stream: its own path (its own cookie), credentials on, the cookie sent, opened.
    assert len({s["url"].partition("?")[0] for s in seen}) == counts["token"], seen
    assert all(s["withCredentials"] and s["opened"] and not s["refused"] for s in seen), seen
    assert streams.cookie_sent == {s["url"]: True for s in seen}, streams.cookie_sent
    assert quiet.streams is not None
    assert quiet.streams.opened == counts["stream"], quiet.streams
    assert quiet.streams.closed[CloseReason.AUTH] == 0, quiet.streams
    print(f"\n50 jobs by cookie: {counts['token']} tokens, {counts['stream']} streams, 0 tokens in URLs")
    # HttpOnly: the page's own script cannot read it.
    assert COOKIE not in demo.page.evaluate("document.cookie")


@pytest.mark.browser
def test_without_the_cookie_the_library_falls_back_to_the_token_by_itself(
    host_factory: HostFactory, open_demo: OpenDemo
) -> None:
    host = host_factory()
    demo = open_demo(host)
    demo.page.route("**/api/watch", strip_stream_cookie)
    streams = Streams(demo)

    demo.start("sleep", 4, seconds=4)
    demo.wait_until("rows => rows.length === 4 && rows.every(r => r.status === 'Running' && r.via === 'sse')")
    # More jobs while those run: a combined stream, which goes straight to the token.
    demo.start("sleep", 3, seconds=2)
    demo.wait_all_settled(7, timeout_s=60)
    quiet = demo.assert_quiet(host)

    rows = demo.rows()
    assert [row["status"] for row in rows] == ["Completed"] * 7, rows
    assert {row["via"] for row in rows} == {"sse"}, "no polling fallback"
    counts = demo.counts()
    assert counts["poll"] == 0, counts
    assert demo.page.context.cookies() == [], "the stripped cookie reached the browser anyway"

    first, *rest = streams.seen()
    # The cookie stream was refused (no cookie: 401) before it opened ...
    assert "access_token" not in first["url"] and first["refused"] and not first["opened"], first
    assert streams.cookie_sent[first["url"]] is False
    # ... and from then on every stream carried a token, and opened: its retry and the
    # combined stream for the added jobs, with no second refusal.
    assert len(rest) >= 2, rest
    assert all("access_token=" in s["url"] and s["opened"] for s in rest), rest
    assert "lastEventId=" in rest[-1]["url"], rest  # the combined stream resumes the first jobs
    assert quiet.streams is not None
    assert quiet.streams.closed[CloseReason.AUTH] == 1, quiet.streams
    print(f"\ncookie stripped: {counts['token']} tokens, {counts['stream']} streams, 1 refused, then tokens")
