"""local_host/queue_worker.py: the Storage-queue trigger as the Functions host runs it, on Azurite:
at-least-once delivery, a retry after a failure, the poison queue after the last one."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from errors import RetryLater
from harness.processes import isolated_settings
from jobs.storage import storage_queue
from local_host.queue_worker import StorageQueueWorker
from settings import Settings


@pytest.fixture
async def queues(azurite) -> AsyncIterator[tuple[object, object]]:
    settings = Settings.model_validate(isolated_settings(azurite))
    name = f"q{secrets.token_hex(4)}"
    queue, poison = storage_queue(settings, name), storage_queue(settings, f"{name}-poison")
    for client in (queue, poison):
        await client.create_queue()
    yield queue, poison
    for client in (queue, poison):
        await client.delete_queue()
        await client.close()


async def _run_until(worker: StorageQueueWorker, done: asyncio.Event) -> None:
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(done.wait(), 20)
    finally:
        await worker.drain(1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_message_is_delivered_with_its_body_and_deleted(queues):
    queue, poison = queues
    seen: list[tuple[bytes, int]] = []
    done = asyncio.Event()

    async def invoke(message) -> None:
        seen.append((message.get_body(), message.dequeue_count))
        done.set()

    await queue.send_message('{"hello": 1}')
    worker = StorageQueueWorker(queue=queue, poison=poison, invoke=invoke, visibility_timeout=5)
    await _run_until(worker, done)
    assert seen == [(b'{"hello": 1}', 1)]
    assert worker.stats.succeeded == 1 and worker.stats.in_flight == 0
    assert [m async for m in queue.receive_messages()] == []  # deleted, not just hidden


async def test_a_failed_delivery_is_retried_then_poisoned_after_the_last(queues):
    queue, poison = queues
    attempts: list[int] = []
    done = asyncio.Event()

    async def invoke(message) -> None:
        attempts.append(message.dequeue_count)
        if len(attempts) == 3:
            done.set()
        raise RetryLater("still broken")

    await queue.send_message("job")
    worker = StorageQueueWorker(queue=queue, poison=poison, invoke=invoke, max_dequeue_count=3, visibility_timeout=5)
    await _run_until(worker, done)
    await asyncio.sleep(0.5)  # the move to poison follows the last failure
    assert attempts == [1, 2, 3]
    assert worker.stats.failed == 3 and worker.stats.poisoned == 1
    assert [m.content async for m in poison.receive_messages()] == ["job"]
    assert [m async for m in queue.receive_messages()] == []


async def test_drain_releases_a_running_message_at_once(queues):
    queue, poison = queues
    started = asyncio.Event()

    async def invoke(message) -> None:
        started.set()
        await asyncio.sleep(60)

    await queue.send_message("long")
    worker = StorageQueueWorker(queue=queue, poison=poison, invoke=invoke, visibility_timeout=60)
    await _run_until(worker, started)
    assert worker.stats.released == 1
    # Visible again now, not after its 60 s lease: another process can take it.
    again = [m async for m in queue.receive_messages()]
    assert [m.content for m in again] == ["long"] and again[0].dequeue_count == 2
