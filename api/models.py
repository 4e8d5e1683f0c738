"""Payloads of the HTTP API other than the standard JobStatus."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from jobs.model import JOB_ID_PATTERN, JOB_TYPE_PATTERN, CamelModel, JobState


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
