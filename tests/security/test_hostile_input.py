"""Odd job types and ids are refused cleanly and never reach a storage key."""

import pytest

from local_host.diagnostics import OPERATIONS
from tests.support.api import assert_problem

REAL_ID = "3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"
ODD = [
    "..",
    "../..",
    "%2e%2e",
    "..%2F..%2Fetc%2Fpasswd",
    "a%2Fb",
    "a%5Cb",
    "a%23b",
    "a%3Fb",
    "%00",
    "tab%09x",
    "x" * 2000,
    "%C3%BCn%C3%AFcode",
    "%E2%80%AE",
    "'%3B--",
    "%7B%7D",
    "3F2C1D4E-5B6A-4C7D-8E9F-0A1B2C3D4E5F",
]


@pytest.fixture
async def client(asgi_api):
    http, _ = await asgi_api()
    return http


@pytest.mark.parametrize("odd", ODD)
async def test_odd_ids_and_types_never_reach_storage(client, odd):
    requests = [
        ("GET", f"/api/jobs/Sleep/{odd}"),
        ("GET", f"/api/jobs/{odd}/{REAL_ID}"),
        ("POST", f"/api/jobs/Sleep/{odd}/token"),
        ("POST", f"/api/jobs/Sleep/{odd}/cancel"),
        ("POST", f"/api/jobs/{odd}/start"),
        ("GET", f"/api/jobs/Sleep/{odd}/events?access_token=x"),
    ]
    before = OPERATIONS.total()
    for method, path in requests:
        if client.build_request(method, path).url.path == "/api/jobs":
            continue  # `..` collapsed the path to the caller's job list: a real endpoint, no id in it
        assert_problem(await client.request(method, path, json={} if method == "POST" else None))
    watch = await client.post("/api/watch", json={"jobs": [{"jobType": "Sleep", "jobId": odd}]})
    assert_problem(watch)
    assert OPERATIONS.total() == before, "a hostile id reached storage"


async def test_the_storage_counter_does_see_real_lookups(client):
    before = OPERATIONS.total()
    assert_problem(await client.get(f"/api/jobs/Sleep/{REAL_ID}"))  # a well-formed id is looked up: 404
    assert OPERATIONS.total() > before


async def test_deeply_nested_and_huge_json_are_refused(client):
    assert_problem(
        await client.post("/api/jobs/Sleep/start", content=b"[" * 100_000, headers={"Content-Type": "application/json"})
    )
    assert_problem(
        await client.post(
            "/api/jobs/Sleep/start", content=b'{"seconds": 1e999}', headers={"Content-Type": "application/json"}
        )
    )
    assert_problem(
        await client.post("/api/jobs/Sleep/start", content=b"\xff\xfe", headers={"Content-Type": "application/json"})
    )
    assert_problem(
        await client.post(
            "/api/jobs/Sleep/start",
            headers={"Content-Type": "application/json", "Content-Length": "abc"},
            content=b"{}",
        )
    )
