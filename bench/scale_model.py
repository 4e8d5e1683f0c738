"""Scale model of the change feed: where instances x changes/s meet Table Storage's targets.

    .venv/bin/python -m bench.scale_model               # the model: 1..1,000 instances x 1..1,000 changes/s
    .venv/bin/python -m bench.scale_model --measure     # benchmark 3's setup at 1 and 2 processes, beside the model

On Flex every HTTP instance with an open stream runs one feed watcher (notify/watcher.py). The
model adds up, per second, the table requests and the entities they touch for:
- the watchers: one change-feed query per tick per instance, returning every row of its window;
- reconciliation: one active-index listing per instance per WATCH_RECONCILE_SECONDS;
- the writers: one status write per change, its feed row, and each job's own requests
  (start, claim, index delete, ownership and stream-open reads);
- the sweeper: one active-index listing a minute, and the feed rows it deletes;
and sets the hot partitions (the feed's current minute, the active index) and the account
beside the published targets: 2,000 entities/s per partition, 20,000 transactions/s per account
(Targets). A query is counted as at least one entity against its partition.

`--measure` runs what benchmark 3 runs (bench/storage_ops.py: local hosts with --no-worker
--no-timers, production watcher settings, SSE streams on Queued jobs, a writer in this process)
on one and then two hosts, for the watcher before the high-water mark and for the one that
runs, and counts what storage serves at a pass-through proxy in front of Azurite's table
endpoint (one port per host and one for the writer): requests, and entities from the answers.
The hosts' own counters (/local/diagnostics: storage operations, feed polls) are read too.
Each figure is printed beside the model's for the same settings; tests/bench/test_scale_model.py
holds the model to the measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from bench import common, sseclient

# --- the published targets -------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """Azure Table Storage's scalability targets (standard GPv2 account), read 2026-12-01."""

    partition_entities_per_s: float = 2_000  # "Target throughput for a single table partition (1 KiB-entities)"
    account_requests_per_s: float = 20_000  # "Maximum request rate per storage account", assuming 1 KiB entities
    source: str = "https://learn.microsoft.com/en-us/azure/storage/tables/scalability-targets"


TARGETS = Targets()
PAGE_SIZE = 1_000  # a query answers at most 1,000 entities; more take another request


# --- the design and the workload -------------------------------------------------------------


def _defaults() -> tuple[float, float, float, float]:
    from notify.watcher import OVERLAP_SECONDS, SWEEP_SECONDS
    from settings import Settings

    fields = Settings.model_fields
    return (
        float(fields["watch_poll_seconds"].default),
        float(fields["watch_reconcile_seconds"].default),
        OVERLAP_SECONDS,
        SWEEP_SECONDS,
    )


_TICK, _RECONCILE, _OVERLAP, _SWEEP = _defaults()


@dataclass(frozen=True)
class Design:
    """How the watchers read. Defaults: the code as it runs (settings.py, notify/watcher.py)."""

    name: str
    tick: float = _TICK  # WATCH_POLL_SECONDS
    skew: float = 3.0  # how late a row may become visible (FeedWatcher skew_seconds)
    overlap: float = _OVERLAP  # a tick's read starts this long before the previous one
    sweep: float = _SWEEP  # one read per sweep reaches back the skew from the previous sweep; 0: every read
    reconcile: float = _RECONCILE  # WATCH_RECONCILE_SECONDS
    feed_shards: int = 1  # feed partitions per minute (1 as built; more is not built: jobs/store.py)
    sweeper_seconds: float = 60.0  # JOBS_SWEEP_SCHEDULE: one active-index listing a minute

    @property
    def ticks_per_sweep(self) -> int:
        return 1 if self.sweep <= self.tick else math.ceil(self.sweep / self.tick - 1e-9)

    @property
    def reconcile_period(self) -> float:
        """The watcher reconciles on the first tick past its period."""
        return max(1, math.ceil(self.reconcile / self.tick - 1e-9)) * self.tick


LEGACY = Design("3 s overlap on every read (before)", sweep=0.0)
CURRENT = Design("high-water mark: 0.5 s overlap, 6 s sweep (now)")


@dataclass(frozen=True)
class Workload:
    instances: float  # HTTP instances with an open stream: each runs a watcher
    changes_per_s: float  # status changes written per second, system-wide (a change = one version)
    changes_per_job: float = 7.0  # Running, 5 progress reports (the cost model's default), the terminal one
    job_seconds: float = 60.0  # start to terminal: how long a job sits in the active index
    active_jobs: float | None = None  # rows of the active index; None: jobs/s x job_seconds
    feed_transactions_per_change: float = 1.0  # 1 when quiet; batching shares them when busy (0.2 measured)
    writer_reads_per_change: float = 0.0  # the worker writes with the record it has: no read
    requests_per_job: float = 7.0  # start 3 (key, index row, job row), claim read, index delete, 2 reads

    @property
    def jobs_per_s(self) -> float:
        return self.changes_per_s / self.changes_per_job

    @property
    def index_rows(self) -> float:
        return self.jobs_per_s * self.job_seconds if self.active_jobs is None else self.active_jobs


