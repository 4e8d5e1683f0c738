"""Monthly cost of the Azure deployment on either hosting plan, and which plan to choose.

    python infra/cost_model.py            # both plans at every reference load, the choice, the break-even
    python infra/cost_model.py --markdown # the same tables as Markdown (docs/cost.md embeds them)

The same app runs on Flex Consumption (`hostingPlan=flex`, billed per GB-s while anything runs)
or on a Dedicated App Service plan (`hostingPlan=dedicated`, B1: a flat hourly price). Both
are priced with the same work (jobs, streams, storage, Service Bus, telemetry); the cheaper
one is recommended, and B1 is the most it can cost for the plan itself.

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
    # How Flex rounds billed time: an instance's activity period (while it has any active
    # execution; concurrent executions on it share one) is billed at least 1,000 ms, then up to
    # the next 100 ms. An execution alone on its instance (a sweep, a request with no stream
    # open) is one such period. billed_seconds() applies it; the only home of both figures.
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

# --- table writes per status change, measured --------------------------------------------------
# bench/latency.py --size quiet (bench/README.md benchmark 2): 2 jobs at a time with 5 progress
# reports each, the rate of the reference loads, where few changes share a feed round. Counted at
# the SDK in both hosts: status row, feed, active index and history rows, over 8 changes a job
# (created, running, 5 reports, the end). A test reads it from bench/results/latency_quiet.json.
# At the busy size (200 jobs at once) it is 1.19: rounds are shared.
TABLE_WRITES_PER_CHANGE = 1.94


# --- the hidden-tab pause: streams are open only while a tab is visible and waiting -------------
# The client library (client/, `hiddenPauseMs`) closes a tab's streams once the page has been
# hidden for HIDDEN_PAUSE_SECONDS and reopens them (from the versions it has) when it is shown.
HIDDEN_PAUSE_SECONDS = 5.0  # the library's default hiddenPauseMs (5000; a test reads it from config.ts)
# Share of a tab's waiting time (some job it shows is unfinished) during which the page is
# visible. ASSUMPTION of 2026-12-01, not a measurement of this app's users: half. The basis:
# past about 10 s of waiting users turn to something else (Nielsen, "Response Times: The 3
# Important Limits", NN/g, 1993/2014), which for waits of 30 s and more means most of the wait;
# but only a switch to another tab (or a minimised window) hides the page, while a switch to
# another window usually leaves it visible (Page Visibility: 'hidden' is "not visible at all").
# Replace it with a measured share (the page's visibilitychange events while jobs run) when
# one exists; docs/cost.md shows how much it moves the bill (share 1 is the old model: no pause).
VISIBLE_SHARE_OF_WAITING = 0.5


@dataclass(frozen=True)
class Load:
    """One workload. Viewers are tabs waiting on unfinished jobs; each holds one /watch stream
    while it waits, except while the hidden-tab pause has closed it (stream_open_share())."""

    name: str
    jobs_per_day: float
    job_seconds: float  # start -> terminal, on the worker
    viewers: float  # average tabs waiting on some unfinished job, during the active hours
    active_hours_per_day: float = 10.0  # jobs and viewers fall in this window
    wait_seconds: float | None = None  # one wait of a tab, start to its last terminal event; None: job_seconds
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
    sweep_interval_seconds: float = 300.0  # JOBS_SWEEP_SCHEDULE: every 5 minutes (0 */5 * * * *)
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
    table_writes_per_change: float = TABLE_WRITES_PER_CHANGE
    table_reads_per_job: float = 2.0  # the claim's read of the row, the watch's ownership read
    cancel_check_seconds: float = 2.0  # CANCEL_CHECK_SECONDS: a running job's read of its row
    job_row_kb: float = 1.0
    job_retention_months: float = 12.0
    package_gb: float = 0.1
    key_vault_operations_per_month: float = 3_000  # reference refreshes on instance starts
    queue_backend: str = "servicebus"  # jobsQueueBackend
    hosting_plan: str = "flex"  # hostingPlan: flex or dedicated
    dedicated_instances: int = 1  # the Dedicated plan's instance count (capacity)
    dedicated_max_streams: int = 5000  # SSE_MAX_STREAMS: what one Dedicated instance holds
    # the hidden-tab pause (above); visible_share 1 (or hidden_pause_seconds None) is no pause
    visible_share: float = VISIBLE_SHARE_OF_WAITING
    hidden_pause_seconds: float | None = HIDDEN_PAUSE_SECONDS
    hidden_spells: int = 1  # a wait's hidden part in this many spells: 1 is the most favourable reading

    @property
    def sweep_runs_per_hour(self) -> float:
        return 3600 / self.sweep_interval_seconds


def sweep_runs_per_month(dep: Deployment, prices: Prices = Prices()) -> float:
    """Timer runs a month: each is its own execution on its own instance (per-function scaling)."""
    return dep.sweep_runs_per_hour * prices.hours_per_month


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


def wait_seconds(load: Load) -> float:
    return load.job_seconds if load.wait_seconds is None else load.wait_seconds


def stream_open_share(load: Load, dep: Deployment) -> float:
    """Share of a tab's waiting time with its stream open, under the hidden-tab pause.

    A wait of W seconds is visible for visible_share x W and hidden for the rest, in
    hidden_spells equal spells (one is the most the pause can save at that share: each further
    spell keeps the stream open for another pause). The stream stays open for the first
    hidden_pause_seconds of each spell, so the pause saves only on spells longer than itself.
    """
    if dep.hidden_pause_seconds is None or dep.visible_share >= 1:
        return 1.0
    hidden = (1 - dep.visible_share) * wait_seconds(load)
    return dep.visible_share + min(hidden, dep.hidden_spells * dep.hidden_pause_seconds) / wait_seconds(load)


def resumes_per_wait(load: Load, dep: Deployment) -> float:
    """Streams a wait reopens on return: one per hidden spell the pause closed it in."""
    if dep.hidden_pause_seconds is None or dep.visible_share >= 1:
        return 0.0
    spell = (1 - dep.visible_share) * wait_seconds(load) / dep.hidden_spells
    return float(dep.hidden_spells) if spell > dep.hidden_pause_seconds else 0.0


@dataclass(frozen=True)
class Cost:
    load: Load
    plan: str  # flex or dedicated
    open_streams: float  # average open streams in the active hours (viewers x stream_open_share)
    gb_s: dict[str, float]
    executions: float
    flex: float  # Flex GB-s and executions (0 on Dedicated)
    plan_price: float  # the Dedicated plan's flat price (0 on Flex)
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
    def compute(self) -> float:
        """What the hosting plan bills: Flex meters, or the Dedicated plan's flat price."""
        return self.flex + self.plan_price

    @property
    def total(self) -> float:
        return (
            self.compute
            + self.servicebus
            + self.storage_transactions
            + self.storage_capacity
            + self.telemetry
            + self.key_vault
        )


