"""The local host: serves `function_app.py` on http://localhost:7071 without the func tools.

HTTP functions become Starlette routes, the queue trigger runs on the Storage
queue, timers run on their schedules, and the demo app is served at `/`.
Everything comes from the function app's own registrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api.problems import problem_response
from jobs.storage import storage_queue
from local_host.defaults import LEASE_SECONDS
from local_host.diagnostics import OPERATIONS, Diagnostics, read_diagnostics
from local_host.functions import ROOT, FunctionTable, HttpFunction, host_json, read_functions
from local_host.queue_worker import StorageQueueWorker
from local_host.timers import run_timer
from services import Services, build_services, current_services, get_services, set_services
from settings import get_settings
from telemetry.snapshot import install_local_reader

log = logging.getLogger("local_host")

DEMO_DIST = ROOT / "client" / "dist" / "demo" / "browser"
SHUTDOWN_GRACE_SECONDS = 5.0  # running jobs get this long on SIGTERM, then their messages are released


def _http_endpoint(function: HttpFunction) -> Any:
    async def endpoint(request: Request) -> Response:
        return await function.call(**{function.arg_name: request})

    endpoint.__name__ = function.name
    return endpoint


def _timespan_seconds(value: str, default: int) -> int:
    """host.json timespans look like "00:00:30"."""
    try:
        hours, minutes, seconds = (float(p) for p in value.split(":"))
    except (AttributeError, ValueError):
        return default
    return int(hours * 3600 + minutes * 60 + seconds)


class LocalHost:
    def __init__(
        self,
        table: FunctionTable,
        *,
        run_worker: bool = True,
        run_timers: bool = True,
        lease_seconds: int = LEASE_SECONDS,
    ) -> None:
        self.table = table
        self.lease_seconds = lease_seconds
        self.run_worker = run_worker
        self.run_timers = run_timers
        self.workers: list[StorageQueueWorker] = []
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def services(self) -> Services:
        return get_services()

    async def startup(self) -> None:
        if current_services() is None:
            # Built here, in the loop, with the one storage hook only the local host installs.
            set_services(build_services(get_settings(), storage_hook=OPERATIONS.hook))
        services = self.services
        await services.store.ensure_tables()
        queues_config = host_json().get("extensions", {}).get("queues", {})
        for function in self.table.queues:
            if function.kind != "queueTrigger":
                raise NotImplementedError(
                    f"{function.name}: the local host runs Storage queue triggers; set JOBS_QUEUE_BACKEND=storage"
                )
            queue = storage_queue(services.settings, function.queue_name, on_request=OPERATIONS.hook("queue"))
            poison = storage_queue(
                services.settings, f"{function.queue_name}-poison", on_request=OPERATIONS.hook("queue")
            )
            for client in (queue, poison):
                with contextlib.suppress(Exception):
                    await client.create_queue()
            if not self.run_worker:
                await queue.close()
                await poison.close()
                continue
            worker = StorageQueueWorker(
                queue=queue,
                poison=poison,
                invoke=function.invoke,
                max_dequeue_count=int(queues_config.get("maxDequeueCount", 5)),
                retry_delay=_timespan_seconds(queues_config.get("visibilityTimeout", "00:00:00"), 0),
                batch_size=int(queues_config.get("batchSize", 16)),
                visibility_timeout=self.lease_seconds,
            )
            self.workers.append(worker)
            self._tasks.append(asyncio.create_task(worker.run(), name=f"queue-{function.name}"))
        if self.run_timers:
            for timer in self.table.timers:
                self._tasks.append(asyncio.create_task(run_timer(timer), name=f"timer-{timer.name}"))
        log.info(
            "local host ready: %d HTTP functions, %d queue workers, %d timers",
            len(self.table.http),
            len(self.workers),
            len(self.table.timers) if self.run_timers else 0,
        )

    def begin_shutdown(self) -> None:
        """First step of SIGTERM, as the Functions host does it: no new messages are taken.
        (The streams' planned `reconnect` is the app's own: notify/signals.py.)"""
        for worker in self.workers:
            worker.stop_receiving()

    async def shutdown(self) -> None:
        self.begin_shutdown()
        await asyncio.gather(*(w.drain(SHUTDOWN_GRACE_SECONDS) for w in self.workers))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for worker in self.workers:
            await worker.queue.close()
            await worker.poison.close()
        await self.services.close()

    def diagnostics(self) -> Diagnostics:
        return read_diagnostics(self.services, self.workers)


def build_app(
    *,
    run_worker: bool = True,
    run_timers: bool = True,
    lease_seconds: int = LEASE_SECONDS,
    demo_dir: Path | None = None,
) -> Starlette:
    install_local_reader()  # before the app imports: the diagnostics read these metrics
    function_app = importlib.import_module("function_app")
    table = read_functions(function_app.app)
    host = LocalHost(table, run_worker=run_worker, run_timers=run_timers, lease_seconds=lease_seconds)
    settings = get_settings()

    routes: list[Any] = [Route(f.route, _http_endpoint(f), methods=list(f.methods), name=f.name) for f in table.http]

    async def diagnostics(request: Request) -> Response:
        body = host.diagnostics().model_dump(mode="json", by_alias=True)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    routes.append(Route("/local/diagnostics", diagnostics, methods=["GET"]))
    demo = demo_dir or DEMO_DIST
    if (demo / "index.html").exists():
        routes.append(Mount("/", app=StaticFiles(directory=demo, html=True), name="demo"))
    else:

        async def no_demo(request: Request) -> Response:
            return HTMLResponse(
                "<h1>Job events local host</h1><p>The demo app is not built: run <code>make run</code> "
                "(or <code>make client</code>). The API is at <a href='/api/openapi.json'>/api/openapi.json</a>.</p>"
            )

        routes.append(Route("/", no_demo))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = {404: "no such route", 405: "method not allowed on this route"}.get(status, "request failed")
        return problem_response(status, detail, headers=getattr(exc, "headers", None))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await host.startup()
        try:
            yield
        finally:
            await host.shutdown()

    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "Last-Event-ID"],
            allow_credentials=True,  # the stream cookie; origins are an explicit list, never "*"
            expose_headers=["ETag", "Location", "Retry-After"],
            max_age=600,
        )
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    app.state.host = host
    return app


class Server(uvicorn.Server):
    """Stops taking queue messages as soon as SIGTERM arrives; running jobs get
    SHUTDOWN_GRACE_SECONDS, then their messages are released."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: Any) -> None:
        with contextlib.suppress(Exception):
            self._app.state.host.begin_shutdown()
        super().handle_exit(sig, frame)


def serve(
    host: str, port: int, *, run_worker: bool = True, run_timers: bool = True, lease_seconds: int = LEASE_SECONDS
) -> None:
    app = build_app(run_worker=run_worker, run_timers=run_timers, lease_seconds=lease_seconds)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,  # our own access log omits query strings (tokens)
        log_config=None,
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_SECONDS),
        backlog=4096,
        limit_concurrency=None,
        timeout_keep_alive=30,
    )
    asyncio.run(Server(config, app).serve())
