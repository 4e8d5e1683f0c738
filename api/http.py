"""What every HTTP endpoint shares: error mapping, headers, JSON bodies, logging.

`@endpoint` wraps a handler so that nothing unhandled reaches a client: API
errors become problem+json, a storage or queue outage becomes 503 with
Retry-After, anything else a plain 500 problem. No stack trace ever leaves.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from azurefunctions.extensions.http.fastapi import Response
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from api.auth import unauthorized
from api.problems import ApiError, from_error, problem_response
from errors import (
    AtCapacity,
    BadListing,
    BadResume,
    ClientError,
    IdempotencyConflict,
    JobFinished,
    TokenError,
    TokenScopeError,
    UnknownJob,
)
from jobs.storage import is_outage
from telemetry import loop_lag
from telemetry.logs import correlated, new_invocation_id
from telemetry.metrics import metrics

log = logging.getLogger("api")

# Sent on every API answer. Expose-Headers lets a cross-origin Angular app read
# ETag/Retry-After/Location even where the platform's CORS layer adds the rest.
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Access-Control-Expose-Headers": "ETag, Location, Retry-After",
}
OUTAGE_RETRY_AFTER = "5"
CAPACITY_RETRY_AFTER = "10"

Handler = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


def endpoint(route: str) -> Callable[[Handler], Handler]:
    """Error mapping, common headers, metrics and a query-free access log for one route
    (given as "METHOD /api/template")."""
    _, _, template = route.partition(" ")

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            loop_lag.ensure_running()
            # The Functions host names each HTTP invocation in this header.
            invocation = request.headers.get("x-ms-invocation-id") or new_invocation_id()
            with correlated(invocation_id=invocation):
                response = await _answer(handler, request, route)
                metrics().requests.add(
                    1,
                    {
                        "http.route": template,
                        "http.request.method": request.method,
                        "http.response.status_code": response.status_code,
                    },
                )
                # The route template, never the URL: query strings may hold tokens.
                log.info("%s -> %s in %.1f ms", route, response.status_code, (time.perf_counter() - started) * 1000)
            return response

        return run

    return wrap


# The domain's errors as HTTP answers: the one table (errors.py lists them all).
PROBLEMS: dict[type[ClientError], Callable[[ClientError], ApiError]] = {
    IdempotencyConflict: lambda exc: ApiError(409, str(exc)),
    JobFinished: lambda exc: ApiError(409, "the job has already finished"),
    BadListing: lambda exc: ApiError(400, str(exc)),
    UnknownJob: lambda exc: ApiError(404, "no such job"),
    BadResume: lambda exc: ApiError(400, str(exc)),
    AtCapacity: lambda exc: ApiError(
        503, "too many open streams here; poll or retry shortly", headers={"Retry-After": CAPACITY_RETRY_AFTER}
    ),
    TokenError: lambda exc: unauthorized(str(exc)),
    TokenScopeError: lambda exc: ApiError(403, str(exc)),
}


def as_api_error(exc: ClientError) -> ApiError:
    for kind in type(exc).__mro__:
        if kind in PROBLEMS:
            return PROBLEMS[kind](exc)
    raise TypeError(f"no HTTP answer for {type(exc).__name__}")  # a new ClientError needs a row above


async def _answer(handler: Handler, request: Request, route: str) -> Response:
    try:
        response = await handler(request)
    except ApiError as exc:
        response = from_error(exc)
    except ClientError as exc:
        response = from_error(as_api_error(exc))
    except ClientDisconnect:
        response = problem_response(400, "the request body was not received completely")
    except Exception as exc:
        if is_outage(exc):
            log.warning("%s: dependency unavailable (%s: %s)", route, type(exc).__name__, str(exc)[:300])
            response = problem_response(
                503, "a backing service is unavailable; try again shortly", headers={"Retry-After": OUTAGE_RETRY_AFTER}
            )
        else:
            log.exception("%s: unhandled error", route)
            response = problem_response(500, "internal error")
    for name, value in COMMON_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON: 413 past `limit` bytes, 415 for a non-JSON type, 400 if malformed."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(415, "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON ({exc.__class__.__name__})") from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None


def validate(model: type[M], data: Any, *, what: str = "input") -> M:
    """Validate `data`, or 422 listing each field that failed."""
    if not isinstance(data, dict):
        raise ApiError(422, f"the {what} must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise ApiError(422, f"the {what} is not valid: {fields}", errors=errors) from None