def monthly_cost(load: Load, dep: Deployment = Deployment(), prices: Prices = Prices()) -> Cost:
    """The month's bill of `load` on dep.hosting_plan."""
    if dep.hosting_plan not in ("flex", "dedicated"):
        raise ValueError(f"hosting_plan must be flex or dedicated, not {dep.hosting_plan!r}")
    flex_plan = dep.hosting_plan == "flex"
    days = prices.hours_per_month / 24
    active_seconds = load.active_hours_per_day * 3600 * days
    memory_gb = dep.instance_memory_mb / 1024
    jobs = load.jobs_per_day * days
    sweeps = sweep_runs_per_month(dep, prices)

    # Streams are open while a tab waits, minus what the hidden-tab pause closes; a paused
    # spell reopens its stream when the tab is shown again (one more open, a short execution:
    # the stream on its paused token).
    open_streams = load.viewers * stream_open_share(load, dep)
    waits = load.viewers * active_seconds / wait_seconds(load)
    resumes = waits * resumes_per_wait(load, dep)
    stream_opens = jobs / load.jobs_per_stream + open_streams * active_seconds / load.stream_lifetime_seconds + resumes
    executions = stream_opens + jobs * dep.short_requests_per_job + jobs + sweeps
    concurrent_jobs = load.jobs_per_day / (load.active_hours_per_day * 3600) * load.job_seconds

    if flex_plan:
        # Flex: per-function scaling puts HTTP (streams), the Service Bus worker and the timer
        # on separate instances; each is billed while it has an active execution.
        http_instances = busy_instances(open_streams, dep.http_per_instance_concurrency)
        no_stream = math.exp(-open_streams)  # short requests bill on their own only then
        worker_instances = busy_instances(concurrent_jobs, dep.worker_per_instance_concurrency)
        # Short executions bill the 1 s minimum. Streams and jobs are billed as instance busy
        # time: their activity periods last tens of seconds, where rounding up to 100 ms is noise.
        request_billed = billed_seconds(dep.short_request_seconds, prices)
        gb_s = {
            "http streams": memory_gb * active_seconds * http_instances,
            "http requests": memory_gb * (jobs * dep.short_requests_per_job + resumes) * request_billed * no_stream,
            "worker": memory_gb * active_seconds * worker_instances,
            "timer": memory_gb * sweeps * billed_seconds(dep.sweep_seconds, prices),
        }
        flex = (
            max(0.0, sum(gb_s.values()) - prices.flex_free_gb_s) * prices.flex_gb_s
            + max(0.0, executions - prices.flex_free_executions) / 1e6 * prices.flex_per_million_executions
        )
        plan_price = 0.0
        # the timer's instance is counted alive all month (it may scale in between runs, but
        # its host leases and metrics are counted as if not); streams and jobs add theirs
        live_instance_hours = prices.hours_per_month + (active_seconds * (http_instances + worker_instances)) / 3600
        feed_instance_seconds = active_seconds * http_instances
        queue_polling_seconds = active_seconds * worker_instances
    else:
        # Dedicated: everything runs on the plan's instances, always on, at a flat price. The
        # feed watcher runs while some stream is open; the queue trigger polls all month.
        gb_s = {"http streams": 0.0, "http requests": 0.0, "worker": 0.0, "timer": 0.0}
        flex = 0.0
        plan_price = b1_flat(prices) * dep.dedicated_instances
        live_instance_hours = prices.hours_per_month * dep.dedicated_instances
        feed_instance_seconds = active_seconds * busy_instances(open_streams, dep.dedicated_max_streams)
        queue_polling_seconds = prices.hours_per_month * 3600 * dep.dedicated_instances

    # Service Bus: send, receive, complete, one lock renewal per lock period, plus idle monitoring.
    if dep.queue_backend == "servicebus":
        per_job = 3 + math.floor(load.job_seconds / dep.lock_duration_seconds)
        sb_ops = jobs * per_job + dep.servicebus_idle_ops_per_hour * prices.hours_per_month
    else:
        sb_ops = 0.0
    servicebus = sb_ops / 1e6 * prices.servicebus_basic_per_million_ops

    # Tables: per job its changes (created, running, each report, the end) at the measured
    # writes per change, its reads, and the cancel check's reads while it runs (at most one per
    # CANCEL_CHECK_SECONDS); per stream open one state read per job; per instance with streams
    # one feed read per tick and one active-index read per reconciliation; per sweep 3.
    changes_per_job = 3 + load.progress_updates_per_job
    table_tx = (
        jobs
        * (
            changes_per_job * dep.table_writes_per_change
            + dep.table_reads_per_job
            + load.job_seconds / dep.cancel_check_seconds
        )
        + stream_opens * load.jobs_per_stream
        + feed_instance_seconds * (1 / dep.watch_poll_seconds + 1 / dep.watch_reconcile_seconds)
        + sweeps * 3
    )
    # Storage queue (storage backend only): send, get, delete, and the trigger's polling
    # (host.json maxPollingInterval) while a worker instance runs.
    queue_ops = 0.0
    if dep.queue_backend == "storage":
        queue_ops = jobs * 3 + queue_polling_seconds / dep.queue_polling_seconds
    # Host blobs: leases while instances live, timer status per run.
    blob_other = dep.host_lease_ops_per_hour * live_instance_hours + sweeps
    blob_writes = sweeps
    storage_transactions = (
        table_tx / 1e4 * prices.table_per_10k_transactions
        + queue_ops / 1e4 * prices.queue_per_10k_operations
        + blob_other / 1e4 * prices.blob_other_per_10k
        + blob_writes / 1e4 * prices.blob_write_per_10k
    )
    table_gb = jobs * dep.job_row_kb * dep.job_retention_months / 1e6
    storage_capacity = table_gb * prices.table_gb_month + dep.package_gb * prices.blob_gb_month

    # The app's log volume (LOG_BYTES_* above) from the load's jobs and stream-hours (streams
    # actually open) and the hours of the month, plus the host's rows per execution and the
    # metrics per live instance.
    stream_hours = open_streams * active_seconds / 3600
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
        plan=dep.hosting_plan,
        open_streams=open_streams,
        gb_s=gb_s,
        executions=executions,
        flex=flex,
        plan_price=plan_price,
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


