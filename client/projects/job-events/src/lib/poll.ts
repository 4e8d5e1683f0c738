import { HttpClient, HttpErrorResponse, HttpHeaders, HttpResponse } from '@angular/common/http';
import { Injector } from '@angular/core';
import {
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

import { backoffDelay, retryAfterMs } from './backoff';
import { PollDefaults } from './config';
import { JobPollTimeoutError } from './errors';
import { isTerminal, JobEvent, JobRef, JobState } from './models';

export interface PollOptions {
  /** Mandatory: give up with `JobPollTimeoutError` after this many milliseconds. */
  readonly timeoutMs: number;
  /** First wait, and the wait after a change of status or progress. Default from the config (1000). */
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
}

/** What one poll runs with: the polling defaults, and whether it is a fallback from SSE. */
export interface PollSettings extends PollDefaults {
  /** Send `fallback=1` with every request. */
  readonly fallback?: boolean;
  /** Skip the immediate first request: the caller knows this status already. */
  readonly knownStatus?: JobState;
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

/** The polling loop itself; `onRequest` is called once per HTTP request (for counters). */
export function pollStatus(
  http: HttpClient,
  apiUrl: string,
  ref: JobRef,
  settings: PollSettings,
  onRequest: () => void = () => {},
): Observable<JobEvent> {
  const url = statusUrl(apiUrl, ref);
  // The server counts `fallback=1` polls as the fallback rate; ordinary polls carry no query.
  const params = settings.fallback ? { fallback: '1' } : undefined;
  return defer(() => {
    // State of this one subscription.
    let step = 0; // backoff steps since the last change
    let waitMs = settings.initialMs; // the wait before the next request
    let etag: string | null = null;
    let last: JobEvent | undefined;
    let lastStatus: JobState | undefined = settings.knownStatus;
    let lastProgress: number | undefined;

    const plan = (changed: boolean, retryAfter: number): void => {
      step = changed ? 0 : step + 1;
      waitMs = Math.max(backoffDelay(step, settings.initialMs, settings.maxMs), retryAfter);
    };

    const request$ = defer(() => {
      onRequest();
      const headers = etag ? new HttpHeaders({ 'If-None-Match': etag }) : undefined;
      return http.get<JobEvent>(url, { observe: 'response', headers, params });
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
          plan(
            false,
            error instanceof HttpErrorResponse ? retryAfterMs(error.headers.get('Retry-After')) : 0,
          );
          return timer(waitMs);
        },
      }),
    );

    const polls$ = request$.pipe(
      map((response): JobEvent | null => {
        const retryAfter = retryAfterMs(response.headers.get('Retry-After'));
        const event = response instanceof HttpResponse ? response.body : null;
        if (!event) {
          plan(false, retryAfter); // 304 Not Modified
          return null;
        }
        etag = response.headers.get('ETag') ?? `"${event.version}"`;
        const progressed = lastProgress !== undefined && event.progress !== lastProgress;
        plan(progressed || event.status !== lastStatus, retryAfter);
        lastStatus = event.status;
        lastProgress = event.progress;
        if (last && event.version <= last.version) return null;
        last = event;
        return event;
      }),
      repeat({ delay: () => timer(waitMs) }),
      filter((event): event is JobEvent => event !== null),
    );
    const firstPoll$ = settings.knownStatus
      ? timer(settings.initialMs).pipe(mergeMap(() => polls$))
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
