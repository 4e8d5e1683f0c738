"""A small, strict SSE reader for tests: events, comments and ids as sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
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


def parse(lines: Iterator[str], transcript: Transcript, started: float, stop_after: int | None = None) -> None:
    current = Event()
    has_data = False
    for line in lines:
        if line == "":
            if has_data:
                transcript.events.append(current)
                if stop_after is not None and len(transcript.messages) >= stop_after:
                    return
            current, has_data = Event(), False
            continue
        if line.startswith(":"):
            transcript.comments.append((time.monotonic() - started, line[1:].strip()))
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            current.data = f"{current.data}\n{value}" if has_data else value
            has_data = True
        elif name == "id":
            current.id = value
        elif name == "event":
            current.event = value
        elif name == "retry":
            transcript.retry = int(value)
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
                event = Event()
                has_data = False
                async for line in response.aiter_lines():
                    if line == "":
                        if has_data:
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
                        event, has_data = Event(), False
                    elif line.startswith(":"):
                        continue
                    else:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "data":
                            event.data, has_data = value, True
                        elif name == "id":
                            event.id = value
                        elif name == "event":
                            event.event = value
        except (httpx.HTTPError, OSError):
            pass
        if finished:
            return log
        if not planned:
            log.cuts += 1  # ended without a terminal event or a reconnect notice
        await asyncio.sleep(resume_delay)
    raise TimeoutError(f"job {log.job_id} did not finish for its watcher in {deadline}s")
