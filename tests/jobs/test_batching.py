"""jobs/batching.py on Azurite: rows of one partition share a transaction, and one bad row
does not cost the others theirs."""

from __future__ import annotations

import asyncio

from jobs.batching import TableBatcher


async def _rows(table, partition: str) -> list[str]:
    return sorted([e["RowKey"] async for e in table.query_entities("PartitionKey eq @p", parameters={"p": partition})])


async def test_rows_written_together_go_out_as_one_transaction_per_partition(table):
    batcher = TableBatcher(table)
    futures = [batcher.submit("upsert", {"PartitionKey": "m1", "RowKey": f"r{i:03d}"}) for i in range(150)]
    futures += [batcher.submit("upsert", {"PartitionKey": "m2", "RowKey": "x"})]
    await asyncio.gather(*futures)
    assert batcher.requests == 3  # 100 + 50 rows of m1 (the transaction limit), 1 of m2
    assert len(await _rows(table, "m1")) == 150 and await _rows(table, "m2") == ["x"]


async def test_one_bad_row_does_not_fail_the_others(table):
    await table.upsert_entity({"PartitionKey": "a", "RowKey": "keep"})
    batcher = TableBatcher(table)
    gone = batcher.submit("delete", {"PartitionKey": "a", "RowKey": "never-written"})
    new = batcher.submit("upsert", {"PartitionKey": "a", "RowKey": "new"})
    deleted = batcher.submit("delete", {"PartitionKey": "a", "RowKey": "keep"})
    await asyncio.gather(gone, new, deleted)  # a delete of a missing row is no error
    assert await _rows(table, "a") == ["new"]


async def test_the_same_row_twice_in_a_window_is_written_once_last_wins(table):
    batcher = TableBatcher(table)
    first = batcher.submit("upsert", {"PartitionKey": "p", "RowKey": "r", "V": 1})
    second = batcher.submit("upsert", {"PartitionKey": "p", "RowKey": "r", "V": 2})
    await asyncio.gather(first, second)
    assert (await table.get_entity("p", "r"))["V"] == 2


async def test_a_lone_row_waits_for_nothing_and_a_busy_one_for_the_window(table):
    batcher = TableBatcher(table, window_seconds=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await batcher.submit("upsert", {"PartitionKey": "q", "RowKey": "1"})
    assert loop.time() - started < 0.4  # after a quiet window: at once
    second = loop.time()
    await batcher.submit("upsert", {"PartitionKey": "q", "RowKey": "2"})
    assert loop.time() - second >= 0.3  # right after a round: waits for the window's end


async def test_drain_writes_what_is_queued_at_once(table):
    batcher = TableBatcher(table, window_seconds=60)
    batcher.submit("upsert", {"PartitionKey": "d", "RowKey": "0"})
    await asyncio.sleep(0.2)  # the first round is written; the next row must wait a minute
    queued = batcher.submit("upsert", {"PartitionKey": "d", "RowKey": "r"})
    await asyncio.wait_for(batcher.drain(), 5)
    assert queued.done() and await _rows(table, "d") == ["0", "r"]


async def test_a_row_queued_while_a_write_is_under_way_is_written_too(table):
    batcher = TableBatcher(table, window_seconds=0.01)
    first = batcher.submit("upsert", {"PartitionKey": "w", "RowKey": "1"})
    await asyncio.sleep(0.012)  # the first flush has taken its rows and is writing them
    second = batcher.submit("upsert", {"PartitionKey": "w", "RowKey": "2"})
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert await _rows(table, "w") == ["1", "2"]
