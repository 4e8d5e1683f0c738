"""A hub subscriber that keeps what it is given: the hub and watcher tests share it."""

from __future__ import annotations

import asyncio

from notify.hub import Change


class Inbox:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self._finished: asyncio.Event | None = None

    def deliver(self, change: Change) -> None:
        self.changes.append(change)
        if change.terminal:
            self.finished.set()

    @property
    def finished(self) -> asyncio.Event:
        """Set by a terminal change (made on first use: the hub tests run without a loop)."""
        if self._finished is None:
            self._finished = asyncio.Event()
        return self._finished
