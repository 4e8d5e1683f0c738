"""The event-stream response: Starlette's StreamingResponse, minus anyio's task group.

Starlette watches for a client disconnect with a task group per response. An open
SSE stream lives for minutes and a process holds thousands, so this keeps one small
listener task instead, which cancels the body when the client goes. It is still a
FastAPI `StreamingResponse`, as the Functions HTTP streaming extension requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect

from azurefunctions.extensions.http.fastapi import StreamingResponse
from starlette.types import Receive, Scope, Send


class EventStreamResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        spec = tuple(map(int, scope.get("asgi", {}).get("spec_version", "2.0").split(".")))
        if spec >= (2, 4) or scope["type"] != "http":
            await super().__call__(scope, receive, send)  # servers that report disconnects on send
            return
        body = asyncio.current_task()
        assert body is not None
        streaming, gone = True, False

        async def listen() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            if streaming:
                body.cancel()

        listener = asyncio.get_running_loop().create_task(listen())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not gone:
                raise
            body.uncancel()
            # The generator may be parked at a `yield`: close it so its `finally` runs now.
            if inspect.isasyncgen(self.body_iterator):
                with contextlib.suppress(Exception):
                    await self.body_iterator.aclose()
        finally:
            streaming = False
            listener.cancel()
