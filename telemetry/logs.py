"""Logging: structured, correlated, and never carrying a token.

- Correlation: `jobId` and the Functions `invocationId` live in context variables;
  a filter copies them onto every record, so App Insights shows them as
  customDimensions and the local console prints them.
- Redaction: handlers log route templates, not URLs, but the filter also scrubs
  anything that looks like a token or a query string, in case a library logs a URL.
- Under every host: `harden()` runs when `function_app.py` is imported, because the
  Functions worker configures logging itself (the root logger at INFO, and its
  uvicorn's default config, access log included). Loggers' filters and the levels
  of loggers that uvicorn's config does not name survive that; handler set-up does not.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

JOB_ID: ContextVar[str | None] = ContextVar("job_id", default=None)
INVOCATION_ID: ContextVar[str | None] = ContextVar("invocation_id", default=None)

_PATTERNS = [
    (re.compile(r"(access_token|token|sig|code)=[^&\s\"']+", re.IGNORECASE), r"\1=[redacted]"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
]


# Whatever any pattern above can match starts with one of these: one search tells the usual
# line (every request writes one) that it has nothing to scrub, instead of three passes.
_ANY_SECRET = re.compile(r"(?:access_token|token|sig|code)=|bearer\s|eyJ", re.IGNORECASE)


def redact(text: str) -> str:
    if _ANY_SECRET.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def correlated(*, job_id: str | None = None, invocation_id: str | None = None) -> Iterator[None]:
    """Tag every log record written inside the block."""
    tokens = []
    if job_id is not None:
        tokens.append((JOB_ID, JOB_ID.set(job_id)))
    if invocation_id is not None:
        tokens.append((INVOCATION_ID, INVOCATION_ID.set(invocation_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def new_invocation_id() -> str:
    return str(uuid.uuid4())


class ContextFilter(logging.Filter):
    """Adds jobId/invocationId and scrubs secrets from the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "jobId"):
            record.jobId = JOB_ID.get()
        if not hasattr(record, "invocationId"):
            record.invocationId = INVOCATION_ID.get()
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [f"{k}={getattr(record, k)}" for k in ("jobId", "invocationId") if getattr(record, k, None)]
        return f"{line} [{' '.join(tags)}]" if tags else line


# The Azure SDKs log each storage request (several lines) at INFO: in Azure that is
# billed ingestion, and the feed watcher makes requests all the time.
QUIET_LOGGERS = ("azure", "uamqp", "aiohttp.access")
# uvicorn's access log prints each request line with its query string (a stream
# token there); the `api` logger writes a query-free line for every request instead.
ACCESS_LOGGERS = ("uvicorn.access",)
# uvicorn's own messages stay, redacted in case one carries a URL.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error")


class DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


def _add_once(target: logging.Logger | logging.Handler, kind: type[logging.Filter]) -> None:
    if not any(isinstance(f, kind) for f in target.filters):
        target.addFilter(kind())


def harden() -> None:
    """What every process that imports the app needs, whoever configured logging."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ACCESS_LOGGERS:
        _add_once(logging.getLogger(name), DropFilter)
    for name in SERVER_LOGGERS:
        _add_once(logging.getLogger(name), ContextFilter)
    install_filter()


def configure_logging(level: int = logging.INFO) -> None:
    """The local host's console: one text handler on the root logger."""
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    harden()


def install_filter() -> None:
    """Add the correlation/redaction filter to the handlers someone else configured
    (the Functions worker's), without replacing them."""
    for handler in logging.getLogger().handlers:
        _add_once(handler, ContextFilter)
