import { HttpClient, HttpErrorResponse, HttpParams } from '@angular/common/http';
import { computed, DestroyRef, DOCUMENT, inject, Injectable, signal } from '@angular/core';
import {
  BehaviorSubject,
  catchError,
  concat,
  defer,
  distinctUntilChanged,
  EMPTY,
  expand,
  finalize,
  forkJoin,
  fromEvent,
  map,
  mergeMap,
  MonoTypeOperatorFunction,
  Observable,
  of,
  reduce,
  ReplaySubject,
  retry,
  share,
  startWith,
  Subscription,
  switchMap,
  takeWhile,
  tap,
  throwError,
  timeout,
  timer,
} from 'rxjs';

import { retryAfterMs } from './backoff';
import { JOB_EVENTS_CONFIG } from './config';
import { JobPollTimeoutError, StreamUnavailableError } from './errors';
import { isTerminal, JobEvent, JobList, JobRef, JobStarted, JobTransport } from './models';
import {
  isTransient,
  PollOptions,
  PollSettings,
  pollSettings,
  pollStatus,
  statusOnce,
  statusUrl,
} from './poll';
import { StreamPool } from './stream-pool';

export interface WatchOptions {
  /**
   * `auto` (default from the config): server-sent events, polling as the fallback.
   * `polling`: poll only. The first `watchJob` call for a job decides; later calls share it.
   */
  readonly transport?: 'auto' | 'polling';
  /** Overrides of the configured polling defaults, for polling and for the fallback. */
  readonly poll?: Partial<Omit<PollOptions, 'injector' | 'fallback'>>;
}

/** What the service has done so far: the request storm, or its absence, in numbers. */
export interface JobEventsStats {
  /** Status requests (`GET /jobs/{type}/{id}`), including fallback polling. */
  readonly polls: number;
  /** Stream tokens (`POST /watch`). */
  readonly tokens: number;
  /** Streams opened (`GET` of a stream's `eventsUrl`), reconnects included. */
  readonly streamsOpened: number;
  /**
   * Times the stream cookie was refused and a token in the URL (`?access_token=`) worked
   * instead: 0 where cookies work, else 1, and from then on every stream carries its token.
   */
  readonly queryFallbacks: number;
  /** `EventSource`s open (or connecting) right now. */
  readonly openStreams: number;
  /** Every request made for watching: polls + tokens + streams opened. */
  readonly requests: number;
  /** Jobs started through `startJob`. */
  readonly starts: number;
  /**
   * Times watching paused because the tab stayed hidden for `hiddenPauseMs`: every stream
   * closed and every `watchJob` poll stopped until the tab was visible again. Not a failure:
   * nothing falls back, no reconnect attempt is spent.
   */
  readonly pauses: number;
}

/** What `JobEventsService.held()` reports: job ids, by where they are held. */
export interface JobEventsHeld {
  /** Jobs with a live `watchJob` watch. */
  readonly watches: readonly string[];
  /** Jobs with a transport (what `watching` counts). */
  readonly transports: readonly string[];
  /** Jobs riding the stream pool. */
  readonly members: readonly string[];
  /** The jobs each open (or opening) stream still names. */
  readonly streams: readonly (readonly string[])[];
}

/**
 * Start jobs and watch them finish.
 *
 * ```ts
 * private readonly jobs = inject(JobEventsService);
 * this.jobs.watchJob('StoryPublish', id).pipe(takeUntilDestroyed(this.destroyRef)).subscribe(...)
 * ```
 */
@Injectable({ providedIn: 'root' })
export class JobEventsService {
  private readonly http = inject(HttpClient);
  private readonly config = inject(JOB_EVENTS_CONFIG);
  private readonly counters = signal({
    polls: 0,
    tokens: 0,
    streamsOpened: 0,
    openStreams: 0,
    queryFallbacks: 0,
    starts: 0,
    pauses: 0,
  });
  /** The tab has been hidden for `hiddenPauseMs`: watching makes no request until it is visible. */
  private readonly paused = new BehaviorSubject(false);
  private readonly transports = signal<ReadonlyMap<string, JobTransport>>(new Map());
  private readonly watches = new Map<string, Observable<JobEvent>>();
  private readonly pool = new StreamPool(this.http, this.config, {
    request: (kind) => this.count(kind === 'token' ? 'tokens' : 'streamsOpened'),
    streams: (delta) => this.counters.update((c) => ({ ...c, openStreams: c.openStreams + delta })),
    queryFallback: () => this.count('queryFallbacks'),
  });

