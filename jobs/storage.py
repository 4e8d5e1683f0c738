"""Azure Storage clients, built the same way everywhere.

A connection string locally (Azurite), managed identity in Azure. Retries are
short on purpose: during an outage the API should answer 503 quickly rather
than hold the request for a minute of SDK back-off.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineRequest
from azure.core.rest import HttpRequest
from azure.data.tables.aio import TableServiceClient
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from errors import StoreConflict
from settings import Settings

CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 2,
    "connection_timeout": 3,
    "read_timeout": 10,
}


class OperationCounter:
    """Counts storage transactions (each HTTP attempt), by service and method.

    Storage bills per transaction, so this is what the benchmarks and the
    diagnostics endpoint report. It counts through `raw_request_hook`, the one
    hook both SDKs run on every attempt of every client (a table client made by
    `get_table_client()` shares its service's hook; per-retry policies are not
    carried over).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def hook(self, service: str) -> Callable[[PipelineRequest[HttpRequest]], None]:
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


OPERATIONS = OperationCounter()


def is_outage(exc: BaseException) -> bool:
    """A storage or queue failure that should read as "unavailable, retry" (503), not a bug."""
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, StoreConflict, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, HttpResponseError):
        return exc.status_code is None or exc.status_code >= 500 or exc.status_code in (408, 429)
    return isinstance(exc, AzureError)


def _credential(client_id: str | None) -> Any:
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()


def table_service(settings: Settings) -> TableServiceClient:
    options = {**CLIENT_OPTIONS, "raw_request_hook": OPERATIONS.hook("table")}
    if settings.storage_connection:
        return TableServiceClient.from_connection_string(settings.storage_connection, **options)
    assert settings.storage_table_uri  # checked by Settings
    return TableServiceClient(settings.storage_table_uri, credential=_credential(settings.storage_client_id), **options)


def storage_queue(settings: Settings, name: str) -> QueueClient:
    # Base64, because that is what the Functions queue trigger expects by default.
    options = {
        **CLIENT_OPTIONS,
        "raw_request_hook": OPERATIONS.hook("queue"),
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": TextBase64DecodePolicy(),
    }
    if settings.storage_connection:
        return QueueClient.from_connection_string(settings.storage_connection, name, **options)
    assert settings.storage_queue_uri
    return QueueClient(settings.storage_queue_uri, name, credential=_credential(settings.storage_client_id), **options)
