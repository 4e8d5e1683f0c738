"""The composition root: one set of collaborators per process.

Azure SDK async clients bind to the event loop that first uses them, so the
set is built lazily inside the loop and can be reset (tests use a loop each).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.auth import Authenticator
from jobs.clock import Clock, SystemClock
from jobs.queue import JobQueue, make_queue
from jobs.runner import JobRunner
from jobs.storage import StorageHook, table_service
from jobs.store import TableStatusStore
from notify.hub import Hub
from notify.opening import StreamOpener
from notify.streams import StreamManager
from notify.tokens import StreamTokens
from notify.watcher import FeedWatcher
from settings import Settings, get_settings


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: TableStatusStore
    queue: JobQueue
    runner: JobRunner
    hub: Hub
    streams: StreamManager
    watcher: FeedWatcher
    tokens: StreamTokens
    opener: StreamOpener
    auth: Authenticator

    async def close(self) -> None:
        self.streams.shutdown()
        await self.watcher.stop()
        await self.queue.close()
        await self.store.close()


def build_services(
    settings: Settings, clock: Clock | None = None, *, storage_hook: StorageHook | None = None
) -> Services:
    """`storage_hook` sees every storage request (the local host counts them; Azure passes none)."""
    clock = clock or SystemClock()
    hub = Hub(clock)
    table_hook = storage_hook("table") if storage_hook else None
    store = TableStatusStore(table_service(settings, on_request=table_hook), settings.table_prefix, clock)
    # Same-process path: a status written here reaches this process's streams at once.
    store.add_listener(hub.publish)
    streams = StreamManager(
        hub,
        keepalive_seconds=settings.sse_keepalive_seconds,
        lifetime_seconds=settings.sse_lifetime_seconds,
        retry_ms=settings.sse_retry_ms,
        max_streams=settings.sse_max_streams,
        clock=clock,
    )
    watcher = FeedWatcher(
        store,
        hub,
        poll_seconds=settings.watch_poll_seconds,
        reconcile_seconds=settings.watch_reconcile_seconds,
        clock=clock,
    )
    tokens = StreamTokens(
        settings.signing_key,
        ttl_seconds=settings.token_ttl_seconds,
        previous_key=settings.token_previous_key.get_secret_value() if settings.token_previous_key else None,
        previous_key_until=settings.token_previous_key_until,
        clock=clock,
    )
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        queue=make_queue(settings, on_request=storage_hook("queue") if storage_hook else None),
        runner=JobRunner(store, settings.max_delivery_count, clock),
        hub=hub,
        streams=streams,
        watcher=watcher,
        tokens=tokens,
        opener=StreamOpener(tokens, streams, hub, store, watcher),
        auth=Authenticator(settings),
    )


_services: Services | None = None


def get_services() -> Services:
    global _services
    if _services is None:
        _services = build_services(get_settings())
    return _services


def current_services() -> Services | None:
    """The process's services if they are built or installed, without building them."""
    return _services


def set_services(services: Services | None) -> None:
    """Install (or clear) the process's services: the local host and tests do this."""
    global _services
    _services = services
