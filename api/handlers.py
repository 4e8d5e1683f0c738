"""The HTTP endpoints. `function_app.py` binds each one to its route.

Each handler parses, delegates to `jobs/` and `notify/`, and answers; errors are
raised as ApiError and turned into problem+json by `@endpoint`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import uuid
from datetime import datetime

from azurefunctions.extensions.http.fastapi import JSONResponse, Response
from pydantic import ValidationError
from starlette.requests import Request

from api.auth import Principal
from api.cookies import set_stream_cookie, stream_credential
from api.http import endpoint, read_json, validate
from api.models import JobList, JobListQuery, StartAccepted, StreamToken, WatchRequest, WatchToken
from api.problems import ApiError
from api.streaming import EventStreamResponse
from errors import BadListing
from jobs.failures import Failure
from jobs.model import JobState, JobUpdate, is_job_id, is_job_type_name, seconds_left
from jobs.queue import JobMessage
from jobs.registry import JobType, get_job_type
from jobs.runner import CANCEL_GRACE
from jobs.store import JobRecord
from notify.opening import AllFinished
from services import Services, get_services
from telemetry.jobs import job_finished
from telemetry.metrics import metrics

log = logging.getLogger("api")

# Seconds a polling client should wait while a job is unfinished. A running job
# with a known pace is asked about again when it should be done (as Azure's
# long-running operations do), within these bounds.
POLL_AFTER_MIN, POLL_AFTER_MAX = 2, 60
# A client-chosen key per start (its retries repeat it): safe characters for a table key.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # proxies must not buffer the stream
    "Content-Encoding": "identity",  # never gzip an event stream
}


def status_url(job_type: str, job_id: str) -> str:
    return f"/api/jobs/{job_type}/{job_id}"


def events_url(job_type: str, job_id: str) -> str:
    return f"{status_url(job_type, job_id)}/events"


def watch_events_url(stream_id: str) -> str:
    return f"/api/watch/{stream_id}/events"


def _job_type(request: Request) -> JobType:
    name = request.path_params.get("jobType", "")
    job_type = get_job_type(name) if is_job_type_name(name) else None
    if job_type is None:
        raise ApiError(404, "unknown job type")
    return job_type


async def _owned_job(services: Services, principal: Principal, job_type: str, job_id: str) -> JobRecord:
    """The job, if it exists, has this type and belongs to the caller; else 404
    (another principal's job is reported as missing, so ids cannot be probed)."""
    record = await services.store.get(job_id) if is_job_id(job_id) else None
    if record is None or record.status.job_type != job_type or record.owner != principal.id:
        raise ApiError(404, "no such job")
    return record


@endpoint("POST /api/jobs/{jobType}/start")
async def start_job(request: Request) -> Response:
    services = get_services()
    job_type = _job_type(request)
    principal = await services.auth.principal(request)
    key = _idempotency_key(request)
    body = await read_json(request, services.settings.max_request_bytes)
    params = validate(job_type.input_model, body, what=f"{job_type.name} input")
    given = params.model_dump(mode="json", by_alias=True)

    job_id = str(uuid.uuid4())
    if key is not None:
        fingerprint = hashlib.sha256(json.dumps([job_type.name, given], sort_keys=True).encode()).hexdigest()
        first = await services.store.reserve_start(principal.id, key, job_id, fingerprint)
        if first != job_id:  # a repeat: the same job, a fresh token, nothing queued again
            earlier = await services.store.get(first)
            return _accepted(
                services, principal, job_type, first, earlier.status.status if earlier else JobState.QUEUED
            )
    timeout = services.settings.job_timeouts.get(job_type.name, job_type.timeout_seconds)
    record = await services.store.create(job_id, job_type.name, principal.id, timeout)
    message = JobMessage(job_id=job_id, job_type=job_type.name, input=given)
    try:
        await services.queue.send(message)
    except Exception as exc:
        # The row exists but no worker will ever see it: fail it now rather than
        # leave it Queued, and tell the caller to try again (with the same key: it is forgotten).
        log.warning("job %s could not be queued (%s); marked Failed", job_id, type(exc).__name__)
        if key is not None:
            await services.store.release_start(principal.id, key)
        failed = await services.store.update(
            record,
            JobUpdate(status=JobState.FAILED, message=Failure.UNQUEUED.message(), error="the job queue is unavailable"),
        )
        job_finished(failed, Failure.UNQUEUED)
        raise ApiError(
            503, "the job queue is unavailable; the job was not started", headers={"Retry-After": "5"}
        ) from exc

    log.info("job %s (%s) queued", job_id, job_type.name, extra={"jobId": job_id})
    return _accepted(services, principal, job_type, job_id, record.status.status)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, "Idempotency-Key must be 1 to 128 letters, digits or _ . : -")
    return key


def _accepted(services: Services, principal: Principal, job_type: JobType, job_id: str, state: JobState) -> Response:
    token, expires = services.tokens.issue(principal.id, [job_id])
    accepted = StartAccepted(
        job_id=job_id,
        job_type=job_type.name,
        status=state,
        status_url=status_url(job_type.name, job_id),
        events_url=events_url(job_type.name, job_id),
        token=token,
        token_expires_at=expires,
    )
    return JSONResponse(
        accepted.model_dump(mode="json", by_alias=True),
        status_code=202,
        headers={"Location": accepted.status_url, "Retry-After": str(POLL_AFTER_MIN)},
    )


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def poll_after(record: JobRecord, now: datetime) -> str:
    """The `Retry-After` of a status answer for an unfinished job: 2 s, or for a
    running job that reports progress, when it should be done (+1 s for the final
    write to land). Polling clients that reset their backoff on progress use it as
    the floor of their next wait, so they skip the polls that could only say
    "still running" (bench/README.md, benchmark 1)."""
    left = seconds_left(record.status, record.started_at, now)
    seconds = POLL_AFTER_MIN if left is None else math.ceil(left + 1)
    return str(min(POLL_AFTER_MAX, max(POLL_AFTER_MIN, seconds)))