@dataclass(frozen=True)
class Flow:
    """Storage work per second: requests, entities they return or write, and the entity count
    a partition sees (a request touches at least one)."""

    requests: float = 0.0
    entities: float = 0.0
    partition_entities: float = 0.0

    def __add__(self, other: Flow) -> Flow:
        return Flow(
            self.requests + other.requests,
            self.entities + other.entities,
            self.partition_entities + other.partition_entities,
        )

    def times(self, factor: float) -> Flow:
        return Flow(self.requests * factor, self.entities * factor, self.partition_entities * factor)


def _pages(rows: float) -> float:
    return max(1.0, math.ceil(rows / PAGE_SIZE - 1e-9))


def _query(rows: float) -> Flow:
    """One query over `rows` rows of one partition."""
    return Flow(_pages(rows), rows, max(1.0, rows))


def feed_reads(design: Design, changes_per_s: float) -> Flow:
    """One watcher's feed reads per second; partition_entities is what one feed partition sees.

    A cycle is n ticks: n - 1 reads over the tick and the overlap, and one sweep over the n
    ticks since the previous sweep plus the skew (n = 1 is every read reaching back the skew).
    """
    n = design.ticks_per_sweep
    shards = design.feed_shards
    rate = changes_per_s / shards  # rows per second in each feed partition
    short = _query(rate * (design.tick + design.overlap))
    sweep = _query(rate * (n * design.tick + design.skew))
    per_partition = (short.times(n - 1) + sweep).times(1 / (n * design.tick))
    # Every shard is its own query; a partition sees only its own share.
    return Flow(per_partition.requests * shards, per_partition.entities * shards, per_partition.partition_entities)


@dataclass(frozen=True)
class Load:
    workload: Workload
    design: Design
    watchers: Flow  # all instances' feed reads
    reconciliation: Flow  # all instances' active-index listings
    writers: Flow  # status writes, feed rows, the jobs' own requests
    sweeper: Flow  # the sweeper's listing and feed deletions
    feed_partition: float  # entities/s on the hottest feed partition (writes + every watcher's reads)
    active_partition: float  # entities/s on the active index's partition
    account_requests: float

    def use(self, targets: Targets = TARGETS) -> dict[str, float]:
        """Each constraint as a share of its target (1.0 = at the target)."""
        return {
            "feed partition": self.feed_partition / targets.partition_entities_per_s,
            "active-index partition": self.active_partition / targets.partition_entities_per_s,
            "account": self.account_requests / targets.account_requests_per_s,
        }

    def binding(self, targets: Targets = TARGETS) -> tuple[str, float]:
        return max(self.use(targets).items(), key=lambda item: item[1])

    def within(self, targets: Targets = TARGETS) -> bool:
        return self.binding(targets)[1] <= 1.0


def load(workload: Workload, design: Design = CURRENT) -> Load:
    instances, rate = workload.instances, workload.changes_per_s
    one_watcher = feed_reads(design, rate)
    listing = _query(workload.index_rows)
    one_reconcile = listing.times(1 / design.reconcile_period)
    sweeper = listing.times(1 / design.sweeper_seconds) + Flow(rate / 100 + rate / PAGE_SIZE, 2 * rate, 0.0)
    status = Flow(rate * (1 + workload.writer_reads_per_change), rate, 0.0)  # job partitions: not hot
    feed_rows = Flow(rate * workload.feed_transactions_per_change, rate, rate / design.feed_shards)
    jobs = Flow(workload.jobs_per_s * workload.requests_per_job, workload.jobs_per_s * 5, 0.0)
    writers = status + feed_rows + jobs
    watchers = one_watcher.times(instances)
    reconciliation = one_reconcile.times(instances)
    return Load(
        workload=workload,
        design=design,
        watchers=watchers,
        reconciliation=reconciliation,
        writers=writers,
        sweeper=sweeper,
        feed_partition=feed_rows.partition_entities + watchers.partition_entities,
        # the index row of each job is written at its start and deleted at its end
        active_partition=2 * workload.jobs_per_s + reconciliation.partition_entities + sweeper.partition_entities,
        account_requests=watchers.requests + reconciliation.requests + writers.requests + sweeper.requests,
    )


def max_instances(rate: float, design: Design, targets: Targets = TARGETS, limit: int = 100_000) -> int:
    """The most instances whose watchers stay within the targets at `rate` changes/s (0: none)."""
    if not load(Workload(1, rate), design).within(targets):
        return 0
    low, high = 1, limit
    while low < high:
        mid = (low + high + 1) // 2
        if load(Workload(mid, rate), design).within(targets):
            low = mid
        else:
            high = mid - 1
    return low


# --- the table -------------------------------------------------------------------------------

INSTANCES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
RATES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

