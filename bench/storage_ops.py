"""Benchmark 3: storage operations per second vs open streams, real watcher vs naive baseline.

    .venv/bin/python -m bench.storage_ops [--streams 1,10,100,1000,2000] [--window 31] [--churn-streams 1000]

Real watcher: one local host (`--no-worker --no-timers`, production WATCH_POLL_SECONDS and
WATCH_RECONCILE_SECONDS) holds N SSE streams, each on a job of its own (raw-socket client,
bench/sseclient.py). Its storage transactions are counted at the SDK pipeline
(local_host.diagnostics.OPERATIONS, read from /local/diagnostics) over `--window` seconds of steady state
(31 s: one reconciliation falls in it). Meanwhile this process writes one status change per
second to a watched job, so the feed is never empty and fan-out really happens.

Naive baseline (bench/naive_watcher.py, in this process): what a watcher that reads each
stream's job once per tick costs: N point reads (TableStatusStore.get) every WATCH_POLL_SECONDS,
counted with the same OPERATIONS counter over `--naive-window` seconds. "needed" is N / tick;
"measured" is what Azurite actually served on this machine (it falls behind at high N).

Churn (reconnects): streams end at SSE_STREAM_LIFETIME_SECONDS and the browser reconnects. A
second host with a 30 s lifetime holds `--churn-streams` reconnecting streams; its measured
ops/s is scaled to the production lifetime in the last row.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from bench import common, sseclient
from bench.naive_watcher import NaiveWatcher

COLUMNS = [
    "design",
    "streams",
    "ops_per_s",
    "needed_ops_per_s",
    "table_get_per_s",
    "reconciles",
    "feed_polls_per_s",
    "server_cpu_pct",
    "events_delivered",
]


async def writer(fleet: common.Fleet, watched: list[str], stop: asyncio.Event, rng: random.Random) -> int:
    """One status change per second on a watched job (cross-process: through the feed)."""
    from jobs.model import JobUpdate

    writes = 0
    progress: dict[str, float] = {}
    while not stop.is_set():
        job_id = rng.choice(watched)
        progress[job_id] = round(progress.get(job_id, 0.0) + 0.001, 4)
        await fleet.store.update(job_id, JobUpdate(progress=progress[job_id]))
        writes += 1
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    return writes


async def measure_real(host: Any, conns: list[sseclient.SseConnection], window: float) -> dict[str, Any]:
    before = host.diagnostics()
    events_before = sum(c.data_events for c in conns)
    cpu_before = common.cpu_seconds(host.proc.pid)
    t0 = time.monotonic()
    await asyncio.sleep(window)
    elapsed = time.monotonic() - t0
    after = host.diagnostics()
    cpu = common.cpu_seconds(host.proc.pid) - cpu_before
    ops = common.ops_delta(before.storage_operations, after.storage_operations)
    return {
        "seconds": elapsed,
        "ops": ops,
        "ops_per_s": sum(ops.values()) / elapsed,
        "table_get_per_s": ops.get("table GET", 0) / elapsed,
        "polls_per_s": (after.watcher.polls - before.watcher.polls) / elapsed,
        "reconciles": after.watcher.reconciles - before.watcher.reconciles,
        "cpu_pct": cpu / elapsed * 100,
        "events": sum(c.data_events for c in conns) - events_before,
        "open": after.streams.open,
    }


async def churn(env: dict[str, str], fleet: common.Fleet, args: Any) -> dict[str, Any]:
    """Reconnecting streams on a host with a short lifetime: the cost of planned closes."""
    lifetime = 30.0
    churn_env = {**env, "SSE_STREAM_LIFETIME_SECONDS": str(lifetime), "SSE_MAX_STREAMS": str(args.churn_streams * 2)}
    jobs = fleet.job_ids[: args.churn_streams]
    stop = asyncio.Event()
    reconnects = 0
    with common.local_host(churn_env, "--no-worker", "--no-timers") as host:
        rng = random.Random(args.seed + 1)

        async def keep_open(job_id: str) -> None:
            nonlocal reconnects
            await asyncio.sleep(rng.uniform(0, lifetime))  # spread the lifetimes as real arrivals would
            while not stop.is_set():
                try:
                    conn = await sseclient.open_stream("127.0.0.1", host.port, fleet.path(job_id), wait=30)
                except (ConnectionError, TimeoutError, OSError):
                    await asyncio.sleep(1)
                    continue
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait([conn.closed, stopped], return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                conn.abort()
                if not stop.is_set():
                    reconnects += 1
                    await asyncio.sleep(rng.uniform(0.5, 3.0))  # the `retry:` delay

        common.log(f"churn: {len(jobs)} reconnecting streams, lifetime {lifetime:g} s")
        tasks = [asyncio.ensure_future(keep_open(j)) for j in jobs]
        await asyncio.sleep(lifetime + 5)  # every stream has opened once; steady churn from here
        reconnects = 0
        result = await measure_real(host, [], args.churn_window)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    result["reconnects_per_s"] = reconnects / result["seconds"]
    result["lifetime"] = lifetime
    return result


async def run(args: Any) -> dict[str, Any]:
    started = time.monotonic()
    info = common.machine()
    limit = common.raise_fd_limit()
    sizes = sorted(int(s) for s in args.streams.split(","))
    rng = random.Random(args.seed)
    real: dict[int, dict[str, Any]] = {}
    naive: dict[int, dict[str, Any]] = {}
    churn_result = None
    from local_host.diagnostics import OPERATIONS

    with common.azurite_running() as azurite:
        production = common.settings_for(common.system_env(azurite))
        tick, production_lifetime = production.watch_poll_seconds, production.sse_lifetime_seconds
        # Streams outlive the windows here; churn() measures the planned closes.
        env = common.system_env(azurite, SSE_STREAM_LIFETIME_SECONDS="200", SSE_MAX_STREAMS=str(max(sizes) + 100))
        fleet = common.Fleet(env)
        try:
            with common.local_host(env, "--no-worker", "--no-timers") as host:
                needed = max(max(sizes), args.churn_streams)
                common.log(f"creating {needed} jobs (Queued; no worker runs them)")
                await fleet.create(needed)
                conns: list[sseclient.SseConnection] = []
                for n in sizes:
                    more = fleet.job_ids[len(conns) : n]
                    conns += await sseclient.open_many("127.0.0.1", host.port, [fleet.path(j) for j in more])
                    await asyncio.sleep(3)  # the opening reads are a one-time cost: let them pass
                    common.log(f"real watcher, {n} streams: {args.window:g} s window")
                    stop = asyncio.Event()
                    write_task = asyncio.ensure_future(writer(fleet, fleet.job_ids[:n], stop, rng))
                    real[n] = await measure_real(host, conns, args.window)
                    stop.set()
                    real[n]["writes"] = await write_task
                    common.log(f"  {real[n]['ops_per_s']:.2f} ops/s {real[n]['ops']}")

                    common.log(f"naive baseline, {n} streams: {args.naive_window:g} s window")
                    baseline = NaiveWatcher(fleet.store, fleet.job_ids[:n], tick=tick)
                    before = OPERATIONS.snapshot()
                    t0 = time.monotonic()
                    await baseline.run_for(args.naive_window)
                    elapsed = time.monotonic() - t0
                    ops = common.ops_delta(before, OPERATIONS.snapshot())
                    naive[n] = {
                        "seconds": elapsed,
                        "ops": ops,
                        "ops_per_s": sum(ops.values()) / elapsed,
                        "needed_ops_per_s": n / tick,
                        "ticks": baseline.ticks,
                        "late_ticks": baseline.late_ticks,
                    }
                    common.log(f"  {naive[n]['ops_per_s']:.1f} ops/s (needed {n / tick:.1f})")
                sseclient.close_all(conns)
            # The steady-state host (and its feed watcher) is stopped: the churn host is measured alone.
            if args.churn_streams:
                churn_result = await churn(env, fleet, args)
        finally:
            await fleet.close()

    rows = []
    for n in sizes:
        r, b = real[n], naive[n]
        rows.append(
            {
                "design": "real watcher (feed)",
                "streams": n,
                "ops_per_s": round(r["ops_per_s"], 2),
                "needed_ops_per_s": round(1 / tick, 2),
                "table_get_per_s": round(r["table_get_per_s"], 2),
                "reconciles": r["reconciles"],
                "feed_polls_per_s": round(r["polls_per_s"], 2),
                "server_cpu_pct": round(r["cpu_pct"], 1),
                "events_delivered": r["events"],
            }
        )
    for n in sizes:
        b = naive[n]
        rows.append(
            {
                "design": "naive (1 read/stream/tick)",
                "streams": n,
                "ops_per_s": round(b["ops_per_s"], 1),
                "needed_ops_per_s": round(b["needed_ops_per_s"], 1),
                "table_get_per_s": round(b["ops"].get("table GET", 0) / b["seconds"], 1),
                "reconciles": None,
                "feed_polls_per_s": None,
                "server_cpu_pct": None,
                "events_delivered": None,
            }
        )
    if churn_result is not None:
        c = churn_result
        # Only the reconnects' share scales with the lifetime; the watcher's share does not.
        watcher_part = real[min(sizes, key=lambda n: abs(n - args.churn_streams))]["ops_per_s"]
        scale = c["lifetime"] / production_lifetime
        c["scaled_ops_per_s"] = watcher_part + (c["ops_per_s"] - watcher_part) * scale
        rows.append(
            {
                "design": f"real + reconnects, {c['lifetime']:g} s lifetime",
                "streams": args.churn_streams,
                "ops_per_s": round(c["ops_per_s"], 2),
                "needed_ops_per_s": None,
                "table_get_per_s": round(c["table_get_per_s"], 2),
                "reconciles": None,
                "feed_polls_per_s": round(c["polls_per_s"], 2),
                "server_cpu_pct": round(c["cpu_pct"], 1),
                "events_delivered": None,
            }
        )
        rows.append(
            {
                "design": f"real + reconnects, {production_lifetime:g} s lifetime (scaled)",
                "streams": args.churn_streams,
                "ops_per_s": round(c["scaled_ops_per_s"], 2),
                "needed_ops_per_s": None,
                "table_get_per_s": round(c["table_get_per_s"] * scale, 2),
                "reconciles": None,
                "feed_polls_per_s": None,
                "server_cpu_pct": None,
                "events_delivered": None,
            }
        )
    worst = max(real[n]["ops_per_s"] for n in sizes)
    targets = [
        {
            "target": "<= 2 storage ops/s per process at any stream count (steady streams)",
            "measured": f"max {worst:.2f} ops/s over {sizes}",
            "met": worst <= 2.0,
        }
    ]
    if churn_result is not None:
        with_churn = rows[-1]["ops_per_s"]
        targets.append(
            {
                "target": f"<= 2 ops/s including reconnects at {production_lifetime:g} s lifetime "
                f"({args.churn_streams} streams)",
                "measured": f"{with_churn} ops/s",
                "met": with_churn <= 2.0,
            }
        )
    details = {
        "real": real,
        "naive": naive,
        "churn": churn_result,
        "settings": common.recorded_settings(production),
        "fdLimit": limit,
    }
    return common.write_results("storage_ops", args, COLUMNS, rows, info, started, targets=targets, details=details)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument("--streams", default="1,10,100,1000,2000")
    parser.add_argument("--window", type=float, default=31.0, help="seconds counted per stream count (real)")
    parser.add_argument("--naive-window", type=float, default=8.0, help="seconds counted per stream count (naive)")
    parser.add_argument("--churn-streams", type=int, default=1000, help="0 skips the reconnect measurement")
    parser.add_argument("--churn-window", type=float, default=30.0)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
