"""Where a running host's CPU goes: py-spy samples it from outside, grouped by component.

py-spy (a dev requirement) reads the process's stacks `RATE` times a second (pausing it for
each read: without that, stacks come out cut short) and only while a thread runs (idle
stacks are left out), so the samples of a component over all samples is its share of the
process's CPU time. Each sample is
charged to the innermost frame that belongs to a component (see `component`): a leaf in the
standard library (json, ssl, socket) counts for the package that called it, so "Azure SDK
pipeline" includes the stdlib work its policies do. `inclusive` answers the other question:
the share of samples with a component anywhere on the stack. Samples whose leaf is a system call
(epoll, a socket send) are counted apart (`KERNEL`): under load they are mostly a thread that
waits for a core, not CPU.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RATE = 100  # samples per second
RAW = ("--format", "raw", "-o")

# (component, prefixes of a frame's file below site-packages, the repository or the standard
# library): the first match wins, so specific before general.
COMPONENTS: list[tuple[str, tuple[str, ...]]] = [
    ("azure-core pipeline policies", ("azure/core/pipeline/policies/",)),
    ("azure-core pipeline, tracing, rest", ("azure/core/",)),
    ("azure-data-tables serializer", ("azure/data/tables/_generated/_serialization.py",)),
    ("azure-data-tables (entities, client, batch)", ("azure/data/tables/",)),
    ("azure-storage-queue", ("azure/storage/",)),
    ("aiohttp (storage client transport)", ("aiohttp/", "multidict/", "yarl/", "aiohappyeyeballs/")),
    ("uvicorn + h11/httptools (HTTP server)", ("uvicorn/", "httptools/", "h11/")),
    ("starlette (routing, responses)", ("starlette/", "anyio/", "sse_starlette/")),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("opentelemetry (metrics)", ("opentelemetry/",)),
    ("jwt (stream tokens)", ("jwt/", "cryptography/")),
    ("app: jobs/", ("jobs/",)),
    ("app: notify/", ("notify/",)),
    ("app: api/ + function_app", ("api/", "function_app.py", "services.py", "errors.py", "settings.py")),
    ("app: telemetry/", ("telemetry/",)),
    ("local host (queue worker, function shim)", ("local_host/",)),
    ("logging", ("logging/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
]
# What the host was doing, by a function on the stack (file prefix, function; "" for any):
# a sample counts for the first activity in this order with a marker anywhere on its stack,
# so the hub's fan-out called from a status write counts as SSE delivery, a point read made
# for a poll as the poll, and a status write made by a job run as a status write.
ACTIVITIES: list[tuple[str, tuple[tuple[str, str], ...]]] = [
    (
        "SSE delivery: hub, streams, event writes",
        (
            ("notify/hub.py", "Hub.publish"),
            ("notify/streams.py", "StreamManager.body"),
            ("api/streaming.py", "EventStreamResponse.__call__"),
        ),
    ),
    ("polling baseline: GET status", (("api/handlers.py", "get_status"),)),
    (
        "SSE stream opens (token, read, subscribe)",
        (("api/handlers.py", "job_events"), ("api/handlers.py", "mint_token")),
    ),
    ("job starts: POST start (rows, queue send)", (("api/handlers.py", "start_job"),)),
    (
        "status writes (create, claim, progress, terminal)",
        (("jobs/store.py", "TableStatusStore._mutate"), ("jobs/store.py", "TableStatusStore.create")),
    ),
    ("feed + active-index rows (batched transactions)", (("jobs/batching.py", ""),)),
    ("feed watcher: feed reads, reconciliation", (("notify/watcher.py", ""),)),
    ("queue worker: receive, delete, leases", (("local_host/queue_worker.py", ""),)),
    ("job runs (runner, job code)", (("jobs/runner.py", ""), ("jobs/types/", ""))),
    ("other storage requests", (("jobs/store.py", ""), ("azure/", ""))),
    ("HTTP server: other (parsing, routing, metrics)", (("uvicorn/", ""), ("starlette/", ""))),
]
OTHER_ACTIVITY = "event loop, aiohttp callbacks, other"


def activity(frames: list[tuple[str, str]]) -> str:
    """The activity of one stack, given as (file, function) from the root to the leaf."""
    for name, markers in ACTIVITIES:
        for file, function in frames:
            if any(file.startswith(f) and (not fn or function == fn) for f, fn in markers):
                return name
    return OTHER_ACTIVITY


# Leaves that are a system call: waiting in epoll, or a socket send. On a loaded machine a
# thread there is mostly runnable and waiting for a core (py-spy counts it as active), so
# these samples are shown apart and left out of the CPU shares.
KERNEL = "(kernel: epoll wait, socket send)"
_SYSCALL_LEAVES = (
    ("EpollSelector.select", "selectors.py"),
    ("_SelectorSocketTransport.write", "asyncio/selector_events.py"),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_ROOT = str(Path(__file__).resolve().parent.parent) + "/"
_STDLIB = str(Path(contextlib.__file__).parent) + "/"


def relative(file: str) -> str:
    """A frame's file below site-packages, the repository or the standard library."""
    if "site-packages/" in file:
        return file.rsplit("site-packages/", 1)[1]
    for prefix in (_ROOT, _STDLIB):
        if file.startswith(prefix):
            return file[len(prefix) :]
    return file


