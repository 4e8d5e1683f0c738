"""Table writes that many jobs make at once, sent as entity-group transactions.

The change feed's rows of one minute share a partition, and so do the active
index's rows: what many jobs write within a short window goes out as one request
per partition (up to 100 rows, the transaction limit) instead of one per row.
A caller that needs its row durable (a terminal change, a new job's active row)
awaits it; one that does not (a progress row) only enqueues it. A `pack` function
may merge one partition's rows into fewer entities first (the change feed does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient

log = logging.getLogger(__name__)

TRANSACTION_LIMIT = 100
Operation = Literal["upsert", "delete"]
# One partition's queued upserts -> the entities to write, each with the indexes of the rows it holds.
Packer = Callable[[Sequence[Mapping[str, Any]]], list[tuple[dict[str, Any], list[int]]]]


@dataclass
class _Pending:
    operation: Operation
    entity: Mapping[str, Any]
    waiters: list[asyncio.Future[None]]  # one per submitted row it carries


@dataclass
class TableBatcher:
    table: TableClient
    # At most one write round per window; a row that comes after a quiet window goes at once,
    # so a lone job waits for nothing and a busy process shares its transactions.
    window_seconds: float = 0.1  # well below a watcher's 0.75 s tick
    pack: Packer | None = None  # upserts only
    _pending: dict[str, list[_Pending]] = field(default_factory=dict, init=False)
    _flush: asyncio.Task[None] | None = field(default=None, init=False)
    _last_round: float = field(default=float("-inf"), init=False)
    requests: int = field(default=0, init=False)  # transactions and single writes sent

    def submit(self, operation: Operation, entity: Mapping[str, Any]) -> asyncio.Future[None]:
        """Queue one row; the future resolves once it is written (or fails with the error)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.setdefault(str(entity["PartitionKey"]), []).append(_Pending(operation, entity, [done]))
        if self._flush is None or self._flush.done():
            self._flush = loop.create_task(self._flush_soon(), name="table-batch")
        return done

    async def drain(self) -> None:
        """Write everything queued now (shutdown)."""
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
        await self._write(self._take())

    async def _flush_soon(self) -> None:
        # Rows queued while a write is under way go in the next round, not nowhere.
        loop = asyncio.get_running_loop()
        while self._pending:
            await asyncio.sleep(max(0.0, self._last_round + self.window_seconds - loop.time()))
            self._last_round = loop.time()
            await self._write(self._take())

    def _take(self) -> list[list[_Pending]]:
        pending, self._pending = self._pending, {}
        packed = [self._packed(rows) for rows in pending.values()]
        return [rows[i : i + TRANSACTION_LIMIT] for rows in packed for i in range(0, len(rows), TRANSACTION_LIMIT)]

    def _packed(self, rows: list[_Pending]) -> list[_Pending]:
        if self.pack is None:
            return rows
        return [
            _Pending("upsert", entity, [w for i in members for w in rows[i].waiters])
            for entity, members in self.pack([r.entity for r in rows])
        ]

    async def _write(self, chunks: list[list[_Pending]]) -> None:
        await asyncio.gather(*(self._chunk(chunk) for chunk in chunks))

    async def _chunk(self, chunk: list[_Pending]) -> None:
        try:
            if len(chunk) == 1:
                await self._single(chunk[0])
            else:
                self.requests += 1
                await self.table.submit_transaction([(p.operation, p.entity) for p in _unique(chunk)])
        except Exception as exc:
            if len(chunk) == 1:
                _settle(chunk, exc)
                return
            # One bad row (a delete of a row already gone) fails the whole group: write each alone.
            log.info(
                "table transaction of %d rows failed (%s); writing them one by one", len(chunk), type(exc).__name__
            )
            results = await asyncio.gather(*(self._single(p) for p in chunk), return_exceptions=True)
            for item, result in zip(chunk, results, strict=True):
                _settle([item], result if isinstance(result, BaseException) else None)
            return
        _settle(chunk, None)

    async def _single(self, item: _Pending) -> None:
        self.requests += 1
        if item.operation == "upsert":
            await self.table.upsert_entity(item.entity)
        else:
            try:
                await self.table.delete_entity(item.entity["PartitionKey"], item.entity["RowKey"])
            except ResourceNotFoundError:
                pass  # already gone: what a delete wants


def _unique(chunk: list[_Pending]) -> list[_Pending]:
    """A transaction may name each row once: the last write of a row wins."""
    last: dict[tuple[str, str], _Pending] = {}
    for item in chunk:
        last[(str(item.entity["PartitionKey"]), str(item.entity["RowKey"]))] = item
    return list(last.values())


def _settle(chunk: list[_Pending], error: BaseException | None) -> None:
    for done in (w for item in chunk for w in item.waiters):
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
            done.exception()  # a progress row's future is never awaited: mark it seen
