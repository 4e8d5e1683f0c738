"""Benchmark 5: start throughput: jobs started per second and start latency, worker running.

    .venv/bin/python -m bench.start_throughput [--concurrency 1,8,32] [--starts 300] [--rounds 3]

One local host (HTTP + queue worker + timers, production settings) on Azurite. A light
aiohttp client sends `--starts` POST /api/jobs/Sleep/start ({"seconds": 0, "steps": 1}: the
worker runs each job at once, so it competes for the same 2 cores) with `--concurrency`
requests in flight, after a warm-up of 30 starts. Per level and round: starts per second
(202 answers / wall time), latency p50/p95/p99, storage transactions per start (counted at
the SDK pipeline in the server), server CPU. Between levels the worker drains the queue.
The table shows the median over rounds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from bench import common

COLUMNS = [
    "concurrency",
    "starts",
    "starts_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "errors",
    "storage_ops_per_start",
    "worker_ops_per_job",
    "server_cpu_pct",
    "drain_s",
]

BODY = {"seconds": 0, "steps": 1}


async def start_many(session: aiohttp.ClientSession, url: str, count: int, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    remaining = count

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            async with session.post(url, json=BODY) as response:
                await response.read()
                if response.status != 202:
                    errors += 1
                    continue
            latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def completed(host: Any) -> int:
    return sum(q.succeeded for q in host.diagnostics().queue)


async def drain(host: Any, expected: int, limit: float = 180.0) -> float:
    t0 = time.monotonic()
    while completed(host) < expected and time.monotonic() - t0 < limit:  # noqa: ASYNC110 (polls another process)
        await asyncio.sleep(0.25)
    return time.monotonic() - t0


async def run(args: Any) -> dict[str, Any]:
    started = time.monotonic()
    info = common.machine()
    levels = [int(c) for c in args.concurrency.split(",")]
    runs: list[dict[str, Any]] = []
    with common.azurite_running() as azurite:
        env = common.system_env(azurite)
        with common.local_host(env) as host:
            url = f"{host.base_url}/api/jobs/Sleep/start"
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                total = 0
                common.log("warm-up: 30 starts")
                await start_many(session, url, 30, 4)
                total += 30
                await drain(host, total)
                for round_number in range(1, args.rounds + 1):
                    for concurrency in levels:
                        before = host.diagnostics().storage_operations
                        cpu0 = common.cpu_seconds(host.proc.pid)
                        t0 = time.monotonic()
                        latencies, errors = await start_many(session, url, args.starts, concurrency)
                        wall = time.monotonic() - t0
                        cpu = common.cpu_seconds(host.proc.pid) - cpu0
                        after = host.diagnostics().storage_operations
                        total += args.starts - errors
                        # Storage ops of the starts alone: counted before the worker has caught up (mostly);
                        # the worker's own ops are in the JSON details.
                        drain_seconds = await drain(host, total)
                        ops = common.ops_delta(before, after)
                        run = {
                            "round": round_number,
                            "concurrency": concurrency,
                            "starts": len(latencies),
                            "starts_per_s": len(latencies) / wall,
                            "p50_ms": common.percentile(latencies, 50),
                            "p95_ms": common.percentile(latencies, 95),
                            "p99_ms": common.percentile(latencies, 99),
                            "errors": errors,
                            "server_cpu_pct": cpu / wall * 100,
                            "drain_s": drain_seconds,
                            "ops_during_starts": ops,
                        }
                        runs.append(run)
                        common.log(
                            f"round {round_number}, concurrency {concurrency}: {run['starts_per_s']:.1f} starts/s, "
                            f"p99 {run['p99_ms']:.1f} ms"
                        )
                common.log("storage transactions per start and per run")
                cost = await cost_per_job(session, env, host, args.cost_starts)
                ops_all = host.diagnostics().storage_operations

    per_start = common.rnd(cost["start"], 2)
    rows = []
    for concurrency in levels:
        mine = [r for r in runs if r["concurrency"] == concurrency]
        rows.append(
            {
                "concurrency": concurrency,
                "starts": sum(r["starts"] for r in mine),
                "starts_per_s": common.rnd(common.median([r["starts_per_s"] for r in mine]), 1),
                "p50_ms": common.rnd(common.median([r["p50_ms"] for r in mine]), 1),
                "p95_ms": common.rnd(common.median([r["p95_ms"] for r in mine]), 1),
                "p99_ms": common.rnd(common.median([r["p99_ms"] for r in mine]), 1),
                "errors": sum(r["errors"] for r in mine),
                "storage_ops_per_start": per_start,
                "worker_ops_per_job": common.rnd(cost["run"], 2),
                "server_cpu_pct": common.rnd(common.median([r["server_cpu_pct"] for r in mine]), 1),
                "drain_s": common.rnd(common.median([r["drain_s"] for r in mine]), 1),
            }
        )
    best = max(rows, key=lambda r: r["starts_per_s"] or 0)
    targets = [
        {
            "target": "no target set in the issue: published figure",
            "measured": f"best {best['starts_per_s']} starts/s at concurrency {best['concurrency']}, "
            f"p99 {best['p99_ms']} ms",
            "met": None,
        }
    ]
    details = {"runs": runs, "costPerJob": cost, "serverStorageOperationsTotal": ops_all}
    return common.write_results(
        "start_throughput", args, COLUMNS, rows, info, started, targets=targets, details=details
    )


async def cost_per_job(session: aiohttp.ClientSession, env: dict[str, str], worker: Any, count: int) -> dict[str, Any]:
    """Storage transactions of one start (an HTTP-only host counts its own) and of one run (the worker)."""
    with common.local_host(env, "--no-worker", "--no-timers") as http_only:
        before_http = http_only.diagnostics().storage_operations
        before_worker = worker.diagnostics().storage_operations
        done = completed(worker)
        latencies, _ = await start_many(session, f"{http_only.base_url}/api/jobs/Sleep/start", count, 1)
        await drain(worker, done + len(latencies))
        start_ops = common.ops_delta(before_http, http_only.diagnostics().storage_operations)
        run_ops = common.ops_delta(before_worker, worker.diagnostics().storage_operations)
    n = max(1, len(latencies))
    return {
        "start": sum(start_ops.values()) / n,
        "run": sum(run_ops.values()) / n,
        "startOps": {k: round(v / n, 2) for k, v in start_ops.items()},
        "runOps": {k: round(v / n, 2) for k, v in run_ops.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated requests in flight")
    parser.add_argument("--starts", type=int, default=300, help="starts per level and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cost-starts", type=int, default=50, help="starts used to count storage ops per job")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
