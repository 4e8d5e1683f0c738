"""Benchmark 4: stream capacity of one process, beside a bare endpoint and sse-starlette.

    .venv/bin/python -m bench.capacity [--streams 1000,5000] [--idle 20] [--events 5] [--repeat 1]

For each N and each server (in this order, one at a time, each in its own process):
- `bare`           uvicorn + Starlette StreamingResponse that only streams (bench/peers.py);
- `sse-starlette`  the same through sse_starlette.EventSourceResponse (bench/peers.py);
- `product`        the local host (`python -m local_host --no-worker --no-timers`), N streams
                   on one job's /events URL;

it warms up (opens and closes `--warmup` streams), opens N streams from a light raw-socket
client (bench/sseclient.py), and measures
- memory per stream: server RSS after the N streams opened minus RSS before, divided by N
  (`kib_per_stream`); and the marginal cost, RSS growth over the second N/2 streams divided
  by N/2 (`kib_marginal`), which no warm-up or start-up allocation can blur;
- CPU while idle: server CPU time over `--idle` seconds with keep-alives flowing
  (every `--keepalive` seconds per stream), and CPU per keep-alive;
- fan-out: one event to all N streams, `--events` times: spread (first to last stream) and
  trigger to last stream. The product's event is a status write from this process to Table
  Storage, so its trigger-to-last includes the feed watcher's tick (WATCH_POLL_SECONDS);
  the spread is the fan-out itself. Reported as medians.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx

from bench import common, sseclient

COLUMNS = [
    "server",
    "streams",
    "open_s",
    "rss_base_mib",
    "kib_per_stream",
    "kib_marginal",
    "vs_bare",
    "tasks_per_stream",
    "idle_cpu_pct",
    "keepalives_per_s",
    "us_cpu_per_keepalive",
    "fanout_spread_ms",
    "fanout_trigger_to_last_ms",
    "delivered",
]


class Target:
    """What the measurement needs from a server: where to stream, how to fire an event."""

    name: str
    port: int
    pid: int
    path: str

    async def fire(self, sequence: int) -> None:
        raise NotImplementedError

    def tasks(self) -> int | None:
        raise NotImplementedError


class PeerTarget(Target):
    def __init__(self, kind: str, peer: Any) -> None:
        self.name = kind
        self.port = peer.port
        self.pid = peer.proc.pid
        self.path = "/stream"
        self._client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{peer.port}", timeout=30)

    async def fire(self, sequence: int) -> None:
        (await self._client.post("/broadcast")).raise_for_status()

    def tasks(self) -> int | None:
        return int(httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=10).json()["tasks"])

    async def close(self) -> None:
        await self._client.aclose()


class ProductTarget(Target):
    def __init__(self, host: Any, env: dict[str, str]) -> None:
        self.name = "product"
        self.port = host.port
        self.pid = host.proc.pid
        self._host = host
        self._fleet = common.Fleet(env)
        self.job_id = ""

    async def setup(self) -> None:
        await self._fleet.create(1)
        self.job_id = self._fleet.job_ids[0]
        self.path = self._fleet.path(self.job_id)

    async def fire(self, sequence: int) -> None:
        from jobs.model import JobUpdate

        update = JobUpdate(progress=min(0.99, sequence / 1000), message=f"e{sequence}")
        await self._fleet.store.update(self.job_id, update)

    def tasks(self) -> int | None:
        return self._host.diagnostics().process.asyncio_tasks

    async def close(self) -> None:
        await self._fleet.close()


async def fan_out(
    target: Target, arrivals: list[float], n: int, events: int, gap: float, wait: float = 30.0
) -> list[tuple[float, list[float]]]:
    """Fire `events` events one at a time, `gap` s apart; for each, when it was fired and the
    arrival times the listener appended to `arrivals` (until all `n` streams had it, or `wait` s)."""
    out = []
    for sequence in range(1, events + 1):
        arrivals.clear()
        fired = time.monotonic()
        await target.fire(sequence)
        deadline = fired + wait
        while len(arrivals) < n and time.monotonic() < deadline:  # noqa: ASYNC110 (cheap poll)
            await asyncio.sleep(0.005)
        out.append((fired, list(arrivals)))
        await asyncio.sleep(gap)
    return out


async def measure(target: Target, n: int, args: Any) -> dict[str, Any]:
    arrivals: list[float] = []

    def listener(conn: sseclient.SseConnection, payload: bytes, now: float) -> None:
        arrivals.append(now)

    # Warm-up: the first few hundred streams pay for imports, caches and allocator arenas.
    warm = await sseclient.open_many("127.0.0.1", target.port, [target.path] * min(n, args.warmup))
    sseclient.close_all(warm)
    await asyncio.sleep(args.settle)
    tasks_before = target.tasks()
    rss_before = common.rss(target.pid)

    started = time.monotonic()
    half = n // 2
    conns = await sseclient.open_many(
        "127.0.0.1", target.port, [target.path] * half, listener=listener, concurrency=args.concurrency
    )
    try:
        await asyncio.sleep(args.settle / 2)
        rss_half = common.rss(target.pid)
        conns += await sseclient.open_many(
            "127.0.0.1", target.port, [target.path] * (n - half), listener=listener, concurrency=args.concurrency
        )
        open_seconds = time.monotonic() - started - args.settle / 2
        await asyncio.sleep(args.settle)  # let the server settle (GC, buffers)
        rss_open = common.rss(target.pid)
        tasks_open = target.tasks()

        # Idle with keep-alives flowing.
        keepalives_before = sum(c.keepalives for c in conns)
        cpu_before = common.cpu_seconds(target.pid)
        idle_started = time.monotonic()
        await asyncio.sleep(args.idle)
        idle = time.monotonic() - idle_started
        cpu_idle = common.cpu_seconds(target.pid) - cpu_before
        keepalives = sum(c.keepalives for c in conns) - keepalives_before
        alive = sum(1 for c in conns if not c.closed.done())

        # Fan-out: one event to every stream.
        spreads, trigger_to_last, delivered = [], [], []
        for fired, got in await fan_out(target, arrivals, n, args.events, args.gap):
            delivered.append(len(got))
            if got:
                spreads.append((max(got) - min(got)) * 1000)
                trigger_to_last.append((max(got) - fired) * 1000)
    finally:
        sseclient.close_all(conns)
    await asyncio.sleep(min(1.0, args.settle))

    per_stream = (rss_open - rss_before) / n
    tasks_per_stream = None
    if tasks_before is not None and tasks_open is not None:
        tasks_per_stream = (tasks_open - tasks_before) / n
    return {
        "server": target.name,
        "streams": n,
        "alive": alive,
        "open_s": round(open_seconds, 1),
        "rss_base_mib": round(rss_before / 2**20, 1),
        "kib_per_stream": round(per_stream / 1024, 2),
        "kib_marginal": round((rss_open - rss_half) / max(1, n - half) / 1024, 2),
        "tasks_per_stream": common.rnd(tasks_per_stream, 2),
        "idle_cpu_pct": round(cpu_idle / idle * 100, 1),
        "keepalives_per_s": round(keepalives / idle, 1),
        "us_cpu_per_keepalive": round(cpu_idle / keepalives * 1e6, 1) if keepalives else None,
        "fanout_spread_ms": common.rnd(common.median(spreads), 1),
        "fanout_trigger_to_last_ms": common.rnd(common.median(trigger_to_last), 1),
        "delivered": min(delivered) if delivered else 0,
        "raw": {"spreads_ms": spreads, "trigger_to_last_ms": trigger_to_last, "delivered": delivered},
    }


async def run_server(kind: str, n: int, args: Any, azurite: Any) -> dict[str, Any]:
    common.log(f"{kind}: {n} streams")
    if kind == "product":
        env = common.system_env(
            azurite,
            SSE_MAX_STREAMS=str(n + args.warmup + 100),
            SSE_KEEPALIVE_SECONDS=str(args.keepalive),
            SSE_STREAM_LIFETIME_SECONDS="200",
        )
        with common.local_host(env, "--no-worker", "--no-timers") as host:
            target = ProductTarget(host, env)
            await target.setup()
            try:
                return await measure(target, n, args)
            finally:
                await target.close()
    peer_args = ("--kind", kind, "--keepalive", str(args.keepalive))
    with common.local_host({}, *peer_args, module="bench.peers", ready_path="/stats", timeout=30) as peer:
        target = PeerTarget(kind, peer)
        try:
            return await measure(target, n, args)
        finally:
            await target.close()


async def run(args: Any) -> dict[str, Any]:
    started = time.monotonic()
    info = common.machine()
    limit = common.raise_fd_limit()
    sizes = [int(s) for s in args.streams.split(",")]
    if 2 * max(sizes) + 200 > limit:
        raise SystemExit(f"open-file limit {limit} is too low for {max(sizes)} streams")
    servers = [s for s in ("bare", "sse-starlette", "product") if s in args.servers.split(",")]
    runs: list[dict[str, Any]] = []
    with common.azurite_running() as azurite:
        for repeat in range(args.repeat):
            for n in sizes:
                for kind in servers:
                    result = await run_server(kind, n, args, azurite)
                    result["repeat"] = repeat
                    runs.append(result)
                    common.log(
                        f"  {kind} n={n}: {result['kib_per_stream']} KiB/stream, idle CPU {result['idle_cpu_pct']}%, "
                        f"fan-out spread {result['fanout_spread_ms']} ms"
                    )

    rows = []
    for n in sizes:
        for kind in servers:
            mine = [r for r in runs if r["server"] == kind and r["streams"] == n]
            row = {c: common.median([r.get(c) for r in mine]) for c in COLUMNS if c not in ("server", "streams")}
            row.update(server=kind, streams=n, delivered=min(r["delivered"] for r in mine))
            rows.append(row)
        bare = next((r for r in rows if r["server"] == "bare" and r["streams"] == n), None)
        for row in rows:
            if row["streams"] == n and bare and bare["kib_per_stream"]:
                row["vs_bare"] = round(row["kib_per_stream"] / bare["kib_per_stream"], 2)

    largest = max(sizes)
    product = next((r for r in rows if r["server"] == "product" and r["streams"] == largest), None)
    bare = next((r for r in rows if r["server"] == "bare" and r["streams"] == largest), None)
    peer = next((r for r in rows if r["server"] == "sse-starlette" and r["streams"] == largest), None)
    targets = []
    if product:
        targets.append(
            {
                "target": f"hold 5,000+ streams in one process (ran {largest})",
                "measured": f"{product['delivered']} of {largest} got every event",
                "met": largest >= 5000 and product["delivered"] == largest if largest >= 5000 else None,
            }
        )
        targets.append(
            {
                "target": "memory per stream <= 25 KB",
                "measured": f"{product['kib_per_stream']} KiB",
                "met": product["kib_per_stream"] * 1024 <= 25_000,
            }
        )
        if bare:
            targets.append(
                {
                    "target": "memory per stream within 1.5x of bare",
                    "measured": f"{product['vs_bare']}x",
                    "met": product["vs_bare"] is not None and product["vs_bare"] <= 1.5,
                }
            )
        if peer:
            targets.append(
                {
                    "target": "no worse than sse-starlette (memory/stream, idle CPU)",
                    "measured": f"{product['kib_per_stream']} vs {peer['kib_per_stream']} KiB; "
                    f"{product['idle_cpu_pct']} vs {peer['idle_cpu_pct']} % CPU",
                    "met": product["kib_per_stream"] <= peer["kib_per_stream"] * 1.05
                    and product["idle_cpu_pct"] <= peer["idle_cpu_pct"] * 1.1 + 0.5,
                }
            )
    details = {"runs": runs, "fdLimit": limit}
    return common.write_results("capacity", args, COLUMNS, rows, info, started, targets=targets, details=details)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument("--streams", default="1000,5000", help="comma-separated stream counts")
    parser.add_argument("--servers", default="bare,sse-starlette,product")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle measurement")
    parser.add_argument("--keepalive", type=float, default=5.0, help="keep-alive interval for all servers")
    parser.add_argument("--events", type=int, default=5, help="fan-out events per run")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between fan-out events")
    parser.add_argument("--warmup", type=int, default=50, help="streams opened and closed first")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to let a server settle before measuring")
    parser.add_argument("--concurrency", type=int, default=100, help="streams being opened at once")
    parser.add_argument("--repeat", type=int, default=1, help="runs per server and size (medians reported)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return {}


if __name__ == "__main__":
    main()