def both_plans(load: Load, dep: Deployment = Deployment(), prices: Prices = Prices()) -> dict[str, Cost]:
    """The same load on each hosting plan."""
    return {plan: monthly_cost(load, replace(dep, hosting_plan=plan), prices) for plan in ("flex", "dedicated")}


def recommend(load: Load, dep: Deployment = Deployment(), prices: Prices = Prices()) -> Cost:
    """The cheaper plan's bill for `load` (Flex on a tie: no idle bill, no capacity to outgrow)."""
    costs = both_plans(load, dep, prices)
    return costs["flex"] if costs["flex"].total <= costs["dedicated"].total else costs["dedicated"]


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
    # The scale of the app this replaces (DESIGN.md, the seed): ~18 job kinds, 2,000 jobs a day
    # of 60 s, 50 viewers at peak. Assumptions (docs/cost.md, "The seed load"): the day's average
    # is half its peak (25 tabs over 12 active hours), and a tab shows its team's jobs, so it
    # waits from one job to the next, about 10 minutes at a time. Neither decides the choice:
    # on Flex the worker alone costs more than B1 at this load.
    Load("seed", jobs_per_day=2000, job_seconds=60, viewers=25, active_hours_per_day=12, wait_seconds=600),
)


def scaled(load: Load, factor: float) -> Load:
    """More of the same: jobs and viewers grow together (job length and hours stay)."""
    return replace(load, jobs_per_day=load.jobs_per_day * factor, viewers=load.viewers * factor)