  /** Request and connection counters (a signal: read it in a template or a `computed`). */
  readonly stats = computed<JobEventsStats>(() => {
    const c = this.counters();
    return { ...c, requests: c.polls + c.tokens + c.streamsOpened };
  });

  /** How many jobs are watched right now, by transport. */
  readonly watching = computed(() => {
    const counts: Record<JobTransport, number> = { sse: 0, polling: 0, fallback: 0 };
    for (const transport of this.transports().values()) counts[transport]++;
    return counts;
  });

  constructor() {
    const pauseMs = this.config.hiddenPauseMs;
    const visibility =
      pauseMs === null ? Subscription.EMPTY : this.pauseWhenHidden(inject(DOCUMENT), pauseMs);
    inject(DestroyRef).onDestroy(() => {
      visibility.unsubscribe();
      this.pool.close();
    });
  }

  /**
   * `POST {apiUrl}/jobs/{jobType}/start` with `input` as the JSON body and an
   * `Idempotency-Key` header: `options.idempotencyKey`, or a fresh random key per call,
   * the same on every retry of that call.
   *
   * With the key a retry cannot start a second job: the server answers a repeat with
   * the job the first request started. So a network error (status 0), a 5xx and a 429
   * are retried up to twice, after the server's `Retry-After` (at least 1 s). Any other
   * 4xx fails at once: the request itself is wrong, and a `409` means the key was used
   * before with another body.
   */
  startJob(
    jobType: string,
    input: object = {},
    options: StartOptions = {},
  ): Observable<JobStarted> {
    const url = `${this.config.apiUrl}/jobs/${encodeURIComponent(jobType)}/start`;
    return defer(() => {
      // Chosen on subscribe, so each call (and each subscription) is a start of its own,
      // and outside the retried request, so its retries carry the same key.
      const headers = { 'Idempotency-Key': options.idempotencyKey ?? newIdempotencyKey() };
      return this.http.post<JobStarted>(url, input, { headers }).pipe(
        retry({
          count: 2,
          delay: (error: unknown) =>
            isRetryableStart(error)
              ? timer(Math.max(1000, retryAfterMs(error.headers.get('Retry-After'))))
              : throwError(() => error),
        }),
      );
    }).pipe(
      tap(() => this.count('starts')), // once per started job, not per attempt
    );
  }

  /**
   * `POST {apiUrl}/jobs/{jobType}/{jobId}/cancel`; emits the job's state in the answer and
   * completes. A `Queued` job ends at once (`Failed`, message `cancelled`, answered 200); a
   * `Running` one is asked to stop (answered 202 with its state, still `Running`) and ends
   * `Failed` / `cancelled` within a few seconds. Either way every watch of the job receives
   * that terminal state as usual; nothing else needs to be done.
   *
   * A network error, a 5xx or a 429 is retried up to twice (asking again is harmless). A
   * `409` means the job had finished: it is the error if the first attempt gets it; after a
   * retry it may be the lost first attempt's own doing, so the job's current state is
   * fetched and emitted instead. A `404` is a job that is unknown or another user's.
   */
  cancel(job: JobRef): Observable<JobEvent> {
    const url = `${statusUrl(this.config.apiUrl, job)}/cancel`;
    let attempts = 0;
    return defer(() => {
      attempts++;
      return this.http.post<JobEvent>(url, null);
    }).pipe(
      retry({ count: 2, delay: (error: unknown) => retryDelay(error, isRetryableStart) }),
      catchError((error: unknown) =>
        attempts > 1 && error instanceof HttpErrorResponse && error.status === 409
          ? this.http.get<JobEvent>(statusUrl(this.config.apiUrl, job))
          : throwError(() => error),
      ),
    );
  }

