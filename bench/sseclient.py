"""A light SSE client on raw asyncio sockets, for thousands of streams in one process.

One asyncio.Protocol per connection: HTTP/1.1 GET, chunked transfer decoding,
SSE framing split on blank lines. It counts events and keep-alive comments and
stamps the arrival time of each event; it parses an event's JSON only when asked.
No httpx, no per-stream task: so the client costs little beside the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

Listener = Callable[["SseConnection", bytes, float], None]


class SseConnection(asyncio.Protocol):
    __slots__ = (
        "_body",
        "_chunk_left",
        "_chunked",
        "_head",
        "_raw",
        "closed",
        "data_events",
        "first_data",
        "headers_done",
        "keepalives",
        "last_data",
        "last_data_at",
        "listener",
        "named_events",
        "opened_at",
        "status",
        "transport",
    )

    def __init__(self, listener: Listener | None = None) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.status: int | None = None
        self.headers_done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Resolved by the first data event, or when the stream ends without one.
        self.first_data: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._head = b""
        self._raw = b""  # undecoded chunked bytes
        self._body = b""  # decoded SSE text not yet split into events
        self._chunked = False
        self._chunk_left = -1
        self.data_events = 0
        self.named_events: dict[str, int] = {}
        self.keepalives = 0
        self.last_data: bytes | None = None
        self.last_data_at = 0.0
        self.opened_at = time.monotonic()

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.status is None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self._head[:end], self._head[end + 4 :]
            self._head = b""
            lines = head.split(b"\r\n")
            self.status = int(lines[0].split()[1])
            self._chunked = any(
                line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower() for line in lines[1:]
            )
            if not self.headers_done.done():
                self.headers_done.set_result(self.status)
        if self._chunked:
            self._dechunk(data)
        else:
            self._body += data
        self._events(now)
        if self._chunk_left == -3:
            # The response ended (last chunk): HTTP/1.1 keeps the connection, the stream is over.
            _resolve(self.first_data)
            _resolve(self.closed)
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.headers_done.done():
            self.headers_done.set_exception(ConnectionError("closed before the response head"))
        _resolve(self.first_data)
        _resolve(self.closed)

    # --- parsing

    def _dechunk(self, data: bytes) -> None:
        # _chunk_left: > 0 data bytes still due; -1 a size line; -2 the CRLF after data; -3 the body ended.
        raw = self._raw + data
        pos, n = 0, len(raw)
        out = []
        while pos < n:
            if self._chunk_left == -1:
                end = raw.find(b"\r\n", pos)
                if end < 0:
                    break
                size = int(raw[pos:end].split(b";")[0], 16)
                pos = end + 2
                self._chunk_left = size if size else -3
            elif self._chunk_left == -2:
                if n - pos < 2:
                    break
                pos += 2
                self._chunk_left = -1
            elif self._chunk_left == -3:
                pos = n
            else:
                take = min(self._chunk_left, n - pos)
                out.append(raw[pos : pos + take])
                pos += take
                self._chunk_left -= take
                if self._chunk_left == 0:
                    self._chunk_left = -2
        self._raw = raw[pos:]
        self._body += b"".join(out)

    def _events(self, now: float) -> None:
        body = self._body.replace(b"\r\n", b"\n") if b"\r" in self._body else self._body
        if b"\n\n" not in body:
            self._body = body
            return
        *blocks, rest = body.split(b"\n\n")
        self._body = rest
        for block in blocks:
            if not block:
                continue
            if block.startswith(b":"):
                self.keepalives += 1
                continue
            name = None
            data = []
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    data.append(line[5:].lstrip(b" ") if line[5:6] == b" " else line[5:])
                elif line.startswith(b"event:"):
                    name = line[6:].strip().decode()
            if not data:
                continue  # e.g. `retry:` alone
            payload = b"\n".join(data)
            if name is None or name == "message":
                self.data_events += 1
                self.last_data = payload
                self.last_data_at = now
                _resolve(self.first_data)
            else:
                self.named_events[name] = self.named_events.get(name, 0) + 1
            if self.listener is not None:
                self.listener(self, payload if name is None else name.encode() + b"\0" + payload, now)

    def last_json(self) -> Any:
        return json.loads(self.last_data) if self.last_data is not None else None

    def abort(self) -> None:
        """Close at once with a RST: no TIME_WAIT left behind on the client's ports."""
        if self.transport is None or self.transport.is_closing():
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def open_stream(
    host: str, port: int, path: str, *, listener: Listener | None = None, wait: float = 30.0
) -> SseConnection:
    """Open one stream and wait for its response head (raises if not 200)."""
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    _, conn = await asyncio.wait_for(loop.create_connection(lambda: SseConnection(listener), host, port), timeout=wait)
    assert conn.transport is not None
    conn.transport.write(request)
    status = await asyncio.wait_for(conn.headers_done, timeout=wait)
    if status != 200:
        conn.abort()
        raise ConnectionError(f"stream answered {status}")
    return conn


async def open_many(
    host: str,
    port: int,
    paths: list[str],
    *,
    concurrency: int = 200,
    listener: Listener | None = None,
    first_event: bool = True,
    wait: float = 60.0,
) -> list[SseConnection]:
    """Open len(paths) streams, `concurrency` at a time; with first_event, wait for each one's first event."""
    semaphore = asyncio.Semaphore(concurrency)
    conns: list[SseConnection] = []

    async def one(path: str) -> None:
        async with semaphore:
            conn = await open_stream(host, port, path, listener=listener, wait=wait)
            conns.append(conn)
            if first_event:
                try:
                    await asyncio.wait_for(conn.first_data, timeout=wait)
                except TimeoutError:
                    raise TimeoutError("no first event") from None

    results = await asyncio.gather(*(one(p) for p in paths), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        for conn in conns:
            conn.abort()
        raise RuntimeError(f"{len(errors)} of {len(paths)} streams failed to open; first: {errors[0]!r}")
    return conns


def close_all(conns: list[SseConnection]) -> None:
    for conn in conns:
        conn.abort()
