import { HttpClient, HttpErrorResponse, HttpHeaders, HttpResponse } from '@angular/common/http';
import { Injector } from '@angular/core';
import {
  asyncScheduler,
  catchError,
  defer,
  filter,
  map,
  merge,
  mergeMap,
  Observable,
  of,
  repeat,
  retry,
  takeWhile,
  throwError,
  timeout,
  TimeoutError,
  timer,
} from 'rxjs';

import { PollPlanner, retryAfterMs } from './backoff';
import { PollDefaults } from './config';
import { JobPollTimeoutError } from './errors';
import { isTerminal, JobEvent, JobRef, JobState } from './models';
import { AdaptedStatus, adapterUrl, JobStatusAdapter, LegacyStatusReader } from './poll-adapter';

export interface PollOptions {
  /** Mandatory: give up with `JobPollTimeoutError` after this many milliseconds. */
  readonly timeoutMs: number;
  /** The first wait of the backoff (and the shortest one). Default from the config (1000). */
  readonly initialMs?: number;
  /** Longest wait while nothing changes. Default from the config (60000). */
  readonly maxMs?: number;
  /** One request may take this long before it is retried. Default from the config (30000). */
  readonly requestTimeoutMs?: number;
  /**
   * Marks every request as a fallback from server-sent events (`?fallback=1`), so
   * the server can count the fallback rate (`jobevents.polls` with `fallback=true`).
   * `JobEventsService` sets it when it polls because streaming failed; leave it
   * unset for ordinary polling. Default false.
   */
  readonly fallback?: boolean;
  /**
   * The status the caller already knows, for example `'Queued'` from the start
   * answer: then the first request waits `initialMs` instead of going out at once.
   */
  readonly knownStatus?: JobState;
  /** Where to find `JobEventsService` (its `HttpClient` and config) outside an injection context. */
  readonly injector?: Injector;
  /**
   * Poll an endpoint the backend already has instead of `GET {apiUrl}/jobs/{type}/{id}`:
   * its URL and how to read its answer (see `JobStatusAdapter`). Its requests carry no
   * `fallback` marker, and an `ETag` or `Retry-After` is used only if the endpoint sends one.
   */
  readonly adapter?: JobStatusAdapter<never>;
}

/** What one poll runs with: the polling defaults, and whether it is a fallback from SSE. */
export interface PollSettings extends PollDefaults {
  /** Send `fallback=1` with every request. */
  readonly fallback?: boolean;
  /** Skip the immediate first request: the caller knows this status already. */
  readonly knownStatus?: JobState;
  /** A legacy endpoint and how to read it, instead of this project's status URL. */
  readonly adapter?: JobStatusAdapter<never>;
}

/** Options merged over the configured defaults, with the mandatory timeout checked. */
export function pollSettings(defaults: PollDefaults, options: Partial<PollOptions>): PollSettings {
  const settings: PollSettings = {
    initialMs: options.initialMs ?? defaults.initialMs,
    maxMs: options.maxMs ?? defaults.maxMs,
    timeoutMs: options.timeoutMs as number,
    requestTimeoutMs: options.requestTimeoutMs ?? defaults.requestTimeoutMs,
    fallback: options.fallback === true,
    knownStatus: options.knownStatus,
    ...(options.adapter && { adapter: options.adapter }),
  };
  if (!(
    typeof settings.timeoutMs === 'number' &&
    settings.timeoutMs > 0 &&
    Number.isFinite(settings.timeoutMs)
  )) {
    throw new TypeError(
      'pollJobStatus: timeoutMs is mandatory (a finite number of milliseconds above 0)',
    );
  }
  if (!(settings.initialMs > 0 && settings.maxMs >= settings.initialMs)) {
    throw new TypeError('pollJobStatus: need 0 < initialMs <= maxMs');
  }
  return settings;
}

export function statusUrl(apiUrl: string, ref: JobRef): string {
  return `${apiUrl}/jobs/${encodeURIComponent(ref.jobType)}/${encodeURIComponent(ref.jobId)}`;
}

/** One status request as `pollStatus` sends it, and its answer read as a `JobEvent`. */
interface StatusSource {
  readonly url: string;
  readonly params?: Record<string, string>;
  /** The body of a 200 as the standard event (and when it was written, if known). */
  read(body: unknown, nowMs: number): AdaptedStatus;
  /** The `If-None-Match` to send after this answer, if any. */
  etag(response: HttpResponse<unknown>, event: JobEvent): string | null;
}