async def _callers_job(request: Request) -> tuple[Services, Principal, JobRecord]:
    """The job named by the path, if the caller owns it (else 401/404)."""
    services = get_services()
    job_type = _job_type(request)
    principal = await services.auth.principal(request)
    record = await _owned_job(services, principal, job_type.name, request.path_params.get("jobId", ""))
    return services, principal, record


@endpoint("GET /api/jobs/{jobType}/{jobId}")
async def get_status(request: Request) -> Response:
    services, _, record = await _callers_job(request)
    status = record.status
    # Clients add ?fallback=1 to polls made because SSE failed: the fallback rate.
    metrics().polls.add(1, {"job_type": status.job_type, "fallback": request.query_params.get("fallback") == "1"})
    etag = f'"{status.version}"'
    headers = {"ETag": etag}
    if not status.status.terminal:
        headers["Retry-After"] = poll_after(record, services.clock.now())
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(status.model_dump(mode="json", by_alias=True, exclude_none=True), headers=headers)


@endpoint("POST /api/jobs/{jobType}/{jobId}/cancel")
async def cancel_job(request: Request) -> Response:
    """200 with the Failed status if the job ended now (it was Queued), 202 with its
    Running status if its worker was asked to stop, 409 if it had finished."""
    services, _, record = await _callers_job(request)
    done = await services.store.cancel(record.job_id, CANCEL_GRACE)
    if done.status.status.terminal:
        job_finished(done, Failure.CANCELLED)
    log.info("job %s: cancel asked (%s)", done.job_id, done.status.status, extra={"jobId": done.job_id})
    body = done.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return JSONResponse(body, status_code=200 if done.status.status.terminal else 202)


@endpoint("GET /api/jobs")
async def list_jobs(request: Request) -> Response:
    """The caller's jobs, newest first: `status=active` (default) or `recent` (24 h)."""
    services = get_services()
    principal = await services.auth.principal(request)
    try:
        query = JobListQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"]}))
        raise BadListing(f"the listing query is not valid: {fields or 'query'}") from None
    listing = services.store.list_active if query.status == "active" else services.store.list_recent
    page = await listing(principal.id, query.limit, query.continuation_token)
    answer = JobList(jobs=[record.status for record in page.jobs], continuation_token=page.after)
    return JSONResponse(
        answer.model_dump(mode="json", by_alias=True, exclude_none=True)
        | {"continuationToken": answer.continuation_token}
    )


@endpoint("POST /api/jobs/{jobType}/{jobId}/token")
async def mint_token(request: Request) -> Response:
    services, principal, record = await _callers_job(request)
    token, expires = services.tokens.issue(principal.id, [record.job_id])
    body = StreamToken(
        token=token, token_expires_at=expires, events_url=events_url(record.status.job_type, record.job_id)
    )
    response = JSONResponse(body.model_dump(mode="json", by_alias=True))
    set_stream_cookie(response, request, token, body.events_url)
    return response


@endpoint("POST /api/watch")
async def watch(request: Request) -> Response:
    services = get_services()
    principal = await services.auth.principal(request)
    body = await read_json(request, services.settings.max_request_bytes)
    wanted = validate(WatchRequest, body, what="watch request")
    limit = services.settings.sse_max_jobs_per_stream
    job_ids = list(dict.fromkeys(ref.job_id for ref in wanted.jobs))
    if len(job_ids) > limit:
        raise ApiError(422, f"at most {limit} jobs per stream; open another stream for the rest")
    await asyncio.gather(*(_owned_job(services, principal, ref.job_type, ref.job_id) for ref in wanted.jobs))
    # Each /watch stream has a URL of its own, so its cookie overwrites no other stream's.
    stream_id = uuid.uuid4().hex
    token, expires = services.tokens.issue(principal.id, job_ids, stream_id=stream_id)
    answer = WatchToken(token=token, token_expires_at=expires, events_url=watch_events_url(stream_id), job_ids=job_ids)
    response = JSONResponse(answer.model_dump(mode="json", by_alias=True))
    set_stream_cookie(response, request, token, answer.events_url)
    return response


@endpoint("GET /api/jobs/{jobType}/{jobId}/events")
async def job_events(request: Request) -> Response:
    services = get_services()
    job_type = _job_type(request)
    job_id = request.path_params.get("jobId", "")
    services.opener.authorize(stream_credential(request), job_id=job_id)
    return await _stream(services, request, (job_id,), job_type.name)


@endpoint("GET /api/watch/events")
async def watch_events(request: Request) -> Response:
    """The jobs of a /watch token given as `access_token` (clients without cookies)."""
    services = get_services()
    grant = services.opener.authorize(stream_credential(request))
    return await _stream(services, request, grant.job_ids)


@endpoint("GET /api/watch/{streamId}/events")
async def watch_stream_events(request: Request) -> Response:
    """The jobs of one /watch token, by its stream cookie (or `access_token`)."""
    services = get_services()
    grant = services.opener.authorize(stream_credential(request), stream_id=request.path_params.get("streamId", ""))
    return await _stream(services, request, grant.job_ids)


async def _stream(
    services: Services, request: Request, job_ids: tuple[str, ...], job_type: str | None = None
) -> Response:
    resume = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    opened = await services.opener.open(job_ids, resume, job_type=job_type)
    if isinstance(opened, AllFinished):
        return Response(status_code=204)
    return EventStreamResponse(services.streams.body(opened), headers=STREAM_HEADERS, media_type="text/event-stream")
