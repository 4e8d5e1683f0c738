"""Payloads of the HTTP API other than the standard JobStatus."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from jobs.model import JOB_ID_PATTERN, JOB_TYPE_PATTERN, CamelModel, JobState, JobStatus

MAX_PAGE = 100  # jobs per listing page: each is one point read
# A listing's place: the last job's `jobs/store.py::position` (inverted creation ms, job id).
CONTINUATION_PATTERN = r"^\d{13}-" + JOB_ID_PATTERN.removeprefix("^")


class StartAccepted(CamelModel):
    """202 answer to a start: where to poll, where to stream, and a stream token."""

    job_id: str
    job_type: str
    status: JobState
    status_url: str
    events_url: str = Field(description="Open with ?access_token=<token>, or mint a stream cookie with /token.")
    token: str
    token_expires_at: datetime


class StreamToken(CamelModel):
    """Also set as the stream cookie for `events_url`: a browser opens that URL as it is."""

    token: str
    token_expires_at: datetime
    events_url: str


class JobRef(CamelModel):
    job_type: str = Field(pattern=JOB_TYPE_PATTERN)
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class WatchRequest(CamelModel):
    """Several jobs on one stream: a browser allows only six HTTP/1.1 connections per site."""

    jobs: list[JobRef] = Field(min_length=1)


class WatchToken(CamelModel):
    """Also set as the stream cookie for `events_url`, a URL of this stream's own."""

    token: str
    token_expires_at: datetime
    events_url: str
    job_ids: list[str] = Field(description="The stream's job order: the order of versions in its event ids.")


class JobListQuery(CamelModel):
    """The query of `GET /api/jobs`."""

    status: Literal["active", "recent"] = Field(
        "active", description="`active`: Queued or Running. `recent`: every job of the last 24 h."
    )
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="Jobs per page.")
    continuation_token: str | None = Field(
        None, pattern=CONTINUATION_PATTERN, description="The previous page's `continuationToken`, as it came."
    )


class JobList(CamelModel):
    """The caller's jobs, newest first."""

    jobs: list[JobStatus]
    continuation_token: str | None = Field(description="Pass it back for the next page; null: the last page.")