  /**
   * One page of the caller's jobs, newest first: `GET {apiUrl}/jobs?status=…`. `active`:
   * `Queued` and `Running`; `recent`: every job of the last 24 hours. Pass the answer's
   * `continuationToken` back for the next page (`null` on the last). `limit`: 1 to 100
   * (the server's default is 50). Network errors, 5xx and 429 are retried up to twice.
   */
  listJobs(
    status: 'active' | 'recent' = 'active',
    options: { readonly limit?: number; readonly continuationToken?: string } = {},
  ): Observable<JobList> {
    let params = new HttpParams().set('status', status);
    if (options.limit !== undefined) params = params.set('limit', options.limit);
    if (options.continuationToken) {
      params = params.set('continuationToken', options.continuationToken);
    }
    return this.http
      .get<JobList>(`${this.config.apiUrl}/jobs`, { params })
      .pipe(retry({ count: 2, delay: (error: unknown) => retryDelay(error, isTransient) }));
  }

  /**
   * The caller's active jobs (`Queued` or `Running`), newest first, every page of them (at
   * most `RESUME_MAX_PAGES` × 100), then the jobs that finished within `finishedWithinMs`
   * (default 60 s, from the first page of `recent`): what a reloaded tab was watching, to
   * watch again, including a job that finished during the reload itself. Each is a `JobRef`
   * (and a `JobEvent`: its state when listed), ready for `watchJob`, `jobResource` or
   * `jobsResource`:
   *
   * ```ts
   * readonly resumed = toSignal(this.jobs.resume(), { initialValue: [] });
   * readonly watched = jobsResource(() => this.resumed());
   * ```
   *
   * Jobs that finished longer ago are history, not a reload's: list `recent` with
   * `listJobs` to show those. `finishedWithinMs: 0` reads the active jobs only.
   */
  resume(options: { readonly finishedWithinMs?: number } = {}): Observable<readonly JobEvent[]> {
    const within = options.finishedWithinMs ?? RESUME_FINISHED_WITHIN_MS;
    let pages = 0;
    const page = (continuationToken?: string) => {
      pages++;
      return this.listJobs('active', { limit: 100, continuationToken });
    };
    const active = page().pipe(
      expand((list) =>
        list.continuationToken && pages < RESUME_MAX_PAGES ? page(list.continuationToken) : EMPTY,
      ),
      reduce<JobList, JobEvent[]>((jobs, list) => [...jobs, ...list.jobs], []),
    );
    const finished =
      within > 0
        ? this.listJobs('recent', { limit: 100 }).pipe(
            map((list) => {
              const since = Date.now() - within;
              return list.jobs.filter(
                (job) => isTerminal(job) && Date.parse(job.timestamp) >= since,
              );
            }),
          )
        : of([]);
    return forkJoin([active, finished]).pipe(
      map(([running, ended]) => {
        const seen = new Set<string>();
        return [...running, ...ended].filter(
          (job) => !seen.has(job.jobId) && !!seen.add(job.jobId),
        );
      }),
    );
  }

  /**
   * Every new state of a job, once per version, completing after `Completed` or
   * `Failed`. Unsubscribe (for example with `takeUntilDestroyed()`) to stop.
   *
   * The job rides a shared server-sent-events stream with the other watched jobs
   * (one connection for up to 50 jobs). Planned stream ends are reconnected at
   * once; a failed stream is retried with a fresh token, and then the job is
   * polled with backoff (see `pollJobStatus`). Several subscribers of one job
   * share one watch; a late subscriber gets the latest state first.
   *
   * In a tab hidden for `hiddenPauseMs` (5 s by default) watching pauses: streams
   * close and polls stop, with no request at all, until the tab is visible again;
   * then each job resumes from the version it has, and a job that finished meanwhile
   * shows its terminal state at once.
   *
   * Errors: an `HttpErrorResponse` the poll cannot recover from (such as 404), or
   * `JobPollTimeoutError` when a fallback poll outlives `poll.timeoutMs`.
   */
  watchJob(jobType: string, jobId: string, options: WatchOptions = {}): Observable<JobEvent> {
    const existing = this.watches.get(jobId);
    if (existing) return existing;
    const ref: JobRef = { jobType, jobId };
    const watch: Observable<JobEvent> = defer(() => {
      // A holder of this observable may subscribe again after its watch ended (an async
      // pipe in a toggling @if): ride the job's live watch if there is one, else register again.
      const live = this.watches.get(jobId);
      if (live && live !== watch) return live;
      this.watches.set(jobId, watch);
      return this.transportFor(ref, options).pipe(
        newerVersionsOnly(),
        takeWhile((event) => !isTerminal(event), true),
      );
    }).pipe(
      finalize(() => {
        if (this.watches.get(jobId) !== watch) return; // it rode another watch
        this.watches.delete(jobId);
        this.setTransport(jobId, null);
      }),
      share({ connector: () => new ReplaySubject<JobEvent>(1) }),
    );
    // Registered on subscribe only (above), so a watch nobody subscribes to holds nothing.
    return watch;
  }

