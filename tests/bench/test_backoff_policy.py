"""Benchmark 1's backoff poller is pinned to the client library's own policy.

bench/requests_per_job.py polls with a Python copy of the library's policy (backoff.ts, the
loop in poll.ts, the defaults in config.ts). Here both run against the same scripted jobs in
virtual time, the library's TypeScript under node (tests/bench/poll_schedule.ts, bundled with
the client's esbuild), and must send the same requests at the same moments.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
import pytest

from bench import requests_per_job as bench
from tests.support import typescript

HARNESS = typescript.ROOT / "tests" / "bench" / "poll_schedule.ts"

Change = dict[str, Any]  # {atMs, status, progress, retryAfter}: from atMs on, the server answers with it


def _change(at: float, status: str, progress: float = 0.0, retry_after: int | None = 2) -> Change:
    return {"atMs": round(at * 1000), "status": status, "progress": progress, "retryAfter": retry_after}


def _sleep_job(rng: random.Random) -> list[Change]:
    """Like benchmark 1's Sleep jobs: 30-90 s, 5 progress steps, a Retry-After that may estimate the end."""
    seconds, steps = rng.uniform(30, 90), 5
    changes = [_change(0, "Queued"), _change(rng.uniform(0.05, 1.5), "Running")]
    for step in range(1, steps):
        estimate = rng.choice([None, 2, rng.randint(2, 60)])
        changes.append(_change(seconds * step / steps + rng.uniform(0, 0.5), "Running", step / steps, estimate))
    changes.append(_change(seconds + rng.uniform(0, 0.5), rng.choice(["Completed", "Failed"]), 1.0, None))
    return changes


SCENARIOS: dict[str, list[Change]] = {
    "done before the first poll": [_change(0, "Queued"), _change(0.4, "Completed", 1.0, None)],
    "idle until the cap": [_change(0, "Queued"), _change(0.3, "Running"), _change(400.37, "Completed", 1.0, None)],
    "Retry-After above the backoff": [
        _change(0, "Queued", retry_after=45),
        _change(0.3, "Running", retry_after=45),
        _change(130.2, "Failed", 1.0, None),
    ],
    "no Retry-After at all": [
        _change(0, "Queued", retry_after=None),
        _change(7.7, "Running", retry_after=None),
        _change(50.1, "Running", 0.5, None),
        _change(95.3, "Completed", 1.0, None),
    ],
    "progress resets the backoff": [
        _change(0, "Queued"),
        _change(0.2, "Running"),
        *(_change(6.1 * i, "Running", i / 10, 3) for i in range(1, 10)),
        _change(61.9, "Completed", 1.0, None),
    ],
    **{f"Sleep job {i}": _sleep_job(random.Random(i)) for i in range(20)},
}


def without_hint(changes: list[Change]) -> list[Change]:
    return [{**c, "retryAfter": None} for c in changes]


@cache
def library() -> dict[str, Any]:
    """The library's defaults and `[[atMs, code], ...]` of its requests: per scenario, then
    per scenario with no Retry-After (one node run for all)."""
    scenarios = list(SCENARIOS.values())
    answer = typescript.run(HARNESS, scenarios + [without_hint(c) for c in scenarios])
    schedules = answer["schedules"]
    return {"defaults": answer["defaults"], "hint": schedules[: len(scenarios)], "no hint": schedules[len(scenarios) :]}


async def bench_schedule(changes: list[Change], hint: bool = True) -> list[list[int]]:
    """The same, for benchmark 1's backoff poller (`Bench.backoff`) in virtual time."""
    now = 0.0
    sent: list[list[int]] = []

    async def sleep(seconds: float) -> None:
        nonlocal now
        now += seconds

    def server(request: httpx.Request) -> httpx.Response:
        at = round(now * 1000)
        index = max(i for i, c in enumerate(changes) if c["atMs"] <= at)
        change, version = changes[index], index + 1
        headers = {} if change["retryAfter"] is None else {"Retry-After": str(change["retryAfter"])}
        if request.headers.get("If-None-Match") == f'"{version}"':
            sent.append([at, 304])
            return httpx.Response(304, headers=headers)
        sent.append([at, 200])
        body = {
            "jobId": "j",
            "jobType": "Sleep",
            "status": change["status"],
            "progress": change["progress"],
            "timestamp": datetime.now(UTC).isoformat(),
            "version": version,
        }
        return httpx.Response(200, json=body, headers={**headers, "ETag": f'"{version}"'})

    async with httpx.AsyncClient(transport=httpx.MockTransport(server), base_url="http://bench") as client:
        poller = bench.Bench(client, interval=5.0, sleep=sleep)
        job = {"jobId": "j", "status": "Queued", "statusUrl": "/api/jobs/Sleep/j"}
        await asyncio.wait_for(poller.backoff(job, bench.BACKOFF, hint=hint), 10)
    return sent


def test_defaults_are_the_librarys() -> None:
    defaults = library()["defaults"]
    assert bench.backoff_delay(0) * 1000 == defaults["initialMs"], "bench's initial wait is not config.ts's initialMs"
    assert bench.backoff_delay(99) * 1000 == defaults["maxMs"], "bench's cap is not config.ts's maxMs"


def test_backoff_delay_matches_backoff_ts() -> None:
    table = [(step, initial, cap) for step in range(-1, 10) for initial, cap in [(1, 60), (0.5, 30), (3, 120), (1, 7)]]
    library_ms = typescript.call(
        typescript.LIBRARY / "backoff.ts",
        [["backoffDelay", step, initial * 1000, cap * 1000] for step, initial, cap in table],
    )
    for (step, initial, cap), ms in zip(table, library_ms, strict=True):
        python = bench.backoff_delay(step, initial, cap) * 1000
        assert python == ms, f"backoff_delay({step}, {initial}, {cap}): bench {python} ms, backoff.ts {ms} ms"


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_bench_polls_like_the_library(name: str) -> None:
    expected = library()["hint"][list(SCENARIOS).index(name)]
    got = await bench_schedule(SCENARIOS[name])
    assert got == expected, f"{name}: bench's requests [ms, code] differ from poll.ts's"


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_no_hint_is_the_library_without_retry_after(name: str) -> None:
    # The "backoff, no hint" row ignores Retry-After: the library facing a server that sends none.
    expected = library()["no hint"][list(SCENARIOS).index(name)]
    got = await bench_schedule(SCENARIOS[name], hint=False)
    assert got == expected, f"{name}: the no-hint poller's requests [ms, code] differ from poll.ts's"
