"""The change feed's rows: what `jobsfeed` holds and how a watcher reads it.

One row per write round and minute partition, not one per change: the changes a
process writes within one batch window are packed into one entity (`Payload`, one
JSON status per line; `Changes`, their `<job id>:<version>` in the same order), so
a busy process writes, and every watcher reads, one entity where it would be tens.
A watcher checks `Changes` and parses only the lines about jobs it watches.

RowKey: `<13-digit ms of the earliest change>-<its job id>-<10-digit version>`, plus
`-<random>` on a row of several changes. Time order within a partition is what the
watcher's `RowKey ge <since>` reads rely on; the deterministic key of a one-change
row lets a terminal change written again (republish) land on the same row, while a
packed row can never be overwritten by a later row that repeats one of its changes.
Watchers drop repeats by version.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from jobs.clock import epoch_ms
from jobs.model import JobStatus

# A string property holds at most 64 KiB (32 K UTF-16 units). Counted in code points,
# this leaves room for text that is all surrogate pairs, and the index beside it.
PACK_CHARS = 15_000
# One write round per this long at most: a busy process writes at most ten feed rows a
# second, whatever its rate of changes. It stays short: a burst's last rows wait for the
# round, so each 0.05 s more adds about that much to the cross-process p99.
WINDOW_SECONDS = 0.1

Wanted = Callable[[str, int], bool]


def partition(moment: datetime) -> str:
    """One partition per UTC minute: the sweeper drops whole minutes."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


def since_key(moment: datetime) -> str:
    """The smallest RowKey of a change at or after `moment`."""
    return f"{epoch_ms(moment):013d}"


def row(status: JobStatus) -> dict[str, Any]:
    """The row of one change; `pack` merges a round's rows of one partition."""
    return {
        "PartitionKey": partition(status.timestamp),
        "RowKey": f"{epoch_ms(status.timestamp):013d}-{status.job_id}-{status.version:010d}",
        "Changes": f"{status.job_id}:{status.version}",
        "Payload": status.to_json(),
    }


def pack(rows: Sequence[Mapping[str, Any]]) -> list[tuple[dict[str, Any], list[int]]]:
    """One partition's rows, packed: each entity with the indexes of the rows it holds.

    Rows go in key (time) order, so a job's versions keep their order across packs; a
    change queued twice in one round is written once, its last copy, and both are settled.
    """
    copies: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        copies.setdefault(str(r["RowKey"]), []).append(i)
    packs: list[tuple[dict[str, Any], list[int]]] = []
    group: list[Mapping[str, Any]] = []
    members: list[int] = []
    size = 0
    for key in sorted(copies):
        written = rows[copies[key][-1]]
        length = len(written["Payload"]) + 1
        if group and size + length > PACK_CHARS:
            packs.append((_packed(group), members))
            group, members, size = [], [], 0
        group.append(written)
        members.extend(copies[key])
        size += length
    if group:
        packs.append((_packed(group), members))
    return packs


def _packed(group: list[Mapping[str, Any]]) -> dict[str, Any]:
    first = group[0]
    if len(group) == 1:
        return dict(first)
    return {
        "PartitionKey": first["PartitionKey"],
        "RowKey": f"{first['RowKey']}-{secrets.token_hex(4)}",
        "Changes": " ".join(str(r["Changes"]) for r in group),
        "Payload": "\n".join(str(r["Payload"]) for r in group),
    }


def changes(entity: Mapping[str, Any], wanted: Wanted | None = None) -> list[JobStatus]:
    """The changes a feed entity holds that `wanted(job_id, version)` keeps, in order;
    only their lines are parsed."""
    index = entity.get("Changes")
    payload = str(entity["Payload"])
    if index is None:  # a row written before rows were packed: the key names its change
        key = str(entity["RowKey"])
        keep = wanted is None or wanted(key[14:-11], int(key[-10:]))
        return [JobStatus.model_validate_json(payload)] if keep else []
    lines = payload.split("\n")
    found = []
    for change, line in zip(str(index).split(" "), lines, strict=True):
        job_id, _, version = change.rpartition(":")
        if wanted is None or wanted(job_id, int(version)):
            found.append(JobStatus.model_validate_json(line))
    return found
