"""Opening a stream, in one call: authorised, subscribed first and read second.

The stream subscribes to its jobs in the hub before their state is read, so a change
that lands between the two is not lost; the hub drops whatever the client already has
(its resume vector). A client that already has every terminal event gets `AllFinished`
(the HTTP layer answers 204, which stops `EventSource` reconnecting).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from errors import TokenError, TokenScopeError, UnknownJob
from jobs.model import is_job_id
from jobs.store import StatusStore
from notify.hub import Arrival, Hub
from notify.streams import CloseReason, Stream, StreamManager, parse_resume
from notify.tokens import StreamGrant, StreamTokens
from notify.watcher import FeedWatcher


@dataclass(frozen=True)
class AllFinished:
    """Nothing more will come: the client has every job's terminal event."""


class StreamOpener:
    def __init__(
        self, tokens: StreamTokens, streams: StreamManager, hub: Hub, store: StatusStore, watcher: FeedWatcher
    ) -> None:
        self._tokens = tokens
        self._streams = streams
        self._hub = hub
        self._store = store
        self._watcher = watcher

    def authorize(
        self, credential: str | None, *, job_id: str | None = None, stream_id: str | None = None
    ) -> StreamGrant:
        """The grant of a stream token, for this job or /watch stream; a refusal counts as an `auth` close."""
        try:
            grant = self._tokens.verify(credential)
            if job_id is not None:
                grant.require(job_id)
            if stream_id is not None:
                grant.require_stream(stream_id)
        except (TokenError, TokenScopeError):
            self._streams.record_close(CloseReason.AUTH)
            raise
        return grant

    async def open(
        self, job_ids: Sequence[str], last_event_id: str | None, *, job_type: str | None = None
    ) -> Stream | AllFinished:
        """A stream for `job_ids` (all of `job_type` when given), resumed from `last_event_id`.

        Raises UnknownJob, BadResume or AtCapacity."""
        if not all(is_job_id(j) for j in job_ids):
            raise UnknownJob("no such job")
        resume = parse_resume(last_event_id, len(job_ids))
        stream = self._streams.open(job_ids, resume)
        try:
            missing = [j for j in job_ids if self._hub.latest(j) is None]
            for record in await asyncio.gather(*(self._store.get(j) for j in missing)):
                if record is not None:
                    self._hub.publish(record.status, path=Arrival.READ)
            for job_id in job_ids:
                change = self._hub.latest(job_id)
                if change is None or (job_type is not None and change.job_type != job_type):
                    raise UnknownJob("no such job")
                stream.seed(change)
                stream.deliver(change)
            if stream.up_to_date_and_finished:
                self._streams.discard(stream, CloseReason.TERMINAL)
                return AllFinished()
        except BaseException:
            self._streams.discard(stream, CloseReason.REJECTED)
            raise
        self._watcher.ensure_running()
        return stream
