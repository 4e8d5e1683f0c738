"""Azure Storage clients, built the same way everywhere.

A connection string locally (Azurite), managed identity in Azure. Retries are
short on purpose: during an outage the API should answer 503 quickly rather
than hold the request for a minute of SDK back-off.

Every status change costs a table request, so the table clients' pipeline is
trimmed to what those requests use (`LeanTableServiceClient`): the request id,
proxy, redirect, network-trace, tracing and HTTP-logging policies cost CPU on
every request and do nothing here. Auth, the storage headers, the user agent,
retries (with their location handling), content decoding and the request hook stay.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import (
    AsyncRedirectPolicy,
    DistributedTracingPolicy,
    HttpLoggingPolicy,
    NetworkTraceLoggingPolicy,
    ProxyPolicy,
    RequestIdPolicy,
)
from azure.core.rest import HttpRequest
from azure.core.settings import settings as sdk_settings
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


# What a table request here never needs: no `x-ms-client-request-id` (a uuid1 per request;
# the service logs its own request id), no proxy (aiohttp's trust_env reads the proxy
# variables when set), no redirects (Table Storage answers none), no network trace
# (`logging_enable` is never set), no SDK spans (telemetry/metrics.py turns the
# azure_sdk instrumentation off), no HTTP request log (the azure loggers sit at WARNING).
UNUSED_POLICIES = (
    RequestIdPolicy,
    ProxyPolicy,
    AsyncRedirectPolicy,
    NetworkTraceLoggingPolicy,
    DistributedTracingPolicy,
    HttpLoggingPolicy,
)


class LeanTableServiceClient(TableServiceClient):
    """The SDK's TableServiceClient with the pipeline above; the table clients it makes
    (`get_table_client`) share that pipeline and its transport."""

    def _configure_policies(self, **kwargs: Any) -> list[Any]:
        return [p for p in super()._configure_policies(**kwargs) if not isinstance(p, UNUSED_POLICIES)]


def _sdk_tracing_off() -> None:
    """Each SDK client method checks the tracing setting, and unset it reads two environment
    variables per call. Set it once (off, as the telemetry wants), unless the operator set it."""
    if "AZURE_TRACING_ENABLED" not in os.environ:
        sdk_settings.tracing_enabled = False


def _credential(client_id: str | None) -> Any:
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()


def table_service(settings: Settings, *, on_request: RequestHook | None = None) -> TableServiceClient:
    _sdk_tracing_off()
    options = {**CLIENT_OPTIONS, **({"raw_request_hook": on_request} if on_request else {})}
    if settings.storage_connection:
        return LeanTableServiceClient.from_connection_string(settings.storage_connection, **options)
    assert settings.storage_table_uri  # checked by Settings
    return LeanTableServiceClient(
        settings.storage_table_uri, credential=_credential(settings.storage_client_id), **options
    )


def storage_queue(settings: Settings, name: str, *, on_request: RequestHook | None = None) -> QueueClient:
    _sdk_tracing_off()
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
