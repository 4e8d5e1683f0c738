"""Shared fixtures: a real Azurite for the whole session, and local hosts on demand."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from harness.processes import Azurite, LocalHostProcess, isolated_settings
from telemetry import metrics as telemetry_metrics

# Modules imported by tests read settings at import; give them a harmless base.
os.environ.setdefault("AUTH_MODE", "none")
os.environ.setdefault("AzureWebJobsStorage", "UseDevelopmentStorage=true")
os.environ.setdefault("JOBS_QUEUE_BACKEND", "storage")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = Azurite.create()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def system_env(azurite: Azurite) -> dict[str, str]:
    """Settings for one isolated system (own tables and queue)."""
    return isolated_settings(azurite)


@pytest.fixture
def host_factory(azurite: Azurite) -> Iterator[Callable[..., LocalHostProcess]]:
    """Start local hosts with setting overrides; all are stopped after the test."""
    started: list[LocalHostProcess] = []

    def start(env: dict[str, str] | None = None, *args: str, **overrides: str) -> LocalHostProcess:
        host = LocalHostProcess(env or isolated_settings(azurite, **overrides), args=args)
        started.append(host)
        return host.start()

    yield start
    for host in started:
        host.close()


@pytest.fixture(scope="session")
def shared_host(azurite: Azurite) -> Iterator[LocalHostProcess]:
    """One local host for the tests that only need a running system."""
    host = LocalHostProcess(
        isolated_settings(azurite, SSE_KEEPALIVE_SECONDS="15", SSE_STREAM_LIFETIME_SECONDS="60")
    ).start()
    yield host
    host.close()


@pytest.fixture
async def store(azurite: Azurite) -> AsyncIterator[object]:
    """A TableStatusStore on fresh tables of the test Azurite, its requests counted as the
    local host counts its own (local_host.diagnostics.OPERATIONS)."""
    from jobs.storage import table_service
    from jobs.store import TableStatusStore
    from local_host.diagnostics import OPERATIONS
    from settings import Settings

    settings = Settings.model_validate(isolated_settings(azurite))
    table = TableStatusStore(table_service(settings, on_request=OPERATIONS.hook("table")), f"s{secrets.token_hex(4)}")
    await table.ensure_tables()
    yield table
    await table.close()


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    """Metrics recorded during the test, in memory."""
    memory = InMemoryMetricReader()
    previous = telemetry_metrics.use_provider(MeterProvider(metric_readers=[memory]))
    yield memory
    telemetry_metrics.restore(previous)


@pytest.fixture
def own_azurite() -> Iterator[Azurite]:
    """An Azurite of the test's own, for tests that stop and restart storage."""
    server = Azurite.create()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
async def asgi_api(azurite: Azurite) -> AsyncIterator[Callable[..., Awaitable[tuple[object, object]]]]:
    """Builds the app in this process, on real Azurite, with settings overrides:
    `client, services = await asgi_api(create_tables=True, **settings)`. Its storage requests
    are counted as the local host counts them (local_host.diagnostics.OPERATIONS)."""
    import httpx

    from local_host.diagnostics import OPERATIONS
    from local_host.server import build_app
    from services import build_services, set_services
    from settings import Settings

    built: list[tuple[httpx.AsyncClient, object]] = []

    async def make(create_tables: bool = True, **overrides: str) -> tuple[httpx.AsyncClient, object]:
        settings = Settings.model_validate(isolated_settings(azurite, **overrides))
        services = build_services(settings, storage_hook=OPERATIONS.hook)
        if create_tables:
            await services.store.ensure_tables()
        set_services(services)
        app = build_app(run_worker=False, run_timers=False)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")
        built.append((client, services))
        return client, services

    yield make
    set_services(None)
    for client, services in built:
        await client.aclose()
        await services.close()  # type: ignore[attr-defined]
