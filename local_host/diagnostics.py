"""`GET /local/diagnostics`: what the local host reports about itself, as one typed snapshot.

The benchmarks, the tests and the demo's metrics panel all read this model (the demo through
`client/src/app/diagnostics.ts`, held to its JSON schema by tests/local_host/test_diagnostics_contract.py).
Stream and watcher counts come from the OpenTelemetry instruments (telemetry/snapshot.py), the
only counters the app keeps; storage transactions from `OPERATIONS`, a hook that only the local
host (and the benchmarks' own clients) install on their storage clients.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from azure.core.pipeline import PipelineRequest
from azure.core.rest import HttpRequest
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from jobs.storage import RequestHook
from notify.streams import CloseReason
from telemetry.metrics import FeedRead, MetricName
from telemetry.snapshot import MetricsView, snapshot, total

if TYPE_CHECKING:
    from local_host.queue_worker import StorageQueueWorker
    from services import Services


class OperationCounter:
    """Counts storage transactions (each HTTP attempt), by service and method.

    Storage bills per transaction, so this is what the benchmarks and the diagnostics
    report. Pass `hook` as a storage hook (`build_services(storage_hook=...)`,
    `table_service(on_request=hook("table"))`): production clients carry none.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def hook(self, service: str) -> RequestHook:
        def count(request: PipelineRequest[HttpRequest]) -> None:
            self.add(f"{service} {request.http_request.method}")

        return count

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


# One per process: the local host's clients, or a benchmark's own.
OPERATIONS = OperationCounter()


class _Figures(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class StreamFigures(_Figures):
    open: int
    """Streams open now."""
    opened: int
    """Streams opened since the host started (`jobevents.streams.opened`)."""
    closed: dict[CloseReason, int]
    """Streams ended or refused, by reason, every reason present (`jobevents.streams.closed`)."""
    max: int
    """The per-process limit (`SSE_MAX_STREAMS`)."""


class HubFigures(_Figures):
    watched_jobs: int


class WatcherFigures(_Figures):
    running: bool
    polls: int
    """Change-feed queries that answered (`jobevents.feed.reads`, read=changes)."""
    reconciles: int
    """Reconciliation rounds (`jobevents.feed.reads`, read=reconcile)."""


class QueueFigures(_Figures):
    """One queue worker's message counts (local_host/queue_worker.py QueueWorkerStats)."""

    received: int
    succeeded: int
    failed: int
    poisoned: int
    released: int
    in_flight: int
    errors: int


class ProcessFigures(_Figures):
    asyncio_tasks: int
    open_files: int | None
    max_rss_kib: int = Field(alias="maxRssKiB")
    rss_kib: int | None = Field(alias="rssKiB")
    gc_objects: int | None
    """Counted only with LOCAL_HOST_COUNT_OBJECTS set (slow)."""


class Diagnostics(_Figures):
    """The body of `GET /local/diagnostics`."""

    streams: StreamFigures
    hub: HubFigures
    watcher: WatcherFigures
    queue: list[QueueFigures]
    storage_operations: dict[str, int]
    """Storage transactions by "service METHOD" (`OPERATIONS`), since the host started."""
    metrics: MetricsView
    process: ProcessFigures

    def total(self, name: MetricName, **match: bool | int | float | str) -> float:
        return total(self.metrics, name, **match)


def stream_figures(metrics: MetricsView, *, open_now: int, max_streams: int) -> StreamFigures:
    closed = {reason: int(total(metrics, MetricName.STREAMS_CLOSED, reason=reason.value)) for reason in CloseReason}
    return StreamFigures(
        open=open_now,
        opened=int(total(metrics, MetricName.STREAMS_OPENED)),
        closed=closed,
        max=max_streams,
    )


def watcher_figures(metrics: MetricsView, *, running: bool) -> WatcherFigures:
    return WatcherFigures(
        running=running,
        polls=int(total(metrics, MetricName.FEED_READS, read=FeedRead.CHANGES.value)),
        reconciles=int(total(metrics, MetricName.FEED_READS, read=FeedRead.RECONCILE.value)),
    )


def _current_rss_kib() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return None


def process_figures() -> ProcessFigures:
    return ProcessFigures(
        asyncio_tasks=len(asyncio.all_tasks()),
        open_files=len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None,
        max_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        rss_kib=_current_rss_kib(),
        gc_objects=len(gc.get_objects()) if os.environ.get("LOCAL_HOST_COUNT_OBJECTS") else None,
    )


def read_diagnostics(services: Services, workers: Sequence[StorageQueueWorker]) -> Diagnostics:
    metrics = snapshot()
    return Diagnostics(
        streams=stream_figures(metrics, open_now=services.streams.open_count, max_streams=services.streams.max_streams),
        hub=HubFigures(watched_jobs=len(services.hub.watched())),
        watcher=watcher_figures(metrics, running=services.watcher.running),
        queue=[QueueFigures(**vars(w.stats)) for w in workers],
        storage_operations=OPERATIONS.snapshot(),
        metrics=metrics,
        process=process_figures(),
    )
