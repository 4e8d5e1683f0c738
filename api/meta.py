"""Endpoints about the service itself: health and the OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from azurefunctions.extensions.http.fastapi import JSONResponse, Response
from starlette.requests import Request

from api.http import endpoint
from api.openapi import openapi_document
from services import get_services

HEALTH_TIMEOUT = 3.0


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, HEALTH_TIMEOUT)
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return "ok"


@endpoint("GET /api/health")
async def health(request: Request) -> Response:
    """Storage and queue reachability, cheap enough for a platform probe."""
    services = get_services()
    storage, queue = await asyncio.gather(_check(services.store.ping()), _check(services.queue.ping()))
    healthy = storage == "ok" and queue == "ok"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "checks": {"storage": storage, "queue": queue},
        "queueBackend": services.settings.queue_backend.value,
        "openStreams": services.streams.open_count,
    }
    headers = {} if healthy else {"Retry-After": "5"}
    return JSONResponse(body, status_code=200 if healthy else 503, headers=headers)


@endpoint("GET /api/openapi.json")
async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())