  /**
   * `pollJobStatus` with this service's `HttpClient` and config; usable anywhere.
   * Ordinary polls carry no marker; `fallback: true` adds `?fallback=1` (the service
   * sets it itself when a stream fails).
   */
  pollJobStatus(
    jobType: string,
    jobId: string,
    options: Omit<PollOptions, 'injector'>,
  ): Observable<JobEvent> {
    return this.poll({ jobType, jobId }, pollSettings(this.config.poll, options));
  }

  /**
   * The job ids the service holds right now: its watches, the transports `watching`
   * counts, and the stream pool's members and streams. A diagnostic for leak checks:
   * once every watch has ended, every list is empty.
   */
  held(): JobEventsHeld {
    return {
      watches: [...this.watches.keys()],
      transports: [...this.transports().keys()],
      ...this.pool.held(),
    };
  }

  /** How a job is watched right now (undefined when it is not watched). Reactive. */
  transportOf(jobId: string): JobTransport | undefined {
    return this.transports().get(jobId);
  }

  private transportFor(ref: JobRef, options: WatchOptions): Observable<JobEvent> {
    const settings = (fallback: boolean): PollSettings =>
      pollSettings(this.config.poll, {
        timeoutMs: this.config.poll.timeoutMs,
        ...options.poll,
        fallback,
      });
    // Fallback polls (the job shows as `fallback`) carry `?fallback=1`; asked-for polling does
    // not, with or without an EventSource. Only streaming that cannot be had is a fallback.
    if ((options.transport ?? this.config.transport) === 'polling') {
      this.setTransport(ref.jobId, 'polling');
      return this.watchPoll(ref, settings(false));
    }
    if (!this.config.eventSource && typeof EventSource === 'undefined') {
      this.setTransport(ref.jobId, 'fallback');
      return this.watchPoll(ref, settings(true));
    }
    const fallback = settings(true); // checked now: bad options fail at once, not after a stream fails
    this.setTransport(ref.jobId, 'sse');
    return this.pool.watch(ref).pipe(
      catchError((error: unknown) => {
        if (!(error instanceof StreamUnavailableError)) return throwError(() => error);
        this.setTransport(ref.jobId, 'fallback');
        return this.watchPoll(ref, fallback);
      }),
    );
  }

  /**
   * Pauses the pool (and the polls of `watchPoll`) once the tab has been hidden for
   * `pauseMs`, and resumes as soon as it is visible. A glance away shorter than that
   * changes nothing; the timer exists only while the tab is hidden.
   */
  private pauseWhenHidden(document: Document, pauseMs: number): Subscription {
    return fromEvent(document, 'visibilitychange')
      .pipe(
        startWith(null), // a tab opened in the background starts hidden
        map(() => document.visibilityState === 'hidden'),
        distinctUntilChanged(),
        switchMap((hidden) => (hidden ? timer(pauseMs).pipe(map(() => true)) : of(false))),
        distinctUntilChanged(),
      )
      .subscribe((paused) => {
        if (paused) {
          this.count('pauses');
          this.pool.pause();
        } else {
          this.pool.resume();
        }
        this.paused.next(paused);
      });
  }

