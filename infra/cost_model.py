"""Monthly cost of the Azure deployment, against the B1 App Service plan it replaces.

    python infra/cost_model.py            # the reference loads, the comparison and the break-even
    python infra/cost_model.py --markdown # the same tables as Markdown (docs/cost.md embeds them)

Prices are parameters (`Prices`), taken on the date in `Prices.taken`; they are list prices
and change: check them before relying on the figures. The model is written out term by
term in docs/cost.md. Standard library only.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Prices:
    """USD list prices, pay-as-you-go, East US. Sources and caveats: docs/cost.md."""

    taken: str = "2026-11-28"
    # Flex Consumption, on-demand meters; the free grant is per subscription and month
    flex_gb_s: float = 0.000026
    # How Flex rounds billed time: at least 1,000 ms per execution, then up to the next
    # 100 ms (billed_seconds() applies it; the only home of both figures)
    flex_min_billed_seconds: float = 1.0
    flex_billing_step_seconds: float = 0.1
    flex_per_million_executions: float = 0.40
    flex_free_gb_s: float = 100_000
    flex_free_executions: float = 250_000
    # Service Bus Basic: per operation, no base charge
    servicebus_basic_per_million_ops: float = 0.05
    # Storage (StorageV2, LRS, hot)
    table_per_10k_transactions: float = 0.00036
    queue_per_10k_operations: float = 0.004
    blob_write_per_10k: float = 0.065
    blob_other_per_10k: float = 0.0044  # reads, leases, properties
    table_gb_month: float = 0.045
    blob_gb_month: float = 0.0208
    # Log Analytics (Application Insights data), Analytics plan
    log_per_gb: float = 2.30
    log_free_gb: float = 5.0  # per billing account and month: set 0 if others use it
    # Key Vault Standard, secret operations
    key_vault_per_10k_operations: float = 0.03
    # The plan being replaced: App Service B1, Linux
    b1_per_hour: float = 0.018
    hours_per_month: float = 730


# --- telemetry inputs: bytes of log the app really emits, as ingested by Log Analytics --------
# Measured 2026-12-01 by the log-volume benchmark (bench/log_volume.py, bench/README.md
# benchmark 6): the app under the Functions worker's uvicorn, after the logging fix (Azure SDK
# loggers at WARNING, no uvicorn access log). Ingested bytes = message bytes + 500 bytes of
# row columns per record (an assumption; docs/observability.md has the KQL to check it).
LOG_BYTES_PER_JOB = 1_770  # 3.0 records a job, all processes (start, the /watch and stream lines, end)
LOG_BYTES_PER_STREAM_HOUR = 23_400  # 42 records: a /token and a stream open per planned reconnect
LOG_BYTES_PER_IDLE_HOUR = 0  # nothing to do: sweeps and feed reads log nothing (the host's rows are below)


@dataclass(frozen=True)
class Load:
    """One workload. Viewers are open /watch streams, i.e. tabs waiting on unfinished jobs."""

    name: str
    jobs_per_day: float
    job_seconds: float  # start -> terminal, on the worker
    viewers: float  # average open streams during the active hours
    active_hours_per_day: float = 10.0  # jobs and viewers fall in this window
    stream_lifetime_seconds: float = 180.0  # SSE_STREAM_LIFETIME_SECONDS: a planned reconnect after this
    jobs_per_stream: float = 1.0  # one stream can carry many jobs (/watch)
    progress_updates_per_job: float = 5.0
    polling_interval_seconds: float = 5.0  # the old client, for the comparison


@dataclass(frozen=True)
class Deployment:
    """What the Bicep sets, and what the host and the code do (defaults as deployed; a test
    ties each commented default to its source: main.bicep, host.json or settings.py)."""

    instance_memory_mb: int = 512  # instanceMemoryMB
    http_per_instance_concurrency: int = 1000  # perInstanceConcurrency
    worker_per_instance_concurrency: int = 32  # host.json serviceBus.maxConcurrentCalls
    watch_poll_seconds: float = 0.75  # WATCH_POLL_SECONDS: one feed read per tick per HTTP instance
    watch_reconcile_seconds: float = 30.0  # WATCH_RECONCILE_SECONDS
    sweep_runs_per_month: float = 730 * 60  # JOBS_SWEEP_SCHEDULE every minute
    sweep_seconds: float = 0.5  # run time of one sweep (billed as billed_seconds() of it)
    short_request_seconds: float = 0.1  # run time of start, watch, token (billed likewise)
    short_requests_per_job: float = 2.0  # POST start + POST watch
    lock_duration_seconds: float = 60.0  # jobsLockDuration: about one renewal per minute of a job
    queue_polling_seconds: float = 2.0  # host.json queues.maxPollingInterval (storage backend)
    servicebus_idle_ops_per_hour: float = 120.0  # scale monitoring of the queue (estimate)
    host_lease_ops_per_hour: float = 600.0  # host + timer-listener blob leases, per live instance (estimate)
    # Telemetry outside the app's log records above (estimates, checked on a first deploy):
    # the Functions host's request row and two trace rows per execution (requests are not
    # sampled, host.json), and the periodic metric export of each live instance (~20 series a minute)
    host_telemetry_bytes_per_execution: float = 1_500
    metric_bytes_per_instance_hour: float = 360_000
    log_bytes_per_job: float = LOG_BYTES_PER_JOB
    log_bytes_per_stream_hour: float = LOG_BYTES_PER_STREAM_HOUR
    log_bytes_per_idle_hour: float = LOG_BYTES_PER_IDLE_HOUR
    job_row_kb: float = 1.0
    job_retention_months: float = 12.0
    package_gb: float = 0.1
    key_vault_operations_per_month: float = 3_000  # reference refreshes on instance starts
    queue_backend: str = "servicebus"  # jobsQueueBackend


def billed_seconds(seconds: float, prices: Prices = Prices()) -> float:
    """Billed time of one execution that runs `seconds`: at least the minimum, then whole steps."""
    steps = math.ceil(round(seconds / prices.flex_billing_step_seconds, 9))  # 1.1 / 0.1 is 11.000000000000002
    return max(prices.flex_min_billed_seconds, steps * prices.flex_billing_step_seconds)


def busy_instances(mean_concurrent: float, per_instance: int) -> float:
    """Expected number of instances with at least one active execution.

    Concurrent executions are Poisson with the given mean (an M/G/inf model of arrivals
    that each last a while); each instance takes up to `per_instance` of them.
    """
    if mean_concurrent <= 0:
        return 0.0
    limit = int(mean_concurrent + 12 * math.sqrt(mean_concurrent) + 30)
    p = math.exp(-mean_concurrent)  # P(N = 0)
    expected = 0.0
    for n in range(1, limit + 1):
        p *= mean_concurrent / n
        expected += p * math.ceil(n / per_instance)
    return expected


@dataclass(frozen=True)
class Cost:
    load: Load
    gb_s: dict[str, float]
    executions: float
    flex: float
    servicebus_ops: float
    servicebus: float
    table_transactions: float
    queue_operations: float
    storage_transactions: float
    storage_gb: float
    storage_capacity: float
    telemetry_gb: float
    telemetry: float
    key_vault: float

    @property
    def total(self) -> float:
        return (
            self.flex
            + self.servicebus
            + self.storage_transactions
            + self.storage_capacity
            + self.telemetry
            + self.key_vault
        )


def monthly_cost(load: Load, dep: Deployment = Deployment(), prices: Prices = Prices()) -> Cost:
    days = prices.hours_per_month / 24
    active_seconds = load.active_hours_per_day * 3600 * days
    memory_gb = dep.instance_memory_mb / 1024
    jobs = load.jobs_per_day * days

    # Flex: per-function scaling puts HTTP (streams), the Service Bus worker and the timer
    # on separate instances; each is billed while it has an active execution.
    http_instances = busy_instances(load.viewers, dep.http_per_instance_concurrency)
    no_stream = math.exp(-load.viewers)  # short requests bill on their own only then
    concurrent_jobs = load.jobs_per_day / (load.active_hours_per_day * 3600) * load.job_seconds
    worker_instances = busy_instances(concurrent_jobs, dep.worker_per_instance_concurrency)
    # Short executions bill the 1 s minimum. Streams and jobs are billed as instance busy time:
    # their activity periods last tens of seconds, where rounding up to 100 ms is noise.
    request_billed = billed_seconds(dep.short_request_seconds, prices)
    gb_s = {
        "http streams": memory_gb * active_seconds * http_instances,
        "http requests": memory_gb * jobs * dep.short_requests_per_job * request_billed * no_stream,
        "worker": memory_gb * active_seconds * worker_instances,
        "timer": memory_gb * dep.sweep_runs_per_month * billed_seconds(dep.sweep_seconds, prices),
    }
    stream_opens = jobs / load.jobs_per_stream + load.viewers * active_seconds / load.stream_lifetime_seconds
    executions = stream_opens + jobs * dep.short_requests_per_job + jobs + dep.sweep_runs_per_month
    flex = (
        max(0.0, sum(gb_s.values()) - prices.flex_free_gb_s) * prices.flex_gb_s
        + max(0.0, executions - prices.flex_free_executions) / 1e6 * prices.flex_per_million_executions
    )

    # Service Bus: send, receive, complete, one lock renewal per lock period, plus idle monitoring.
    if dep.queue_backend == "servicebus":
        per_job = 3 + math.floor(load.job_seconds / dep.lock_duration_seconds)
        sb_ops = jobs * per_job + dep.servicebus_idle_ops_per_hour * prices.hours_per_month
    else:
        sb_ops = 0.0
    servicebus = sb_ops / 1e6 * prices.servicebus_basic_per_million_ops

    # Tables: per job create (3), claim (3), progress (2 each), terminal (3), ownership read (1);
    # per stream open one state read per job; per HTTP instance one feed read per tick and one
    # active-index read per reconciliation; per sweep 3.
    http_instance_seconds = active_seconds * http_instances
    table_tx = (
        jobs * (10 + 2 * load.progress_updates_per_job)
        + stream_opens * load.jobs_per_stream
        + http_instance_seconds * (1 / dep.watch_poll_seconds + 1 / dep.watch_reconcile_seconds)
        + dep.sweep_runs_per_month * 3
    )
    # Storage queue (storage backend only): send, get, delete, and the trigger's polling
    # (host.json maxPollingInterval) while a worker instance runs.
    queue_ops = 0.0
    if dep.queue_backend == "storage":
        queue_ops = jobs * 3 + active_seconds * worker_instances / dep.queue_polling_seconds
    # Host blobs: leases while instances live (the timer keeps one alive), timer status per run.
    live_instance_hours = prices.hours_per_month + (active_seconds * (http_instances + worker_instances)) / 3600
    blob_other = dep.host_lease_ops_per_hour * live_instance_hours + dep.sweep_runs_per_month
    blob_writes = dep.sweep_runs_per_month
    storage_transactions = (
        table_tx / 1e4 * prices.table_per_10k_transactions
        + queue_ops / 1e4 * prices.queue_per_10k_operations
        + blob_other / 1e4 * prices.blob_other_per_10k
        + blob_writes / 1e4 * prices.blob_write_per_10k
    )
    table_gb = jobs * dep.job_row_kb * dep.job_retention_months / 1e6
    storage_capacity = table_gb * prices.table_gb_month + dep.package_gb * prices.blob_gb_month

    # The app's log volume (LOG_BYTES_* above) from the load's jobs and stream-hours and the
    # hours of the month, plus the host's rows per execution and the metrics per live instance.
    stream_hours = load.viewers * active_seconds / 3600
    telemetry_gb = (
        jobs * dep.log_bytes_per_job
        + stream_hours * dep.log_bytes_per_stream_hour
        + prices.hours_per_month * dep.log_bytes_per_idle_hour
        + executions * dep.host_telemetry_bytes_per_execution
        + live_instance_hours * dep.metric_bytes_per_instance_hour
    ) / 1e9
    telemetry = max(0.0, telemetry_gb - prices.log_free_gb) * prices.log_per_gb
    key_vault = dep.key_vault_operations_per_month / 1e4 * prices.key_vault_per_10k_operations

    return Cost(
        load=load,
        gb_s=gb_s,
        executions=executions,
        flex=flex,
        servicebus_ops=sb_ops,
        servicebus=servicebus,
        table_transactions=table_tx,
        queue_operations=queue_ops,
        storage_transactions=storage_transactions,
        storage_gb=table_gb + dep.package_gb,
        storage_capacity=storage_capacity,
        telemetry_gb=telemetry_gb,
        telemetry=telemetry,
        key_vault=key_vault,
    )


def b1_flat(prices: Prices = Prices()) -> float:
    return prices.b1_per_hour * prices.hours_per_month


def b1_polling(load: Load, prices: Prices = Prices()) -> float:
    """The old design: B1 flat, plus one status read per watched job every polling interval."""
    days = prices.hours_per_month / 24
    reads = (
        load.viewers * load.jobs_per_stream * load.active_hours_per_day * 3600 * days / load.polling_interval_seconds
    )
    return b1_flat(prices) + reads / 1e4 * prices.table_per_10k_transactions


REFERENCE_LOADS = (
    Load("small", jobs_per_day=100, job_seconds=30, viewers=0.1, active_hours_per_day=8),
    Load("typical", jobs_per_day=300, job_seconds=45, viewers=0.5, active_hours_per_day=10),
    Load("busy", jobs_per_day=1000, job_seconds=60, viewers=2, active_hours_per_day=12),
)


def scaled(load: Load, factor: float) -> Load:
    """More of the same: jobs and viewers grow together (job length and hours stay)."""
    return replace(load, jobs_per_day=load.jobs_per_day * factor, viewers=load.viewers * factor)


def break_even(load: Load, dep: Deployment = Deployment(), prices: Prices = Prices()) -> Load:
    """The scaled load at which this design costs as much as the B1 plan (bisection)."""
    target = b1_flat(prices)
    low, high = 0.0, 1.0
    while monthly_cost(scaled(load, high), dep, prices).total < target:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        if monthly_cost(scaled(load, mid), dep, prices).total < target:
            low = mid
        else:
            high = mid
    return scaled(load, high)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def sensitivities(dep: Deployment = Deployment(), prices: Prices = Prices()) -> list[str]:
    """The Markdown table of what-ifs around the deployed defaults (docs/cost.md embeds it)."""
    loads = {load.name: load for load in REFERENCE_LOADS}
    typical, small, busy = loads["typical"], loads["small"], loads["busy"]

    def cost(load: Load, d: Deployment = dep, p: Prices = prices) -> str:
        return f"USD {_money(monthly_cost(load, d, p).total)}"

    big = replace(dep, instance_memory_mb=2048)
    big_even = break_even(typical, big, prices)
    crowd = replace(busy, viewers=20)
    low_concurrency = replace(dep, http_per_instance_concurrency=4)
    loud = replace(
        dep, log_bytes_per_job=10 * dep.log_bytes_per_job, log_bytes_per_stream_hour=10 * dep.log_bytes_per_stream_hour
    )
    rows = [
        (
            "typical load with 2,048 MB instances",
            f"{cost(typical, big)} (break-even: ~{round(big_even.jobs_per_day, -1):,.0f} jobs/day)",
        ),
        ("small load with 2,048 MB instances", cost(small, big)),
        (
            "busy load with 20 viewers, HTTP per-instance concurrency 4 instead of 1,000",
            f"{cost(crowd, low_concurrency)} instead of {cost(crowd)}",
        ),
        (
            "typical load, streams open all 10 active hours (dashboards left open: 10 viewers)",
            cost(replace(typical, viewers=10)),
        ),
        ("typical load, streams open around the clock", cost(replace(typical, viewers=10, active_hours_per_day=24))),
        (
            "typical load, storage-queue backend instead of Service Bus",
            cost(typical, replace(dep, queue_backend="storage")),
        ),
        (
            "typical load, the subscription's Flex free grant already used by other apps",
            cost(typical, dep, replace(prices, flex_free_gb_s=0)),
        ),
        ("typical load, 10 x the log bytes per job and per stream-hour", cost(typical, loud)),
        (
            "typical load, 10 x those log bytes and the 5 GB log grant used elsewhere",
            cost(typical, loud, replace(prices, log_free_gb=0)),
        ),
    ]
    lines = ["Sensitivities (same script, other parameters):", "", "| change | monthly cost |", "|---|---:|"]
    return lines + [f"| {label} | {value} |" for label, value in rows]


def tables(dep: Deployment = Deployment(), prices: Prices = Prices()) -> str:
    costs = [monthly_cost(load, dep, prices) for load in REFERENCE_LOADS]
    polling = "/".join(sorted({f"{load.polling_interval_seconds:g}" for load in REFERENCE_LOADS}))
    lines = [
        f"Prices taken {prices.taken} (USD, pay-as-you-go, East US). "
        f"Flex instance memory {dep.instance_memory_mb} MB, "
        f"HTTP per-instance concurrency {dep.http_per_instance_concurrency}.",
        "",
        "| load | jobs/day | job length (s) | viewers (open streams, avg) | active h/day |",
        "|---|---:|---:|---:|---:|",
    ]
    for load in REFERENCE_LOADS:
        lines.append(
            f"| {load.name} | {load.jobs_per_day:,.0f} | {load.job_seconds:.0f} | {load.viewers:g} "
            f"| {load.active_hours_per_day:g} |"
        )
    lines += ["", "| per month (USD unless stated) | " + " | ".join(c.load.name for c in costs) + " |"]
    lines.append("|---|" + "---:|" * len(costs))
    rows = [
        (
            "GB-s: HTTP instances (streams, requests)",
            lambda c: f"{c.gb_s['http streams'] + c.gb_s['http requests']:,.0f}",
        ),
        ("GB-s: worker instances (jobs)", lambda c: f"{c.gb_s['worker']:,.0f}"),
        ("GB-s: sweeper (timer)", lambda c: f"{c.gb_s['timer']:,.0f}"),
        (f"GB-s in all (free grant: {prices.flex_free_gb_s:,.0f})", lambda c: f"{sum(c.gb_s.values()):,.0f}"),
        (f"executions (free grant: {prices.flex_free_executions:,.0f})", lambda c: f"{c.executions:,.0f}"),
        (f"telemetry GB (free grant: {prices.log_free_gb:g})", lambda c: f"{c.telemetry_gb:,.2f}"),
        ("Flex compute + executions", lambda c: _money(c.flex)),
        ("Service Bus Basic operations", lambda c: _money(c.servicebus)),
        ("Table/queue/blob transactions", lambda c: _money(c.storage_transactions)),
        ("Storage capacity", lambda c: _money(c.storage_capacity)),
        ("Application Insights ingestion", lambda c: _money(c.telemetry)),
        ("Key Vault", lambda c: _money(c.key_vault)),
        ("**this design**", lambda c: f"**{_money(c.total)}**"),
        ("B1 plan, flat", lambda c: _money(b1_flat(prices))),
        (f"old {polling} s polling on B1", lambda c: _money(b1_polling(c.load, prices))),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(c) for c in costs) + " |")
    typical = next(load for load in REFERENCE_LOADS if load.name == "typical")
    even = break_even(typical, dep, prices)
    b1_gb_s = b1_flat(prices) / prices.flex_gb_s + prices.flex_free_gb_s
    b1_instance_hours = b1_gb_s / (dep.instance_memory_mb / 1024) / 3600
    lines += [
        "",
        f"Break-even with B1 ({_money(b1_flat(prices))} USD/month), scaling the typical load: "
        f"about {even.jobs_per_day:,.0f} jobs/day with {even.viewers:.2f} concurrent viewers "
        f"({even.jobs_per_day / typical.jobs_per_day:.2f} x typical).",
        "",
        f"The B1 price buys {b1_gb_s:,.0f} GB-s of Flex time a month, free grant included: "
        f"{b1_instance_hours:,.0f} instance-hours at {dep.instance_memory_mb} MB "
        f"({b1_instance_hours / (prices.hours_per_month / 24):.1f} hours a day of one busy instance).",
        "",
        *sensitivities(dep, prices),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print only the Markdown tables")
    parser.add_argument("--memory", type=int, default=Deployment.instance_memory_mb, choices=(512, 2048, 4096))
    args = parser.parse_args()
    dep = Deployment(instance_memory_mb=args.memory)
    if not args.markdown:
        print(__doc__.splitlines()[0])
        print()
    print(tables(dep))


if __name__ == "__main__":
    main()
