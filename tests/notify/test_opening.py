"""notify/opening.py: the resume rules and the refusals of a stream opening, without HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from api.http import PROBLEMS, as_api_error
from errors import BadResume, ClientError, TokenError, TokenScopeError, UnknownJob
from jobs.model import JobState, JobUpdate
from notify.hub import Hub
from notify.opening import AllFinished, StreamOpener
from notify.streams import Stream, StreamManager
from notify.tokens import StreamTokens
from notify.watcher import FeedWatcher
from telemetry.metrics import MetricName
from telemetry.snapshot import snapshot, total


@pytest.fixture
async def opened(store) -> AsyncIterator[tuple[StreamOpener, StreamManager, StreamTokens, object]]:
    hub = Hub()
    streams = StreamManager(hub)
    watcher = FeedWatcher(store, hub, poll_seconds=0.1)
    tokens = StreamTokens("k" * 40)
    yield StreamOpener(tokens, streams, hub, store, watcher), streams, tokens, store
    streams.shutdown()
    await watcher.stop()


def closed(reader, reason: str) -> float:
    """Streams closed (or refused) for `reason`, as the instruments counted them."""
    return total(snapshot(reader), MetricName.STREAMS_CLOSED, reason=reason)


async def _job(store, *, finished: bool = False) -> str:
    job_id = str(uuid.uuid4())
    record = await store.create(job_id, "Sleep", "anonymous", 60)
    if finished:
        record = await store.update(record, JobUpdate(status=JobState.RUNNING))
        await store.update(record, JobUpdate(status=JobState.COMPLETED))
    return job_id


async def test_a_new_stream_starts_with_the_current_state(opened):
    opener, streams, _, store = opened
    job_id = await _job(store)
    stream = await opener.open([job_id], None)
    assert isinstance(stream, Stream) and streams.open_count == 1
    chunk, done = stream.drain()
    assert b'"status":"Queued"' in chunk and b"id: 1\n" in chunk and not done


async def test_a_client_with_the_terminal_event_gets_all_finished(opened, reader):
    opener, streams, _, store = opened
    job_id = await _job(store, finished=True)
    assert isinstance(await opener.open([job_id], "3"), AllFinished)
    assert streams.open_count == 0 and closed(reader, "terminal") == 1
    # One version short of the end: the terminal event is still to come.
    stream = await opener.open([job_id], "2")
    assert isinstance(stream, Stream)
    chunk, done = stream.drain()
    assert b'"status":"Completed"' in chunk and done


async def test_an_up_to_date_client_gets_nothing_until_the_next_change(opened):
    opener, _, _, store = opened
    job_id = await _job(store)
    stream = await opener.open([job_id], "1")
    assert isinstance(stream, Stream) and not stream.has_work


async def test_refusals_free_the_stream(opened, reader):
    opener, streams, _, store = opened
    job_id = await _job(store)
    with pytest.raises(UnknownJob):
        await opener.open([job_id], None, job_type="Fail")  # exists, but not of this type
    with pytest.raises(UnknownJob):
        await opener.open([str(uuid.uuid4())], None)
    with pytest.raises(UnknownJob):
        await opener.open(["../etc"], None)
    with pytest.raises(BadResume):
        await opener.open([job_id, job_id], "1")  # a vector of the wrong length
    assert streams.open_count == 0 and closed(reader, "rejected") == 2


async def test_authorize_checks_the_scope_and_counts_refusals(opened, reader):
    opener, _, tokens, _ = opened
    token, _ = tokens.issue("anonymous", ["a"], stream_id="s1")
    assert opener.authorize(token, job_id="a", stream_id="s1").job_ids == ("a",)
    for kwargs, error in (({"job_id": "b"}, TokenScopeError), ({"stream_id": "s2"}, TokenScopeError)):
        with pytest.raises(error):
            opener.authorize(token, **kwargs)
    with pytest.raises(TokenError):
        opener.authorize(None)
    assert closed(reader, "auth") == 3


def _subclasses(kind: type) -> set[type]:
    found = set(kind.__subclasses__())
    return found.union(*(_subclasses(k) for k in found))


@pytest.mark.parametrize(
    "kind", sorted((k for k in _subclasses(ClientError) if not k.__subclasses__()), key=lambda k: k.__name__)
)
def test_every_client_error_has_its_http_answer(kind):
    answer = as_api_error(kind("why"))
    assert kind in PROBLEMS and 400 <= answer.status < 600
