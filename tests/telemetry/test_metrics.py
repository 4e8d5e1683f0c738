"""Metrics (telemetry/metrics.py): points with the right attributes, the open-streams
counter back at zero, and what is exported to Application Insights."""

import asyncio
import socket
import time
import uuid

import httpx

from jobs.queue import JobMessage
from jobs.runner import JobRunner
from local_host.diagnostics import stream_figures
from notify.hub import Arrival, Hub
from notify.streams import CloseReason, StreamManager
from telemetry import metrics as telemetry_metrics
from telemetry.metrics import MetricName
from telemetry.snapshot import HistogramPoint, snapshot, total


async def test_a_job_run_records_queue_wait_run_time_and_outcome(store, reader):
    runner = JobRunner(store, 3)
    done, failed = str(uuid.uuid4()), str(uuid.uuid4())
    await store.create(done, "Sleep", "a", 60)
    await store.create(failed, "Fail", "a", 60)
    await runner.handle(JobMessage(job_id=done, job_type="Sleep", input={"seconds": 0.1, "steps": 1}).to_json(), 1)
    await runner.handle(JobMessage(job_id=failed, job_type="Fail", input={"afterSeconds": 0}).to_json(), 1)
    view = snapshot(reader)
    assert total(view, MetricName.QUEUE_WAIT, job_type="Sleep") == 1
    assert total(view, MetricName.RUN_TIME, job_type="Sleep", outcome="Completed") == 1
    assert total(view, MetricName.JOBS_FINISHED, job_type="Fail", outcome="Failed") == 1
    assert total(view, MetricName.JOBS_FAILED, job_type="Fail", reason="error") == 1
    run = next(p for p in view[MetricName.RUN_TIME] if p.attributes["job_type"] == "Sleep")
    assert isinstance(run, HistogramPoint) and 0.1 <= run.sum < 5


async def test_a_stream_records_open_close_reason_and_latency(reader):
    from datetime import UTC, datetime

    from jobs.model import JobState, JobStatus

    hub = Hub()
    streams = StreamManager(hub, keepalive_seconds=5, lifetime_seconds=60)
    job_id = str(uuid.uuid4())
    stream = streams.open([job_id], [0])
    body = streams.body(stream)
    status = JobStatus(job_id=job_id, job_type="Sleep", status=JobState.QUEUED, timestamp=datetime.now(UTC), version=1)
    hub.publish(status, path=Arrival.READ)
    await anext(body)
    assert total(snapshot(reader), MetricName.STREAMS_OPEN) == 1
    hub.publish(status.model_copy(update={"status": JobState.COMPLETED, "version": 2, "timestamp": datetime.now(UTC)}))
    chunks = [chunk async for chunk in body]
    assert b'"status":"Completed"' in b"".join(chunks)
    view = snapshot(reader)
    assert total(view, MetricName.STREAMS_OPEN) == 0
    assert total(view, MetricName.STREAMS_OPENED, resumed=False, jobs="one") == 1
    assert total(view, MetricName.STREAMS_CLOSED, reason="terminal") == 1
    latency = view[MetricName.NOTIFY_LATENCY]
    assert [p.attributes for p in latency] == [{"path": "local"}]
    assert isinstance(latency[0], HistogramPoint) and latency[0].count == 1


def test_open_streams_counter_returns_to_zero_when_clients_vanish(host_factory):
    host = host_factory(SSE_KEEPALIVE_SECONDS="0.3")
    base = host.base_url
    jobs = [httpx.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 30, "steps": 1}).json() for _ in range(3)]
    sockets = []
    for job in jobs:
        raw = socket.create_connection(("127.0.0.1", host.port))
        raw.sendall(f"GET {job['eventsUrl']}?access_token={job['token']} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 200")
        sockets.append(raw)

    def open_streams() -> float:
        return host.diagnostics().total(MetricName.STREAMS_OPEN)

    assert open_streams() == 3
    for raw in sockets:  # the clients vanish without a goodbye
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        raw.close()
    deadline = time.monotonic() + 10
    while open_streams() != 0:
        assert time.monotonic() < deadline, "open-streams counter did not return to zero"
        time.sleep(0.2)
    assert host.diagnostics().total(MetricName.STREAMS_CLOSED, reason="client_gone") == 3
    assert host.diagnostics().streams.open == 0


def test_requests_are_counted_by_route_and_status(shared_host):
    base = shared_host.base_url
    before = shared_host.diagnostics().total(
        MetricName.REQUESTS,
        **{"http.route": "/api/jobs/{jobType}/{jobId}", "http.response.status_code": 404},
    )
    httpx.get(f"{base}/api/jobs/Sleep/{uuid.uuid4()}")
    httpx.get(f"{base}/api/jobs/Sleep/{uuid.uuid4()}?fallback=1")
    after = shared_host.diagnostics().total(
        MetricName.REQUESTS,
        **{"http.route": "/api/jobs/{jobType}/{jobId}", "http.response.status_code": 404},
    )
    assert after - before == 2


def test_no_exporter_without_a_connection_string():
    from settings import Settings

    settings = Settings.model_validate(
        {"AUTH_MODE": "none", "AzureWebJobsStorage": "UseDevelopmentStorage=true", "JOBS_QUEUE_BACKEND": "storage"}
    )
    assert telemetry_metrics.configure(settings) is False


async def test_stream_metrics_survive_many_streams_quickly(reader):
    hub = Hub()
    streams = StreamManager(hub, keepalive_seconds=5, lifetime_seconds=60)
    opened = [streams.open([str(uuid.uuid4())], [0]) for _ in range(50)]
    for stream in opened:
        streams.discard(stream, CloseReason.REJECTED)
    await asyncio.sleep(0)
    view = snapshot(reader)
    assert total(view, MetricName.STREAMS_OPEN) == 0
    assert total(view, MetricName.STREAMS_CLOSED, reason="rejected") == 50
    # The local diagnostics read the same closes.
    figures = stream_figures(view, open_now=streams.open_count, max_streams=streams.max_streams)
    assert figures.closed[CloseReason.REJECTED] == 50


def test_application_insights_gets_no_span_per_storage_request(monkeypatch):
    """The Azure SDK instrumentation would add a dependency row for every feed read."""
    import azure.monitor.opentelemetry as distro
    from pydantic import SecretStr

    from settings import get_settings

    seen: dict[str, object] = {}
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setattr(telemetry_metrics, "use_provider", lambda provider: None)
    settings = get_settings().model_copy(
        update={"appinsights_connection": SecretStr("InstrumentationKey=x"), "storage_client_id": None}
    )
    assert telemetry_metrics.configure(settings) is True
    options = seen["instrumentation_options"]
    assert isinstance(options, dict)
    assert all(options[name] == {"enabled": False} for name in ("azure_sdk", "fastapi", "requests"))
