"""Where a stream's memory and a fan-out's CPU go, in the product (a diagnostic, not a benchmark).

    .venv/bin/python -m bench.hotspots [--streams 2000] [--events 5] [--top 25]
    .venv/bin/python -m bench.hotspots --mode starts [--starts 200]

Runs the local host under bench/profile_host.py (tracemalloc + cProfile on signals), opens
`--streams` streams on one job, and reports
- memory: the tracemalloc difference between before and after opening the streams, grouped
  by the allocating line (and by file), in bytes per stream;
- fan-out: a cProfile of the server while `--events` status changes reach every stream,
  top functions by own time.
With `--mode starts`: a cProfile of a host with its worker while `--starts` jobs are started
and run (server CPU per job, and where it goes). Writes bench/results/hotspots.json (or
hotspots_starts.json) and prints the tables. Profiling slows the server, so the
absolute figures are higher than benchmark 4's; the shares are what matter.
"""

from __future__ import annotations

import asyncio
import pstats
import signal
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench import common, sseclient
from bench.capacity import ProductTarget, fan_out

PROFILER = "bench.profile_host"  # the local host, with tracemalloc and cProfile on signals


def exists(path: Path) -> bool:
    return path.exists()


async def wait_file(path: Path, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not exists(path):  # another process writes it
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        await asyncio.sleep(0.1)


def memory_table(before: Path, after: Path, n: int, top: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    old = tracemalloc.Snapshot.load(str(before))
    new = tracemalloc.Snapshot.load(str(after))
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*"),
    ]
    old, new = old.filter_traces(ignore), new.filter_traces(ignore)
    lines = []
    for stat in new.compare_to(old, "lineno")[:top]:
        frame = stat.traceback[0]
        lines.append(
            {
                "where": f"{short(frame.filename)}:{frame.lineno}",
                "bytes_per_stream": round(stat.size_diff / n, 1),
                "blocks_per_stream": round(stat.count_diff / n, 2),
            }
        )
    files = []
    for stat in new.compare_to(old, "filename")[:top]:
        files.append(
            {
                "where": short(stat.traceback[0].filename),
                "bytes_per_stream": round(stat.size_diff / n, 1),
                "blocks_per_stream": round(stat.count_diff / n, 2),
            }
        )
    return lines, files


def short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", str(common.ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def cpu_table(path: Path, top: int) -> list[dict[str, Any]]:
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (filename, lineno, name), (_cc, calls, tottime, cumtime, _callers) in entries[:top]:
        rows.append(
            {
                "function": f"{short(filename)}:{lineno}({name})",
                "calls": calls,
                "own_ms": round(tottime * 1000, 1),
                "own_pct": round(tottime / total * 100, 1) if total else None,
                "cum_ms": round(cumtime * 1000, 1),
            }
        )
    return rows


async def profile_starts(args: Any, info: dict[str, Any], started: float) -> dict[str, Any]:
    """cProfile of a host with the worker while `--starts` jobs are started (8 in flight) and run."""
    import aiohttp

    from bench.start_throughput import completed, drain, start_many

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, common.azurite_running() as azurite:
        profile_dir = Path(tmp)
        env = common.system_env(azurite, BENCH_PROFILE_DIR=str(profile_dir), BENCH_TRACEMALLOC_FRAMES="0")
        with common.local_host(env, module=PROFILER, timeout=120) as host:
            assert host.proc is not None
            url = f"{host.base_url}/api/jobs/Sleep/start"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                _, errors = await start_many(session, url, 30, 8)  # warm-up
                await drain(host, 30)
                host.proc.send_signal(signal.SIGUSR2)
                await wait_file(profile_dir / "cprofile-0.started")
                done = completed(host)
                _, more_errors = await start_many(session, url, args.starts, 8)
                if errors or more_errors:
                    raise RuntimeError(f"{errors + more_errors} starts were refused")
                await drain(host, done + args.starts)
                host.proc.send_signal(signal.SIGUSR2)
                await wait_file(profile_dir / "cprofile-0.done")
        stats = pstats.Stats(str(profile_dir / "cprofile-0.pstats"))
        own = cpu_table(profile_dir / "cprofile-0.pstats", args.top)
    total = stats.total_tt  # type: ignore[attr-defined]
    cumulative = []
    for (filename, lineno, name), (_cc, calls, _tt, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if any(k in filename for k in ("azure/core/pipeline", "jwt/", "api/", "jobs/", "notify/", "pydantic/main")):
            cumulative.append(
                {
                    "function": f"{short(filename)}:{lineno}({name})",
                    "calls": calls,
                    "cum_ms_per_job": round(cumtime * 1000 / args.starts, 2),
                    "cum_pct": round(cumtime / total * 100, 1) if total else None,
                }
            )
    cumulative.sort(key=lambda r: r["cum_ms_per_job"], reverse=True)
    print(f"\nstart + run of {args.starts} jobs: {total * 1000 / args.starts:.1f} ms of server CPU per job (profiled)")
    print("\ncumulative time per job in selected functions:")
    print(common.format_table(cumulative[: args.top], ["function", "calls", "cum_ms_per_job", "cum_pct"]))
    print("\nown time:")
    details = {"cpuMsPerJob": total * 1000 / args.starts, "cumulative": cumulative[: args.top * 2]}
    columns = ["function", "calls", "own_ms", "own_pct", "cum_ms"]
    return common.write_results("hotspots_starts", args, columns, own, info, started, details=details)


async def run(args: Any) -> dict[str, Any]:
    started = time.monotonic()
    if args.mode == "starts":
        return await profile_starts(args, common.machine(), started)
    info = common.machine()
    common.raise_fd_limit()
    n = args.streams
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, common.azurite_running() as azurite:
        profile_dir = Path(tmp)
        env = common.system_env(
            azurite,
            SSE_MAX_STREAMS=str(n + 200),
            SSE_STREAM_LIFETIME_SECONDS="200",
            BENCH_PROFILE_DIR=str(profile_dir),
        )
        with common.local_host(env, "--no-worker", "--no-timers", module=PROFILER, timeout=120) as host:
            assert host.proc is not None
            target = ProductTarget(host, env)
            try:
                await target.setup()
                arrivals: list[float] = []
                warm = await sseclient.open_many("127.0.0.1", host.port, [target.path] * 50)
                sseclient.close_all(warm)
                await asyncio.sleep(1)
                host.proc.send_signal(signal.SIGUSR1)
                await wait_file(profile_dir / "snapshot-0.done")
                conns = await sseclient.open_many(
                    "127.0.0.1", host.port, [target.path] * n, listener=lambda c, p, t: arrivals.append(t)
                )
                try:
                    await asyncio.sleep(2)
                    host.proc.send_signal(signal.SIGUSR1)
                    await wait_file(profile_dir / "snapshot-1.done")
                    common.log(f"memory snapshots taken around {n} streams; profiling {args.events} fan-outs")
                    host.proc.send_signal(signal.SIGUSR2)
                    await wait_file(profile_dir / "cprofile-0.started")
                    delivered = [len(got) for _, got in await fan_out(target, arrivals, n, args.events, 0.5)]
                    host.proc.send_signal(signal.SIGUSR2)
                    await wait_file(profile_dir / "cprofile-0.done")
                finally:
                    sseclient.close_all(conns)
            finally:
                await target.close()
        lines, files = memory_table(profile_dir / "snapshot-0.pickle", profile_dir / "snapshot-1.pickle", n, args.top)
        cpu = cpu_table(profile_dir / "cprofile-0.pstats", args.top)
    print("\nmemory per stream by allocating line (tracemalloc):")
    print(common.format_table(lines, ["where", "bytes_per_stream", "blocks_per_stream"]))
    print("\nmemory per stream by file:")
    print(common.format_table(files, ["where", "bytes_per_stream", "blocks_per_stream"]))
    total = sum(r["bytes_per_stream"] for r in files)
    print(f"\ntraced Python memory per stream (top {args.top} files): {total:.0f} bytes")
    print(f"\nfan-out CPU, {args.events} events x {n} streams (cProfile, own time):")
    details = {"memoryByLine": lines, "memoryByFile": files, "delivered": delivered}
    columns = ["function", "calls", "own_ms", "own_pct", "cum_ms"]
    return common.write_results("hotspots", args, columns, cpu, info, started, details=details)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--mode", choices=["streams", "starts"], default="streams")
    parser.add_argument("--starts", type=int, default=200, help="jobs started in --mode starts")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