COLUMNS = [
    "design",
    "instances",
    "changes_per_s",
    "watchers_req_s",
    "watchers_entities_s",
    "reconcile_req_s",
    "reconcile_entities_s",
    "writers_req_s",
    "writers_entities_s",
    "feed_partition_entities_s",
    "active_partition_entities_s",
    "account_req_s",
    "limit",
]


def row(result: Load, targets: Targets = TARGETS) -> dict[str, Any]:
    name, share = result.binding(targets)
    return {
        "design": result.design.name,
        "instances": int(result.workload.instances),
        "changes_per_s": result.workload.changes_per_s,
        "watchers_req_s": round(result.watchers.requests, 1),
        "watchers_entities_s": round(result.watchers.entities, 1),
        "reconcile_req_s": round(result.reconciliation.requests, 2),
        "reconcile_entities_s": round(result.reconciliation.entities, 1),
        "writers_req_s": round(result.writers.requests + result.sweeper.requests, 1),
        "writers_entities_s": round(result.writers.entities + result.sweeper.entities, 1),
        "feed_partition_entities_s": round(result.feed_partition, 1),
        "active_partition_entities_s": round(result.active_partition, 1),
        "account_req_s": round(result.account_requests, 1),
        "limit": "within" if share <= 1 else f"OVER: {name} {share:.0%}",
    }


def matrix(design: Design, targets: Targets = TARGETS) -> str:
    """Instances down, changes/s across: the binding target's use; `x` past the limit."""
    head = "instances \\ changes/s".ljust(22) + "".join(f"{r:>8,}" for r in RATES)
    lines = [f"{design.name}: share of the binding target (x: past it)", head]
    for n in INSTANCES:
        cells = []
        for r in RATES:
            share = load(Workload(n, r), design).binding(targets)[1]
            cells.append(f"{share:>7.0%}{'x' if share > 1 else ' '}" if share < 100 else "  >9999%x")
        lines.append(f"{n:>21,} " + "".join(cells))
    return "\n".join(lines)


def frontier(designs: list[Design], targets: Targets = TARGETS) -> list[dict[str, Any]]:
    """For each change rate, the most instances within the targets, and what binds next."""
    rows = []
    for rate in RATES:
        entry: dict[str, Any] = {"changes_per_s": rate}
        for i, design in enumerate(designs):
            most = max_instances(rate, design, targets)
            binds = load(Workload(most + 1, rate), design).binding(targets)[0]
            entry[f"design {i + 1}: instances"] = most
            entry[f"design {i + 1}: then"] = binds
        rows.append(entry)
    return rows


def headline(design: Design, targets: Targets = TARGETS) -> dict[str, Any]:
    """The largest instances x changes/s within the targets, over the change rates of the table
    and every rate between (integers 1..1,000)."""
    best = (0.0, 0, 0)
    for rate in range(1, 1001):
        most = max_instances(rate, design, targets)
        if most * rate > best[0]:
            best = (most * rate, most, rate)
    return {"product": best[0], "instances": best[1], "changes_per_s": best[2]}


# --- what each change buys -------------------------------------------------------------------


def variants() -> list[tuple[Design, str]]:
    """The built design, the one before it, and the cheap steps not built, with why."""
    return [
        (LEGACY, "before: every read reaches back the whole 3 s skew"),
        (CURRENT, "built (notify/watcher.py): the high-water mark"),
        (
            replace(LEGACY, name="before, 3 s tick", tick=3.0),
            "not built: a 3 s tick for an instance whose watched jobs are all Queued delays their Running "
            "event by up to 3 s (3 % of benchmark 2's samples: its p99 would break)",
        ),
        (replace(CURRENT, name="now, 3 s tick", tick=3.0), "not built: as above"),
        (
            replace(CURRENT, name="now + feed sharded by 10", feed_shards=10),
            "not built: needs the writer's partition key (jobs/store.py); 10 queries a tick",
        ),
    ]


# --- the path beyond: dated prices -----------------------------------------------------------


