"""Benchmark 1: HTTP requests per job, client side: fixed polling vs backoff polling vs SSE.

    .venv/bin/python -m bench.requests_per_job [--jobs 50] [--min-seconds 30] [--max-seconds 90] [--steps 5]

One local host (HTTP + worker) on Azurite runs `--jobs` Sleep jobs whose durations are drawn
from a seeded uniform distribution. For every job, at the same time and on the same job, the
client runs each strategy and counts the requests it sends until it knows the job finished:

- `fixed 5s poll`        GET the status every 5 s (the current Angular services);
- `backoff poll`         the client library's policy (client/.../poll.ts, backoff.ts): 1 s, then
                         5, 10, 20, 40, 60 s capped, back to 1 s when the status or the
                         progress changes; every wait is at least the answer's Retry-After,
                         which for a running job with progress is when it should be done;
                         the first poll waits too, since the start answer already said Queued
                         (`knownStatus`); sends If-None-Match (a 304 still counts);
- `backoff, no hint`     the same backoff ignoring Retry-After: what the server's estimate buys;
- `SSE per job`          one GET of the job's eventsUrl with the token from the start answer;
                         reconnects (planned close at SSE_STREAM_LIFETIME_SECONDS) are counted;
- `SSE /watch (1 conn)`  one POST /api/watch for up to 50 jobs and one stream for all of them.

The start request (POST .../start, one per job) is the same for every strategy: the table shows
requests per job without it and with it. "time to know" is when the client learned the job
had finished, after the terminal status was written (its `timestamp`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from bench import common
from harness import sse

COLUMNS = [
    "strategy",
    "jobs",
    "requests",
    "not_modified",
    "per_job",
    "per_job_incl_start",
    "cut_vs_fixed_pct",
    "know_p50_s",
    "know_p95_s",
    "know_max_s",
]

FIXED = "fixed 5s poll"
BACKOFF = "backoff poll"
BACKOFF_NO_HINT = "backoff, no hint"
SSE = "SSE per job"
WATCH = "SSE /watch (1 conn)"
STRATEGIES = [FIXED, BACKOFF, BACKOFF_NO_HINT, SSE, WATCH]


def backoff_delay(step: int, initial: float = 1.0, cap: float = 60.0) -> float:
    """client/projects/job-events/src/lib/backoff.ts: 1, 5, 10, 20, 40, 60, 60 ... seconds."""
    seconds = initial if step <= 0 else max(2 * initial, 5.0) * 2 ** (step - 1)
    return min(cap, seconds)


class Bench:
    def __init__(
        self,
        client: httpx.AsyncClient,
        interval: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.interval = interval
        self.sleep = sleep  # a test runs the pollers in virtual time (tests/bench/test_backoff_policy.py)
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.known: dict[str, dict[str, float]] = {s: {} for s in STRATEGIES}  # job -> wall time learned
        self.finished_at: dict[str, float] = {}  # job -> terminal timestamp (wall)

    def learned(self, strategy: str, status: dict[str, Any]) -> None:
        job_id = status["jobId"]
        self.known[strategy].setdefault(job_id, time.time())
        self.finished_at[job_id] = datetime.fromisoformat(status["timestamp"]).timestamp()

    async def get(self, strategy: str, url: str, **kwargs: Any) -> httpx.Response:
        self.requests[strategy] += 1
        response = await self.client.get(url, **kwargs)
        if response.status_code == 304:
            self.not_modified[strategy] += 1
        return response

    async def fixed(self, job: dict[str, Any]) -> None:
        while True:
            await self.sleep(self.interval)
            response = await self.get(FIXED, job["statusUrl"])
            status = response.json()
            if status["status"] in ("Completed", "Failed"):
                self.learned(FIXED, status)
                return

    async def backoff(self, job: dict[str, Any], strategy: str, hint: bool) -> None:
        # The start answer says Queued: that status is known before the first poll.
        step, etag, last_state, last_progress = 0, None, job["status"], None
        retry_after = 0.0
        while True:
            await self.sleep(max(backoff_delay(step), retry_after))
            headers = {"If-None-Match": etag} if etag else {}
            response = await self.get(strategy, job["statusUrl"], headers=headers)
            retry_after = float(response.headers.get("retry-after", "0") or 0) if hint else 0.0
            if response.status_code == 304:
                step += 1
                continue
            etag = response.headers.get("etag")
            status = response.json()
            if status["status"] in ("Completed", "Failed"):
                self.learned(strategy, status)
                return
            progressed = last_progress is not None and status["progress"] != last_progress
            step = 0 if progressed or status["status"] != last_state else step + 1
            last_state, last_progress = status["status"], status["progress"]

    async def _read_stream(self, strategy: str, url: str, params: dict[str, str], jobs: set[str]) -> str | None:
        """Read one stream; returns the last event id if the server closed it before every job finished."""
        self.requests[strategy] += 1
        last_id = None
        async with self.client.stream("GET", url, params=params, timeout=httpx.Timeout(300, connect=10)) as response:
            response.raise_for_status()
            async for event in sse.aevents(response.aiter_lines()):
                if event.id is not None:
                    last_id = event.id
                if event.event != "message":
                    continue  # `reconnect`: the server closes the stream next
                status = event.json()
                if status["status"] in ("Completed", "Failed"):
                    self.learned(strategy, status)
                    jobs.discard(status["jobId"])
        return last_id if jobs else None

    async def sse(self, job: dict[str, Any]) -> None:
        token, pending = job["token"], {job["jobId"]}
        params = {"access_token": token}
        while pending:
            last_id = await self._read_stream(SSE, job["eventsUrl"], params, pending)
            if not pending:
                return
            # A planned close (lifetime): resume with a fresh token.
            self.requests[SSE] += 1
            fresh = (await self.client.post(job["statusUrl"] + "/token")).json()
            params = {"access_token": fresh["token"], **({"lastEventId": last_id} if last_id else {})}

    async def watch(self, jobs: list[dict[str, Any]]) -> None:
        async def one(chunk: list[dict[str, Any]]) -> None:
            pending = {j["jobId"] for j in chunk}
            body = {"jobs": [{"jobType": j["jobType"], "jobId": j["jobId"]} for j in chunk]}
            last_id = None
            while pending:
                self.requests[WATCH] += 1
                grant = (await self.client.post("/api/watch", json=body)).json()
                params = {"access_token": grant["token"], **({"lastEventId": last_id} if last_id else {})}
                last_id = await self._read_stream(WATCH, grant["eventsUrl"], params, pending)

        await asyncio.gather(*(one(jobs[i : i + 50]) for i in range(0, len(jobs), 50)))


async def run(args: Any) -> dict[str, Any]:
    started = time.monotonic()
    info = common.machine()
    rng = random.Random(args.seed)
    durations = [round(rng.uniform(args.min_seconds, args.max_seconds), 1) for _ in range(args.jobs)]
    with common.azurite_running() as azurite, common.local_host(common.system_env(azurite)) as host:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(base_url=host.base_url, limits=limits, timeout=30) as client:
            # Warm-up: one short job end to end, not counted.
            warm = (await client.post("/api/jobs/Sleep/start", json={"seconds": 0.2, "steps": 1})).json()
            for _ in range(50):
                if (await client.get(warm["statusUrl"])).json()["status"] == "Completed":
                    break
                await asyncio.sleep(0.1)

            common.log(f"starting {args.jobs} Sleep jobs of {args.min_seconds}-{args.max_seconds} s")
            jobs = []
            for seconds in durations:
                response = await client.post("/api/jobs/Sleep/start", json={"seconds": seconds, "steps": args.steps})
                response.raise_for_status()
                jobs.append(response.json())
            bench = Bench(client, args.interval)
            tasks = []
            for job in jobs:
                tasks += [
                    bench.fixed(job),
                    bench.backoff(job, BACKOFF, hint=True),
                    bench.backoff(job, BACKOFF_NO_HINT, hint=False),
                    bench.sse(job),
                ]
            tasks.append(bench.watch(jobs))
            common.log(f"watching them {len(STRATEGIES)} ways at once (about {max(durations) + 60:.0f} s at most)")
            await asyncio.gather(*tasks)
            ops = host.diagnostics().storage_operations

    rows = []
    fixed_requests = bench.requests[FIXED]
    for strategy in STRATEGIES:
        requests = bench.requests[strategy]
        know = [bench.known[strategy][j] - bench.finished_at[j] for j in bench.known[strategy]]
        rows.append(
            {
                "strategy": strategy,
                "jobs": len(bench.known[strategy]),
                "requests": requests,
                "not_modified": bench.not_modified[strategy],
                "per_job": round(requests / args.jobs, 2),
                "per_job_incl_start": round(requests / args.jobs + 1, 2),
                "cut_vs_fixed_pct": round((1 - requests / fixed_requests) * 100, 1) if fixed_requests else None,
                "know_p50_s": common.rnd(common.percentile(know, 50), 2),
                "know_p95_s": common.rnd(common.percentile(know, 95), 2),
                "know_max_s": common.rnd(max(know) if know else None, 2),
            }
        )
    by = {r["strategy"]: r for r in rows}
    targets = [
        {
            "target": "SSE <= 2 requests per job (start included)",
            "measured": f"{by[SSE]['per_job_incl_start']} per job; /watch {by[WATCH]['per_job_incl_start']}",
            "met": by[SSE]["per_job_incl_start"] <= 2,
        },
        {
            "target": "backoff polling cuts >= 50% of fixed 5 s polling (client policy)",
            "measured": f"{by[BACKOFF]['cut_vs_fixed_pct']}% "
            f"(without the server's hint {by[BACKOFF_NO_HINT]['cut_vs_fixed_pct']}%)",
            "met": by[BACKOFF]["cut_vs_fixed_pct"] >= 50,
        },
    ]
    details = {"durations": durations, "serverStorageOperations": ops, "startRequests": args.jobs}
    return common.write_results(
        "requests_per_job", args, COLUMNS, rows, info, started, targets=targets, details=details
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--min-seconds", type=float, default=30.0)
    parser.add_argument("--max-seconds", type=float, default=90.0)
    parser.add_argument("--steps", type=int, default=5, help="progress reports per job (Sleep's default is 5)")
    parser.add_argument("--interval", type=float, default=5.0, help="the fixed poller's interval")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
