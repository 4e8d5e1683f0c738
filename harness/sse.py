"""A small, strict SSE reader for tests and benchmarks: events, comments and ids as sent.

`EventReader` holds the field rules (one place); `parse` (sync, a whole transcript) and
`aevents` (async, one event at a time) both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    data: str = ""
    id: str | None = None
    event: str = "message"
    retry: int | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Transcript:
    status: int
    headers: httpx.Headers
    events: list[Event] = field(default_factory=list)
    comments: list[tuple[float, str]] = field(default_factory=list)
    retry: int | None = None
    closed_by_server: bool = False
    elapsed: float = 0.0

    @property
    def messages(self) -> list[Event]:
        return [e for e in self.events if e.event == "message"]

    def statuses(self) -> list[dict[str, Any]]:
        return [e.json() for e in self.messages]


class EventReader:
    """The SSE field rules, line by line: `feed` returns the event a blank line completes.

    Comment lines are ignored here (callers that want them look first); an event without
    `data` is not dispatched; `retry` takes effect at once, whatever the event."""

    def __init__(self) -> None:
        self.retry: int | None = None
        self._event = Event()
        self._has_data = False

    def feed(self, line: str) -> Event | None:
        if line == "":
            done = self._event if self._has_data else None
            self._event, self._has_data = Event(), False
            return done
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._event.data = f"{self._event.data}\n{value}" if self._has_data else value
            self._has_data = True
        elif name == "id":
            self._event.id = value
        elif name == "event":
            self._event.event = value
        elif name == "retry" and value.isdigit():
            self.retry = self._event.retry = int(value)
        return None


async def aevents(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    """The events of a stream's lines (e.g. httpx's `response.aiter_lines()`), as they complete."""
    reader = EventReader()
    async for line in lines:
        event = reader.feed(line)
        if event is not None:
            yield event


def parse(lines: Iterator[str], transcript: Transcript, started: float, stop_after: int | None = None) -> None:
    reader = EventReader()
    for line in lines:
        if line.startswith(":"):
            transcript.comments.append((time.monotonic() - started, line[1:].strip()))
        event = reader.feed(line)
        transcript.retry = reader.retry
        if event is not None:
            transcript.events.append(event)
            if stop_after is not None and len(transcript.messages) >= stop_after:
                return
    transcript.closed_by_server = True


def read_stream(
    url: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    stop_after: int | None = None,
) -> Transcript:
    """Read a whole stream (until the server closes it, or `stop_after` messages)."""
    started = time.monotonic()
    with (
        httpx.Client(timeout=httpx.Timeout(timeout, connect=5)) as client,
        client.stream("GET", url, params=params, headers=headers) as response,
    ):
        transcript = Transcript(response.status_code, response.headers)
        if response.status_code == 200:
            parse(response.iter_lines(), transcript, started, stop_after)
        else:
            response.read()
            transcript.events.append(Event(data=response.text, event="error"))
    transcript.elapsed = time.monotonic() - started
    return transcript


@dataclass
class WatchLog:
    """What one resuming watcher saw, across all its connections."""

    job_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    connections: int = 0
    cuts: int = 0
    planned: int = 0
    statuses: list[int] = field(default_factory=list)

    @property
    def terminal(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["status"] in ("Completed", "Failed")]


async def watch_job(
    client: httpx.AsyncClient,
    base: str,
    job: dict[str, Any],
    *,
    deadline: float = 120.0,
    resume_delay: float = 0.05,
) -> WatchLog:
    """Follow one job to its terminal event like a browser would: resume with
    Last-Event-ID after every cut or planned close, mint a fresh token on 401."""
    log = WatchLog(job["jobId"])
    token = job["token"]
    last_id: str | None = None
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        log.connections += 1
        finished = planned = False
        try:
            async with client.stream(
                "GET", f"{base}{job['eventsUrl']}", params={"access_token": token}, headers=headers
            ) as response:
                log.statuses.append(response.status_code)
                if response.status_code == 204:
                    return log
                if response.status_code == 401:
                    minted = await client.post(f"{base}/api/jobs/{job['jobType']}/{job['jobId']}/token")
                    token = minted.json()["token"]
                    continue
                if response.status_code != 200:
                    await asyncio.sleep(resume_delay * 10)
                    continue
                async with contextlib.aclosing(aevents(response.aiter_lines())) as events:
                    async for event in events:
                        if event.event == "reconnect":
                            log.planned += 1
                            planned = True
                            break
                        status = event.json()
                        log.events.append(status)
                        if event.id is not None:
                            log.ids.append(int(event.id))
                            last_id = event.id
                        if status["status"] in ("Completed", "Failed"):
                            finished = True
        except (httpx.HTTPError, OSError):
            pass
        if finished:
            return log
        if not planned:
            log.cuts += 1  # ended without a terminal event or a reconnect notice
        await asyncio.sleep(resume_delay)
    raise TimeoutError(f"job {log.job_id} did not finish for its watcher in {deadline}s")