def break_even(load: Load, dep: Deployment = Deployment(), prices: Prices = Prices()) -> Load:
    """The scaled load at which Flex costs as much as the Dedicated B1 plan doing the same work
    (bisection on the scale factor; below it Flex is cheaper, above it B1)."""

    def flex_cheaper(factor: float) -> bool:
        costs = both_plans(scaled(load, factor), dep, prices)
        return costs["flex"].total < costs["dedicated"].total

    low, high = 0.0, 1.0
    while flex_cheaper(high):
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        if flex_cheaper(mid):
            low = mid
        else:
            high = mid
    return scaled(load, high)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def sensitivities(dep: Deployment = Deployment(), prices: Prices = Prices()) -> list[str]:
    """The Markdown table of what-ifs around the deployed defaults (docs/cost.md embeds it)."""
    loads = {load.name: load for load in REFERENCE_LOADS}
    typical, small, busy, seed = loads["typical"], loads["small"], loads["busy"], loads["seed"]
    flex = replace(dep, hosting_plan="flex")

    def cost(load: Load, d: Deployment = flex, p: Prices = prices) -> str:
        return f"USD {_money(monthly_cost(load, d, p).total)}"

    def share(load: Load, d: Deployment = flex) -> str:
        return f"{cost(load, d)} ({monthly_cost(load, d, prices).total / b1_flat(prices):.0%} of B1)"

    big = replace(flex, instance_memory_mb=2048)
    big_even = break_even(typical, big, prices)
    crowd = replace(busy, viewers=20)
    low_concurrency = replace(flex, http_per_instance_concurrency=4)
    loud = replace(
        flex, log_bytes_per_job=10 * dep.log_bytes_per_job, log_bytes_per_stream_hour=10 * dep.log_bytes_per_stream_hour
    )
    no_pause = replace(flex, visible_share=1.0)
    dashboards = replace(typical, viewers=10, wait_seconds=typical.active_hours_per_day * 3600)
    own_jobs = replace(seed, viewers=3, wait_seconds=None)
    own_costs = both_plans(own_jobs, flex, prices)
    rows = [
        ("typical load without the hidden-tab pause (visible share 1: the old model)", share(typical, no_pause)),
        (
            "typical load, hiddenPauseMs 30000 (the library's default until 2026-12-02)",
            share(typical, replace(flex, hidden_pause_seconds=30.0)),
        ),
        (
            "typical load, each wait's hidden part in two spells instead of one",
            share(typical, replace(flex, hidden_spells=2)),
        ),
        ("typical load, tabs visible 20% of a wait instead of 50 %", share(typical, replace(flex, visible_share=0.2))),
        (
            "typical load, streams closed as soon as a tab is hidden (hiddenPauseMs 0)",
            share(typical, replace(flex, hidden_pause_seconds=0.0)),
        ),
        (
            "typical load, hiddenPauseMs 0 and tabs visible 20% of a wait",
            share(typical, replace(flex, hidden_pause_seconds=0.0, visible_share=0.2)),
        ),
        (
            "typical load, dashboards left open: 10 tabs waiting all 10 active hours, with the pause",
            f"{cost(dashboards)} (without it: {cost(dashboards, no_pause)})",
        ),
        (
            "typical load, streams open around the clock",
            cost(replace(typical, viewers=10, active_hours_per_day=24), no_pause),
        ),
        (
            "seed load, tabs waiting only on their own jobs (3 tabs, 60 s waits)",
            f"{cost(own_jobs)} (Dedicated B1: USD {_money(own_costs['dedicated'].total)})",
        ),
        ("seed load without the hidden-tab pause", f"{cost(seed, no_pause)} (with it: {cost(seed)})"),
        (
            "typical load with 2,048 MB instances",
            f"{cost(typical, big)} (break-even: ~{round(big_even.jobs_per_day, -1):,.0f} jobs/day)",
        ),
        ("small load with 2,048 MB instances", cost(small, big)),
        (
            "busy load with 20 waiting tabs, HTTP per-instance concurrency 4 instead of 1,000",
            f"{cost(crowd, low_concurrency)} instead of {cost(crowd)}",
        ),
        (
            "typical load, storage-queue backend instead of Service Bus",
            f"{cost(typical, replace(flex, queue_backend='storage'))} "
            f"(Dedicated B1: {cost(typical, replace(flex, hosting_plan='dedicated', queue_backend='storage'))})",
        ),
        (
            "typical load, the subscription's Flex free grant already used by other apps",
            cost(typical, flex, replace(prices, flex_free_gb_s=0)),
        ),
        ("typical load, 10 x the log bytes per job and per stream-hour", cost(typical, loud)),
        (
            "typical load, 10 x those log bytes and the 5 GB log grant used elsewhere",
            cost(typical, loud, replace(prices, log_free_gb=0)),
        ),
    ]
    lines = ["Sensitivities (Flex unless stated; same script, other parameters):", "", "| change | monthly cost |"]
    lines.append("|---|---:|")
    return lines + [f"| {label} | {value} |" for label, value in rows]


