"""Every app setting the code reads, in one place, under the names Azure uses.

Locally the values come from the environment (``make run`` exports embedded
defaults, ``func start`` exports ``local.settings.json``). In Azure they are app
settings. A wrong or missing value fails at start-up with the setting's name.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

# Only ever used when the app is clearly running on a developer's machine.
LOCAL_DEV_TOKEN_KEY = "local-development-only-stream-token-key-0123456789"


class QueueBackend(StrEnum):
    SERVICEBUS = "servicebus"
    STORAGE = "storage"


class AuthMode(StrEnum):
    NONE = "none"  # local development only
    EASYAUTH = "easyauth"  # App Service Authentication headers
    BEARER = "bearer"  # Authorization: Bearer, checked against a JWKS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", populate_by_name=False)

    # --- storage: tables for status, and the queue when the backend is `storage`
    storage_connection: str | None = Field(
        None, validation_alias="AzureWebJobsStorage", json_schema_extra={"where": "local"}
    )
    storage_table_uri: str | None = Field(
        None, validation_alias="AzureWebJobsStorage__tableServiceUri", json_schema_extra={"where": "azure"}
    )
    storage_queue_uri: str | None = Field(
        None, validation_alias="AzureWebJobsStorage__queueServiceUri", json_schema_extra={"where": "azure"}
    )
    storage_client_id: str | None = Field(
        None, validation_alias="AzureWebJobsStorage__clientId", json_schema_extra={"where": "azure"}
    )

    # --- Service Bus, when the backend is `servicebus`
    servicebus_connection: str | None = Field(
        None, validation_alias="ServiceBusConnection", json_schema_extra={"where": "local"}
    )
    servicebus_namespace: str | None = Field(
        None, validation_alias="ServiceBusConnection__fullyQualifiedNamespace", json_schema_extra={"where": "azure"}
    )
    servicebus_client_id: str | None = Field(
        None, validation_alias="ServiceBusConnection__clientId", json_schema_extra={"where": "azure"}
    )

    # --- jobs
    queue_backend: QueueBackend = Field(QueueBackend.SERVICEBUS, validation_alias="JOBS_QUEUE_BACKEND")
    queue_name: str = Field(
        "jobs", validation_alias="JOBS_QUEUE_NAME", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$"
    )
    # Must equal host.json's maxDequeueCount and the Service Bus queue's maxDeliveryCount.
    max_delivery_count: int = Field(5, validation_alias="JOBS_MAX_DELIVERY_COUNT", ge=1, le=100)
    table_prefix: str = Field("jobs", validation_alias="JOBS_TABLE_PREFIX", pattern=r"^[A-Za-z][A-Za-z0-9]{2,40}$")
    job_timeouts: dict[str, float] = Field(default_factory=dict, validation_alias="JOBS_TIMEOUT_OVERRIDES")
    sweep_schedule: str = Field("0 */1 * * * *", validation_alias="JOBS_SWEEP_SCHEDULE")

    # --- stream tokens
    token_key: SecretStr | None = Field(None, validation_alias="STREAM_TOKEN_SIGNING_KEY")
    token_previous_key: SecretStr | None = Field(
        None, validation_alias="STREAM_TOKEN_PREVIOUS_KEY", json_schema_extra={"where": "optional"}
    )
    token_previous_key_until: datetime | None = Field(
        None, validation_alias="STREAM_TOKEN_PREVIOUS_KEY_UNTIL", json_schema_extra={"where": "optional"}
    )
    token_ttl_seconds: int = Field(
        300, validation_alias="STREAM_TOKEN_TTL_SECONDS", ge=10, le=3600, json_schema_extra={"where": "tuning"}
    )

    # --- server-sent events
    sse_keepalive_seconds: float = Field(
        15.0, validation_alias="SSE_KEEPALIVE_SECONDS", gt=0, le=60, json_schema_extra={"where": "tuning"}
    )
    # The front end cuts requests at ~230 s; streams end well before.
    sse_lifetime_seconds: float = Field(
        180.0, validation_alias="SSE_STREAM_LIFETIME_SECONDS", gt=0, le=200, json_schema_extra={"where": "tuning"}
    )
    sse_retry_ms: int = Field(
        3000, validation_alias="SSE_RETRY_MS", ge=0, le=600_000, json_schema_extra={"where": "tuning"}
    )
    sse_max_streams: int = Field(5000, validation_alias="SSE_MAX_STREAMS", ge=1, json_schema_extra={"where": "tuning"})
    sse_max_jobs_per_stream: int = Field(
        50, validation_alias="SSE_MAX_JOBS_PER_STREAM", ge=1, le=200, json_schema_extra={"where": "tuning"}
    )

    # --- cross-instance watcher
    watch_poll_seconds: float = Field(
        0.75, validation_alias="WATCH_POLL_SECONDS", gt=0, le=30, json_schema_extra={"where": "tuning"}
    )
    watch_reconcile_seconds: float = Field(
        30.0, validation_alias="WATCH_RECONCILE_SECONDS", gt=0, le=600, json_schema_extra={"where": "tuning"}
    )

    # --- HTTP surface
    auth_mode: AuthMode = Field(validation_alias="AUTH_MODE")
    bearer_issuer: str | None = Field(
        None, validation_alias="AUTH_BEARER_ISSUER", json_schema_extra={"where": "optional"}
    )
    bearer_audience: str | None = Field(
        None, validation_alias="AUTH_BEARER_AUDIENCE", json_schema_extra={"where": "optional"}
    )
    bearer_jwks_url: str | None = Field(
        None, validation_alias="AUTH_BEARER_JWKS_URL", json_schema_extra={"where": "optional"}
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="CORS_ALLOWED_ORIGINS")
    max_request_bytes: int = Field(
        32 * 1024,
        validation_alias="MAX_REQUEST_BYTES",
        ge=1024,
        le=10 * 1024 * 1024,
        json_schema_extra={"where": "tuning"},
    )

    # --- observability
    appinsights_connection: SecretStr | None = Field(
        None, validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING", json_schema_extra={"where": "azure"}
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value

    @field_validator("bearer_jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^(https://|http://(localhost|127\.0\.0\.1)[:/])", value):
            raise ValueError("must be an https:// URL (http:// only for localhost)")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if not (self.storage_connection or self.storage_table_uri):
            raise ValueError("set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__tableServiceUri")
        if self.queue_backend is QueueBackend.STORAGE and not (self.storage_connection or self.storage_queue_uri):
            raise ValueError(
                "JOBS_QUEUE_BACKEND=storage needs AzureWebJobsStorage or AzureWebJobsStorage__queueServiceUri"
            )
        if self.queue_backend is QueueBackend.SERVICEBUS and not (
            self.servicebus_connection or self.servicebus_namespace
        ):
            raise ValueError(
                "JOBS_QUEUE_BACKEND=servicebus needs ServiceBusConnection "
                "or ServiceBusConnection__fullyQualifiedNamespace"
            )
        if self.auth_mode is AuthMode.BEARER and not (
            self.bearer_issuer and self.bearer_audience and self.bearer_jwks_url
        ):
            raise ValueError("AUTH_MODE=bearer needs AUTH_BEARER_ISSUER, AUTH_BEARER_AUDIENCE and AUTH_BEARER_JWKS_URL")
        if running_in_azure():
            if self.auth_mode is AuthMode.NONE:
                raise ValueError("AUTH_MODE=none is for local development only and is refused in Azure")
            if self.token_key is None:
                raise ValueError("STREAM_TOKEN_SIGNING_KEY is required in Azure")
            if "*" in self.cors_origins:
                raise ValueError("CORS_ALLOWED_ORIGINS=* is refused in Azure; list the Angular origins")
        for key in (self.token_key, self.token_previous_key):
            if key is not None and len(key.get_secret_value()) < 32:
                raise ValueError("STREAM_TOKEN_SIGNING_KEY and STREAM_TOKEN_PREVIOUS_KEY need at least 32 characters")
        if self.token_previous_key is not None and self.token_previous_key_until is None:
            raise ValueError("STREAM_TOKEN_PREVIOUS_KEY needs STREAM_TOKEN_PREVIOUS_KEY_UNTIL (end of the overlap)")
        return self

    @property
    def signing_key(self) -> str:
        return self.token_key.get_secret_value() if self.token_key else LOCAL_DEV_TOKEN_KEY


def running_in_azure() -> bool:
    """The platform sets WEBSITE_INSTANCE_ID on every App Service / Functions instance."""
    return bool(os.environ.get("WEBSITE_INSTANCE_ID"))


class SettingsError(RuntimeError):
    """A setting is missing or wrong. The message names it."""


def load_settings() -> Settings:
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None
    if settings.auth_mode is AuthMode.NONE:
        log.warning("AUTH_MODE=none: every caller is anonymous and sees every job. Local development only.")
    if settings.token_key is None:
        log.warning("STREAM_TOKEN_SIGNING_KEY is not set: using the built-in local development key.")
    return settings


def describe_errors(exc: ValidationError) -> str:
    fields = Settings.model_fields
    lines = []
    for error in exc.errors():
        loc = error["loc"][0] if error["loc"] else None
        field = fields.get(str(loc)) if loc is not None else None
        name = field.validation_alias if field and isinstance(field.validation_alias, str) else (loc or "settings")
        lines.append(f"{name}: {error['msg']}")
    return "invalid app settings: " + "; ".join(lines)


def setting_names() -> dict[str, str]:
    """Every app-setting name the code reads, with where it must be set:

    - ``both``: Azure (Bicep app settings) and local (local.settings.json.example);
    - ``azure``: Azure only (identity-based connections, Application Insights);
    - ``local``: local only (connection strings: never in Azure);
    - ``optional``: only for a mode or a moment (bearer auth, key rotation);
    - ``tuning``: optional everywhere, the code default applies (limits, periods, lifetimes):
      set one only to change it.

    The infra consistency tests derive their list from this.
    """
    names: dict[str, str] = {}
    for f in Settings.model_fields.values():
        if isinstance(f.validation_alias, str):
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            names[f.validation_alias] = str(extra.get("where", "both"))
    return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
