"""Runs a queue-triggered function on Azure Storage queue messages, as the Functions host does.

At-least-once, like the platform:
- a message stays invisible while its function runs (the lease is renewed);
- success deletes it; failure makes it visible again, so it is delivered again;
- after `maxDequeueCount` deliveries (host.json) it moves to `<queue>-poison`;
- on shutdown, unfinished messages are released at once, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionMessage
from azure.storage.queue import QueueMessage as StorageMessage
from azure.storage.queue.aio import QueueClient

from errors import RetryLater
from local_host.defaults import LEASE_SECONDS

log = logging.getLogger("local_host.queue")

Invoke = Callable[[FunctionMessage], Awaitable[Any]]


@dataclass
class QueueWorkerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    poisoned: int = 0
    released: int = 0
    in_flight: int = 0
    errors: int = 0


@dataclass
class StorageQueueWorker:
    queue: QueueClient
    poison: QueueClient
    invoke: Invoke
    max_dequeue_count: int = 5
    visibility_timeout: int = LEASE_SECONDS  # seconds a received message stays hidden, renewed while running
    retry_delay: int = 0  # host.json visibilityTimeout: delay before a failed message is retried
    batch_size: int = 16
    max_concurrency: int = 64
    min_poll: float = 0.05
    max_poll: float = 0.25
    stats: QueueWorkerStats = field(default_factory=QueueWorkerStats)

    def __post_init__(self) -> None:
        self._receiving = True
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.max_concurrency)

    def stop_receiving(self) -> None:
        self._receiving = False

    async def run(self) -> None:
        delay = self.min_poll
        while self._receiving:
            try:
                free = max(1, min(self.batch_size, self.max_concurrency - len(self._tasks)))
                messages = [
                    m
                    async for m in self.queue.receive_messages(
                        messages_per_page=free, max_messages=free, visibility_timeout=self.visibility_timeout
                    )
                ]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.errors += 1
                log.warning("queue receive failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self.max_poll)
                continue
            if not messages:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_poll)
                continue
            delay = self.min_poll
            for message in messages:
                await self._slots.acquire()
                if not self._receiving:
                    self._slots.release()
                    await self._release(message)
                    continue
                task = asyncio.create_task(self._process(message), name=f"queue-message-{message.id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_seconds: float) -> None:
        """Stop, let running messages finish for `grace_seconds`, then release the rest."""
        self.stop_receiving()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _process(self, message: StorageMessage) -> None:
        self.stats.received += 1
        self.stats.in_flight += 1
        lease = _Lease(self.queue, message, self.visibility_timeout)
        try:
            if message.dequeue_count > self.max_dequeue_count:
                # Its last delivery never finished (the process died): give up on it.
                await self._to_poison(lease)
                return
            renew = asyncio.create_task(lease.keep(), name=f"lease-{message.id}")
            try:
                await self.invoke(_function_message(message))
            finally:
                renew.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renew
        except asyncio.CancelledError:
            await self._release(lease.message)  # shutdown: deliver it again elsewhere, now
            self.stats.released += 1
            raise
        except Exception as exc:
            self.stats.failed += 1
            if message.dequeue_count >= self.max_dequeue_count:
                log.warning("message %s failed on delivery %s: moved to poison", message.id, message.dequeue_count)
                await self._to_poison(lease)
            else:
                log.info(
                    "message %s failed on delivery %s (%s): will be retried",
                    message.id,
                    message.dequeue_count,
                    type(exc).__name__,
                    exc_info=not isinstance(exc, RetryLater),
                )
                await self._release(lease.message, self.retry_delay)
            return
        else:
            self.stats.succeeded += 1
            await self._delete(lease.message)
        finally:
            self.stats.in_flight -= 1
            self._slots.release()

    async def _to_poison(self, lease: _Lease) -> None:
        await self.poison.send_message(lease.message.content)
        await self._delete(lease.message)
        self.stats.poisoned += 1

    async def _delete(self, message: StorageMessage) -> None:
        with contextlib.suppress(ResourceNotFoundError):  # the lease was lost: it is someone else's now
            await self.queue.delete_message(message.id, message.pop_receipt)

    async def _release(self, message: StorageMessage, delay: int = 0) -> None:
        try:
            await self.queue.update_message(message.id, message.pop_receipt, visibility_timeout=delay)
        except Exception:
            pass  # it becomes visible anyway when its visibility timeout ends


class _Lease:
    """Keeps a running message invisible; its pop receipt changes at each renewal."""

    def __init__(self, queue: QueueClient, message: StorageMessage, timeout: int) -> None:
        self._queue = queue
        self.message = message
        self._timeout = timeout

    async def keep(self) -> None:
        while True:
            await asyncio.sleep(self._timeout / 2)
            try:
                receipt = await self._queue.update_message(
                    self.message.id, self.message.pop_receipt, visibility_timeout=self._timeout
                )
            except Exception as exc:
                log.warning("lease renewal failed for message %s (%s)", self.message.id, type(exc).__name__)
                continue
            self.message.pop_receipt = receipt.pop_receipt
            self.message.next_visible_on = receipt.next_visible_on


def _function_message(message: StorageMessage) -> FunctionMessage:
    """The same object the Functions worker hands a queue trigger."""
    return FunctionMessage(
        id=message.id,
        body=message.content.encode() if isinstance(message.content, str) else message.content,
        dequeue_count=message.dequeue_count,
        expiration_time=message.expires_on,
        insertion_time=message.inserted_on,
        time_next_visible=message.next_visible_on,
        pop_receipt=message.pop_receipt,
    )