def component(file: str) -> str | None:
    path = relative(file)
    for name, prefixes in COMPONENTS:
        if path.startswith(prefixes):
            return name
    return None


@dataclass
class Profile:
    samples: int
    exclusive: Counter[str]  # component -> samples charged to it
    inclusive: Counter[str]  # component -> samples with it anywhere on the stack
    functions: Counter[str]  # innermost app/library frame -> samples (a leaf in the stdlib counts for its caller)
    activities: Counter[str]  # what the host was doing (ACTIVITIES) -> samples, system-call leaves left out

    @property
    def kernel(self) -> int:
        return self.exclusive.get(KERNEL, 0)

    @property
    def running(self) -> int:
        """Samples outside the system-call leaves: the base of the CPU shares."""
        return self.samples - self.kernel

    def share(self, counts: Counter[str]) -> list[tuple[str, float]]:
        base = self.running
        return [(name, n / base) for name, n in counts.most_common() if name != KERNEL] if base else []


def parse(raw: str) -> Profile:
    """A py-spy `--format raw` file: one `frame;frame;...;leaf count` line per distinct stack."""
    exclusive: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [m for f in stack.split(";") if (m := _FRAME.match(f))]
        if frames and (frames[-1]["function"], relative(frames[-1]["file"])) in _SYSCALL_LEAVES:
            exclusive[KERNEL] += count
            continue
        activities[activity([(relative(m["file"]), m["function"]) for m in frames])] += count
        named = [(component(m["file"]), m) for m in frames]
        for name in {n for n, _ in named if n is not None}:
            inclusive[name] += count
        owner = next(((n, m) for n, m in reversed(named) if n is not None), None)
        if owner is None:
            exclusive[f"other ({relative(frames[-1]['file']) if frames else '?'})"] += count
            continue
        exclusive[owner[0]] += count
        functions[f"{owner[1]['function']} ({relative(owner[1]['file'])})"] += count
    return Profile(total, exclusive, inclusive, functions, activities)


def available() -> bool:
    return _binary() is not None


def _binary() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def recording(pid: int, out: Path, rate: int = RATE) -> Iterator[Path]:
    """Sample `pid` while the block runs; the raw stacks are in `out` afterwards."""
    binary = _binary()
    if binary is None:
        raise RuntimeError("py-spy is not installed (make install)")
    proc = subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--full-filenames", "--rate", str(rate), *RAW, str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield out
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if not out.exists():
            raise RuntimeError(f"py-spy wrote no profile of {pid}: {err.decode(errors='replace')[-500:]}")


def activity_table(profile: Profile, cpu_ms_per_change: float) -> list[dict[str, object]]:
    """What the host did, each with its CPU ms per change."""
    return [
        {"activity": name, "share": round(share, 3), "cpu_ms_per_change": round(share * cpu_ms_per_change, 3)}
        for name, share in profile.share(profile.activities)
    ]


def table(profile: Profile, cpu_ms_per_change: float, top: int = 14) -> list[dict[str, object]]:
    """Components by own samples outside the system-call leaves, each with its CPU ms per
    change (its share of the process's)."""
    inclusive = dict(profile.share(profile.inclusive))
    return [
        {
            "component": name,
            "share": round(share, 3),
            "cpu_ms_per_change": round(share * cpu_ms_per_change, 3),
            "inclusive_share": round(inclusive.get(name, share), 3),
        }
        for name, share in profile.share(profile.exclusive)[:top]
    ]
