/**
 * The local host's `GET /local/diagnostics`, and the figures the metrics panel
 * derives from it. Pure functions only: the panel component does the polling.
 *
 * Counters are cumulative totals since the host started; histograms carry
 * count/sum/min/max/p50/p95 (the percentiles are histogram bucket bounds). A
 * metric is absent until it is first recorded.
 */

/**
 * Every instrument's name (`telemetry.metrics.MetricName`), written once here: the panel
 * reads metrics only through these. tests/local_host/test_diagnostics_contract.py holds
 * them, and every interface below, to the pydantic model the host serves
 * (`local_host/diagnostics.py` Diagnostics).
 */
export const METRIC = {
  REQUESTS: 'jobevents.http.requests',
  STREAMS_OPEN: 'jobevents.streams.open',
  STREAMS_OPENED: 'jobevents.streams.opened',
  STREAMS_CLOSED: 'jobevents.streams.closed',
  POLLS: 'jobevents.polls',
  FEED_READS: 'jobevents.feed.reads',
  QUEUE_WAIT: 'jobevents.jobs.queue_wait',
  RUN_TIME: 'jobevents.jobs.run_time',
  JOBS_FINISHED: 'jobevents.jobs.finished',
  JOBS_FAILED: 'jobevents.jobs.failed',
  NOTIFY_LATENCY: 'jobevents.notify.latency',
  LOOP_LAG: 'jobevents.process.loop_lag',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Why a stream ended, or was refused (`notify.streams.CloseReason`). */
export type CloseReason =
  | 'terminal'
  | 'client_gone'
  | 'lifetime'
  | 'shutdown'
  | 'auth'
  | 'capacity'
  | 'rejected';

export type Attributes = Readonly<Record<string, string | number | boolean>>;

export interface CounterPoint {
  readonly attributes: Attributes;
  readonly value: number;
}

export interface HistogramPoint {
  readonly attributes: Attributes;
  readonly count: number;
  readonly sum: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export type MetricPoint = CounterPoint | HistogramPoint;

/** A metric is absent until it is first recorded. */
export type MetricsView = Readonly<Partial<Record<MetricName, readonly MetricPoint[]>>>;

export interface StreamFigures {
  readonly open: number;
  readonly opened: number;
  readonly closed: Readonly<Record<CloseReason, number>>;
  readonly max: number;
}

export interface HubFigures {
  readonly watchedJobs: number;
}

export interface WatcherFigures {
  readonly running: boolean;
  readonly polls: number;
  readonly reconciles: number;
}

export interface QueueFigures {
  readonly received: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly poisoned: number;
  readonly released: number;
  readonly inFlight: number;
  readonly errors: number;
}

export interface ProcessFigures {
  readonly asyncioTasks: number;
  readonly openFiles: number | null;
  readonly maxRssKiB: number;
  readonly rssKiB: number | null;
  readonly gcObjects: number | null;
}

/** The body of `GET /local/diagnostics`. */
export interface Diagnostics {
  readonly streams: StreamFigures;
  readonly hub: HubFigures;
  readonly watcher: WatcherFigures;
  readonly queue: readonly QueueFigures[];
  readonly storageOperations: Readonly<Record<string, number>>;
  readonly metrics: MetricsView;
  readonly process: ProcessFigures;
}

/**
 * What the panel reads of a body: its metrics and, until that metric exists, the open
 * streams. Any `Diagnostics` is one; the unit tests pass no more than this.
 */
export type Reading = Pick<Diagnostics, 'metrics'> & { readonly streams?: Partial<StreamFigures> };

/** A run-time summary for one outcome, over every job type. */
export interface RunTime {
  readonly outcome: string;
  readonly jobs: number;
  /** Mean run time in seconds (exact: sum / count). */
  readonly avgSeconds: number;
  /** The highest p95 among the job types with this outcome (a bucket bound), in seconds. */
  readonly p95Seconds: number | null;
  /** The same per job type, for a tooltip. */
  readonly byType: readonly {
    jobType: string;
    jobs: number;
    avgSeconds: number;
    p95Seconds: number | null;
  }[];
}

export interface LatencyPath {
  readonly path: string;
  readonly events: number;
  readonly p95Ms: number | null;
}

/** What one diagnostics reading says, in the panel's terms. */
export interface Figures {
  /** Every API request the host answered (sum of `jobevents.http.requests`), cumulative. */
  readonly requests: number;
  readonly openStreams: number;
  readonly streamsOpened: number;
  /** Streams opened with `Last-Event-ID` (`jobevents.streams.opened`, `resumed=true`). */
  readonly reconnects: number;
  readonly errors: {
    /** Streams closed because the client went away. */
    readonly clientGone: number;
    /** Streams refused at capacity. */
    readonly capacity: number;
    /** Streams refused for a missing, expired or wrong token. */
    readonly auth: number;
    /** Jobs that ended `Failed` (any reason). */
    readonly failedJobs: number;
    /** Status reads made because a client's stream failed (`fallback=true`). */
    readonly fallbackPolls: number;
    readonly total: number;
  };
  /** By outcome, `Completed` first. */
  readonly runTimes: readonly RunTime[];
  /** The worst p95 over the notification paths (ms), or null before the first event. */
  readonly notifyP95Ms: number | null;
  readonly notifyPaths: readonly LatencyPath[];
}

/** A diagnostics body, and not (say) an HTML page a static server answered with. */
export function isDiagnostics(body: unknown): body is Diagnostics {
  if (typeof body !== 'object' || body === null) return false;
  const metrics = (body as { metrics?: unknown }).metrics;
  return typeof metrics === 'object' && metrics !== null && !Array.isArray(metrics);
}

function matches(attributes: Attributes | undefined, match: Attributes): boolean {
  return Object.entries(match).every(([key, value]) => attributes?.[key] === value);
}

/** A metric's points; none while it is absent (or if it is not a list). */
function pointsOf(diagnostics: Reading, name: MetricName): readonly MetricPoint[] {
  const points = diagnostics.metrics[name];
  return Array.isArray(points) ? points.filter((p) => typeof p === 'object' && p !== null) : [];
}

/** Sum of a counter's points whose attributes match; 0 while the metric is absent. */
export function counterTotal(
  diagnostics: Reading,
  name: MetricName,
  match: Attributes = {},
): number {
  let total = 0;
  for (const point of pointsOf(diagnostics, name)) {
    if ('value' in point && typeof point.value === 'number' && matches(point.attributes, match)) {
      total += point.value;
    }
  }
  return total;
}

/** A histogram's points with at least one recording; [] while the metric is absent. */
export function histogramPoints(diagnostics: Reading, name: MetricName): HistogramPoint[] {
  return pointsOf(diagnostics, name).filter(
    (point): point is HistogramPoint =>
      'count' in point && typeof point.count === 'number' && point.count > 0,
  );
}

function maxOf(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => typeof v === 'number');
  return known.length ? Math.max(...known) : null;
}

const OUTCOME_ORDER = ['Completed', 'Failed'];

export function runTimes(diagnostics: Reading): RunTime[] {
  const byOutcome = new Map<string, HistogramPoint[]>();
  for (const point of histogramPoints(diagnostics, METRIC.RUN_TIME)) {
    const outcome = String(point.attributes['outcome'] ?? 'unknown');
    byOutcome.set(outcome, [...(byOutcome.get(outcome) ?? []), point]);
  }
  const rank = (outcome: string) => {
    const i = OUTCOME_ORDER.indexOf(outcome);
    return i < 0 ? OUTCOME_ORDER.length : i;
  };
  return [...byOutcome.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([outcome, points]) => {
      const jobs = points.reduce((n, p) => n + p.count, 0);
      const sum = points.reduce((n, p) => n + p.sum, 0);
      return {
        outcome,
        jobs,
        avgSeconds: sum / jobs,
        p95Seconds: maxOf(points.map((p) => p.p95)),
        byType: points
          .map((p) => ({
            jobType: String(p.attributes['job_type'] ?? '?'),
            jobs: p.count,
            avgSeconds: p.sum / p.count,
            p95Seconds: p.p95,
          }))
          .sort((a, b) => a.jobType.localeCompare(b.jobType)),
      };
    });
}

/** Everything the panel shows from one reading. Missing metrics read as 0 (or null). */
export function readFigures(diagnostics: Reading): Figures {
  const closed = (reason: string) => counterTotal(diagnostics, METRIC.STREAMS_CLOSED, { reason });
  const errors = {
    clientGone: closed('client_gone'),
    capacity: closed('capacity'),
    auth: closed('auth'),
    failedJobs: counterTotal(diagnostics, METRIC.JOBS_FAILED),
    fallbackPolls: counterTotal(diagnostics, METRIC.POLLS, { fallback: true }),
  };
  const openMetric = pointsOf(diagnostics, METRIC.STREAMS_OPEN).length > 0;
  const notifyPaths = histogramPoints(diagnostics, METRIC.NOTIFY_LATENCY)
    .map((p) => ({ path: String(p.attributes['path'] ?? '?'), events: p.count, p95Ms: p.p95 }))
    .sort((a, b) => a.path.localeCompare(b.path));
  return {
    requests: counterTotal(diagnostics, METRIC.REQUESTS),
    openStreams: openMetric
      ? counterTotal(diagnostics, METRIC.STREAMS_OPEN)
      : (diagnostics.streams?.open ?? 0),
    streamsOpened: counterTotal(diagnostics, METRIC.STREAMS_OPENED),
    reconnects: counterTotal(diagnostics, METRIC.STREAMS_OPENED, { resumed: true }),
    errors: { ...errors, total: Object.values(errors).reduce((a, b) => a + b, 0) },
    runTimes: runTimes(diagnostics),
    notifyP95Ms: maxOf(notifyPaths.map((p) => p.p95Ms)),
    notifyPaths,
  };
}

// --- history: rates and sparklines ------------------------------------------

/** One reading in the panel's history. */
export interface Sample {
  /** When it arrived (ms, the page's clock). */
  readonly at: number;
  readonly openStreams: number;
  /** Requests since the previous reading, and the time between them; null for a baseline. */
  readonly interval: { readonly requests: number; readonly ms: number } | null;
}

export interface History {
  /** Oldest first, at most `capacity`. */
  readonly samples: readonly Sample[];
  /** The request total of the previous reading; null after a pause (the next reading is a baseline). */
  readonly last: { readonly at: number; readonly requests: number } | null;
}

export const EMPTY_HISTORY: History = { samples: [], last: null };

/** Adds a reading. A request total below the previous one means the host restarted. */
export function record(history: History, figures: Figures, at: number, capacity = 60): History {
  const last = history.last;
  let interval: Sample['interval'] = null;
  if (last && at > last.at) {
    const delta =
      figures.requests >= last.requests ? figures.requests - last.requests : figures.requests;
    interval = { requests: delta, ms: at - last.at };
  }
  const samples = [...history.samples, { at, openStreams: figures.openStreams, interval }];
  return {
    samples: samples.slice(Math.max(0, samples.length - capacity)),
    last: { at, requests: figures.requests },
  };
}

/** Forget the previous total: no rate is computed across a pause or a hidden tab. */
export function rebase(history: History): History {
  return history.last ? { ...history, last: null } : history;
}

/** Requests per minute in one interval. */
export function perMinute(interval: NonNullable<Sample['interval']>): number {
  return (interval.requests / interval.ms) * 60_000;
}

/** The request rate of each interval (per minute), oldest first: the sparkline's values. */
export function rateSeries(history: History): number[] {
  return history.samples.flatMap((s) => (s.interval ? [perMinute(s.interval)] : []));
}

/**
 * Requests per minute over the intervals that ended within `windowMs` of `now`
 * (the last minute by default); null before there are two readings.
 */
export function requestsPerMinute(history: History, now: number, windowMs = 60_000): number | null {
  let requests = 0;
  let ms = 0;
  for (const sample of history.samples) {
    if (sample.interval && sample.at > now - windowMs) {
      requests += sample.interval.requests;
      ms += sample.interval.ms;
    }
  }
  return ms > 0 ? (requests / ms) * 60_000 : null;
}

export interface Sparkline {
  /** `points` of an SVG polyline. */
  readonly line: string;
  /** `d` of an SVG path: the area under the line. */
  readonly area: string;
  /** The value at the top edge (at least 1). */
  readonly max: number;
}

/**
 * A sparkline of the last `capacity` values in a `width` × `height` box: the
 * newest value at the right edge, one step per sample, 0 at the bottom and the
 * largest value (at least 1) at the top, with `pad` units to spare.
 */
export function sparkline(
  values: readonly number[],
  { width = 120, height = 28, capacity = 60, pad = 2 } = {},
): Sparkline {
  const shown = values.slice(Math.max(0, values.length - capacity)).map((v) => Math.max(0, v));
  const max = Math.max(1, ...shown);
  if (shown.length === 0) return { line: '', area: '', max };
  const step = width / Math.max(1, capacity - 1);
  const y = (v: number) => round(height - pad - (v / max) * (height - 2 * pad));
  const points = shown.map((v, i) => [round(width - (shown.length - 1 - i) * step), y(v)]);
  if (points.length === 1) points.unshift([round(width - step), points[0][1]]); // a short flat line
  const line = points.map(([px, py]) => `${px},${py}`).join(' ');
  const first = points[0][0];
  const area = `M${first},${height} L${line.replaceAll(' ', ' L')} L${width},${height} Z`;
  return { line, area, max };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

// --- formatting -------------------------------------------------------------

/** `850 ms`, `3.1 s`, `2.5 min`; an em dash for nothing yet. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : formatSeconds(ms / 1000);
}

/** A rate: one decimal below 10, whole numbers above; an em dash before there is one. */
export function formatRate(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return '—';
  return rate < 10 ? (Math.round(rate * 10) / 10).toString() : Math.round(rate).toString();
}
