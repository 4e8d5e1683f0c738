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
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from errors import SettingsError

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


Where = Literal["both", "azure", "local", "optional", "tuning"]


def setting(alias: str, default: Any = PydanticUndefined, *, where: Where = "both", **constraints: Any) -> Any:
    """A field read from the app setting `alias`; `where` it must be set (see `setting_names`)."""
    return Field(default, validation_alias=alias, json_schema_extra={"where": where}, **constraints)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", populate_by_name=False)

    # --- storage: tables for status, and the queue when the backend is `storage`
    storage_connection: str | None = setting("AzureWebJobsStorage", None, where="local")
    storage_table_uri: str | None = setting("AzureWebJobsStorage__tableServiceUri", None, where="azure")
    storage_queue_uri: str | None = setting("AzureWebJobsStorage__queueServiceUri", None, where="azure")
    storage_client_id: str | None = setting("AzureWebJobsStorage__clientId", None, where="azure")

    # --- Service Bus, when the backend is `servicebus`
    servicebus_connection: str | None = setting("ServiceBusConnection", None, where="local")
    servicebus_namespace: str | None = setting("ServiceBusConnection__fullyQualifiedNamespace", None, where="azure")
    servicebus_client_id: str | None = setting("ServiceBusConnection__clientId", None, where="azure")

    # --- jobs
    queue_backend: QueueBackend = setting("JOBS_QUEUE_BACKEND", QueueBackend.SERVICEBUS)
    queue_name: str = setting("JOBS_QUEUE_NAME", "jobs", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$")
    # Must equal host.json's maxDequeueCount and the Service Bus queue's maxDeliveryCount.
    max_delivery_count: int = setting("JOBS_MAX_DELIVERY_COUNT", 5, ge=1, le=100)
    table_prefix: str = setting("JOBS_TABLE_PREFIX", "jobs", pattern=r"^[A-Za-z][A-Za-z0-9]{2,40}$")
    job_timeouts: dict[str, float] = setting("JOBS_TIMEOUT_OVERRIDES", default_factory=dict)
    # Every 5 minutes: a backstop (redelivery and the runner's own timeout end jobs first), and on
    # Flex each run is a billed activity period of at least 1 s (docs/cost.md, "The sweeper").
    sweep_schedule: str = setting("JOBS_SWEEP_SCHEDULE", "0 */5 * * * *")

    # --- stream tokens
    token_key: SecretStr | None = setting("STREAM_TOKEN_SIGNING_KEY", None)
    token_previous_key: SecretStr | None = setting("STREAM_TOKEN_PREVIOUS_KEY", None, where="optional")
    token_previous_key_until: datetime | None = setting("STREAM_TOKEN_PREVIOUS_KEY_UNTIL", None, where="optional")
    token_ttl_seconds: int = setting("STREAM_TOKEN_TTL_SECONDS", 300, where="tuning", ge=10, le=3600)

    # --- server-sent events
    sse_keepalive_seconds: float = setting("SSE_KEEPALIVE_SECONDS", 15.0, where="tuning", gt=0, le=60)
    # The front end cuts requests at ~230 s; streams end well before.
    sse_lifetime_seconds: float = setting("SSE_STREAM_LIFETIME_SECONDS", 180.0, where="tuning", gt=0, le=200)
    sse_retry_ms: int = setting("SSE_RETRY_MS", 3000, where="tuning", ge=0, le=600_000)
    sse_max_streams: int = setting("SSE_MAX_STREAMS", 5000, where="tuning", ge=1)
    sse_max_jobs_per_stream: int = setting("SSE_MAX_JOBS_PER_STREAM", 50, where="tuning", ge=1, le=200)

    # --- cross-instance watcher
    watch_poll_seconds: float = setting("WATCH_POLL_SECONDS", 0.75, where="tuning", gt=0, le=30)
    watch_reconcile_seconds: float = setting("WATCH_RECONCILE_SECONDS", 30.0, where="tuning", gt=0, le=600)

    # --- HTTP surface
    auth_mode: AuthMode = setting("AUTH_MODE")
    bearer_issuer: str | None = setting("AUTH_BEARER_ISSUER", None, where="optional")
    bearer_audience: str | None = setting("AUTH_BEARER_AUDIENCE", None, where="optional")
    bearer_jwks_url: str | None = setting("AUTH_BEARER_JWKS_URL", None, where="optional")
    cors_origins: Annotated[list[str], NoDecode] = setting("CORS_ALLOWED_ORIGINS", default_factory=list)
    max_request_bytes: int = setting("MAX_REQUEST_BYTES", 32 * 1024, where="tuning", ge=1024, le=10 * 1024 * 1024)

    # --- observability
    appinsights_connection: SecretStr | None = setting("APPLICATIONINSIGHTS_CONNECTION_STRING", None, where="azure")

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


def load_settings() -> Settings:
    try:
        settings = Settings()
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
        assert isinstance(f.validation_alias, str) and isinstance(f.json_schema_extra, dict), "use setting()"
        names[f.validation_alias] = str(f.json_schema_extra["where"])
    return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