@dataclass(frozen=True)
class BeyondPrices:
    """USD list prices, East US, pay-as-you-go, taken 2026-12-01, and the capacity each option is
    taken to have. What a stored page confirmed: Service Bus Standard's structure (an hourly base
    charge, 13M operations a month included, then three per-million tiers; azure.cn shows CNY
    0.0851/hour for the base) and its throttle (1,000 credits/s per namespace, one per message and
    one per filter evaluation: service-bus-throttling); Event Grid MQTT's 1,000 messages/s per
    throughput unit (event-grid/quotas-limits); Azure Cache for Redis' retirement (Basic, Standard,
    Premium on 2028-09-30; Azure Managed Redis is the successor). The USD figures are the list
    prices as known on that date (the stored USD pages render them client-side) and the marked
    capacities are assumptions: check both (pricing calculator, a load test) before relying on them.
    """

    taken: str = "2026-12-01"
    servicebus_standard_base_per_hour: float = 0.0135  # about USD 9.86 a month
    servicebus_standard_included_ops: float = 13e6
    servicebus_standard_tiers: tuple[tuple[float, float], ...] = ((100e6, 0.80), (2_500e6, 0.50), (math.inf, 0.20))
    servicebus_standard_credits_per_s: float = 1_000  # per namespace
    servicebus_premium_mu_per_hour: float = 0.928
    servicebus_premium_msgs_per_s_per_mu: float = 4_000  # ASSUMPTION: no published figure
    redis_b0_per_hour: float = 0.0315  # Azure Managed Redis Balanced B0
    redis_b0_msgs_per_s: float = 10_000  # ASSUMPTION: pub/sub deliveries a B0 carries; bigger SKUs past it
    event_grid_tu_per_hour: float = 0.04  # Event Grid namespace throughput unit: UNVERIFIED
    event_grid_per_million_ops: float = 1.00  # MQTT operations: UNVERIFIED
    event_grid_msgs_per_s_per_tu: float = 1_000  # in and out, per throughput unit (40 at most)
    event_grid_sessions_per_tu: float = 10_000