# Sweeper schedules the docs compare (seconds between runs); the deployed one is Deployment's.
SWEEP_CHOICES = (60.0, 300.0, 900.0, 3600.0)
TYPICAL_TARGET = 0.5  # issue 14: Flex at the typical load <= 50 % of B1's price


def _every(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def sweep_schedules(dep: Deployment = Deployment(), prices: Prices = Prices()) -> list[str]:
    """The Markdown table of the sweeper's schedule: what each choice bills at the typical load,
    and how long past its deadline a job the sweeper ends (its worker and every redelivery
    gone) can stay unfinished: one interval at most."""
    typical = next(load for load in REFERENCE_LOADS if load.name == "typical")
    flex, dedicated = replace(dep, hosting_plan="flex"), replace(dep, hosting_plan="dedicated")
    lines = [
        'The sweeper\'s schedule (typical load; the sweeper is a backstop: see docs/cost.md, "The sweeper"):',
        "",
        "| sweep every | runs a month | sweeper GB-s | Flex bill | Flex / B1 price | Dedicated B1 bill "
        "| a job the sweeper ends stays unfinished past its deadline |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for interval in sorted({*SWEEP_CHOICES, dep.sweep_interval_seconds}):
        on_flex = monthly_cost(typical, replace(flex, sweep_interval_seconds=interval), prices)
        on_b1 = monthly_cost(typical, replace(dedicated, sweep_interval_seconds=interval), prices)
        mark = " (deployed)" if interval == dep.sweep_interval_seconds else ""
        runs = sweep_runs_per_month(replace(flex, sweep_interval_seconds=interval), prices)
        lines.append(
            f"| {_every(interval)}{mark} | {runs:,.0f} "
            f"| {on_flex.gb_s['timer']:,.0f} | USD {_money(on_flex.total)} | {on_flex.total / b1_flat(prices):.0%} "
            f"| USD {_money(on_b1.total)} | up to {_every(interval)} |"
        )
    return lines


def largest_pause_meeting_target(dep: Deployment = Deployment(), prices: Prices = Prices()) -> float | None:
    """The longest hidden-tab pause (whole seconds, up to 10 minutes) with which Flex at the
    typical load meets TYPICAL_TARGET; None if not even 0 s does."""
    typical = next(load for load in REFERENCE_LOADS if load.name == "typical")
    flex = replace(dep, hosting_plan="flex")
    limit = 600
    meets = [
        float(p)
        for p in range(limit + 1)
        if monthly_cost(typical, replace(flex, hidden_pause_seconds=float(p)), prices).total
        <= TYPICAL_TARGET * b1_flat(prices)
    ]
    return max(meets) if meets else None


PLAN_NAMES = {"flex": "Flex", "dedicated": "B1"}


def tables(dep: Deployment = Deployment(), prices: Prices = Prices()) -> str:
    both = [both_plans(load, dep, prices) for load in REFERENCE_LOADS]
    costs = [b["flex"] for b in both]
    dedicated = [b["dedicated"] for b in both]
    polling = "/".join(sorted({f"{load.polling_interval_seconds:g}" for load in REFERENCE_LOADS}))
    pause = "off" if dep.hidden_pause_seconds is None else f"streams close after {dep.hidden_pause_seconds:g} s hidden"
    lines = [
        f"Prices taken {prices.taken} (USD, pay-as-you-go, East US). "
        f"Flex instance memory {dep.instance_memory_mb} MB, "
        f"HTTP per-instance concurrency {dep.http_per_instance_concurrency}. "
        f"Dedicated: B1, {dep.dedicated_instances} instance. "
        f"Hidden-tab pause: {pause}; a tab is visible {dep.visible_share:.0%} of its wait (assumed). "
        f"Sweeper every {_every(dep.sweep_interval_seconds)}.",
        "",
        "| load | jobs/day | job length (s) | waiting tabs (avg) | one wait (s) | open streams (avg) | active h/day |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in costs:
        load = c.load
        lines.append(
            f"| {load.name} | {load.jobs_per_day:,.0f} | {load.job_seconds:.0f} | {load.viewers:g} "
            f"| {wait_seconds(load):,.0f} | {c.open_streams:.3g} | {load.active_hours_per_day:g} |"
        )
    lines += ["", "| per month (USD unless stated) | " + " | ".join(c.load.name for c in costs) + " |"]
    lines.append("|---|" + "---:|" * len(costs))
    rows: list[tuple[str, list[str]]] = [
        (
            "Flex GB-s: HTTP instances (streams, requests)",
            [f"{c.gb_s['http streams'] + c.gb_s['http requests']:,.0f}" for c in costs],
        ),
        ("Flex GB-s: worker instances (jobs)", [f"{c.gb_s['worker']:,.0f}" for c in costs]),
        ("Flex GB-s: sweeper (timer)", [f"{c.gb_s['timer']:,.0f}" for c in costs]),
        (
            f"Flex GB-s in all (free grant: {prices.flex_free_gb_s:,.0f})",
            [f"{sum(c.gb_s.values()):,.0f}" for c in costs],
        ),
        (f"executions (free grant: {prices.flex_free_executions:,.0f})", [f"{c.executions:,.0f}" for c in costs]),
        (f"telemetry GB on Flex (free grant: {prices.log_free_gb:g})", [f"{c.telemetry_gb:,.2f}" for c in costs]),
        ("Flex compute + executions", [_money(c.flex) for c in costs]),
        ("Service Bus Basic operations", [_money(c.servicebus) for c in costs]),
        ("Table/queue/blob transactions on Flex", [_money(c.storage_transactions) for c in costs]),
        ("Storage capacity", [_money(c.storage_capacity) for c in costs]),
        ("Application Insights ingestion on Flex", [_money(c.telemetry) for c in costs]),
        ("Key Vault", [_money(c.key_vault) for c in costs]),
        ("**Flex Consumption**", [f"**{_money(c.total)}**" for c in costs]),
        ("Dedicated B1 plan, flat", [_money(d.plan_price) for d in dedicated]),
        ("Dedicated: every other meter (same work)", [_money(d.total - d.plan_price) for d in dedicated]),
        ("**Dedicated B1**", [f"**{_money(d.total)}**" for d in dedicated]),
        ("**recommended plan**", [f"**{PLAN_NAMES[recommend(c.load, dep, prices).plan]}**" for c in costs]),
        ("bill of the recommended plan", [_money(recommend(c.load, dep, prices).total) for c in costs]),
        ("Flex as a share of the B1 price", [f"{c.total / b1_flat(prices):.0%}" for c in costs]),
        (
            "break-even: jobs/day at which Flex costs what B1 does (this load's shape)",
            [f"{break_even(c.load, dep, prices).jobs_per_day:,.0f}" for c in costs],
        ),
        (f"old {polling} s polling on B1", [_money(b1_polling(c.load, prices)) for c in costs]),
    ]
    for label, cells in rows:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    typical = next(load for load in REFERENCE_LOADS if load.name == "typical")
    even = break_even(typical, dep, prices)
    b1_gb_s = b1_flat(prices) / prices.flex_gb_s + prices.flex_free_gb_s
    b1_instance_hours = b1_gb_s / (dep.instance_memory_mb / 1024) / 3600
    lines += [
        "",
        f"Break-even between the plans, scaling the typical load (jobs and tabs together): "
        f"about {even.jobs_per_day:,.0f} jobs/day with {even.viewers:.2f} waiting tabs "
        f"({even.jobs_per_day / typical.jobs_per_day:.2f} x typical); below it Flex is cheaper, above it B1.",
        "",
        f"The B1 price buys {b1_gb_s:,.0f} GB-s of Flex time a month, free grant included: "
        f"{b1_instance_hours:,.0f} instance-hours at {dep.instance_memory_mb} MB "
        f"({b1_instance_hours / (prices.hours_per_month / 24):.1f} hours a day of one busy instance).",
        "",
        *sensitivities(dep, prices),
        "",
        *sweep_schedules(dep, prices),
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
        for load in REFERENCE_LOADS:
            costs, best = both_plans(load, dep), recommend(load, dep)
            print(
                f"{load.name:>8}: Flex USD {_money(costs['flex'].total):>6}, Dedicated B1 USD "
                f"{_money(costs['dedicated'].total):>6} -> choose {PLAN_NAMES[best.plan]} "
                f"(hostingPlan={best.plan}), USD {_money(best.total)} a month; "
                f"break-even {break_even(load, dep).jobs_per_day:,.0f} jobs/day"
            )
        typical = next(load for load in REFERENCE_LOADS if load.name == "typical")
        share = monthly_cost(typical, replace(dep, hosting_plan="flex")).total / b1_flat()
        pause = largest_pause_meeting_target(dep)
        print(
            f"typical-load target (Flex <= {TYPICAL_TARGET:.0%} of B1's price): "
            f"{'met' if share <= TYPICAL_TARGET else 'not met'}, {share:.0%}"
            + ("" if pause is None else f"; met with hiddenPauseMs <= {pause * 1000:,.0f}")
        )
        print()
    print(tables(dep))


if __name__ == "__main__":
    main()
