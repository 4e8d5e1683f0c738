"""SIGTERM under any host: open streams get their planned `reconnect` at once.

The HTTP server that serves the app owns the process's signals: the Functions
worker's uvicorn (and the local host's) installs its handlers when it starts
serving, after `function_app.py` is imported, and on SIGTERM waits for open
connections to close; an SSE stream never closes by itself. A handler set at
import would be replaced, so the stream manager chains one in front of the
server's whenever streams start to open (by then the server is serving). It asks
the streams to end, then calls the server's handler, which shuts down as it would.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_MARK = "_jobevents_chained"
# The newest stream manager's (one per process; tests make one per event loop).
_target: tuple[Callable[[], None], asyncio.AbstractEventLoop] | None = None


def chain_shutdown(callback: Callable[[], None], loop: asyncio.AbstractEventLoop) -> None:
    """Run `callback` on `loop` before the server's own handler of each signal.

    Only a Python handler is chained: where none is installed (the default action,
    or ignored), the platform's behaviour is left as it is. Cheap when already chained."""
    global _target
    _target = (callback, loop)
    if threading.current_thread() is not threading.main_thread():
        return  # signals can only be set from the main thread
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if callable(previous) and not getattr(previous, _MARK, False):
            signal.signal(sig, _chained(previous))


def _chained(previous: Callable[[int, FrameType | None], Any]) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if _target is not None and not _target[1].is_closed():
            _target[1].call_soon_threadsafe(_target[0])
        previous(signum, frame)

    setattr(handler, _MARK, True)
    return handler
