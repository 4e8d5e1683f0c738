"""Shared plumbing for the benchmarks: the system under test, statistics, results.

Every benchmark
- starts its own Azurite and local host processes (the same ones the tests use,
  harness/processes.py) with the production defaults of the notification
  settings, not the tests' fast ones (`isolated_settings(fast=False)`);
- prints a table, and writes `bench/results/<name>.json` (machine, parameters,
  rows, details) and `bench/results/<name>.csv` (the table);
- is repeatable: fixed seeds, a warm-up, repeated rounds reported as medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Modules under test read settings at import; give them a harmless base (as tests/conftest.py does).
os.environ.setdefault("AUTH_MODE", "none")
os.environ.setdefault("AzureWebJobsStorage", "UseDevelopmentStorage=true")
os.environ.setdefault("JOBS_QUEUE_BACKEND", "storage")

from harness.processes import Azurite, LocalHostProcess, isolated_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"


# --- machine ---------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.release()})"
    commit = None
    with contextlib.suppress(Exception):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ramGiB": ram,
        "python": platform.python_version(),
        "os": os_name,
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
        "commit": commit or None,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ramGiB']} GiB RAM, Python {m['python']}, {m['os']}; "
        f"load {m['loadAverage']}, commit {m['commit']}"
    )


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise RLIMIT_NOFILE as far as allowed; child processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- the system under test -------------------------------------------------


def system_env(azurite: Azurite, **overrides: str) -> dict[str, str]:
    """Settings for one isolated system (own tables and queue), without the tests' speed-ups:
    the notification settings and the sweep keep their production defaults (`make run`'s
    faster sweep would otherwise apply)."""
    from settings import Settings

    sweep = Settings.model_fields["sweep_schedule"].default
    return isolated_settings(azurite, fast=False, **{"JOBS_SWEEP_SCHEDULE": sweep, **overrides})


@contextlib.contextmanager
def azurite_running() -> Iterator[Azurite]:
    server = Azurite.create()
    server.start()
    log(f"azurite on ports {server.blob}-{server.table}")
    try:
        yield server
    finally:
        server.destroy(grace=0)  # a throwaway emulator on a temporary folder: no graceful exit needed


@contextlib.contextmanager
def local_host(
    env: dict[str, str],
    *args: str,
    module: str = "local_host",
    ready_path: str = "/local/diagnostics",
    timeout: float = 60.0,
) -> Iterator[LocalHostProcess]:
    """A local host on `env` (storage operations counted in its /local/diagnostics), stopped
    afterwards; `module` is what `python -m` runs (bench.profile_host wraps the local host;
    bench.peers is a server to compare with, ready at /stats). Its log is deleted, after
    printing its tail if the server or the benchmark failed."""
    host = LocalHostProcess(env, args=args, module=module, ready_path=ready_path)
    failed = True
    try:
        host.start(timeout=timeout)
        log(f"{' '.join((module, *args))} on {host.base_url}")
        yield host
        failed = False
    finally:
        host.stop(timeout=20)
        log(f"{module} stopped")
        if failed:
            tail = "\n".join(host.log().splitlines()[-40:])
            print(f"--- last lines of {module}'s log ({host.log_path}) ---\n{tail}", file=sys.stderr, flush=True)
        if host.log_path is not None:
            with contextlib.suppress(OSError):
                host.log_path.unlink()


def settings_for(env: dict[str, str]) -> Any:
    """The settings a local host started on `env` runs with (its own defaults fill the gaps)."""
    from local_host.defaults import LOCAL_DEFAULTS
    from settings import Settings

    return Settings.model_validate({**LOCAL_DEFAULTS, **env})


class Fleet:
    """Jobs and stream tokens for the benchmark's streams, created straight in the store."""

    def __init__(self, env: dict[str, str]) -> None:
        from jobs.storage import table_service
        from jobs.store import TableStatusStore
        from local_host.diagnostics import OPERATIONS
        from notify.tokens import StreamTokens

        settings = settings_for(env)
        # Counted like the local host's clients: the naive baseline reads through this store.
        self.store = TableStatusStore(
            table_service(settings, on_request=OPERATIONS.hook("table")), settings.table_prefix
        )
        self.tokens = StreamTokens(settings.signing_key, ttl_seconds=3600)
        self.job_ids: list[str] = []

    async def create(self, count: int) -> None:
        """`count` more Queued Sleep jobs (no worker runs them)."""
        semaphore = asyncio.Semaphore(32)

        async def one() -> None:
            async with semaphore:
                job_id = str(uuid.uuid4())
                await self.store.create(job_id, "Sleep", "anonymous", 7200)
                self.job_ids.append(job_id)

        await asyncio.gather(*(one() for _ in range(count)))

    def path(self, job_id: str, last_event_id: str | None = None) -> str:
        """The job's /events path with a fresh token."""
        token, _ = self.tokens.issue("anonymous", [job_id])
        resume = f"&lastEventId={last_event_id}" if last_event_id else ""
        return f"/api/jobs/Sleep/{job_id}/events?access_token={token}{resume}"

    async def close(self) -> None:
        await self.store.close()


def recorded_settings(settings: Any) -> dict[str, Any]:
    """The settings that shape the figures, for the JSON results."""
    return {
        "WATCH_POLL_SECONDS": settings.watch_poll_seconds,
        "WATCH_RECONCILE_SECONDS": settings.watch_reconcile_seconds,
        "JOBS_SWEEP_SCHEDULE": settings.sweep_schedule,
        "SSE_KEEPALIVE_SECONDS": settings.sse_keepalive_seconds,
        "SSE_STREAM_LIFETIME_SECONDS": settings.sse_lifetime_seconds,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    return psutil.Process(pid).memory_info().rss


def ops_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    keys = set(before) | set(after)
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(keys) if after.get(k, 0) - before.get(k, 0)}


# --- statistics ------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolated percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def rnd(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# --- output ----------------------------------------------------------------


def format_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in cells:
        out.append("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(out)


def write_results(
    name: str,
    args: argparse.Namespace,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    machine_info: dict[str, Any],
    started: float,
    *,
    targets: list[dict[str, Any]] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Print the table and write <name>.json and <name>.csv into `args.out`; the other
    arguments are recorded as the run's parameters."""
    out_dir: Path = args.out
    params = {k: v for k, v in vars(args).items() if k != "out"}
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": name,
        "command": "python -m bench." + name + " " + " ".join(sys.argv[1:]),
        "machine": machine_info,
        "params": params,
        "columns": list(columns),
        "rows": rows,
        "targets": targets or [],
        "details": details or {},
        "seconds": round(time.monotonic() - started, 1),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    with open(out_dir / f"{name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    print()
    print(machine_line(machine_info))
    print(format_table(rows, columns))
    for target in targets or []:
        mark = {True: "MET", False: "MISSED", None: "n/a"}[target.get("met")]
        print(f"target: {target['target']}: measured {target['measured']} -> {mark}")
    print(f"results: {out_dir / (name + '.json')} and .csv ({result['seconds']} s)")
    return result


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON and CSV results")
    parser.add_argument("--seed", type=int, default=1234, help="random seed (job durations, phases)")
    return parser


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
