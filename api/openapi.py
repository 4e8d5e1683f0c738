"""The OpenAPI 3.1 document, generated from the pydantic models and the job registry.

Each job type gets its own start path with its own input schema, so a client
generator or a fuzzer sees exactly what each accepts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.cookies import COOKIE_NAME, QUERY_PARAMETER
from api.handlers import IDEMPOTENCY_KEY
from api.models import JobList, JobListQuery, StartAccepted, StreamToken, WatchRequest, WatchToken
from api.problems import Problem
from jobs.model import JOB_ID_PATTERN, JOB_TYPE_PATTERN, JobStatus
from jobs.registry import job_types

REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref(Problem)}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


def _retry_after(description: str = "Seconds to wait.") -> dict[str, Any]:
    return {"Retry-After": _header(description, {"type": "string", "pattern": r"^\d+$"})}


RETRY_AFTER = _retry_after()
UNAVAILABLE = _problem("Storage or queue unavailable, stream capacity reached, or shutting down.", RETRY_AFTER)
UNAUTHORIZED = _problem("Missing or invalid credentials.", {"WWW-Authenticate": _header("The challenge.")})
NOT_FOUND = _problem("Unknown job type, or no such job for this caller.")


def _json(model: type[BaseModel], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref(model)}}}
    if headers:
        answer["headers"] = headers
    return answer


def _path_param(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters of a pydantic query model (one home for their rules)."""
    params = []
    for name, schema in model.model_json_schema(by_alias=True)["properties"].items():
        description = schema.pop("description", "")
        schema.pop("title", None)
        params.append({"name": name, "in": "query", "required": False, "schema": schema, "description": description})
    return params


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    # An empty body means "all defaults", which only works when nothing is required.
    required = any(field.is_required() for field in model.model_fields.values())
    return {"required": required, "content": {"application/json": {"schema": _ref(model)}}}


BODY_ERRORS = {
    "400": _problem("Malformed JSON."),
    "413": _problem("Body too large."),
    "415": _problem("Body is not JSON."),
    "422": _problem("Input fails the model; `errors` lists the fields."),
}

IDEMPOTENCY_KEY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern.join("^$")},
    "description": "A key of the client's per start (repeated by its retries): a repeat with the same "
    "body answers the same job and queues nothing; with another body, 409.",
}

STREAM_PARAMS = [
    {
        "name": COOKIE_NAME,
        "in": "cookie",
        "required": False,
        "schema": {"type": "string"},
        "description": "The stream cookie set by /token and /watch for this URL (browsers: the default).",
    },
    {
        "name": QUERY_PARAMETER,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "Stream token from start, /token or /watch, where cookies cannot be used.",
    },
    {
        "name": "lastEventId",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "Resume point (same as the Last-Event-ID header).",
    },
    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
]

