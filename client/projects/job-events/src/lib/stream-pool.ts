import { HttpClient } from '@angular/common/http';
import {
  audit,
  catchError,
  defer,
  EMPTY,
  finalize,
  Observable,
  of,
  race,
  repeat,
  retry,
  Subject,
  Subscriber,
  Subscription,
  switchMap,
  tap,
  timeout,
  timer,
} from 'rxjs';

import { JobEventsConfig } from './config';
import { StreamUnavailableError } from './errors';
import { defaultEventSourceFactory, eventSource$, SseFrame } from './event-source';
import { JobEvent, JobRef, WatchToken } from './models';

/** Counters the pool reports to its owner. */
export interface PoolHooks {
  /** One HTTP request: a stream token (`POST /watch`) or a stream (`GET /watch/events`). */
  request(kind: 'token' | 'stream'): void;
  /** An `EventSource` was created (+1) or closed (-1). */
  streams(delta: 1 | -1): void;
}

/** One job watched through the pool, and what its subscriber has seen. */
interface Member {
  readonly ref: JobRef;
  version: number;
  readonly sink: Subscriber<JobEvent>;
}

/** One stream (one `EventSource` at a time) for up to `maxJobsPerStream` jobs. */
class Connection {
  ready = false;
  closed = false;
  subscription?: Subscription;
  readonly ids: ReadonlySet<string>;
  /** What the server has sent on this stream, per job: its event-id vector. */
  readonly sent = new Map<string, number>();

  constructor(
    readonly generation: Generation,
    readonly refs: readonly JobRef[],
  ) {
    this.ids = new Set(refs.map((ref) => ref.jobId));
  }
}

/** The streams that together carry every watched job, as planned at one moment. */
class Generation {
  connections: Connection[] = [];

  get ready(): boolean {
    return this.connections.every((connection) => connection.ready);
  }
}

/**
 * Many jobs, few connections. Every job watched through `watch()` rides a
 * shared stream (`POST /watch` for a token, then `GET /watch/events`), up to
 * `maxJobsPerStream` jobs per stream, so a tab watching 50 jobs holds one
 * connection (two while it swaps streams; a browser allows six per site).
 *
 * - Jobs added within `batchMs` of each other share the next plan.
 * - When the watched set grows, the pool opens a new combined stream resuming
 *   from the versions already seen (`lastEventId` = the version vector), and
 *   closes the old stream once the new one is open. Only one new stream opens
 *   at a time; jobs added meanwhile wait for the next one.
 * - A stream closes as soon as none of its jobs is watched any more (each job
 *   leaves when its subscriber gets the terminal event or unsubscribes).
 * - A planned close (`event: reconnect`) reopens at once, reusing the token
 *   unless it is about to expire. Any other end of a stream is retried
 *   `reconnectDelaysMs.length` times with a fresh token; after that the
 *   stream's jobs error with `StreamUnavailableError` (the service then polls).
 */
export class StreamPool {
  private readonly members = new Map<string, Member>();
  private generations: Generation[] = [];
  private readonly changed = new Subject<void>();
  private readonly flush = new Subject<void>();
  private readonly planner: Subscription;
  private closed = false;

  constructor(
    private readonly http: HttpClient,
    private readonly config: JobEventsConfig,
    private readonly hooks: PoolHooks,
  ) {
    this.planner = this.changed
      .pipe(audit(() => race(timer(config.batchMs), this.flush)))
      .subscribe(() => this.plan());
  }

  /** Streams currently planned (open, opening or reconnecting). */
  get connectionCount(): number {
    return this.generations.reduce((n, generation) => n + generation.connections.length, 0);
  }

  /** The events of one job, each version once; errors with StreamUnavailableError when streaming fails. */
  watch(ref: JobRef): Observable<JobEvent> {
    return new Observable<JobEvent>((sink) => {
      if (this.closed) {
        sink.error(new StreamUnavailableError('the pool is closed'));
        return undefined;
      }
      if (this.members.has(ref.jobId)) {
        sink.error(new Error(`job ${ref.jobId} is already watched by this pool`));
        return undefined;
      }
      const member: Member = { ref, version: 0, sink };
      this.members.set(ref.jobId, member);
      this.changed.next();
      return () => this.leave(member);
    });
  }

  /** Closes every stream; later `watch()` calls error at once. */
  close(): void {
    this.closed = true;
    this.planner.unsubscribe();
    for (const generation of [...this.generations]) this.closeGeneration(generation);
  }

  private leave(member: Member): void {
    if (this.members.get(member.ref.jobId) !== member) return;
    this.members.delete(member.ref.jobId);
    this.sweep();
    if (this.members.size === 0) this.flush.next(); // nothing to plan: end any batch window now
  }

  /** Make sure the newest generation carries every watched job, or plan a new one. */
  private plan(): void {
    const wanted = [...this.members.values()];
    if (this.closed || wanted.length === 0) return;
    const newest = this.generations.at(-1);
    if (newest && wanted.every((member) => this.covers(newest, member))) return;
    // One generation opens at a time: the next plan runs once this one is open
    // (or gone), and takes every job added meanwhile. Holds the connections to
    // two (old + opening) and keeps a burst of new jobs from costing a stream each.
    if (newest && !newest.ready) return;

    const generation = new Generation();
    const size = this.config.maxJobsPerStream;
    for (let i = 0; i < wanted.length; i += size) {
      const refs = wanted.slice(i, i + size).map((member) => member.ref);
      generation.connections.push(new Connection(generation, refs));
    }
    this.generations.push(generation);
    for (const connection of generation.connections) {
      const subscription = this.connect(connection).subscribe();
      if (!connection.closed) connection.subscription = subscription;
    }
  }

