"""Telemetry: metrics (OpenTelemetry, exported to Application Insights when configured)
and logs (structured, correlated by jobId and invocationId, never carrying a token)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telemetry.logs import harden
from telemetry.metrics import configure

if TYPE_CHECKING:
    from settings import Settings


def configure_telemetry(settings: Settings) -> bool:
    """Called once at start-up (the import of function_app.py): True when telemetry is
    exported to Application Insights."""
    harden()
    return configure(settings)
