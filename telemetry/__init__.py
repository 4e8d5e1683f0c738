"""Telemetry: metrics (OpenTelemetry, exported to Application Insights when configured)
and logs (structured, correlated by jobId and invocationId, never carrying a token)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telemetry.logs import install_filter
from telemetry.metrics import configure

if TYPE_CHECKING:
    from settings import Settings


def configure_telemetry(settings: Settings) -> bool:
    """Called once at start-up: True when telemetry is exported to Application Insights."""
    install_filter()
    return configure(settings)