  /** The generation carries the job and has sent nothing this member has not seen. */
  private covers(generation: Generation, member: Member): boolean {
    const id = member.ref.jobId;
    return generation.connections.some(
      (connection) => connection.ids.has(id) && (connection.sent.get(id) ?? 0) <= member.version,
    );
  }

  private connect(connection: Connection): Observable<SseFrame> {
    const factory = this.config.eventSource ?? defaultEventSourceFactory;
    const delays = this.config.reconnectDelaysMs;
    let token: WatchToken | null = null;
    let planned: string | null = null; // the reason of the last planned close

    const open$ = defer(() => {
      const reuse =
        planned !== null &&
        token !== null &&
        Date.parse(token.tokenExpiresAt) - Date.now() > this.config.tokenRefreshMarginMs;
      planned = null;
      const token$ =
        reuse && token ? of(token) : this.mint(connection.refs).pipe(tap((t) => (token = t)));
      return token$.pipe(
        switchMap((t) => {
          const url = this.streamUrl(connection, t);
          this.hooks.request('stream');
          this.hooks.streams(1);
          return eventSource$(factory, url, { withCredentials: this.config.withCredentials }).pipe(
            finalize(() => this.hooks.streams(-1)),
          );
        }),
        // A token and an open stream within openTimeoutMs, or it counts as a failed attempt.
        timeout({ first: this.config.openTimeoutMs }),
        tap((frame) => {
          if (frame.kind === 'reconnect') planned = frame.reason;
        }),
      );
    });

    return open$.pipe(
      // Planned close: reopen at once (after a short random pause when the server is shutting down).
      repeat({ delay: () => timer(planned === 'shutdown' ? 250 + Math.random() * 1000 : 0) }),
      // Anything else: a couple of attempts with a fresh token, then give up.
      retry({
        count: delays.length,
        resetOnSuccess: true,
        delay: (_error, attempt) => timer(delays[attempt - 1]),
      }),
      tap((frame) => this.onFrame(connection, frame)),
      catchError((error: unknown) => {
        this.failed(connection, error);
        return EMPTY;
      }),
      finalize(() => this.closeConnection(connection)),
    );
  }

  private mint(refs: readonly JobRef[]): Observable<WatchToken> {
    return defer(() => {
      this.hooks.request('token');
      const jobs = refs.map(({ jobType, jobId }) => ({ jobType, jobId }));
      return this.http.post<WatchToken>(`${this.config.apiUrl}/watch`, { jobs });
    });
  }

  /** The stream URL with its token and, when resuming, the version vector in the token's job order. */
  private streamUrl(connection: Connection, token: WatchToken): string {
    const versions = token.jobIds.map((id) =>
      Math.max(connection.sent.get(id) ?? 0, this.members.get(id)?.version ?? 0),
    );
    token.jobIds.forEach((id, i) => connection.sent.set(id, versions[i]));
    const query = new URLSearchParams({ access_token: token.token });
    if (versions.some((v) => v > 0)) query.set('lastEventId', versions.join('.'));
    return `${resolveUrl(this.config.apiUrl, token.eventsUrl)}?${query}`;
  }

  private onFrame(connection: Connection, frame: SseFrame): void {
    if (frame.kind === 'open') {
      connection.ready = true;
      this.promote(connection.generation);
    } else if (frame.kind === 'message') {
      this.deliver(connection, frame.data);
    }
  }

  private deliver(connection: Connection, data: string): void {
    let event: JobEvent;
    try {
      event = JSON.parse(data) as JobEvent;
    } catch {
      return;
    }
    if (typeof event?.jobId !== 'string' || typeof event.version !== 'number') return;
    connection.sent.set(
      event.jobId,
      Math.max(connection.sent.get(event.jobId) ?? 0, event.version),
    );
    const member = this.members.get(event.jobId);
    if (member && event.version > member.version) {
      member.version = event.version;
      member.sink.next(event);
    }
  }

  /** Once every stream of a generation is open, the older generations can go. */
  private promote(generation: Generation): void {
    const index = this.generations.indexOf(generation);
    if (index < 0 || !generation.ready) return;
    for (const older of this.generations.slice(0, index)) this.closeGeneration(older);
    this.changed.next(); // jobs added while it opened
  }

  private failed(connection: Connection, error: unknown): void {
    // An older generation's jobs are all carried by the newest one: nothing to do.
    if (connection.generation !== this.generations.at(-1)) return;
    const members = [...connection.ids]
      .map((id) => this.members.get(id))
      .filter((m): m is Member => !!m);
    for (const member of members) member.sink.error(new StreamUnavailableError(error));
  }

  /** Close every stream that no longer carries a watched job. */
  private sweep(): void {
    for (const generation of [...this.generations]) {
      for (const connection of [...generation.connections]) {
        if (![...connection.ids].some((id) => this.members.has(id)))
          this.closeConnection(connection);
      }
    }
  }

  private closeGeneration(generation: Generation): void {
    for (const connection of [...generation.connections]) this.closeConnection(connection);
  }

  private closeConnection(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.subscription?.unsubscribe();
    const generation = connection.generation;
    generation.connections = generation.connections.filter((c) => c !== connection);
    if (generation.connections.length === 0) {
      this.generations = this.generations.filter((g) => g !== generation);
      if (this.members.size > 0) this.changed.next(); // its jobs may need a new plan
    } else {
      this.promote(generation);
    }
  }
}

/** `eventsUrl` is a path; put it on the API's origin when the API is elsewhere. */
function resolveUrl(apiUrl: string, path: string): string {
  return /^https?:\/\//i.test(apiUrl) ? new URL(path, apiUrl).toString() : path;
}
