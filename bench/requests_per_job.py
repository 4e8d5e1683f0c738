"""Benchmark 1: HTTP requests per job, client side: fixed polling vs backoff polling vs SSE.

    .venv/bin/python -m bench.requests_per_job [--jobs 50] [--min-seconds 30] [--max-seconds 90] [--steps 5]

One local host (HTTP + worker) on Azurite runs `--jobs` Sleep jobs whose durations are drawn
from a seeded uniform distribution. For every job, at the same time and on the same job, the
client runs each strategy and counts the requests it sends until it knows the job finished:

- `fixed 5s poll`        GET the status every 5 s (the current Angular services);
- `backoff poll`         the client library's own poller (client/.../poll.ts, PollPlanner in
                         backoff.ts), compiled and run under node with Angular's HttpClient
                         (bench/poll_driver.ts): 1 s, then 5, 10, 20 ... s, held (not reset)
                         on a change; once the job reports progress, the next poll at the end
                         its pace gives (+1 s); every wait at least the answer's Retry-After,
                         which for a running job with progress is when it should be done; the
                         first poll waits too, since the start answer said Queued
                         (`knownStatus`); sends If-None-Match (a 304 still counts);
- `backoff, no hint`     the same poller, Retry-After removed from every answer: the policy alone
                         (it still reads the payload's timestamps);
- `backoff, legacy`      the same poller through a JobStatusAdapter, shown a legacy endpoint:
                         no ETag, no Retry-After, only {state, percent} (no timestamp);
- `SSE per job`          one GET of the job's eventsUrl with the token from the start answer;
                         reconnects (planned close at SSE_STREAM_LIFETIME_SECONDS) are counted;
- `SSE /watch (1 conn)`  one POST /api/watch for up to 50 jobs and one stream for all of them.

The start request (POST .../start, one per job) is the same for every strategy: the table shows
requests per job without it and with it. "time to know" is when the client learned the job
had finished, after the terminal status was written (its `timestamp`).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench import common
from harness import sse

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "bench" / "poll_driver.ts"
BUNDLER = ROOT / "tests" / "support" / "typescript.mjs"  # bundles with the client's esbuild

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
BACKOFF_LEGACY = "backoff, legacy endpoint"
SSE = "SSE per job"
WATCH = "SSE /watch (1 conn)"
STRATEGIES = [FIXED, BACKOFF, BACKOFF_NO_HINT, BACKOFF_LEGACY, SSE, WATCH]
# bench/poll_driver.ts's variants: the library's poller, shown the server three ways.
LIBRARY_ROWS = {"hint": BACKOFF, "no hint": BACKOFF_NO_HINT, "legacy": BACKOFF_LEGACY}


class LibraryPoller:
    """The client library's own poller under node (bench/poll_driver.ts), for every backoff row."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Bundles and starts the driver; it waits for the jobs on stdin."""
        node = shutil.which("node")
        if node is None:
            raise SystemExit("node is not on PATH (make install installs the client)")
        self.process = await asyncio.create_subprocess_exec(
            node,
            str(BUNDLER),
            "run",
            str(DRIVER),
            json.dumps({"apiUrl": self.api_url}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def poll(self, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        """Polls every job with every variant; the driver's counts and learned times."""
        assert self.process and self.process.stdin
        refs = [{"jobType": j["jobType"], "jobId": j["jobId"]} for j in jobs]
        self.process.stdin.write(json.dumps(refs).encode() + b"\n")
        await self.process.stdin.drain()
        out, err = await self.process.communicate()
        if self.process.returncode != 0:
            raise RuntimeError(f"bench/poll_driver.ts failed:\n{err.decode()}")
        answer: dict[str, Any] = json.loads(out)
        return answer


class Bench:
    def __init__(self, client: httpx.AsyncClient, interval: float) -> None:
        self.client = client
        self.interval = interval
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
            await asyncio.sleep(self.interval)
            response = await self.get(FIXED, job["statusUrl"])
            status = response.json()
            if status["status"] in ("Completed", "Failed"):
                self.learned(FIXED, status)
                return

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
            # Bundled and started now, so that it polls when the other strategies do.
            library_poller = LibraryPoller(f"{host.base_url}/api")
            await library_poller.start()
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
                tasks += [bench.fixed(job), bench.sse(job)]
            tasks.append(bench.watch(jobs))
            common.log(f"watching them {len(STRATEGIES)} ways at once (about {max(durations) + 60:.0f} s at most)")
            library, *_ = await asyncio.gather(library_poller.poll(jobs), *tasks)
            ops = host.diagnostics().storage_operations
    for variant, strategy in LIBRARY_ROWS.items():
        counts = library[variant]
        bench.requests[strategy] = counts["requests"]
        bench.not_modified[strategy] = counts["notModified"]
        bench.known[strategy] = {job_id: ms / 1000 for job_id, ms in counts["learned"].items()}

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
        {
            "target": "without the hint: >= 50% fewer than fixed 5 s polling, time to know p95 no worse",
            "measured": f"{by[BACKOFF_NO_HINT]['cut_vs_fixed_pct']}%, p95 {by[BACKOFF_NO_HINT]['know_p95_s']} s "
            f"(fixed {by[FIXED]['know_p95_s']} s); legacy endpoint {by[BACKOFF_LEGACY]['cut_vs_fixed_pct']}%, "
            f"p95 {by[BACKOFF_LEGACY]['know_p95_s']} s",
            "met": by[BACKOFF_NO_HINT]["cut_vs_fixed_pct"] >= 50
            and by[BACKOFF_NO_HINT]["know_p95_s"] <= by[FIXED]["know_p95_s"],
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