STREAM_ANSWERS = {
    "200": {
        "description": "Server-sent events. Each `data:` line is a JobStatus; `id:` is the version "
        "vector; a `reconnect` event announces a planned close.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    "204": {"description": "The client already has every terminal event: nothing more will come."},
    "400": _problem("Last-Event-ID does not fit this stream."),
    "401": UNAUTHORIZED,
    "403": _problem("The token does not cover this job or stream."),
    "404": NOT_FOUND,
    "503": UNAVAILABLE,
}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    types = job_types()
    models: list[type[BaseModel]] = [JobStatus, JobList, StartAccepted, StreamToken, WatchRequest, WatchToken, Problem]
    models += [t.input_model for t in types.values()]
    _, schemas = models_json_schema([(m, "validation") for m in models], ref_template=REF)

    paths: dict[str, Any] = {}
    for name, job_type in sorted(types.items()):
        paths[f"/api/jobs/{name}/start"] = {
            "post": {
                "operationId": f"start{name}",
                "summary": f"Start a {name} job",
                "description": job_type.description,
                "parameters": [IDEMPOTENCY_KEY_PARAM],
                "requestBody": _json_body(job_type.input_model),
                "responses": {
                    "202": _json(
                        StartAccepted,
                        "Queued (or, for a repeated Idempotency-Key, the job it started).",
                        {"Location": _header("The status URL."), **RETRY_AFTER},
                    ),
                    **BODY_ERRORS,
                    "401": UNAUTHORIZED,
                    "409": _problem("This Idempotency-Key started a job with another body."),
                    "503": UNAVAILABLE,
                },
            }
        }
    job_params = [_path_param("jobType", JOB_TYPE_PATTERN), _path_param("jobId", JOB_ID_PATTERN)]
    paths["/api/jobs/{jobType}/{jobId}"] = {
        "get": {
            "operationId": "getJobStatus",
            "summary": "Current status (the polling path)",
            "parameters": [
                *job_params,
                {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": _json(
                    JobStatus,
                    "The status.",
                    {
                        "ETag": _header("The version."),
                        **_retry_after(
                            "While the job is unfinished: seconds to wait, 2, or for a running job that"
                            " reports progress, when it should be done (at most 60)."
                        ),
                    },
                ),
                "304": {"description": "Unchanged since the ETag sent."},
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "503": UNAVAILABLE,
            },
        }
    }
    paths["/api/jobs/{jobType}/{jobId}/cancel"] = {
        "post": {
            "operationId": "cancelJob",
            "summary": 'Cancel a job: it ends Failed, message "cancelled"',
            "parameters": job_params,
            "responses": {
                "200": _json(JobStatus, "It was Queued and has ended now."),
                "202": _json(JobStatus, "It is Running: its worker was asked to stop (within seconds)."),
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "409": _problem("The job has already finished."),
                "503": UNAVAILABLE,
            },
        }
    }
    paths["/api/jobs"] = {
        "get": {
            "operationId": "listJobs",
            "summary": "The caller's jobs, newest first (for a reloaded page)",
            "parameters": _query_params(JobListQuery),
            "responses": {
                "200": _json(JobList, "One page."),
                "400": _problem("A bad status, limit or continuationToken."),
                "401": UNAUTHORIZED,
                "503": UNAVAILABLE,
            },
        }
    }
    paths["/api/jobs/{jobType}/{jobId}/events"] = {
        "get": {
            "operationId": "streamJobEvents",
            "summary": "Server-sent events for one job",
            "parameters": [*job_params, *STREAM_PARAMS],
            "responses": STREAM_ANSWERS,
        }
    }
    paths["/api/jobs/{jobType}/{jobId}/token"] = {
        "post": {
            "operationId": "mintStreamToken",
            "summary": "A fresh short-lived stream token (for reconnects)",
            "parameters": job_params,
            "responses": {
                "200": _json(StreamToken, "A token."),
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "503": UNAVAILABLE,
            },
        }
    }
    paths["/api/watch"] = {
        "post": {
            "operationId": "watchJobs",
            "summary": "A token for one stream that carries several jobs",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(WatchRequest)}}},
            "responses": {
                "200": _json(WatchToken, "A token."),
                **BODY_ERRORS,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "503": UNAVAILABLE,
            },
        }
    }
    paths["/api/watch/events"] = {
        "get": {
            "operationId": "streamWatchedJobs",
            "summary": "Server-sent events for the jobs in a /watch token",
            "parameters": STREAM_PARAMS,
            "responses": {k: v for k, v in STREAM_ANSWERS.items() if k != "403"},
        }
    }
    paths["/api/watch/{streamId}/events"] = {
        "get": {
            "operationId": "streamWatchedJobsByCookie",
            "summary": "Server-sent events for the jobs of one /watch answer (its eventsUrl)",
            "parameters": [
                {"name": "streamId", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}},
                *STREAM_PARAMS,
            ],
            "responses": STREAM_ANSWERS,
        }
    }
    paths["/api/health"] = {
        "get": {
            "operationId": "health",
            "summary": "Storage and queue reachability",
            "responses": {
                "200": {"description": "Healthy.", "content": {"application/json": {"schema": {"type": "object"}}}},
                "503": {
                    "description": "Unhealthy.",
                    "headers": RETRY_AFTER,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Job events",
            "version": "1.0.0",
            "description": "Start background jobs and learn when they finish: polling with ETags, "
            "or server-sent events.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