function source(apiUrl: string, ref: JobRef, settings: PollSettings): StatusSource {
  const adapter = settings.adapter as JobStatusAdapter<unknown> | undefined;
  if (adapter) {
    const reader = new LegacyStatusReader(adapter, ref);
    return {
      url: adapterUrl(adapter, ref),
      read: (body, nowMs) => reader.read(body, nowMs),
      // Only an ETag the endpoint sent: one it never sent would never match.
      etag: (response) => response.headers.get('ETag'),
    };
  }
  return {
    url: statusUrl(apiUrl, ref),
    // The server counts `fallback=1` polls as the fallback rate; ordinary polls carry no query.
    params: settings.fallback ? { fallback: '1' } : undefined,
    read: (body) => {
      const event = body as JobEvent;
      const writtenAtMs = Date.parse(event.timestamp);
      return Number.isFinite(writtenAtMs) ? { event, writtenAtMs } : { event };
    },
    etag: (response, event) => response.headers.get('ETag') ?? `"${event.version}"`,
  };
}

/**
 * One status request, no retry and no backoff: the job's current `JobEvent` (from
 * the adapter's endpoint when `settings.adapter` is set).
 */
export function statusOnce(
  http: HttpClient,
  apiUrl: string,
  ref: JobRef,
  settings: PollSettings,
): Observable<JobEvent> {
  return defer(() => {
    const from = source(apiUrl, ref, settings);
    return http
      .get<unknown>(from.url, { params: from.params })
      .pipe(map((body) => from.read(body, asyncScheduler.now()).event));
  });
}

/**
 * The polling loop itself; `onRequest` is called once per HTTP request (for counters).
 * Its waits are `PollPlanner`'s; the clock is the scheduler's (`Date.now()`, or virtual time).
 */
export function pollStatus(
  http: HttpClient,
  apiUrl: string,
  ref: JobRef,
  settings: PollSettings,
  onRequest: () => void = () => {},
): Observable<JobEvent> {
  return defer(() => {
    // State of this one subscription.
    const from = source(apiUrl, ref, settings);
    const planner = new PollPlanner(settings.initialMs, settings.maxMs);
    let waitMs = settings.initialMs; // the wait before the next request
    let etag: string | null = null;
    let last: JobEvent | undefined;
    const now = () => asyncScheduler.now();

    const request$ = defer(() => {
      onRequest();
      const headers = etag ? new HttpHeaders({ 'If-None-Match': etag }) : undefined;
      return http.get<unknown>(from.url, { observe: 'response', headers, params: from.params });
    }).pipe(
      timeout(settings.requestTimeoutMs),
      // HttpClient reports 304 as an error; here it just means "unchanged".
      catchError((error: unknown) =>
        error instanceof HttpErrorResponse && error.status === 304
          ? of(error)
          : throwError(() => error),
      ),
      retry({
        delay: (error: unknown) => {
          if (!isTransient(error)) return throwError(() => error);
          const retryAfter =
            error instanceof HttpErrorResponse ? retryAfterMs(error.headers.get('Retry-After')) : 0;
          waitMs = planner.failed(now(), retryAfter);
          return timer(waitMs);
        },
      }),
    );

    const polls$ = request$.pipe(
      map((response): JobEvent | null => {
        const at = now();
        const retryAfter = retryAfterMs(response.headers.get('Retry-After'), Date.now());
        if (!(response instanceof HttpResponse) || response.body === null) {
          waitMs = planner.answered(at, null, retryAfter); // 304 Not Modified
          return null;
        }
        const { event, writtenAtMs } = from.read(response.body, at);
        etag = from.etag(response, event);
        waitMs = planner.answered(
          at,
          { status: event.status, progress: event.progress, version: event.version, writtenAtMs },
          retryAfter,
        );
        if (last && event.version <= last.version) return null;
        last = event;
        return event;
      }),
      repeat({ delay: () => timer(waitMs) }),
      filter((event): event is JobEvent => event !== null),
    );
    const firstPoll$ = settings.knownStatus
      ? timer(planner.first()).pipe(mergeMap(() => polls$))
      : polls$;

    const deadline$ = timer(settings.timeoutMs).pipe(
      mergeMap(() =>
        throwError(() => new JobPollTimeoutError(ref.jobType, ref.jobId, settings.timeoutMs, last)),
      ),
    );

    return merge(firstPoll$, deadline$).pipe(takeWhile((event) => !isTerminal(event), true));
  });
}

/** Worth retrying: the network, a hung request, or the server asking for patience. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TimeoutError) return true;
  if (!(error instanceof HttpErrorResponse)) return false;
  return error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500;
}