  /**
   * The poll of a `watchJob` watch: stopped while the tab is paused (the request in flight
   * is cancelled, no timer is left), and started again on return with a request at once,
   * so a job that finished meanwhile shows at once. The mandatory timeout still runs from
   * the start of the poll, hidden time included; a deadline that passed while paused gets
   * one last look on return, so hiding a tab never makes a finished job time out.
   */
  private watchPoll(ref: JobRef, settings: PollSettings): Observable<JobEvent> {
    if (this.config.hiddenPauseMs === null) return this.poll(ref, settings);
    return defer(() => {
      const deadline = Date.now() + settings.timeoutMs;
      let last: JobEvent | undefined;
      let first = true;
      const timedOut = (event = last) =>
        new JobPollTimeoutError(ref.jobType, ref.jobId, settings.timeoutMs, event);
      return this.paused.pipe(
        distinctUntilChanged(),
        switchMap((paused) => {
          if (paused) return EMPTY;
          const left = deadline - Date.now();
          // Only the first run may wait for a status the caller knows: a resumed one asks at once.
          const knownStatus = first ? settings.knownStatus : undefined;
          first = false;
          if (left <= 0) return this.lastLook(ref, settings, timedOut);
          return this.poll(ref, { ...settings, knownStatus, timeoutMs: left }).pipe(
            catchError((error: unknown) =>
              throwError(() => (error instanceof JobPollTimeoutError ? timedOut() : error)),
            ),
          );
        }),
        tap((event) => (last = event)),
        takeWhile((event) => !isTerminal(event), true),
      );
    });
  }

  /** One status request after the deadline: the terminal state if the job has one, else the timeout. */
  private lastLook(
    ref: JobRef,
    settings: PollSettings,
    timedOut: (event?: JobEvent) => JobPollTimeoutError,
  ): Observable<JobEvent> {
    return defer(() => {
      this.count('polls');
      return statusOnce(this.http, this.config.apiUrl, ref, settings);
    }).pipe(
      timeout(settings.requestTimeoutMs),
      catchError((error: unknown) => throwError(() => (isTransient(error) ? timedOut() : error))),
      mergeMap((event) =>
        isTerminal(event)
          ? of(event)
          : concat(
              of(event),
              throwError(() => timedOut(event)),
            ),
      ),
    );
  }

  private poll(ref: JobRef, settings: PollSettings): Observable<JobEvent> {
    return pollStatus(this.http, this.config.apiUrl, ref, settings, () => this.count('polls'));
  }

  private count(
    counter: 'polls' | 'tokens' | 'streamsOpened' | 'queryFallbacks' | 'starts' | 'pauses',
  ): void {
    this.counters.update((c) => ({ ...c, [counter]: c[counter] + 1 }));
  }

  private setTransport(jobId: string, transport: JobTransport | null): void {
    this.transports.update((current) => {
      if ((current.get(jobId) ?? null) === transport) return current;
      const next = new Map(current);
      if (transport) next.set(jobId, transport);
      else next.delete(jobId);
      return next;
    });
  }
}

/** What `startJob` may be told besides the job's input. */
export interface StartOptions {
  /**
   * The `Idempotency-Key` to send (1 to 128 of `A-Z a-z 0-9 _ . : -`), for an app that
   * keeps it, for example across a reload, to find the job it started. Default: a new
   * random key per call. Reusing a key with another input is answered `409`.
   */
  readonly idempotencyKey?: string;
}

/** At most this many pages (of 100 jobs) are read by `resume()`. */
export const RESUME_MAX_PAGES = 10;
/** `resume()` also returns the jobs that finished this recently: a reload's own window. */
export const RESUME_FINISHED_WITHIN_MS = 60_000;

/** The wait before retrying `error` if `retryable` says so (the server's `Retry-After`, at least 1 s), else the error. */
function retryDelay(error: unknown, retryable: (error: unknown) => boolean): Observable<unknown> {
  if (!retryable(error)) return throwError(() => error);
  const hint = error instanceof HttpErrorResponse ? error.headers.get('Retry-After') : null;
  return timer(Math.max(1000, retryAfterMs(hint)));
}

/** A failed start worth repeating with the same key: no answer, a 5xx, or 429. */
function isRetryableStart(error: unknown): error is HttpErrorResponse {
  return (
    error instanceof HttpErrorResponse &&
    (error.status === 0 || error.status === 429 || error.status >= 500)
  );
}

/**
 * A random UUID. `crypto.randomUUID` exists only in secure contexts (https, localhost),
 * so a page served over plain http builds one from `crypto.getRandomValues`.
 */
export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof c?.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Lets each version through once, in rising order. */
export function newerVersionsOnly(): MonoTypeOperatorFunction<JobEvent> {
  return distinctUntilChanged((previous, current) => current.version <= previous.version);
}
