"""A small, strict SSE reader for tests: events, comments and ids as sent."""

from __future__ import annotations

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
