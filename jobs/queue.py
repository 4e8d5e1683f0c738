"""Start requests travel to the worker through a queue, behind one small interface.

Service Bus in Azure (the default); an Azure Storage queue locally on Azurite,
or in Azure when the budget says so. Both carry the same JSON message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from jobs.model import JOB_ID_PATTERN, JOB_TYPE_PATTERN, CamelModel
from settings import QueueBackend, Settings

if TYPE_CHECKING:
    from jobs.storage import RequestHook


class JobMessage(CamelModel):
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    job_type: str = Field(pattern=JOB_TYPE_PATTERN)
    input: dict[str, Any]


class JobQueue(Protocol):
    async def send(self, message: JobMessage) -> None: ...

    async def ping(self) -> None:
        """Fail if the queue is unreachable (health check)."""
        ...

    async def close(self) -> None: ...


class StorageJobQueue:
    def __init__(self, settings: Settings, on_request: RequestHook | None = None) -> None:
        from jobs.storage import storage_queue

        self._client = storage_queue(settings, settings.queue_name, on_request=on_request)

    async def send(self, message: JobMessage) -> None:
        await self._client.send_message(message.to_json())

    async def ping(self) -> None:
        await self._client.get_queue_properties()

    async def close(self) -> None:
        await self._client.close()


class ServiceBusJobQueue:
    def __init__(self, settings: Settings) -> None:
        from azure.servicebus.aio import ServiceBusClient

        if settings.servicebus_connection:
            self._client = ServiceBusClient.from_connection_string(settings.servicebus_connection, retry_total=2)
        else:
            from azure.identity.aio import DefaultAzureCredential

            assert settings.servicebus_namespace
            credential = DefaultAzureCredential(managed_identity_client_id=settings.servicebus_client_id)
            self._client = ServiceBusClient(settings.servicebus_namespace, credential, retry_total=2)
        self._queue_name = settings.queue_name
        self._sender = self._client.get_queue_sender(settings.queue_name)

    async def send(self, message: JobMessage) -> None:
        from azure.servicebus import ServiceBusMessage

        # message_id = job id: Standard-tier duplicate detection drops a re-sent start.
        await self._sender.send_messages(
            ServiceBusMessage(
                message.to_json(),
                message_id=message.job_id,
                subject=message.job_type,
                content_type="application/json",
            )
        )

    async def ping(self) -> None:
        # Peek needs only the Listen right the worker has anyway, and moves nothing.
        async with self._client.get_queue_receiver(self._queue_name) as receiver:
            await receiver.peek_messages(max_message_count=1)

    async def close(self) -> None:
        await self._sender.close()
        await self._client.close()


def make_queue(settings: Settings, *, on_request: RequestHook | None = None) -> JobQueue:
    """`on_request` sees every storage request of a Storage queue (Service Bus is not storage)."""
    if settings.queue_backend is QueueBackend.STORAGE:
        return StorageJobQueue(settings, on_request)
    return ServiceBusJobQueue(settings)
