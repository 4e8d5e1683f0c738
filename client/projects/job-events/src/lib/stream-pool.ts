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
import { defaultEventSourceFactory, eventSource$, SseFrame, StreamError } from './event-source';
import { JobEvent, JobRef, WatchToken } from './models';

/** Counters the pool reports to its owner. */
export interface PoolHooks {
  /** One HTTP request: a stream token (`POST /watch`) or a stream (`GET` its `eventsUrl`). */
  request(kind: 'token' | 'stream'): void;
  /** An `EventSource` was created (+1) or closed (-1). */
  streams(delta: 1 | -1): void;
  /** The stream cookie was refused and the token in the URL worked: every later stream carries it. */
  queryFallback(): void;
}

/** One job watched through the pool, and what its subscriber has seen. */
interface Member {
  readonly ref: JobRef;
  version: number;
  readonly sink: Subscriber<JobEvent>;
}

/** One stream (one `EventSource` at a time) for up to `maxJobsPerStream` jobs. */
class Connection {
  /** Opened at least once. */
  ready = false;
  closed = false;
  subscription?: Subscription;
  readonly ids: ReadonlySet<string>;
  /** What the server has sent on this stream, per job: its event-id vector. */
  readonly sent = new Map<string, number>();
  /** The token of its last open, which a resume after a pause may reuse. */
  token: WatchToken | null = null;

  constructor(
    readonly refs: readonly JobRef[],
    /** The stream this one takes over from once it is open. */
    public replaces: Connection | null,
  ) {
    this.ids = new Set(refs.map((ref) => ref.jobId));
  }
}

/**
 * Many jobs, few connections. Every job watched through `watch()` rides a
 * shared stream (`POST /watch` for a token, then `GET` its `eventsUrl`), up to
 * `maxJobsPerStream` jobs per stream, so a tab watching 50 jobs holds one
 * connection (two while it swaps streams; a browser allows six per site).
 *
 * - Jobs added within `batchMs` of each other share the next plan.
 * - New jobs join the open stream with the fewest watched jobs, if they fit:
 *   a combined stream opens, resuming from the versions already seen
 *   (`lastEventId` = the version vector), and the old one closes once the new
 *   one is open. Jobs that do not fit get streams of their own.
 * - One change at a time: jobs added while a stream opens wait for the next
 *   plan, so a burst of new jobs costs a few streams, not one each.
 * - A stream closes as soon as none of its jobs is watched any more (each job
 *   leaves when its subscriber gets the terminal event or unsubscribes).
 * - A planned close (`event: reconnect`) reopens at once, reusing the token
 *   unless it is about to expire. Any other end of a stream is retried
 *   `reconnectDelaysMs.length` times with a fresh token; after that the
 *   stream's jobs error with `StreamUnavailableError` (the service then polls).
 * - Auth (`streamAuth`): by the cookie `POST /watch` sets for that one stream's
 *   path, no token in the URL. A cookie stream refused before it opens, while no
 *   cookie stream has opened yet, is retried with `?access_token=`; once one of
 *   those opens, cookies are evidently blocked and every later stream uses it.
 * - `pause()` (the tab is hidden) closes every stream and plans none; its jobs
 *   stay members with the versions they have seen. `resume()` plans at once, so
 *   each needed stream opens with `lastEventId` = those versions, reusing its
 *   paused stream's token when it carries the same jobs and is not about to
 *   expire (one request on return, not two). Neither is a failure: no attempt is
 *   spent, nothing falls back.
 */
export class StreamPool {
  private readonly members = new Map<string, Member>();
  private connections: Connection[] = [];
  private readonly changed = new Subject<void>();
  private readonly flush = new Subject<void>();
  private readonly planner: Subscription;
  private closed = false;
  /** Hidden tab: no stream, no token, no plan until `resume()`. */
  private paused = false;
  /** The paused streams' tokens, by their jobs: a resume reopens with them while they are valid. */
  private pausedTokens = new Map<string, WatchToken>();
  /** How streams authenticate: the configured way until the cookie proves blocked. */
  private auth: 'cookie' | 'query';
  /** A cookie stream has opened: cookies work here, so a later refusal has another cause. */
  private cookieOpened = false;