def _cost_model() -> Any:
    """infra/cost_model.py (a script, not a package), loaded once."""
    import importlib.util
    import sys

    if "cost_model" not in sys.modules:
        spec = importlib.util.spec_from_file_location("cost_model", common.ROOT / "infra" / "cost_model.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["cost_model"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["cost_model"]


def _servicebus_standard_ops_price(ops: float, prices: BeyondPrices) -> float:
    cost, low = 0.0, prices.servicebus_standard_included_ops
    for high, per_million in prices.servicebus_standard_tiers:
        if ops > low:
            cost += (min(ops, high) - low) / 1e6 * per_million
        low = high
    return cost


def beyond(workload: Workload, active_hours_per_day: float = 10.0) -> list[dict[str, Any]]:
    """Each way to carry every change to every instance at `workload`: whether it fits, the
    units it needs, and its monthly cost with the table price of infra/cost_model.py (Prices,
    dated there) and BeyondPrices, busy `active_hours_per_day` (the cost model's typical 10)."""
    table_prices = _cost_model().Prices()
    hours = table_prices.hours_per_month
    seconds = active_hours_per_day * 3600 * hours / 24
    p = BeyondPrices()
    n, rate = workload.instances, workload.changes_per_s
    deliveries = rate * n  # every change to every instance
    now = load(workload, CURRENT)
    feed_requests = (now.watchers.requests + now.reconciliation.requests) * seconds
    feed = feed_requests / 1e4 * table_prices.table_per_10k_transactions
    rows: list[dict[str, Any]] = [
        {"option": "table feed (as built)", "fits": now.within(), "units": "-", "usd_month": feed}
    ]
    # A topic with one subscription per instance, receive-and-delete: one send, then per
    # subscription a filter evaluation (a throttle credit) and a receive (a credit, an operation).
    rows.append(
        {
            "option": "Service Bus Standard topic",
            "fits": rate * (1 + 2 * n) <= p.servicebus_standard_credits_per_s,
            "units": "1 namespace",
            "usd_month": p.servicebus_standard_base_per_hour * hours
            + _servicebus_standard_ops_price((rate + deliveries) * seconds, p),
        }
    )
    units = next((u for u in (1, 2, 4, 8, 16) if rate + deliveries <= u * p.servicebus_premium_msgs_per_s_per_mu), 0)
    rows.append(
        {
            "option": "Service Bus Premium topic",
            "fits": units > 0,
            "units": f"{units} MU" if units else "> 16 MU",
            "usd_month": (units or 16) * p.servicebus_premium_mu_per_hour * hours,
        }
    )
    rows.append(
        {
            "option": "Redis pub/sub (Managed Redis B0)",
            "fits": deliveries <= p.redis_b0_msgs_per_s,
            "units": "B0" if deliveries <= p.redis_b0_msgs_per_s else "a bigger SKU (not priced)",
            "usd_month": p.redis_b0_per_hour * hours if deliveries <= p.redis_b0_msgs_per_s else None,
        }
    )
    tus = max(
        1,
        math.ceil(max(rate, deliveries) / p.event_grid_msgs_per_s_per_tu),
        math.ceil(n / p.event_grid_sessions_per_tu),
    )
    rows.append(
        {
            "option": "Event Grid MQTT (namespace)",
            "fits": tus <= 40,
            "units": f"{tus} TU",
            "usd_month": tus * p.event_grid_tu_per_hour * hours
            + (rate + deliveries) * seconds / 1e6 * p.event_grid_per_million_ops,
        }
    )
    for entry in rows:
        if entry["usd_month"] is not None:
            entry["usd_month"] = round(entry["usd_month"], 2)
    return rows


BEYOND_LOADS = ((10, 10), (30, 20), (40, 25), (100, 100), (1000, 100))

# --- the model's command ---------------------------------------------------------------------


def model(args: Any) -> dict[str, Any]:
    started = time.monotonic()
    designs = [design for design, _ in variants()]
    rows = [row(load(Workload(n, r), d)) for d in (CURRENT, LEGACY) for n in INSTANCES for r in RATES]
    print(matrix(LEGACY))
    print()
    print(matrix(CURRENT))
    print()
    edge = frontier([LEGACY, CURRENT])
    print("most instances within the targets, per change rate (then: the target one more instance exceeds)")
    print(f"design 1: {LEGACY.name}; design 2: {CURRENT.name}")
    print(common.format_table(edge, list(edge[0])))
    bought = []
    for design, why in variants():
        top = headline(design)
        one = load(Workload(1, 1), design)
        bought.append(
            {
                "design": design.name,
                "largest_within": f"{top['instances']:,} x {top['changes_per_s']:,} = {top['product']:,.0f}",
                "at_1_change_s": max_instances(1, design),
                "at_10": max_instances(10, design),
                "at_100": max_instances(100, design),
                "rows_read_per_change": round(one.watchers.entities, 2),
                "reads_per_s": round(one.watchers.requests, 3),
                "note": why,
            }
        )
    print()
    print("what each change buys (instances within the targets at 1, 10, 100 changes/s)")
    print(common.format_table(bought, list(bought[0])))
    paths = {f"{n} x {r}": beyond(Workload(n, r)) for n, r in BEYOND_LOADS}
    print()
    for where, options in paths.items():
        print(f"beyond, {where} (instances x changes/s), 10 busy hours a day")
        print(common.format_table(options, list(options[0])))
    top = headline(CURRENT)
    targets = [
        {
            "target": f"largest instances x changes/s within {TARGETS.partition_entities_per_s:,.0f} entities/s per "
            f"partition and {TARGETS.account_requests_per_s:,.0f} requests/s per account ({TARGETS.source})",
            "measured": f"{top['instances']} instances x {top['changes_per_s']} changes/s (model)",
            "met": None,
        }
    ]
    details = {
        "targets": vars(TARGETS),
        "designs": {d.name: vars(d) for d in designs},
        "frontier": edge,
        "bought": bought,
        "headline": {d.name: headline(d) for d in designs},
        "beyond": paths,
        "beyondPrices": {k: v for k, v in vars(BeyondPrices()).items() if k != "servicebus_standard_tiers"},
    }
    return common.write_results(
        "scale_model", args, COLUMNS, rows, common.machine(), started, targets=targets, details=details
    )


# --- the measurement: benchmark 3's setup behind a counting proxy ----------------------------


@dataclass
class FeedRead:
    at: float  # time.time() when it was asked
    reach: float  # seconds from its `since` to then
    rows: int


@dataclass
class Counts:
    """What one client (a host, or the writer) asked of the table endpoint."""

    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by "<table kind> <METHOD>"
    entities: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    feed_reads: list[FeedRead] = field(default_factory=list)
    listings: list[tuple[float, int]] = field(default_factory=list)  # active-index queries: (asked, rows)

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        return dict(self.requests), dict(self.entities)


_SINCE = re.compile(r"RowKey ge '(\d{13})'")
_BATCH_OP = re.compile(rb"^(?:POST|PUT|PATCH|MERGE|DELETE) \S+/devstoreaccount1/([A-Za-z0-9]+)[(? ]", re.MULTILINE)
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


def table_kind(table: str) -> str:
    if table == "Tables":
        return "tables"
    return "feed" if table.endswith("feed") else "active" if table.endswith("active") else "jobs"


class CountingProxy:
    """A pass-through proxy in front of Azurite's table endpoint, in a thread of its own: one
    port per client, counting requests and the entities each answer carries or each write sends."""

    def __init__(self, upstream: int, clients: list[str]) -> None:
        self.upstream = upstream
        self.counts = {name: Counts() for name in clients}
        self.ports: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="counting-proxy", daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("the counting proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def snapshot(self, client: str) -> tuple[dict[str, int], dict[str, int]]:
        with self._lock:
            return self.counts[client].snapshot()

    def feed_reads(self, client: str) -> list[FeedRead]:
        with self._lock:
            return list(self.counts[client].feed_reads)

    def listings(self, client: str) -> list[tuple[float, int]]:
        with self._lock:
            return list(self.counts[client].listings)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        session = ClientSession(connector=TCPConnector(limit=0), auto_decompress=False, timeout=ClientTimeout(total=60))
        runners = []
        try:
            for name in self.counts:

                async def handle(request: web.Request, client: str = name) -> web.StreamResponse:
                    answer: web.StreamResponse = await self._forward(session, client, request)
                    return answer

                app = web.Application(client_max_size=64 * 1024 * 1024)
                app.router.add_route("*", "/{tail:.*}", handle)
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                self.ports[name] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                runners.append(runner)
            self._ready.set()
            await self._stop.wait()
        finally:
            for runner in runners:
                await runner.cleanup()
            await session.close()

    async def _forward(self, session: Any, client: str, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        asked = time.time()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        from yarl import URL

        # The path as sent: the request is signed over it, and re-encoding would break the signature.
        url = URL(f"http://127.0.0.1:{self.upstream}{request.raw_path}", encoded=True)
        # No body, no data: aiohttp would add a Content-Type, which the signature covers.
        data = body or None
        async with session.request(request.method, url, headers=headers, data=data, allow_redirects=False) as answer:
            payload = await answer.read()
            status = answer.status
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
        self._count(client, request.method, request.path, request.query_string, body, status, payload, asked)
        return web.Response(status=status, headers=out, body=payload)

    def _count(
        self, client: str, method: str, path: str, query: str, body: bytes, status: int, payload: bytes, asked: float
    ) -> None:
        resource = path.split("/", 2)[-1] if path.count("/") >= 2 else path
        table = resource.split("(", 1)[0]
        ok = 200 <= status < 300
        work: list[tuple[str, int]] = []  # (table kind, entities)
        if table == "$batch":
            ops = [m.group(1).decode() for m in _BATCH_OP.finditer(body)]
            kinds = {table_kind(t) for t in ops} or {"jobs"}
            work = [(kind, sum(1 for t in ops if table_kind(t) == kind) if ok else 0) for kind in kinds]
        elif method == "GET" and "(" in resource and resource.split("(", 1)[1] != ")":
            work = [(table_kind(table), 1 if ok else 0)]  # a point read
        elif method == "GET":
            rows = 0
            if ok:
                with contextlib.suppress(ValueError):
                    rows = len(json.loads(payload).get("value", []))
            work = [(table_kind(table), rows)]
            since = _SINCE.search(unquote(query))
            with self._lock:
                if table_kind(table) == "feed" and since is not None:
                    self.counts[client].feed_reads.append(FeedRead(asked, asked - int(since.group(1)) / 1000, rows))
                elif table_kind(table) == "active":
                    self.counts[client].listings.append((asked, rows))
        else:
            work = [(table_kind(table), 1 if ok else 0)]
        with self._lock:
            counts = self.counts[client]
            for i, (kind, entities) in enumerate(work):
                if i == 0:  # one request, whatever it touched
                    counts.requests[f"{kind} {method}"] += 1
                counts.entities[f"{kind} {method}"] += entities


def _delta(before: dict[str, int], after: dict[str, int], prefix: str = "") -> int:
    return sum(v - before.get(k, 0) for k, v in after.items() if k.startswith(prefix))


def cycle_rows_per_s(reads: list[FeedRead], start: float, end: float, skew: float) -> float | None:
    """Rows per second over whole sweep cycles inside [start, end] (from a sweep up to the next
    one): a window that cuts a cycle would count a sweep too many or too few."""
    sweeps = [i for i, r in enumerate(reads) if r.reach >= skew - 0.05 and start <= r.at <= end]
    if len(sweeps) < 2:
        return None
    first, last = sweeps[0], sweeps[-1]
    rows = sum(r.rows for r in reads[first + 1 : last + 1])
    return rows / (reads[last].at - reads[first].at)


def interval_rate(times: list[float], start: float, end: float) -> float | None:
    """Events per second from the first to the last event inside [start, end] (no window edge
    cuts an interval in two)."""
    inside = [t for t in times if start <= t <= end]
    if len(inside) < 2:
        return None
    return (len(inside) - 1) / (inside[-1] - inside[0])


@dataclass
class System:
    """One system on the shared Azurite: its tables, writer, hosts and streams."""

    design: Design
    env: dict[str, str]
    fleet: Any
    hosts: list[Any] = field(default_factory=list)
    conns: list[list[Any]] = field(default_factory=list)


def _env_for(base: dict[str, str], table_port: int, proxy_port: int) -> dict[str, str]:
    env = dict(base)
    env["AzureWebJobsStorage"] = env["AzureWebJobsStorage"].replace(f":{table_port}/", f":{proxy_port}/")
    return env


async def _writer(fleet: Any, jobs: list[str], rate: float, stop: asyncio.Event) -> int:
    """`rate` status changes a second, round the watched jobs, on a fixed schedule."""
    from jobs.model import JobUpdate

    progress: dict[str, float] = defaultdict(float)
    start, writes = time.monotonic(), 0
    while not stop.is_set():
        job_id = jobs[writes % len(jobs)]
        progress[job_id] = round(progress[job_id] + 0.001, 4)
        await fleet.store.update(job_id, JobUpdate(progress=progress[job_id]))
        writes += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, start + writes / rate - time.monotonic()))
    return writes


@dataclass
class Window:
    """One counted window: the proxy's and the hosts' counters at its two ends."""

    name: str
    processes: int
    start: float
    end: float
    before: dict[str, tuple[dict[str, int], dict[str, int]]]
    after: dict[str, tuple[dict[str, int], dict[str, int]]]
    diagnostics_before: list[Any]
    diagnostics_after: list[Any]

    @property
    def hosts(self) -> list[str]:
        return [f"{self.name} host {i}" for i in range(self.processes)]

    @property
    def writer(self) -> str:
        return f"{self.name} writer"

    def per_s(self, client: str, prefix: str, entities: bool = False) -> float:
        index = 1 if entities else 0
        return _delta(self.before[client][index], self.after[client][index], prefix) / (self.end - self.start)


async def _measure_system(system: System, proxy: CountingProxy, name: str, args: Any) -> list[dict[str, Any]]:
    """One host, then two, under the same writer: the window's counts beside the model's."""
    hosts = system.hosts
    stop = asyncio.Event()
    watched = [j for i in range(len(hosts)) for j in system.fleet.job_ids[i * args.streams : (i + 1) * args.streams]]
    writer = asyncio.ensure_future(_writer(system.fleet, watched, args.rate, stop))
    rows: list[dict[str, Any]] = []
    try:
        for processes in (1, 2):
            host = hosts[processes - 1]
            mine = system.fleet.job_ids[(processes - 1) * args.streams : processes * args.streams]
            system.conns.append(await sseclient.open_many("127.0.0.1", host.port, [system.fleet.path(j) for j in mine]))
            await asyncio.sleep(args.warmup)
            clients = [f"{name} host {i}" for i in range(processes)] + [f"{name} writer"]
            before = {c: proxy.snapshot(c) for c in clients}
            diagnostics_before = await asyncio.gather(*(asyncio.to_thread(h.diagnostics) for h in hosts[:processes]))
            start = time.time()
            await asyncio.sleep(args.window)
            end = time.time()
            after = {c: proxy.snapshot(c) for c in clients}
            diagnostics_after = await asyncio.gather(*(asyncio.to_thread(h.diagnostics) for h in hosts[:processes]))
            window = Window(name, processes, start, end, before, after, diagnostics_before, diagnostics_after)
            rows += compare(system.design, proxy, window, args.jobs)
    finally:
        stop.set()
        await writer
    return rows


def compare(design: Design, proxy: CountingProxy, window: Window, index_rows: int) -> list[dict[str, Any]]:
    """The window's figures beside the model's for the same design, processes and change rate."""
    hosts, seconds = window.hosts, window.end - window.start
    rate = window.per_s(window.writer, "feed ", entities=True)  # feed rows written: the change rate as served
    modelled = load(
        Workload(
            window.processes,
            rate,
            active_jobs=index_rows,
            writer_reads_per_change=1.0,  # the benchmark writes by job id: a read, then the write
            requests_per_job=0.0,  # no job starts or ends during the window
        ),
        design,
    )
    n = window.processes
    reads = {h: [r for r in proxy.feed_reads(h) if window.start <= r.at <= window.end] for h in hosts}
    listings = {h: [t for t, _ in proxy.listings(h)] for h in hosts}
    listing_rows = [rows for h in hosts for t, rows in proxy.listings(h) if window.start <= t <= window.end]

    def total(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    feed_rows = total([cycle_rows_per_s(proxy.feed_reads(h), window.start, window.end, design.skew) for h in hosts])
    empty_reads = sum(1 for h in hosts for r in reads[h] if r.rows == 0) / seconds
    polls = sum(
        a.watcher.polls - b.watcher.polls
        for a, b in zip(window.diagnostics_after, window.diagnostics_before, strict=True)
    )
    table_ops = sum(
        _delta(b.storage_operations, a.storage_operations, "table")
        for a, b in zip(window.diagnostics_after, window.diagnostics_before, strict=True)
    )
    proxied = sum(window.per_s(h, "") for h in hosts) * seconds
    figures: list[tuple[str, float | None, float]] = [
        (
            "feed reads/s",
            total([interval_rate([r.at for r in proxy.feed_reads(h)], window.start, window.end) for h in hosts]),
            modelled.watchers.requests,
        ),
        ("feed rows read/s", feed_rows, modelled.watchers.entities),
        (
            "reconciliations/s",
            total([interval_rate(listings[h], window.start, window.end) for h in hosts]),
            modelled.reconciliation.requests,
        ),
        (
            "rows per reconciliation",
            sum(listing_rows) / len(listing_rows) if listing_rows else None,
            modelled.reconciliation.entities / modelled.reconciliation.requests,
        ),
        ("writer requests/s", window.per_s(window.writer, ""), modelled.writers.requests),
        (
            "feed partition entities/s",
            None if feed_rows is None else rate + feed_rows + empty_reads,
            modelled.feed_partition,
        ),
        (
            "account requests/s",
            sum(window.per_s(c, "") for c in (*hosts, window.writer)),
            modelled.watchers.requests + modelled.reconciliation.requests + modelled.writers.requests,
        ),
        # benchmark 3's own counters (the hosts' /local/diagnostics) against the proxy's
        ("feed polls/s (hosts' counters)", polls / seconds, sum(window.per_s(h, "feed GET") for h in hosts)),
        ("table requests (hosts' counters)", table_ops, proxied),
    ]
    return [
        {
            "design": design.name,
            "processes": n,
            "changes_per_s": round(rate, 2),
            "quantity": quantity,
            "model": round(expected, 3),
            "measured": None if measured is None else round(measured, 3),
            "ratio": None if measured is None or expected == 0 else round(measured / expected, 3),
            "seconds": round(seconds, 1),
        }
        for quantity, measured, expected in figures
    ]


MEASURE_COLUMNS = ["design", "processes", "changes_per_s", "quantity", "model", "measured", "ratio", "seconds"]


@contextlib.contextmanager
def _systems(azurite: Any, proxy: CountingProxy, designs: dict[str, Design], args: Any) -> Iterator[list[System]]:
    systems = []
    try:
        for name, design in designs.items():
            base = common.system_env(
                azurite,
                SSE_STREAM_LIFETIME_SECONDS="200",
                WATCH_RECONCILE_SECONDS=str(design.reconcile),
                WATCH_POLL_SECONDS=str(design.tick),
                BENCH_WATCHER_SWEEP_SECONDS=str(design.sweep),
                BENCH_WATCHER_OVERLAP_SECONDS=str(design.overlap),
            )
            fleet = common.Fleet(_env_for(base, azurite.table, proxy.ports[f"{name} writer"]))
            systems.append(System(design, base, fleet))
        yield systems
    finally:
        for system in systems:
            for conns in system.conns:
                sseclient.close_all(conns)
            for host in system.hosts:
                host.stop(timeout=20)
                with contextlib.suppress(OSError, TypeError):
                    host.log_path.unlink()


async def measure_run(args: Any) -> dict[str, Any]:
    from harness.processes import LocalHostProcess

    started = time.monotonic()
    info = common.machine()
    designs = {
        "before": replace(LEGACY, reconcile=args.reconcile),
        "now": replace(CURRENT, reconcile=args.reconcile),
    }
    clients = [f"{n} {c}" for n in designs for c in ("host 0", "host 1", "writer")]
    rows: list[dict[str, Any]] = []
    with (
        common.azurite_running() as azurite,
        CountingProxy(azurite.table, clients) as proxy,
        _systems(azurite, proxy, designs, args) as systems,
    ):
        for name, system in zip(designs, systems, strict=True):
            await system.fleet.store.ensure_tables()
            await system.fleet.create(args.jobs)
            for i in range(2):
                env = _env_for(system.env, azurite.table, proxy.ports[f"{name} host {i}"])
                system.hosts.append(
                    LocalHostProcess(env, args=("--no-worker", "--no-timers"), module="bench.watcher_host")
                )
        # Every host starts at once (each start waits for its server): the runs overlap.
        hosts = [h for s in systems for h in s.hosts]
        await asyncio.gather(*(asyncio.to_thread(h.start, 60) for h in hosts))
        common.log(f"{len(hosts)} hosts up; {args.rate:g} changes/s; windows of {args.window:g} s")
        try:
            groups = await asyncio.gather(
                *(_measure_system(s, proxy, n, args) for n, s in zip(designs, systems, strict=True))
            )
        finally:
            for system in systems:
                await system.fleet.close()
        rows = [r for group in groups for r in group]
    worst = max((abs(r["ratio"] - 1) for r in rows if r["ratio"] is not None), default=None)
    targets = [
        {
            "target": f"model within {args.tolerance:.0%} of the measurement, every quantity",
            "measured": f"worst ratio off by {worst:.1%}" if worst is not None else "nothing measured",
            "met": worst is not None and worst <= args.tolerance and all(r["ratio"] is not None for r in rows),
        }
    ]
    details = {"designs": {n: vars(d) for n, d in designs.items()}, "targets": vars(TARGETS)}
    return common.write_results(
        "scale_model_measured", args, MEASURE_COLUMNS, rows, info, started, targets=targets, details=details
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = common.base_parser(__doc__ or "")
    parser.add_argument("--measure", action="store_true", help="run benchmark 3's setup and compare with the model")
    parser.add_argument("--rate", type=float, default=5.0, help="changes/s the writer makes (--measure)")
    parser.add_argument("--window", type=float, default=14.0, help="seconds counted per process count (--measure)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after a host's streams open (--measure)")
    parser.add_argument("--streams", type=int, default=3, help="streams per host (--measure)")
    parser.add_argument("--jobs", type=int, default=40, help="Queued jobs, the active index's rows (--measure)")
    parser.add_argument("--reconcile", type=float, default=5.0, help="WATCH_RECONCILE_SECONDS (--measure)")
    parser.add_argument("--tolerance", type=float, default=0.1, help="the model's stated tolerance (--measure)")
    args = parser.parse_args(argv)
    if args.measure:
        return asyncio.run(measure_run(args))
    return model(args)


if __name__ == "__main__":
    main()
