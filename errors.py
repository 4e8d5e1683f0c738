"""Every exception the app raises on purpose, in one place (as HTTPX keeps `_exceptions.py`).

    JobEventsError
    ├── SettingsError            a setting is missing or wrong (start-up stops)
    ├── JobError                 a job function's deliberate, permanent failure
    ├── RetryLater               to the trigger: deliver the message again
    ├── StaleUpdate              an update would move a job backwards
    ├── StoreError
    │   ├── JobNotFound
    │   ├── Superseded           another delivery owns the job now
    │   ├── Cancelled            the job's owner cancelled it (raised in the job function)
    │   └── StoreConflict        too many concurrent writers on one job
    └── ClientError              a request that cannot be served as asked: one HTTP status each
        ├── IdempotencyConflict  409 (an Idempotency-Key reused with another body)
        ├── JobFinished          409 (a cancel of a job that has already finished)
        ├── BadListing           400 (a job listing asked with a bad status, limit or token)
        └── StreamError          a stream that cannot be opened
            ├── UnknownJob       404 (another principal's job looks the same)
            ├── BadResume        400
            ├── AtCapacity       503 + Retry-After
            ├── TokenError       401 + WWW-Authenticate
            └── TokenScopeError  403

The modules that raise them re-export them; `api/http.py` maps the client errors to
problem+json in one table.
"""

from __future__ import annotations


class JobEventsError(Exception):
    """Base of every exception below."""


class SettingsError(JobEventsError, RuntimeError):
    """A setting is missing or wrong. The message names it."""


class JobError(JobEventsError):
    """A deliberate, permanent failure: the job fails now and is not retried."""


class RetryLater(JobEventsError):
    """Raised to the trigger so the platform delivers the message again."""


class StaleUpdate(JobEventsError):
    """The update would move a job backwards or change a finished job."""


class StoreError(JobEventsError):
    """The status store refused a write."""


class JobNotFound(StoreError, LookupError):
    pass


class Superseded(StoreError):
    """Another delivery of the same message now owns the job."""


class Cancelled(StoreError):
    """The job's owner cancelled it: raised at the job function's next `progress()` call."""


class StoreConflict(StoreError, RuntimeError):
    """Too many concurrent writers on one job; the caller may retry later."""


class ClientError(JobEventsError):
    """A request that cannot be served as asked."""


class IdempotencyConflict(ClientError):
    """The Idempotency-Key already started a job with another body."""


class JobFinished(ClientError):
    """The job has already finished: it cannot be cancelled."""


class BadListing(ClientError, ValueError):
    """A job listing asked with a status, limit or continuation token it cannot take."""


class StreamError(ClientError):
    """A stream that cannot be opened as asked."""


class UnknownJob(StreamError, LookupError):
    """No such job, not of this type, or not the caller's."""


class BadResume(StreamError, ValueError):
    """A Last-Event-ID that this stream could not have sent."""


class AtCapacity(StreamError):
    """This process holds its maximum number of streams."""


class TokenError(StreamError):
    """Missing, malformed, expired or badly signed: 401."""


class TokenScopeError(StreamError):
    """Valid, but not for this job or stream: 403."""
