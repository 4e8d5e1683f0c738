"""The stream cookie (api/cookies.py): a browser's stream carries no secret in its URL.

Over real HTTP against a local host and Azurite: the token endpoints set a cookie
scoped to one stream URL, a stream opens with it and no query string, and it keeps
the job (and stream) scoping that the query tokens have.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from types import SimpleNamespace

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from api import cookies
from api.cookies import COOKIE_NAME, set_stream_cookie
from harness.sse import read_stream
from jobs.clock import FrozenClock
from notify.tokens import StreamTokens
from tests.support.api import assert_problem
from tests.support.api import start_job as start

TTL = 300


def _cookie(response: httpx.Response) -> SimpleCookie:
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    jar = SimpleCookie()
    jar.load(headers[0])
    return jar


def _sending(token: str) -> dict[str, str]:
    """What a browser sends to the cookie's path (tests send it by hand, as the cookie has no domain here)."""
    return {"Cookie": f"{COOKIE_NAME}={token}"}


def _watch(client: httpx.Client, *jobs: dict) -> httpx.Response:
    refs = [{"jobType": j["jobType"], "jobId": j["jobId"]} for j in jobs]
    return client.post("/api/watch", json={"jobs": refs})


def test_a_watch_stream_opens_with_its_cookie_and_no_query_string(shared_host):
    with httpx.Client(base_url=shared_host.base_url, timeout=30) as client:
        jobs = [start(shared_host.base_url, "Sleep", {"seconds": 0.4, "steps": 2}) for _ in range(2)]
        grant = _watch(client, *jobs)
        assert grant.status_code == 200
        body = grant.json()
        morsel = _cookie(grant)[COOKIE_NAME]
        assert morsel.value == body["token"]
        assert morsel["path"] == body["eventsUrl"] and morsel["httponly"] and morsel["samesite"].lower() == "strict"
        assert int(morsel["max-age"]) == TTL and not morsel["secure"]  # plain http on localhost
        transcript = read_stream(f"{shared_host.base_url}{body['eventsUrl']}", headers=_sending(morsel.value))
    assert transcript.status == 200
    assert {e.json()["jobId"]: e.json()["status"] for e in transcript.messages} == {
        j["jobId"]: "Completed" for j in jobs
    }


def test_a_job_stream_opens_with_the_token_endpoints_cookie(shared_host):
    base = shared_host.base_url
    job = start(base, "Sleep", {"seconds": 0.3, "steps": 1})
    minted = httpx.post(f"{base}/api/jobs/Sleep/{job['jobId']}/token")
    morsel = _cookie(minted)[COOKIE_NAME]
    assert morsel["path"] == job["eventsUrl"] == minted.json()["eventsUrl"]
    transcript = read_stream(f"{base}{job['eventsUrl']}", headers=_sending(morsel.value))
    assert transcript.statuses()[-1]["status"] == "Completed"


def test_two_streams_get_two_cookie_paths(shared_host):
    """The swap while a combined stream opens: the second grant must not replace the first's cookie."""
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    with httpx.Client(base_url=shared_host.base_url) as client:
        first, second = _watch(client, job), _watch(client, job)
    paths = {_cookie(first)[COOKIE_NAME]["path"], _cookie(second)[COOKIE_NAME]["path"]}
    assert paths == {first.json()["eventsUrl"], second.json()["eventsUrl"]} and len(paths) == 2


def test_a_cookie_for_job_a_is_refused_for_job_b(shared_host):
    base = shared_host.base_url
    a, b = (start(base, "Sleep", {"seconds": 0}) for _ in range(2))
    cookie = _cookie(httpx.post(f"{base}/api/jobs/Sleep/{a['jobId']}/token"))[COOKIE_NAME].value
    assert_problem(httpx.get(f"{base}{b['eventsUrl']}", headers=_sending(cookie)), 403)


