"""Benchmark 6: how much the app logs, per job and per stream-hour (the telemetry term of the cost model).

    .venv/bin/python -m bench.log_volume [--jobs 50] [--streams 20] [--window 65] [--lifetime 30]

What Application Insights ingests from the app is every record that reaches the root
logger at INFO or above (the Functions worker sets the root logger to INFO). The HTTP
functions run as in Azure, in local_host/worker_http.py (the worker's uvicorn, default
logging config); the queue-triggered runner in a local host beside it, as on Flex where
the worker runs on other instances. Records of the local host itself (`local_host.*`) and
of uvicorn (`uvicorn.*`) are left out: Azure has neither; the host's own request
telemetry is not the app's log.

- jobs: `--jobs` Sleep jobs of 2 s (4 progress steps), started one by one, watched as the
  Angular client does (one POST /watch, one stream carrying all of them, by its cookie);
  records and bytes per job, both processes.
- streams: `--streams` idle streams (jobs that stay Queued) held for `--window` seconds,
  reconnecting at each planned close, with a `--lifetime` s stream lifetime; records per
  reconnect cycle, scaled to stream-hours at the production lifetime.

Bytes are the message and its correlation tags as written. A trace row in Application
Insights also carries its columns (time, severity, role, operation id, SDK version, ...):
`ROW_OVERHEAD_BYTES` is the assumption for those; check it on a first deploy with
`traces | summarize avg(_BilledSize)` (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench import common

ROW_OVERHEAD_BYTES = 500  # assumption: the non-message columns of one trace row
PRODUCTION_LIFETIME_SECONDS = 180.0
MEAN_LIFETIME_FACTOR = 0.95  # streams.py jitters each lifetime up to 10 % shorter
COLUMNS = ["phase", "process", "records", "message_bytes", "per", "records_per", "bytes_per", "ingested_bytes_per"]

# "LEVEL name: message" (the worker stand-in) or "date time LEVEL name: message" (the local host)
_RECORD = re.compile(r"^(?:\S+ \S+ )?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+([\w.]+): (.*)$")
_NOT_THE_APP = ("uvicorn", "local_host")


@dataclass
class Volume:
    records: int = 0
    message_bytes: int = 0

    def ingested(self) -> int:
        return self.message_bytes + self.records * ROW_OVERHEAD_BYTES


def app_records(text: str) -> Volume:
    volume = Volume()
    for line in text.splitlines():
        found = _RECORD.match(line)
        if found and not found.group(2).startswith(_NOT_THE_APP):
            volume.records += 1
            volume.message_bytes += len(found.group(3).encode())
    return volume


def since(process: Any, offset: int) -> tuple[Volume, int]:
    """The app's records a process wrote after `offset` bytes of its log, and the new offset."""
    text = process.log()
    return app_records(text[offset:]), len(text)


async def watch_until_done(client: httpx.AsyncClient, jobs: list[dict[str, Any]]) -> None:
    """The Angular client's way: one /watch for the jobs, one stream by its cookie, to the end."""
    grant = (
        await client.post("/api/watch", json={"jobs": [{"jobType": "Sleep", "jobId": j["jobId"]} for j in jobs]})
    ).json()
    from api.cookies import COOKIE_NAME

    async with client.stream("GET", grant["eventsUrl"], headers={"Cookie": f"{COOKIE_NAME}={grant['token']}"}) as r:
        assert r.status_code == 200, r.status_code
        async for _ in r.aiter_lines():
            pass


async def hold(client: httpx.AsyncClient, job: dict[str, Any], until: float) -> int:
    """One idle stream, reopened at each planned close until `until`; the number of opens."""
    from api.cookies import COOKIE_NAME

    opens, last = 0, None
    while time.monotonic() < until:
        grant = (await client.post(f"/api/jobs/Sleep/{job['jobId']}/token")).json()
        params = {"lastEventId": last} if last else None
        headers = {"Cookie": f"{COOKIE_NAME}={grant['token']}"}
        opens += 1
        try:
            async with asyncio.timeout(max(0.1, until - time.monotonic())):
                async with client.stream("GET", grant["eventsUrl"], params=params, headers=headers) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("id: "):
                            last = line[4:]
        except TimeoutError:
            break
    return opens


async def run(args: Any) -> dict[str, Any]:
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with common.azurite_running() as azurite:
        env = common.system_env(azurite, SSE_STREAM_LIFETIME_SECONDS=str(args.lifetime))
        with (
            common.local_host(env, "--no-timers") as runner,
            common.local_host(env, module="local_host.worker_http", ready_path="/api/health") as http,
        ):
            async with httpx.AsyncClient(base_url=http.base_url, timeout=60) as client:
                http_at, runner_at = len(http.log()), len(runner.log())
                jobs = [
                    (await client.post("/api/jobs/Sleep/start", json={"seconds": 2, "steps": 4})).json()
                    for _ in range(args.jobs)
                ]
                await watch_until_done(client, jobs)
                await asyncio.sleep(1)
                http_v, http_at = since(http, http_at)
                runner_v, runner_at = since(runner, runner_at)
                for name, v in (("http", http_v), ("worker", runner_v)):
                    rows.append(row("jobs", name, v, "job", args.jobs, 1))
                total = Volume(http_v.records + runner_v.records, http_v.message_bytes + runner_v.message_bytes)
                rows.append(row("jobs", "both", total, "job", args.jobs, 1))

                fleet = common.Fleet(env)  # Queued jobs that no worker runs
                await fleet.create(args.streams)
                await fleet.close()
                idle = [{"jobId": job_id} for job_id in fleet.job_ids]
                common.log(f"holding {args.streams} streams for {args.window}s (lifetime {args.lifetime}s)")
                _, http_at = since(http, http_at)
                _, runner_at = since(runner, runner_at)
                until = time.monotonic() + args.window
                opens = sum(await asyncio.gather(*(hold(client, job, until) for job in idle)))
                http_v, _ = since(http, http_at)
                runner_v, _ = since(runner, runner_at)
                # Records per stream-open, times the opens of one stream-hour at the production lifetime.
                per_hour = 3600 / (PRODUCTION_LIFETIME_SECONDS * MEAN_LIFETIME_FACTOR)
                for name, v in (("http", http_v), ("worker", runner_v)):
                    rows.append(row("streams", name, v, "stream-hour", opens, per_hour))
    return common.write_results(
        "log_volume",
        args,
        COLUMNS,
        rows,
        common.machine(),
        started,
        details={"row_overhead_bytes": ROW_OVERHEAD_BYTES, "stream_opens": opens},
    )


def row(phase: str, process: str, volume: Volume, per: str, count: int, scale: float) -> dict[str, Any]:
    return {
        "phase": phase,
        "process": process,
        "records": volume.records,
        "message_bytes": volume.message_bytes,
        "per": per,
        "records_per": common.rnd(volume.records / count * scale, 2),
        "bytes_per": common.rnd(volume.message_bytes / count * scale, 0),
        "ingested_bytes_per": common.rnd(volume.ingested() / count * scale, 0),
    }


def main() -> None:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--window", type=float, default=65.0, help="seconds the idle streams are held")
    parser.add_argument("--lifetime", type=int, default=30, help="stream lifetime during the run (s)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
