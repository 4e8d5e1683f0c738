"""The client library's polling policy against benchmark 1's targets, in virtual time.

Benchmark 1 (bench/requests_per_job.py) runs the library's own compiled poller for its backoff
rows (bench/poll_driver.ts); no copy of the policy is left in Python. Here the same poller
(client/.../poll.ts and PollPlanner in backoff.ts, bundled under node by
tests/bench/poll_schedule.ts) polls scripted jobs shaped like the benchmark's, 50 Sleep jobs of
30-90 s with 5 progress steps, in virtual time: the targets hold in seconds, not minutes, and a
change of policy that breaks them fails here before anyone runs the benchmark.
"""

from __future__ import annotations

import math
import random
import re
from functools import cache
from typing import Any

from bench import requests_per_job
from tests.support import typescript

HARNESS = typescript.ROOT / "tests" / "bench" / "poll_schedule.ts"

Change = dict[str, Any]  # {atMs, status, progress, retryAfter, etaMs?}: from atMs on, the server answers with it
SERVERS = {
    "hint": {"hint": True, "standard": True},
    "no hint": {"hint": False, "standard": True},
    "legacy": {"hint": False, "standard": False},  # no ETag, no Retry-After, no timestamp
}
FIXED_MS = 5000


def _sleep_job(rng: random.Random, steps: int = 5) -> list[Change]:
    """A Sleep job as benchmark 1 starts them: 30-90 s, `steps` even reports, picked up within
    0.3 s, the poller starting up to 2.5 s after the job (the benchmark starts 50 first).
    `etaMs` is the end api/handlers.py `poll_after` estimates from each report."""
    seconds, offset, pickup = rng.uniform(30, 90), rng.uniform(0, 2.5), rng.uniform(0.02, 0.3)
    changes: list[Change] = [
        {"atMs": 0, "status": "Queued", "progress": 0.0, "retryAfter": 2},
        {"atMs": pickup * 1000, "status": "Running", "progress": 0.0, "retryAfter": 2},
    ]
    for step in range(1, steps + 1):
        at = pickup + seconds * step / steps
        change: Change = {"atMs": at * 1000, "status": "Running", "progress": step / steps, "retryAfter": 2}
        if step < steps:
            change["etaMs"] = (pickup + seconds) * 1000
        changes.append(change)
    changes.append(
        {"atMs": (pickup + seconds + 0.03) * 1000, "status": "Completed", "progress": 1.0, "retryAfter": None}
    )
    shift = -offset * 1000
    return [
        {**c, "atMs": round(c["atMs"] + shift), **({"etaMs": round(c["etaMs"] + shift)} if "etaMs" in c else {})}
        for c in changes
    ]


JOBS = [_sleep_job(random.Random(i)) for i in range(50)]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = math.floor(k), min(math.floor(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _fixed(changes: list[Change]) -> tuple[int, float]:
    """Fixed 5 s polling from the poller's start: requests, and how late it saw the end (ms)."""
    end = changes[-1]["atMs"]
    polls = math.ceil(max(end, 1) / FIXED_MS)
    return polls, polls * FIXED_MS - end


@cache
def library() -> dict[str, Any]:
    """The library's requests `[[atMs, code], ...]` per job, for each kind of server (one node run)."""
    scenarios = [{"changes": job, "server": server} for server in SERVERS.values() for job in JOBS]
    answer = typescript.run(HARNESS, scenarios)
    schedules = answer["schedules"]
    return {name: schedules[i * len(JOBS) : (i + 1) * len(JOBS)] for i, name in enumerate(SERVERS)}


def figures(name: str) -> tuple[int, float]:
    """Requests for the 50 jobs, and the p95 of how late the end was known (ms)."""
    if name == "fixed":
        fixed = [_fixed(job) for job in JOBS]
        return sum(n for n, _ in fixed), _percentile([late for _, late in fixed], 95)
    schedules = library()[name]
    lates = []
    for sent, job in zip(schedules, JOBS, strict=True):
        last_at, code = sent[-1]
        assert code == 200 and last_at >= job[-1]["atMs"], f"{name}: the poll ended before the job did"
        lates.append(last_at - job[-1]["atMs"])
    return sum(len(sent) for sent in schedules), _percentile(lates, 95)


def test_without_the_hint_it_halves_the_requests_and_learns_the_end_no_later() -> None:
    fixed_requests, fixed_p95 = figures("fixed")
    requests, p95 = figures("no hint")
    assert requests <= fixed_requests / 2, f"no hint: {requests} requests, fixed 5 s polling {fixed_requests}"
    assert p95 <= fixed_p95, f"no hint: end known p95 {p95:.0f} ms, fixed 5 s polling {fixed_p95:.0f} ms"


def test_with_the_hint_it_stays_at_least_as_good_as_before() -> None:
    # 59.9 % fewer than fixed polling: the best the policy reached before it read the pace itself.
    fixed_requests, fixed_p95 = figures("fixed")
    requests, p95 = figures("hint")
    assert requests <= fixed_requests * (1 - 0.599), f"hint: {requests} requests, fixed {fixed_requests}"
    assert p95 <= fixed_p95


def test_a_legacy_endpoint_with_only_status_and_percent_still_polls_less_than_fixed_polling() -> None:
    # No ETag, no Retry-After, no timestamp: the pace is dated by the poll's own waits, and the
    # poll closes in on the rough end by halves (bench/README.md says what that costs).
    fixed_requests, fixed_p95 = figures("fixed")
    requests, p95 = figures("legacy")
    assert requests < fixed_requests, f"legacy: {requests} requests, fixed {fixed_requests}"
    assert p95 <= 1.5 * fixed_p95, f"legacy: end known p95 {p95:.0f} ms, fixed {fixed_p95:.0f} ms"


def test_benchmark_1_has_no_copy_of_the_policy() -> None:
    # Its backoff rows are the library's poller under node, not a Python re-implementation.
    assert not any(name.startswith("backoff") for name in vars(requests_per_job)), "a Python backoff is back"
    driver = requests_per_job.DRIVER.read_text()
    assert re.search(r"""from ["']\.\./client/projects/job-events/src/lib/poll["']""", driver)
    assert set(requests_per_job.LIBRARY_ROWS) == set(SERVERS)
