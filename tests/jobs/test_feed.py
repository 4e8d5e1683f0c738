"""jobs/feed.py: a round's changes packed into few entities, read back in order, and only
the watched ones parsed; on Azurite, a packed row is one entity of one transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs import feed
from jobs.batching import TableBatcher
from jobs.model import JobState, JobStatus

T0 = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


def _status(job: str, version: int, at: datetime = T0, message: str | None = None) -> JobStatus:
    return JobStatus(
        job_id=job, job_type="sleep", status=JobState.RUNNING, timestamp=at, version=version, message=message
    )


def test_a_lone_change_is_its_own_row_with_the_deterministic_key() -> None:
    row = feed.row(_status("a1", 3))
    [(entity, members)] = feed.pack([row])
    assert members == [0]
    assert entity == row and entity["RowKey"] == f"{int(T0.timestamp() * 1000):013d}-a1-0000000003"


def test_a_round_packs_into_one_entity_in_time_order_and_reads_back_the_same() -> None:
    statuses = [_status(f"j{i}", 2, T0 + timedelta(milliseconds=10 * (5 - i))) for i in range(5)]
    [(entity, members)] = feed.pack([feed.row(s) for s in statuses])
    assert sorted(members) == [0, 1, 2, 3, 4]
    # Keyed by its earliest change, with a suffix no later row can repeat.
    assert entity["RowKey"].startswith(feed.row(statuses[-1])["RowKey"] + "-")
    assert feed.changes(entity) == sorted(statuses, key=lambda s: s.timestamp)


def test_a_job_keeps_its_version_order_and_a_repeat_is_written_once() -> None:
    rows = [feed.row(_status("x", 5)), feed.row(_status("y", 1)), feed.row(_status("x", 4)), feed.row(_status("x", 5))]
    [(entity, members)] = feed.pack(rows)
    assert sorted(members) == [0, 1, 2, 3]  # the repeat's future is settled with the copy written
    assert [(s.job_id, s.version) for s in feed.changes(entity)] == [("x", 4), ("x", 5), ("y", 1)]


def test_only_the_wanted_lines_are_parsed() -> None:
    [(entity, _)] = feed.pack([feed.row(_status("keep", 2)), feed.row(_status("skip", 2))])
    entity = {**entity, "Payload": entity["Payload"].replace('"jobId":"skip"', "not json")}
    asked: list[tuple[str, int]] = []

    def wanted(job_id: str, version: int) -> bool:
        asked.append((job_id, version))
        return job_id == "keep"

    assert [s.job_id for s in feed.changes(entity, wanted)] == ["keep"]  # the broken line was never parsed
    assert sorted(asked) == [("keep", 2), ("skip", 2)]


def test_a_round_larger_than_a_property_holds_is_split_and_nothing_is_lost() -> None:
    long = "é" * 900
    statuses = [_status(f"j{i:03d}", 2, message=long) for i in range(60)]
    packs = feed.pack([feed.row(s) for s in statuses])
    assert len(packs) > 1
    for entity, _ in packs:
        # The service's limit is 64 KiB a string property.
        assert len(entity["Payload"].encode("utf-16-le")) <= 64 * 1024
    assert sorted(m for _, members in packs for m in members) == list(range(60))
    assert [s for entity, _ in packs for s in feed.changes(entity)] == statuses


def test_a_row_written_before_packing_is_still_read() -> None:
    status = _status("old", 7)
    legacy = {"RowKey": feed.row(status)["RowKey"], "Payload": status.to_json()}
    assert feed.changes(legacy) == [status]
    assert feed.changes(legacy, lambda job_id, version: (job_id, version) != ("old", 7)) == []


async def test_a_busy_round_is_one_request_and_one_entity_per_partition(table: Any) -> None:
    batcher = TableBatcher(table, pack=feed.pack)
    now = datetime.now(UTC).replace(second=30)
    statuses = [_status(f"job{i:03d}", 2, now + timedelta(milliseconds=i)) for i in range(60)]
    await asyncio.gather(*(batcher.submit("upsert", feed.row(s)) for s in statuses))
    assert batcher.requests == 1  # 60 changes of one minute: one entity, one write
    entities = [e async for e in table.query_entities("PartitionKey eq @p", parameters={"p": feed.partition(now)})]
    assert len(entities) == 1
    assert [s for e in entities for s in feed.changes(e)] == statuses
    # Read from `since` on, as a watcher does: the packed row is keyed by its earliest change.
    since = feed.since_key(now)
    assert all(e["RowKey"] >= since for e in entities)


async def test_a_republished_change_never_overwrites_a_packed_row(table: Any) -> None:
    batcher = TableBatcher(table, pack=feed.pack)
    now = datetime.now(UTC).replace(second=30)
    terminal, other = _status("t", 9, now), _status("u", 3, now)
    await asyncio.gather(batcher.submit("upsert", feed.row(terminal)), batcher.submit("upsert", feed.row(other)))
    await batcher.submit("upsert", feed.row(terminal))  # republish(): the same change alone
    entities = [e async for e in table.query_entities("PartitionKey eq @p", parameters={"p": feed.partition(now)})]
    found = [(s.job_id, s.version) for e in entities for s in feed.changes(e)]
    assert sorted(set(found)) == [("t", 9), ("u", 3)]  # u's change is still there; t's repeat is dropped by version