def test_a_watch_cookie_is_refused_on_another_streams_url(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    with httpx.Client(base_url=shared_host.base_url) as client:
        first, second = _watch(client, job), _watch(client, job)
    cookie = _cookie(first)[COOKIE_NAME].value
    refused = httpx.get(f"{shared_host.base_url}{second.json()['eventsUrl']}", headers=_sending(cookie))
    assert "another stream" in assert_problem(refused, 403)["detail"]


def test_an_expired_cookie_is_401_with_a_challenge(shared_host):
    job = start(shared_host.base_url, "Sleep", {"seconds": 0})
    clock = FrozenClock()
    clock.advance(-3600)
    expired, _ = StreamTokens(shared_host.env["STREAM_TOKEN_SIGNING_KEY"], clock=clock).issue(
        "anonymous", [job["jobId"]]
    )
    response = httpx.get(f"{shared_host.base_url}{job['eventsUrl']}", headers=_sending(expired))
    assert "expired" in assert_problem(response, 401)["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_no_set_cookie_on_any_other_endpoint(shared_host):
    base = shared_host.base_url
    started = httpx.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 0.2, "steps": 1})
    job = started.json()
    answers = [
        started,
        httpx.get(f"{base}{job['statusUrl']}"),
        httpx.get(f"{base}{job['statusUrl']}", headers={"If-None-Match": "*"}),
        httpx.get(f"{base}/api/health"),
        httpx.get(f"{base}/api/openapi.json"),
        httpx.get(f"{base}{job['eventsUrl']}"),  # 401
        httpx.post(f"{base}/api/jobs/Sleep/start", content=b"{"),  # 400
    ]
    stream = read_stream(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]})
    assert stream.status == 200 and "set-cookie" not in stream.headers
    for answer in answers:
        assert "set-cookie" not in answer.headers, (answer.request.url, answer.status_code)


# --- the cookie's attributes, for the places a browser meets it ---------------------------------


def _request(host: str, *headers: tuple[str, str]) -> Request:
    raw = [(b"host", host.encode()), *((k.encode(), v.encode()) for k, v in headers)]
    return Request({"type": "http", "scheme": "http", "server": ("127.0.0.1", 80), "path": "/", "headers": raw})


@pytest.fixture
def origins(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = SimpleNamespace(cors_origins=["https://app.example.com"], token_ttl_seconds=TTL)
    monkeypatch.setattr(cookies, "get_settings", lambda: fake)
    monkeypatch.delenv("WEBSITE_INSTANCE_ID", raising=False)


@pytest.mark.parametrize(
    ("host", "headers", "expected"),
    [
        ("localhost:7071", (), {"secure": "", "samesite": "Strict"}),
        ("127.0.0.1:7071", (("origin", "https://app.example.com"),), {"secure": "", "samesite": "Strict"}),
        ("jobs.example.com", (), {"secure": True, "samesite": "Strict"}),
        # The Functions host proxies to the worker: the forwarded scheme decides.
        ("127.0.0.1:55123", (("x-forwarded-proto", "https"),), {"secure": True, "samesite": "Strict"}),
        (
            "jobs.example.com",
            (("origin", "https://app.example.com"),),
            {"secure": True, "samesite": "None", "partitioned": True},
        ),
        ("jobs.example.com", (("origin", "https://other.example"),), {"secure": True, "samesite": "Strict"}),
    ],
)
def test_cookie_attributes(origins, host, headers, expected):
    response = Response()
    set_stream_cookie(response, _request(host, *headers), "t.o.k", "/api/watch/abc/events")
    header = response.headers["set-cookie"]
    morsel = SimpleCookie(header.replace("; Partitioned", ""))[COOKIE_NAME]  # unknown to http.cookies < 3.14
    assert morsel["path"] == "/api/watch/abc/events" and morsel["httponly"] is True
    assert morsel["secure"] == expected["secure"] and morsel["samesite"].lower() == expected["samesite"].lower()
    assert ("Partitioned" in header) == expected.get("partitioned", False)


def test_in_azure_the_cookie_is_always_secure(origins, monkeypatch):
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "x")
    response = Response()
    set_stream_cookie(response, _request("localhost"), "t", "/p")
    assert SimpleCookie(response.headers["set-cookie"])[COOKIE_NAME]["secure"] is True
