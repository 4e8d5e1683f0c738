"""The figures an operator needs, as OpenTelemetry instruments.

- requests by route and status (the polling storm, or its absence);
- open streams, streams opened (and resumed) and closed by reason;
- polls, and polls made after a client fell back from SSE;
- the feed watcher's reads (its storage cost per process);
- job queue wait and run time by job type and outcome; failures by reason;
- notification latency: status written -> event sent.

Instruments come from the global meter provider, so nothing is exported unless a
provider is installed: Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is
set (see `configure`), an in-memory reader on the local host, or a test's reader.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import TYPE_CHECKING

from opentelemetry import metrics as otel
from opentelemetry.sdk.trace import Span, SpanProcessor

from jobs.failures import Failure
from telemetry.logs import redact

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter, MeterProvider

    from settings import Settings

log = logging.getLogger(__name__)

METER_NAME = "job_events"

# Seconds: queue waits and run times span milliseconds to an hour.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
# Milliseconds: same-process notifications take ~1 ms, cross-process up to ~1 s.
LATENCY_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 2000, 5000)


class MetricName(StrEnum):
    """Every instrument's name, spelled here only: the snapshot, the tests, the benchmarks and
    (through the diagnostics schema) the demo take them from this list."""

    REQUESTS = "jobevents.http.requests"
    STREAMS_OPEN = "jobevents.streams.open"
    STREAMS_OPENED = "jobevents.streams.opened"
    STREAMS_CLOSED = "jobevents.streams.closed"
    POLLS = "jobevents.polls"
    FEED_READS = "jobevents.feed.reads"
    QUEUE_WAIT = "jobevents.jobs.queue_wait"
    RUN_TIME = "jobevents.jobs.run_time"
    JOBS_FINISHED = "jobevents.jobs.finished"
    JOBS_FAILED = "jobevents.jobs.failed"
    NOTIFY_LATENCY = "jobevents.notify.latency"
    LOOP_LAG = "jobevents.process.loop_lag"


class FeedRead(StrEnum):
    """The `read` attribute of `jobevents.feed.reads`."""

    CHANGES = "changes"  # one change-feed query, each watcher tick, however many streams are open
    RECONCILE = "reconcile"  # one reconciliation round: the active-jobs index, then point reads


class Metrics:
    def __init__(self, meter: Meter) -> None:
        self.requests = meter.create_counter(
            MetricName.REQUESTS, unit="{request}", description="HTTP requests by route, method and status"
        )
        self.open_streams = meter.create_up_down_counter(
            MetricName.STREAMS_OPEN, unit="{stream}", description="SSE streams open now"
        )
        self.streams_opened = meter.create_counter(
            MetricName.STREAMS_OPENED,
            unit="{stream}",
            description="SSE streams opened; resumed=true with Last-Event-ID",
        )
        self.streams_closed = meter.create_counter(
            MetricName.STREAMS_CLOSED,
            unit="{stream}",
            description="SSE streams closed or refused, by reason: terminal, client_gone, lifetime, shutdown, "
            "capacity, auth",
        )
        self.polls = meter.create_counter(
            MetricName.POLLS, unit="{request}", description="Status reads; fallback=true after SSE failed"
        )
        self.feed_reads = meter.create_counter(
            MetricName.FEED_READS,
            unit="{read}",
            description="The feed watcher's storage reads, by read: changes (a change-feed query that answered; "
            "one per tick however many streams are open), reconcile (a reconciliation round)",
        )
        self.queue_wait = meter.create_histogram(
            MetricName.QUEUE_WAIT,
            unit="s",
            description="Started -> Running, by job type",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.run_time = meter.create_histogram(
            MetricName.RUN_TIME,
            unit="s",
            description="Running -> terminal, by job type and outcome",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.jobs_finished = meter.create_counter(
            MetricName.JOBS_FINISHED,
            unit="{job}",
            description="Jobs that reached a terminal state, by type and outcome",
        )
        self.jobs_failed = meter.create_counter(
            MetricName.JOBS_FAILED,
            unit="{job}",
            description="Failed jobs by reason: " + ", ".join(f"{f.value} ({f.meaning})" for f in Failure),
        )
        self.notify_latency = meter.create_histogram(
            MetricName.NOTIFY_LATENCY,
            unit="ms",
            description="Status written -> event sent, by path (local, feed)",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        self.loop_lag = meter.create_histogram(
            MetricName.LOOP_LAG,
            unit="ms",
            description="How late the event loop ran a 250 ms timer: the process's CPU headroom",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )


_current = Metrics(otel.get_meter(METER_NAME))


def metrics() -> Metrics:
    return _current


def use_provider(provider: MeterProvider) -> Metrics:
    """Record into `provider` from now on (the local host and tests use this);
    returns what was recorded into before, for `restore`."""
    global _current
    previous, _current = _current, Metrics(provider.get_meter(METER_NAME))
    return previous


def restore(previous: Metrics) -> None:
    global _current
    _current = previous


class RedactingSpanProcessor(SpanProcessor):
    """Scrubs tokens and query strings from URL attributes of any span (storage calls included)."""

    URL_KEYS = ("url.full", "url.query", "http.url", "http.target")

    def on_start(self, span: Span, parent_context: object = None) -> None:
        for key in self.URL_KEYS:
            value = span.attributes.get(key) if span.attributes else None
            if value is not None:
                span.set_attribute(key, redact(str(value)))


def configure(settings: Settings) -> bool:
    """Export to Application Insights when a connection string is set; otherwise nothing."""
    if settings.appinsights_connection is None:
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = None
    if settings.storage_client_id:
        # Local auth is off on the Application Insights resource: sign in as the app's identity.
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential(client_id=settings.storage_client_id)
    configure_azure_monitor(
        connection_string=settings.appinsights_connection.get_secret_value(),
        credential=credential,
        logger_name="",  # the root logger: api, jobs, notify all flow to traces
        # The Functions host already records each request; a second, in-process
        # request span would also carry the URL, and stream URLs carry tokens.
        instrumentation_options={
            # A dependency row per storage request (the feed watcher reads every 0.75 s):
            # gigabytes a month per busy instance, for calls the storage metrics already count.
            "azure_sdk": {"enabled": False},
            "fastapi": {"enabled": False},
            "requests": {"enabled": False},
            "urllib": {"enabled": False},
            "urllib3": {"enabled": False},
        },
        span_processors=[RedactingSpanProcessor()],
    )
    use_provider(otel.get_meter_provider())
    log.info("telemetry: exporting to Application Insights")
    return True
