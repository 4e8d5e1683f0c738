import { EnvironmentProviders, InjectionToken, makeEnvironmentProviders } from '@angular/core';

/** Makes the `EventSource` for a stream URL. Swap it for a polyfill or a test double. */
export type EventSourceFactory = (url: string, init: EventSourceInit) => EventSource;

export interface PollDefaults {
  /** First wait between polls, and the wait after any change. Default 1000. */
  readonly initialMs: number;
  /** The longest wait between polls. Default 60000. */
  readonly maxMs: number;
  /** Give up (with `JobPollTimeoutError`) after this long. Default 30 minutes. */
  readonly timeoutMs: number;
  /** One request may take this long before it counts as failed and is retried. Default 30000. */
  readonly requestTimeoutMs: number;
}

export interface JobEventsConfig {
  /** Where the API lives: `/api` on the same origin by default, or an absolute URL. */
  readonly apiUrl: string;
  /** `auto` (SSE, polling as the fallback) or `polling` (never open a stream). Default `auto`. */
  readonly transport: 'auto' | 'polling';
  /** Polling defaults, for `pollJobStatus` and for the fallback of `watchJob`. */
  readonly poll: PollDefaults;
  /**
   * Waits before each reconnect after a stream fails. Its length is the number of
   * attempts (each with a fresh token) before the jobs fall back to polling.
   * Default `[1000, 3000]`: two attempts.
   */
  readonly reconnectDelaysMs: readonly number[];
  /** Jobs per stream (the server's `SSE_MAX_JOBS_PER_STREAM`). Default 50. */
  readonly maxJobsPerStream: number;
  /**
   * `watchJob` calls made within this window share the next stream, so a page
   * that starts 50 jobs opens one stream rather than 50. Default 100 ms.
   */
  readonly batchMs: number;
  /** A stream token and an open stream within this long, or the attempt counts as failed. Default 10000. */
  readonly openTimeoutMs: number;
  /** A token that expires sooner than this is replaced before a planned reconnect. Default 30000. */
  readonly tokenRefreshMarginMs: number;
  /**
   * How a stream proves it may watch its jobs. `cookie` (default): `POST /watch` sets an
   * HttpOnly cookie scoped to that one stream's URL, so no secret travels in a URL (proxies,
   * platform telemetry and browser history log URLs); the token request and the
   * `EventSource` send credentials. If a cookie stream is refused before it opens (a blocked
   * third-party cookie looks like that), the next attempt carries the token as
   * `?access_token=`, and once that works every later stream does so too. `query`: always
   * the token in the URL, for a server without the cookie.
   */
  readonly streamAuth: 'cookie' | 'query';
  /**
   * Send credentials on `POST /watch` and the `EventSource` when a stream uses the token in
   * its URL too (`streamAuth: 'query'`, or after the fallback), for an API on another origin
   * that needs its own cookies. The cookie path always sends them. Default false.
   */
  readonly withCredentials: boolean;
  /**
   * Pause watching in a tab hidden this long (Page Visibility): its streams close, its
   * `watchJob` polls stop, and it makes no request at all until the tab is visible again;
   * then every watched job resumes from the versions it has (`lastEventId`), and a job that
   * finished meanwhile shows its terminal state at once. Default 5000: a glance away shorter
   * than that changes nothing, and a longer one costs one request on return (the stream, on
   * its paused token). A stream costs the server an open execution for as long as it is open,
   * looked at or not, and the waits this serves are short: a longer pause would rarely close
   * one (docs/cost.md, "The hidden-tab pause"). `null`: keep watching in the background (an
   * app that notifies from a hidden tab).
   */
  readonly hiddenPauseMs: number | null;
  /** Makes each `EventSource`; defaults to the browser's. */
  readonly eventSource?: EventSourceFactory;
}

export const DEFAULT_JOB_EVENTS_CONFIG: JobEventsConfig = {
  apiUrl: '/api',
  transport: 'auto',
  poll: { initialMs: 1000, maxMs: 60_000, timeoutMs: 30 * 60_000, requestTimeoutMs: 30_000 },
  reconnectDelaysMs: [1000, 3000],
  maxJobsPerStream: 50,
  batchMs: 100,
  openTimeoutMs: 10_000,
  tokenRefreshMarginMs: 30_000,
  streamAuth: 'cookie',
  withCredentials: false,
  hiddenPauseMs: 5_000,
};

export type JobEventsOptions = Partial<Omit<JobEventsConfig, 'poll'>> & {
  readonly poll?: Partial<PollDefaults>;
};

export const JOB_EVENTS_CONFIG = new InjectionToken<JobEventsConfig>('JOB_EVENTS_CONFIG', {
  providedIn: 'root',
  factory: () => DEFAULT_JOB_EVENTS_CONFIG,
});

export function resolveConfig(options: JobEventsOptions = {}): JobEventsConfig {
  const config: JobEventsConfig = {
    ...DEFAULT_JOB_EVENTS_CONFIG,
    ...options,
    poll: { ...DEFAULT_JOB_EVENTS_CONFIG.poll, ...options.poll },
  };
  if (!(config.poll.timeoutMs > 0 && Number.isFinite(config.poll.timeoutMs))) {
    throw new TypeError(
      'job-events: poll.timeoutMs must be a finite number of milliseconds above 0',
    );
  }
  if (config.streamAuth !== 'cookie' && config.streamAuth !== 'query') {
    throw new TypeError("job-events: streamAuth must be 'cookie' or 'query'");
  }
  const pause = config.hiddenPauseMs;
  if (pause !== null && !(typeof pause === 'number' && pause >= 0 && Number.isFinite(pause))) {
    throw new TypeError(
      'job-events: hiddenPauseMs must be a finite number of milliseconds (0 or more), or null to keep watching hidden tabs',
    );
  }
  if (!(config.maxJobsPerStream >= 1)) {
    throw new TypeError('job-events: maxJobsPerStream must be at least 1');
  }
  return { ...config, apiUrl: config.apiUrl.replace(/\/+$/, '') };
}

/**
 * Configures job-events for an application (optional: everything has a default).
 *
 * ```ts
 * bootstrapApplication(App, {
 *   providers: [provideHttpClient(withFetch()), provideJobEvents({ apiUrl: '/api' })],
 * });
 * ```
 */
export function provideJobEvents(options: JobEventsOptions = {}): EnvironmentProviders {
  return makeEnvironmentProviders([
    { provide: JOB_EVENTS_CONFIG, useValue: resolveConfig(options) },
  ]);
}
