"""Azure Storage clients, built the same way everywhere.

A connection string locally (Azurite), managed identity in Azure. Retries are
short on purpose: during an outage the API should answer 503 quickly rather
than hold the request for a minute of SDK back-off.
"""

from __future__ import annotations

import os
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
    # Reading the proxy variables and ~/.netrc for every request costs a thread hop each
    # (aiohttp's trust_env): a tenth of a busy worker's CPU. Only when a proxy is set.
    "use_env_settings": any(os.environ.get(v) for v in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")),
}


# Called on every HTTP attempt of a client (`raw_request_hook`, which both SDKs run on every
# attempt, and which a table client made by `get_table_client()` shares with its service).
# Production clients get none; the local host passes one that counts storage transactions.
RequestHook = Callable[[PipelineRequest[HttpRequest]], None]
# A hook for each kind of client ("table", "queue"), so a counter can tell them apart.
StorageHook = Callable[[str], RequestHook]


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


def table_service(settings: Settings, *, on_request: RequestHook | None = None) -> TableServiceClient:
    options = {**CLIENT_OPTIONS, **({"raw_request_hook": on_request} if on_request else {})}
    if settings.storage_connection:
        return TableServiceClient.from_connection_string(settings.storage_connection, **options)
    assert settings.storage_table_uri  # checked by Settings
    return TableServiceClient(settings.storage_table_uri, credential=_credential(settings.storage_client_id), **options)


def storage_queue(settings: Settings, name: str, *, on_request: RequestHook | None = None) -> QueueClient:
    # Base64, because that is what the Functions queue trigger expects by default.
    options = {
        **CLIENT_OPTIONS,
        **({"raw_request_hook": on_request} if on_request else {}),
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": TextBase64DecodePolicy(),
    }
    if settings.storage_connection:
        return QueueClient.from_connection_string(settings.storage_connection, name, **options)
    assert settings.storage_queue_uri
    return QueueClient(settings.storage_queue_uri, name, credential=_credential(settings.storage_client_id), **options)
