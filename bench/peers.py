"""The two reference servers that benchmark 4 runs beside the product.

    python -m bench.peers --kind bare|sse-starlette --port P [--keepalive 15]

- `bare`: uvicorn + Starlette, a StreamingResponse whose generator does nothing
  but stream: the first event at once, then a keep-alive after each quiet
  interval, and the broadcast event when there is one. The physical limit of
  this server stack.
- `sse-starlette`: the same behaviour through `sse_starlette.EventSourceResponse`
  (its own ping task per stream), the usual library for SSE on Starlette.

Both serve GET /stream, POST /broadcast (every open stream gets one event whose
JSON carries the broadcast time) and GET /stats. Same uvicorn settings as the
local host (h11, backlog 4096, no access log).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


class Broadcast:
    """One asyncio.Event per broadcast, shared by every stream: set and replaced."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.payload = b""
        self.sequence = 0
        self.open = 0

    def fire(self) -> int:
        self.sequence += 1
        body = json.dumps({"seq": self.sequence, "sentAt": time.time()}, separators=(",", ":"))
        self.payload = f"id: {self.sequence}\ndata: {body}\n\n".encode()
        event, self.event = self.event, asyncio.Event()
        event.set()
        return self.sequence


FIRST = b'retry: 3000\n\nid: 1\ndata: {"status":"Running","seq":0}\n\n'


def build(kind: str, keepalive: float) -> Starlette:
    state = Broadcast()

    async def bare_body() -> AsyncIterator[bytes]:
        state.open += 1
        try:
            yield FIRST
            while True:
                event = state.event
                try:
                    async with asyncio.timeout(keepalive):
                        await event.wait()
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield state.payload
        finally:
            state.open -= 1

    async def library_body() -> AsyncIterator[Any]:
        from sse_starlette import ServerSentEvent

        state.open += 1
        try:
            yield ServerSentEvent(data='{"status":"Running","seq":0}', id="1", retry=3000)
            while True:
                event = state.event
                await event.wait()
                data = state.payload.split(b"data: ", 1)[1].strip().decode()
                yield ServerSentEvent(data=data, id=str(state.sequence))
        finally:
            state.open -= 1

    async def stream(request: Request) -> Response:
        if kind == "bare":
            return StreamingResponse(bare_body(), media_type="text/event-stream", headers=HEADERS)
        from sse_starlette import EventSourceResponse

        return EventSourceResponse(library_body(), ping=keepalive, headers=HEADERS)

    async def broadcast(request: Request) -> Response:
        return JSONResponse({"seq": state.fire(), "open": state.open})

    async def stats(request: Request) -> Response:
        return JSONResponse({"open": state.open, "tasks": len(asyncio.all_tasks())})

    return Starlette(
        routes=[
            Route("/stream", stream, methods=["GET"]),
            Route("/broadcast", broadcast, methods=["POST"]),
            Route("/stats", stats, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["bare", "sse-starlette"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keepalive", type=float, default=15.0)
    args = parser.parse_args()
    config = uvicorn.Config(
        build(args.kind, args.keepalive),
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        log_config=None,
        backlog=4096,
        limit_concurrency=None,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=1,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