  constructor(
    private readonly http: HttpClient,
    private readonly config: JobEventsConfig,
    private readonly hooks: PoolHooks,
  ) {
    this.auth = config.streamAuth;
    this.planner = this.changed
      .pipe(audit(() => race(timer(config.batchMs), this.flush)))
      .subscribe(() => this.plan());
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

  /** The job ids the pool holds: its members, and the jobs each stream names (for leak checks). */
  held(): { members: string[]; streams: string[][] } {
    return {
      members: [...this.members.keys()],
      streams: this.connections.map((c) => [...new Set([...c.ids, ...c.sent.keys()])]),
    };
  }

  /**
   * Closes every stream and opens none until `resume()`; watched jobs (and jobs watched
   * meanwhile) stay members, with the versions they have seen.
   */
  pause(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.pausedTokens = new Map(
      this.connections
        .filter((connection) => connection.ready && connection.token !== null)
        .map((connection) => [jobsKey(connection.ids), connection.token as WatchToken]),
    );
    // Unsubscribed, not failed: a pending retry's timer goes too, and no attempt is counted.
    for (const connection of [...this.connections]) this.closeConnection(connection);
    this.flush.next(); // end the batch window now (plan() finds the pool paused): no timer left
  }

  /** Plans at once: every watched job gets a stream again, resuming from its version. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.closed || this.members.size === 0) return;
    this.changed.next();
    this.flush.next(); // now, not after batchMs: a job that finished meanwhile shows at once
  }

  /** Closes every stream; later `watch()` calls error at once. */
  close(): void {
    this.closed = true;
    this.pausedTokens.clear();
    this.planner.unsubscribe();
    for (const connection of [...this.connections]) this.closeConnection(connection);
  }

  private leave(member: Member): void {
    if (this.members.get(member.ref.jobId) !== member) return;
    this.members.delete(member.ref.jobId);
    // Close every stream that no longer carries a watched job.
    for (const connection of [...this.connections]) {
      if (!connection.refs.some((ref) => this.members.has(ref.jobId))) {
        this.closeConnection(connection);
      }
    }
    if (this.members.size === 0) this.flush.next(); // nothing to plan: end any batch window now
  }

  /** Give every watched job a stream. */
  private plan(): void {
    if (this.closed || this.paused || this.members.size === 0) return;
    // One change at a time: the next plan runs when the opening stream is open (or gone).
    if (this.connections.some((connection) => !connection.ready)) return;
    const uncovered = [...this.members.values()].filter(
      (member) => !this.connections.some((connection) => this.covers(connection, member)),
    );
    if (uncovered.length === 0) return;

    const size = this.config.maxJobsPerStream;
    let refs = uncovered.map((member) => member.ref);
    // Join the open stream with the fewest watched jobs, if they all fit.
    const target = this.connections
      .map((connection) => ({ connection, watched: this.watchedOn(connection) }))
      .sort((a, b) => a.watched.length - b.watched.length)[0];
    let replaces: Connection | null = null;
    if (target && target.watched.length + refs.length <= size) {
      const joined = new Map([...target.watched, ...uncovered].map((m) => [m.ref.jobId, m.ref]));
      refs = [...joined.values()];
      replaces = target.connection;
    }
    const resumable = this.pausedTokens;
    this.pausedTokens = new Map(); // only the first plan after a resume reopens paused streams
    for (let i = 0; i < refs.length; i += size) {
      const connection = new Connection(refs.slice(i, i + size), replaces);
      connection.token = resumable.get(jobsKey(connection.ids)) ?? null;
      this.connections.push(connection);
      const subscription = this.connect(connection).subscribe();
      if (!connection.closed) connection.subscription = subscription;
    }
  }

  /** The stream carries the job and has sent nothing this member has not seen. */
  private covers(connection: Connection, member: Member): boolean {
    const id = member.ref.jobId;
    return connection.ids.has(id) && (connection.sent.get(id) ?? 0) <= member.version;
  }

  private watchedOn(connection: Connection): Member[] {
    return connection.refs
      .map((ref) => this.members.get(ref.jobId))
      .filter((member): member is Member => member !== undefined);
  }

  private connect(connection: Connection): Observable<SseFrame> {
    const factory = this.config.eventSource ?? defaultEventSourceFactory;
    const delays = this.config.reconnectDelaysMs;
    // The next open may reuse connection.token: a paused stream's (set by plan()), or after a planned close.
    let reuse = connection.token !== null;
    let planned: string | null = null; // the reason of the last planned close
    let cookieRefused = false; // a cookie stream of this connection was refused before it opened

    const open$ = defer(() => {
      const auth =
        this.auth === 'query' || (cookieRefused && !this.cookieOpened) ? 'query' : 'cookie';
      const credentials = auth === 'cookie' || this.config.withCredentials;
      let opened = false;
      const token = reuse ? connection.token : null;
      reuse = false; // a failed open retries with a fresh token
      planned = null;
      const token$ =
        token && Date.parse(token.tokenExpiresAt) - Date.now() > this.config.tokenRefreshMarginMs
          ? of(token)
          : this.mint(connection.refs, credentials).pipe(tap((t) => (connection.token = t)));
      return token$.pipe(
        switchMap((t) => {
          const url = this.streamUrl(connection, t, auth);
          this.hooks.request('stream');
          this.hooks.streams(1);
          return eventSource$(factory, url, { withCredentials: credentials }).pipe(
            finalize(() => this.hooks.streams(-1)),
          );
        }),
        // A token and an open stream within openTimeoutMs, or it counts as a failed attempt.
        timeout({ first: this.config.openTimeoutMs }),
        tap({
          next: (frame) => {
            if (frame.kind === 'open') {
              opened = true;
              this.authWorked(auth);
            } else if (frame.kind === 'reconnect') {
              planned = frame.reason;
              reuse = true;
            }
          },
          error: (error: unknown) => {
            // Closed before open is how a 401 ends (a cookie never stored), but also a 503 or a
            // 204: the next attempt tries the token in the URL, and only its opening proves it.
            if (auth === 'cookie' && !opened && error instanceof StreamError) {
              cookieRefused ||= error.readyState === 2;
            }
          },
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

  /** A stream opened: the cookie works, or the token in the URL does where the cookie did not. */
  private authWorked(auth: 'cookie' | 'query'): void {
    if (auth === 'cookie') {
      this.cookieOpened = true;
    } else if (this.auth === 'cookie') {
      this.auth = 'query';
      this.hooks.queryFallback();
    }
  }

  /** `POST /watch`; with credentials, so that a cross-origin answer may set the stream cookie. */
  private mint(refs: readonly JobRef[], withCredentials: boolean): Observable<WatchToken> {
    return defer(() => {
      this.hooks.request('token');
      const jobs = refs.map(({ jobType, jobId }) => ({ jobType, jobId }));
      return this.http.post<WatchToken>(
        `${this.config.apiUrl}/watch`,
        { jobs },
        { withCredentials },
      );
    });
  }

  /**
   * The stream URL: the token only for `query` auth (the cookie carries it otherwise) and,
   * when resuming, the version vector in the token's job order (not a secret).
   */
  private streamUrl(connection: Connection, token: WatchToken, auth: 'cookie' | 'query'): string {
    const versions = token.jobIds.map((id) =>
      Math.max(connection.sent.get(id) ?? 0, this.members.get(id)?.version ?? 0),
    );
    token.jobIds.forEach((id, i) => connection.sent.set(id, versions[i]));
    const query = new URLSearchParams(auth === 'query' ? { access_token: token.token } : {});
    if (versions.some((v) => v > 0)) query.set('lastEventId', versions.join('.'));
    const url = resolveUrl(this.config.apiUrl, token.eventsUrl);
    const search = query.toString();
    return search ? `${url}?${search}` : url;
  }

  private onFrame(connection: Connection, frame: SseFrame): void {
    if (frame.kind === 'open') {
      connection.ready = true;
      if (connection.replaces) this.closeConnection(connection.replaces);
      connection.replaces = null;
      this.changed.next(); // jobs added while it opened
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

  /** Out of attempts: the jobs no other stream carries fall back (a replaced stream's jobs ride on). */
  private failed(connection: Connection, error: unknown): void {
    const others = this.connections.filter((other) => other !== connection);
    for (const member of this.watchedOn(connection)) {
      if (!others.some((other) => this.covers(other, member))) {
        member.sink.error(new StreamUnavailableError(error));
      }
    }
  }

  private closeConnection(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.subscription?.unsubscribe();
    this.connections = this.connections.filter((c) => c !== connection);
    for (const other of this.connections) {
      if (other.replaces === connection) other.replaces = null;
    }
    if (this.members.size > 0) this.changed.next(); // its jobs may need another stream
  }
}

/** The same jobs, in any order. */
function jobsKey(ids: ReadonlySet<string>): string {
  return [...ids].sort().join(' ');
}

/** `eventsUrl` is a path; put it on the API's origin when the API is elsewhere. */
function resolveUrl(apiUrl: string, path: string): string {
  return /^https?:\/\//i.test(apiUrl) ? new URL(path, apiUrl).toString() : path;
}
