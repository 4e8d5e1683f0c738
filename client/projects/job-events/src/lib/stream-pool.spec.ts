import { HttpClient } from '@angular/common/http';
import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { Subscription, takeWhile } from 'rxjs';

import { JOB_EVENTS_CONFIG, JobEventsOptions, resolveConfig } from './config';
import { StreamUnavailableError } from './errors';
import { isTerminal } from './models';
import { StreamPool } from './stream-pool';
import {
  answerWatch,
  FakeEventSource,
  fakeJobEvent as jobEvent,
  fakeJobId as jobId,
  provideJobEventsTesting,
  grantWatch,
  type RecordedWatch,
  recordWatch,
} from 'job-events/testing';

const [JOB_A, JOB_B, JOB_C] = [jobId(20), jobId(21), jobId(22)];
const NOTHING = { members: [], streams: [] };

// The pool's own bookkeeping: what a long session would pile up if a job outlived its watch.
describe('StreamPool bookkeeping', () => {
  let http: HttpTestingController;
  let pool: StreamPool;

  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
    TestBed.configureTestingModule({ providers: [provideJobEventsTesting()] });
    http = TestBed.inject(HttpTestingController);
    const config = resolveConfig({ eventSource: FakeEventSource.factory, reconnectDelaysMs: [] });
    const hooks = { request: () => {}, streams: () => {}, queryFallback: () => {} };
    pool = new StreamPool(TestBed.inject(HttpClient), config, hooks);
  });

  afterEach(() => {
    pool.close();
    http.verify();
    vi.useRealTimers();
  });

  /** Like the service: a subscriber that leaves on the terminal event. */
  function watch(id: string): { subscription: Subscription; errors: unknown[] } {
    const errors: unknown[] = [];
    const subscription: Subscription = pool.watch({ jobType: 'Sleep', jobId: id }).subscribe({
      next: (event) => {
        if (event.status === 'Completed') subscription.unsubscribe();
      },
      error: (error) => errors.push(error),
    });
    return { subscription, errors };
  }

  function openStream(): FakeEventSource {
    vi.advanceTimersByTime(100);
    answerWatch(http.expectOne('/api/watch'));
    return FakeEventSource.latest().open();
  }

  it('forgets a job when its subscriber leaves, and the stream once its last job has left', () => {
    watch(JOB_A);
    const b = watch(JOB_B);
    const source = openStream();
    expect(pool.held()).toEqual({ members: [JOB_A, JOB_B], streams: [[JOB_A, JOB_B]] });
    source.send(jobEvent(JOB_A, 2, 'Completed'), '2.0');
    // A is gone from the members; the stream its token covers still names it until it closes.
    expect(pool.held()).toEqual({ members: [JOB_B], streams: [[JOB_A, JOB_B]] });
    b.subscription.unsubscribe();
    expect(source.closed).toBe(true);
    expect(pool.held()).toEqual(NOTHING);
  });

  it('forgets the jobs of a stream that failed for good once they error', () => {
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    answerWatch(http.expectOne('/api/watch'));
    FakeEventSource.latest().fail(); // refused, no attempts left
    expect(a.errors).toEqual([expect.any(StreamUnavailableError)]);
    expect(pool.held()).toEqual(NOTHING);
  });

  it('forgets a job unsubscribed before its stream is planned', () => {
    watch(JOB_A).subscription.unsubscribe();
    vi.advanceTimersByTime(1000);
    http.expectNone('/api/watch');
    expect(pool.held()).toEqual(NOTHING);
  });
});

// The pool's own rules, driven directly: batching, sharing and swapping streams, reconnects,
// the end of the attempts, stream auth. What the service adds (one watch per job, the
// transports, fallback polling, stats) is in job-events.service.spec.ts.
describe('StreamPool', () => {
  type Watcher = RecordedWatch;

  let http: HttpTestingController;
  let pool: StreamPool;
  /** What the hooks reported, under the names of the service's stats. */
  let counts: {
    tokens: number;
    streamsOpened: number;
    openStreams: number;
    queryFallbacks: number;
  };
  const stats = () => counts;

  /** The stream's own URL path (`/api/watch/{streamId}/events`): its cookie's path, a token of its own. */
  const pathOf = (source: FakeEventSource) => new URL(source.url, 'http://localhost').pathname;

  function setup(options: JobEventsOptions = {}): void {
    TestBed.configureTestingModule({ providers: [provideJobEventsTesting(options)] });
    http = TestBed.inject(HttpTestingController);
    counts = { tokens: 0, streamsOpened: 0, openStreams: 0, queryFallbacks: 0 };
    pool = new StreamPool(TestBed.inject(HttpClient), TestBed.inject(JOB_EVENTS_CONFIG), {
      request: (kind) => counts[kind === 'token' ? 'tokens' : 'streamsOpened']++,
      streams: (delta) => (counts.openStreams += delta),
      queryFallback: () => counts.queryFallbacks++,
    });
  }

  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
  });

  afterEach(() => {
    pool.close();
    http.verify();
    vi.useRealTimers();
  });

  /** Watches a job through the pool and, as JobEventsService does, leaves on its terminal event. */
  function watch(id: string): Watcher {
    return recordWatch(
      pool
        .watch({ jobType: 'Sleep', jobId: id })
        .pipe(takeWhile((event) => !isTerminal(event), true)),
    );
  }

  /** Answers the next `POST /api/watch` with a token for the jobs it asks for. */
  const grant = (token?: string, expiresInMs?: number): TestRequest =>
    grantWatch(http, token, expiresInMs);

  /** Answers every pending `POST /api/watch`; returns how many jobs each asked for. */
  function grantAll(): number[] {
    return http.match('/api/watch').map((request) => answerWatch(request).jobIds.length);
  }

  function versions(watcher: Watcher): number[] {
    return watcher.events.map((event) => event.version);
  }

  // Batching, delivering, and sharing streams.

  it('plans the jobs watched within batchMs of the first one together, batchMs after it', () => {
    setup({ batchMs: 250 });
    watch(JOB_A);
    vi.advanceTimersByTime(100);
    watch(JOB_B);
    vi.advanceTimersByTime(100);
    watch(JOB_C); // the window is not extended by later jobs
    vi.advanceTimersByTime(49);
    http.expectNone('/api/watch');
    vi.advanceTimersByTime(1);
    const post = grant();
    expect(post.request.body).toEqual({
      jobs: [JOB_A, JOB_B, JOB_C].map((jobId) => ({ jobType: 'Sleep', jobId })),
    });
    expect(FakeEventSource.all).toHaveLength(1);
  });

  it('delivers each newer version to its own job, and ignores what is not a job event', () => {
    setup();
    const [a, b] = [watch(JOB_A), watch(JOB_B)];
    vi.advanceTimersByTime(100);
    grant();
    const source = FakeEventSource.latest().open();
    const raw = (data: string) => source.onmessage?.(new MessageEvent('message', { data }));
    raw('not json');
    raw('{"jobId": 7, "version": 2}');
    raw(`{"jobId": "${JOB_A}"}`);
    source.send(jobEvent(JOB_C, 9)); // not watched here
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2), '2.0');
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2), '2.0');
    source.send(jobEvent(JOB_A, 1, 'Queued'), '2.0');
    source.send(jobEvent(JOB_B, 4, 'Running', 0.4), '2.4');
    expect(versions(a)).toEqual([2]);
    expect(versions(b)).toEqual([4]);
    expect([a.errors, b.errors]).toEqual([[], []]);
  });

  it('refuses a second watch of a job it holds, and any watch once closed', () => {
    setup();
    const a = watch(JOB_A);
    const again = watch(JOB_A);
    expect(String(again.errors[0])).toMatch(/already watched/);
    expect(a.errors).toEqual([]);
    pool.close();
    const late = watch(JOB_B);
    expect(late.errors).toEqual([expect.any(StreamUnavailableError)]);
    vi.advanceTimersByTime(1000);
    http.expectNone('/api/watch');
  });

  it('adds jobs by opening a combined stream that resumes, closing the old one only once it is open', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant('token-1');
    const first = FakeEventSource.latest().open();
    first.send(jobEvent(JOB_A, 3, 'Running', 0.3));

    const b = watch(JOB_B);
    vi.advanceTimersByTime(100);
    const post = grant('token-2');
    expect((post.request.body as { jobs: unknown[] }).jobs).toHaveLength(2);
    const second = FakeEventSource.latest();
    expect(second.params.get('lastEventId')).toBe('3.0');
    expect(first.closed).toBe(false); // still the one delivering
    first.send(jobEvent(JOB_A, 4, 'Running', 0.4));
    second.open();
    expect(first.closed).toBe(true);
    second.send(jobEvent(JOB_A, 4, 'Running', 0.4), '4.0'); // overlap: already seen
    second.send(jobEvent(JOB_B, 1, 'Queued'), '4.1');
    expect(versions(a)).toEqual([3, 4]);
    expect(versions(b)).toEqual([1]);
    expect(FakeEventSource.maxOpen).toBe(2);
    a.subscription.unsubscribe();
    b.subscription.unsubscribe();
    expect(second.closed).toBe(true);
  });

  it('opens one new stream at a time: jobs added while it opens share the next one', () => {
    setup();
    const watchers = [watch(JOB_A)];
    vi.advanceTimersByTime(100);
    grant('token-1');
    const first = FakeEventSource.latest(); // connecting
    watchers.push(watch(JOB_B));
    vi.advanceTimersByTime(100);
    watchers.push(watch(JOB_C));
    vi.advanceTimersByTime(500);
    http.expectNone('/api/watch');
    first.open();
    vi.advanceTimersByTime(100);
    const post = grant('token-2');
    expect((post.request.body as { jobs: { jobId: string }[] }).jobs.map((j) => j.jobId)).toEqual([
      JOB_A,
      JOB_B,
      JOB_C,
    ]);
    const second = FakeEventSource.latest().open();
    expect(first.closed).toBe(true);
    expect(FakeEventSource.all).toHaveLength(2);
    second.send(jobEvent(JOB_C, 2, 'Completed'), '0.0.2');
    expect(watchers[2].completed).toBe(true);
    watchers.forEach((w) => w.subscription.unsubscribe());
    expect(second.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds at most 2 connections for 50 jobs, however they arrive, and all 50 finish', () => {
    setup();
    const ids = Array.from({ length: 50 }, (_, i) => jobId(i + 1));
    const watchers = ids.slice(0, 5).map((id) => watch(id));
    vi.advanceTimersByTime(100);
    grant();
    FakeEventSource.latest().open();
    // The rest arrive in small bursts while the first jobs run.
    for (let start = 5; start < 50; start += 9) {
      watchers.push(...ids.slice(start, start + 9).map((id) => watch(id)));
      vi.advanceTimersByTime(100);
      grant();
      FakeEventSource.latest().open();
      expect(FakeEventSource.live()).toHaveLength(1);
    }
    const source = FakeEventSource.latest();
    ids.forEach((id, i) => source.send(jobEvent(id, 2, i % 10 === 0 ? 'Failed' : 'Completed')));
    expect(watchers.every((w) => w.completed && w.events.at(-1)!.version === 2)).toBe(true);
    expect(FakeEventSource.maxOpen).toBeLessThanOrEqual(2);
    expect(FakeEventSource.live()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never holds more than two streams while the set changes faster than streams open', () => {
    setup();
    const watchers: Watcher[] = [];
    for (let i = 1; i <= 40; i++) {
      watchers.push(watch(jobId(i)));
      vi.advanceTimersByTime(30);
      grantAll();
      if (i % 7 === 0) FakeEventSource.latest().open(); // some open, most are superseded first
    }
    vi.advanceTimersByTime(100);
    grantAll();
    const newest = FakeEventSource.latest();
    newest.open();
    expect(FakeEventSource.maxOpen).toBeLessThanOrEqual(2);
    expect(FakeEventSource.live()).toEqual([newest]);
    watchers.forEach((w) => w.subscription.unsubscribe());
    expect(FakeEventSource.live()).toHaveLength(0);
  });

  it('splits more jobs than one stream may carry over several streams', () => {
    setup({ maxJobsPerStream: 50 });
    const watchers = Array.from({ length: 120 }, (_, i) => watch(jobId(i + 1)));
    vi.advanceTimersByTime(100);
    expect(grantAll()).toEqual([50, 50, 20]);
    expect(FakeEventSource.live()).toHaveLength(3);
    watchers.forEach((w) => w.subscription.unsubscribe());
    expect(FakeEventSource.live()).toHaveLength(0);
  });

  it('adds jobs to the least-loaded stream, keeping full streams as they are', () => {
    setup();
    const watchers = Array.from({ length: 70 }, (_, i) => watch(jobId(i + 1)));
    vi.advanceTimersByTime(100);
    expect(grantAll()).toEqual([50, 20]);
    const [full, partial] = FakeEventSource.live();
    full.open();
    partial.open();
    watchers.push(watch(jobId(71)));
    vi.advanceTimersByTime(100);
    expect(grantAll()).toEqual([21]); // the 20 plus the new one
    const combined = FakeEventSource.latest().open();
    expect(partial.closed).toBe(true);
    expect(full.closed).toBe(false);
    expect(FakeEventSource.live()).toEqual([full, combined]);
    expect(FakeEventSource.maxOpen).toBe(3);
    watchers.forEach((w) => w.subscription.unsubscribe());
    expect(FakeEventSource.live()).toHaveLength(0);
  });

  it('watching a finished job again gets its final state, even while its old stream is open', () => {
    setup();
    const first = watch(JOB_A);
    watch(JOB_B);
    vi.advanceTimersByTime(100);
    grant();
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_B, 2, 'Running', 0.1), '0.2');
    source.send(jobEvent(JOB_A, 3, 'Completed'), '3.2');
    expect(first.completed).toBe(true);

    const again = watch(JOB_A); // e.g. a page that shows the job again
    vi.advanceTimersByTime(100);
    const post = grant();
    const ids = (post.request.body as { jobs: { jobId: string }[] }).jobs.map((j) => j.jobId);
    expect([...ids].sort()).toEqual([JOB_A, JOB_B]);
    const combined = FakeEventSource.latest();
    // Resumes B from version 2, and A from nothing: the new watcher has seen nothing of it.
    expect(combined.params.get('lastEventId')).toBe(
      ids.map((id) => (id === JOB_B ? 2 : 0)).join('.'),
    );
    combined.open().send(jobEvent(JOB_A, 3, 'Completed'));
    expect(versions(again)).toEqual([3]);
    expect(again.completed).toBe(true);
    expect(source.closed).toBe(true);
  });

  it('joins an open stream only while the joined one stays within maxJobsPerStream', () => {
    setup({ maxJobsPerStream: 2 });
    const watchers = [watch(JOB_A), watch(JOB_B)];
    vi.advanceTimersByTime(100);
    expect(grantAll()).toEqual([2]);
    const full = FakeEventSource.latest().open();
    watchers.push(watch(JOB_C));
    vi.advanceTimersByTime(100);
    const post = grant('token-2');
    expect(post.request.body).toEqual({ jobs: [{ jobType: 'Sleep', jobId: JOB_C }] });
    const own = FakeEventSource.latest().open();
    expect(full.closed).toBe(false);
    expect(FakeEventSource.live()).toEqual([full, own]);
    watchers.forEach((w) => w.subscription.unsubscribe());
    expect(FakeEventSource.live()).toHaveLength(0);
  });

  // Reconnects: planned closes, failures, and the end of the attempts.

  it('pauses 250 ms to 1.25 s at random before reopening after a planned close for shutdown', () => {
    setup();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant();
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2));
    source.planned('shutdown', '2');
    expect(source.closed).toBe(true);
    vi.advanceTimersByTime(749);
    expect(FakeEventSource.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    http.expectNone('/api/watch'); // the token is reused, as for any planned close
    const next = FakeEventSource.latest();
    expect(next).not.toBe(source);
    expect(next.params.get('lastEventId')).toBe('2');
    next.open().send(jobEvent(JOB_A, 3, 'Completed'));
    expect(a.completed).toBe(true);
    expect(a.errors).toEqual([]);
  });

  it('treats the planned close as routine: reopens at once from the last id, same token, no polling', () => {
    setup();
    const [a, b] = [watch(JOB_A), watch(JOB_B)];
    vi.advanceTimersByTime(100);
    grant('token-1', 300_000);
    let source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2), '2.0');
    source.send(jobEvent(JOB_B, 5, 'Running', 0.5), '2.5');

    for (let lap = 0; lap < 3; lap++) {
      source.planned('lifetime', '2.5');
      expect(source.closed).toBe(true);
      vi.advanceTimersByTime(0);
      const next = FakeEventSource.latest();
      expect(next).not.toBe(source);
      expect(pathOf(next)).toBe(pathOf(source)); // the same token: its cookie's path
      expect(next.params.has('access_token')).toBe(false);
      expect(next.params.get('lastEventId')).toBe('2.5');
      source = next.open();
    }
    http.expectNone('/api/watch');
    source.send(jobEvent(JOB_A, 3, 'Completed'), '3.5');
    source.send(jobEvent(JOB_B, 6, 'Completed'), '3.6');
    expect(versions(a)).toEqual([2, 3]);
    expect(versions(b)).toEqual([5, 6]);
    expect(stats()).toMatchObject({
      tokens: 1,
      streamsOpened: 4,
      openStreams: 0,
    });
    expect([a.errors, b.errors]).toEqual([[], []]); // no fallback: nothing polled
  });

  it('mints a fresh token for a planned reconnect when the old one is about to expire', () => {
    setup();
    watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant('token-1', 20_000);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2));
    source.planned('lifetime', '2');
    vi.advanceTimersByTime(0);
    grant('token-2');
    const next = FakeEventSource.latest();
    expect(pathOf(next)).not.toBe(pathOf(source)); // the new token's stream, with its new cookie
    expect(next.params.has('access_token')).toBe(false);
    expect(next.params.get('lastEventId')).toBe('2');
    next.open().send(jobEvent(JOB_A, 3, 'Completed'));
  });

  it('reconnects with a fresh token and the last id, twice, then errors with StreamUnavailableError (the fallback)', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant('token-1');
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 2, 'Running', 0.2))
      .fail(false);
    expect(FakeEventSource.latest().closed).toBe(true); // the browser must not retry on its own

    vi.advanceTimersByTime(999);
    http.expectNone('/api/watch');
    vi.advanceTimersByTime(1);
    grant('token-2');
    let source = FakeEventSource.latest();
    expect(pathOf(source)).not.toBe(pathOf(FakeEventSource.all[0])); // a fresh token's stream
    expect(source.params.get('lastEventId')).toBe('2');
    source.fail(); // refused, e.g. 503

    vi.advanceTimersByTime(3000);
    grant('token-3');
    source = FakeEventSource.latest();
    expect(source.params.get('lastEventId')).toBe('2');
    expect(a.errors).toEqual([]);
    source.fail();

    // Out of attempts: the job errors, and the service polls it as a fallback.
    expect(a.errors).toEqual([expect.any(StreamUnavailableError)]);
    expect(versions(a)).toEqual([2]);
    expect(FakeEventSource.live()).toHaveLength(0);
    expect(stats()).toMatchObject({
      tokens: 3,
      streamsOpened: 3,
      openStreams: 0,
    });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resets the reconnect attempts after a stream opens again', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant();
    for (let drop = 0; drop < 5; drop++) {
      FakeEventSource.latest().open().fail(false);
      vi.advanceTimersByTime(1000);
      grant();
    }
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 2, 'Completed'));
    expect(a.completed).toBe(true);
    expect(a.errors).toEqual([]); // no fallback: nothing polled
  });

  it('counts a stream that does not open within openTimeoutMs as a failed attempt', () => {
    setup({ openTimeoutMs: 5000 });
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant('token-1');
    const stuck = FakeEventSource.latest();
    vi.advanceTimersByTime(4999);
    expect(stuck.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(stuck.closed).toBe(true);
    vi.advanceTimersByTime(1000);
    grant('token-2');
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 3, 'Completed'));
    expect(versions(a)).toEqual([3]);
    expect(a.errors).toEqual([]); // no fallback: nothing polled
  });

  it('when a combined stream cannot open, only the jobs the old stream lacks fall back', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant('token-1');
    const first = FakeEventSource.latest().open();
    const b = watch(JOB_B);
    vi.advanceTimersByTime(100);
    grant('token-2');
    FakeEventSource.latest().fail(); // e.g. 503: the server is at capacity
    vi.advanceTimersByTime(1000);
    grant('token-3');
    FakeEventSource.latest().fail();
    vi.advanceTimersByTime(3000);
    grant('token-4');
    FakeEventSource.latest().fail();

    expect(a.errors).toEqual([]); // A stays on its stream
    expect(b.errors).toEqual([expect.any(StreamUnavailableError)]); // B falls back (the service polls it)
    expect(first.closed).toBe(false);
    first.send(jobEvent(JOB_A, 2, 'Completed'), '2.0');
    expect(a.completed).toBe(true);
    expect(first.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  // Leaving and closing.

  it('closes every stream and leaves no timer when closed', () => {
    setup();
    const [a, b] = [watch(JOB_A), watch(JOB_B)];
    vi.advanceTimersByTime(100);
    grant();
    const first = FakeEventSource.latest().open();
    watch(JOB_C);
    vi.advanceTimersByTime(100);
    grant('token-2');
    const opening = FakeEventSource.latest();
    pool.close();
    expect([first.closed, opening.closed]).toEqual([true, true]);
    expect(stats().openStreams).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect([a.errors, b.errors, a.completed]).toEqual([[], [], false]);
  });

  it('closes the stream and leaves no timer when the last subscriber unsubscribes', () => {
    setup();
    const [a, b] = [watch(JOB_A), watch(JOB_B)];
    vi.advanceTimersByTime(100);
    grant();
    const source = FakeEventSource.latest().open();
    a.subscription.unsubscribe();
    expect(source.closed).toBe(false); // B still rides it
    b.subscription.unsubscribe();
    expect(source.closed).toBe(true);
    expect(stats().openStreams).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves nothing behind when unsubscribed before the stream is even planned', () => {
    setup();
    const a = watch(JOB_A);
    a.subscription.unsubscribe();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    http.expectNone('/api/watch');
  });

  describe('stream auth', () => {
    /** The body of a `POST /watch`: the job ids it asks a token for. */
    const jobsOf = (post: TestRequest) =>
      (post.request.body as { jobs: { jobId: string }[] }).jobs.map((job) => job.jobId);

    it('opens by the stream cookie by default: no token in any URL, credentials on POST /watch and the stream', () => {
      setup();
      const a = watch(JOB_A);
      vi.advanceTimersByTime(100);
      const post = grant('token-1');
      expect(post.request.withCredentials).toBe(true); // a cross-origin answer may set the cookie
      const first = FakeEventSource.latest();
      expect(first.withCredentials).toBe(true);
      expect(first.url).not.toContain('token-1');
      expect(first.params.has('access_token')).toBe(false);
      first.open().send(jobEvent(JOB_A, 3, 'Running', 0.3));

      // The swap: the combined stream is another path (its own cookie), resuming by the vector.
      const b = watch(JOB_B);
      vi.advanceTimersByTime(100);
      const second = grant('token-2');
      expect(second.request.withCredentials).toBe(true);
      const combined = FakeEventSource.latest();
      expect(combined.url).toBe(`${pathOf(combined)}?lastEventId=3.0`);
      expect(pathOf(combined)).not.toBe(pathOf(first));
      expect(combined.withCredentials).toBe(true);
      combined.open().send(jobEvent(JOB_B, 2, 'Completed'), '3.2');
      combined.send(jobEvent(JOB_A, 4, 'Completed'), '4.2');
      expect(a.completed && b.completed).toBe(true);
      expect(FakeEventSource.all.some((source) => source.url.includes('access_token'))).toBe(false);
      expect(stats().queryFallbacks).toBe(0);
    });

    it('puts the stream on the API origin when the API lives elsewhere, with credentials', () => {
      setup({ apiUrl: 'https://jobs.example.test/api' });
      watch(JOB_A);
      vi.advanceTimersByTime(100);
      const post = http.expectOne('https://jobs.example.test/api/watch');
      const answer = answerWatch(post);
      expect(post.request.withCredentials).toBe(true);
      const source = FakeEventSource.latest();
      expect(source.url).toBe(`https://jobs.example.test${answer.eventsUrl}`);
      expect(source.withCredentials).toBe(true);
      source.open().send(jobEvent(JOB_A, 2, 'Completed'));
    });

    it('after a cookie stream is refused before it opens, the next attempt carries a fresh token, and the pool keeps to that', () => {
      setup();
      const a = watch(JOB_A);
      vi.advanceTimersByTime(100);
      grant('token-1');
      FakeEventSource.latest().fail(); // closed before open: what a 401 for a blocked cookie looks like
      vi.advanceTimersByTime(999);
      http.expectNone('/api/watch'); // the attempt budget's delays, unchanged
      vi.advanceTimersByTime(1);
      const post = grant('token-2');
      expect(post.request.withCredentials).toBe(false);
      let source = FakeEventSource.latest();
      expect(source.params.get('access_token')).toBe('token-2');
      expect(source.withCredentials).toBe(false);
      expect(stats().queryFallbacks).toBe(0); // not proven until it opens
      source.open().send(jobEvent(JOB_A, 2, 'Running', 0.2), '2');
      expect(stats().queryFallbacks).toBe(1);
      expect(a.errors).toEqual([]); // still streamed: the service would not poll

      // A planned reconnect reuses the token, in the URL.
      source.planned('lifetime', '2');
      vi.advanceTimersByTime(0);
      http.expectNone('/api/watch');
      source = FakeEventSource.latest();
      expect(source.params.get('access_token')).toBe('token-2');
      expect(source.params.get('lastEventId')).toBe('2');
      source.open();

      // A new stream, for an added job, goes straight to the token: no cookie attempt first.
      const b = watch(JOB_B);
      vi.advanceTimersByTime(100);
      grant('token-3');
      const combined = FakeEventSource.latest();
      expect(combined.params.get('access_token')).toBe('token-3');
      expect(combined.params.get('lastEventId')).toBe('2.0');
      combined.open().send(jobEvent(JOB_A, 3, 'Completed'), '3.0');
      combined.send(jobEvent(JOB_B, 1, 'Completed'), '3.1');
      expect(a.completed && b.completed).toBe(true);
      expect(stats()).toMatchObject({ queryFallbacks: 1, tokens: 3 });
      expect([a.errors, b.errors]).toEqual([[], []]); // no fallback: nothing polled
      expect(vi.getTimerCount()).toBe(0);
    });

    it('after a refused cookie, a token attempt that hangs proves nothing: the stream keeps to the token, then falls back as before', () => {
      setup({ openTimeoutMs: 5000 });
      const a = watch(JOB_A);
      vi.advanceTimersByTime(100);
      grant('token-1');
      FakeEventSource.latest().fail(); // refused before open: the next one tries the token…
      vi.advanceTimersByTime(1000);
      grant('token-2');
      expect(FakeEventSource.latest().params.get('access_token')).toBe('token-2');
      vi.advanceTimersByTime(5000); // …which does not open in time
      vi.advanceTimersByTime(3000);
      grant('token-3');
      // Still no cookie stream has opened, so this stream keeps trying the token.
      expect(FakeEventSource.latest().params.get('access_token')).toBe('token-3');
      FakeEventSource.latest().fail(); // out of attempts: falls back (the service polls), as before
      expect(a.errors).toEqual([expect.any(StreamUnavailableError)]);
      expect(stats()).toMatchObject({ queryFallbacks: 0, tokens: 3, streamsOpened: 3 });
    });

    it('keeps the cookie when a cookie stream does not open in time or drops after opening', () => {
      setup({ openTimeoutMs: 5000 });
      const a = watch(JOB_A);
      vi.advanceTimersByTime(100);
      grant('token-1');
      expect(FakeEventSource.latest().params.has('access_token')).toBe(false);
      vi.advanceTimersByTime(5000); // no open in time (no cookie stream has opened yet): not a refusal
      vi.advanceTimersByTime(1000);
      grant('token-2');
      const source = FakeEventSource.latest();
      expect(source.params.has('access_token')).toBe(false);
      source.open().fail(false); // a drop after open: not a refusal either
      vi.advanceTimersByTime(1000);
      grant('token-3');
      const last = FakeEventSource.latest();
      expect(last.params.has('access_token')).toBe(false);
      expect(last.withCredentials).toBe(true);
      last.open().send(jobEvent(JOB_A, 2, 'Completed'));
      expect(a.completed).toBe(true);
      expect(stats().queryFallbacks).toBe(0);
      expect(a.errors).toEqual([]); // no fallback: nothing polled
    });

    it('once a cookie stream has opened, a refusal (a 503 at capacity) is retried by the cookie', () => {
      setup();
      const a = watch(JOB_A);
      vi.advanceTimersByTime(100);
      grant('token-1');
      const first = FakeEventSource.latest().open();
      const b = watch(JOB_B);
      vi.advanceTimersByTime(100);
      const post = grant('token-2');
      expect(jobsOf(post)).toEqual([JOB_A, JOB_B]);
      FakeEventSource.latest().fail(); // refused: cookies work here, so it is not the cookie
      vi.advanceTimersByTime(1000);
      grant('token-3');
      const retry = FakeEventSource.latest();
      expect(retry.params.has('access_token')).toBe(false);
      expect(retry.withCredentials).toBe(true);
      retry.open();
      expect(first.closed).toBe(true);
      retry.send(jobEvent(JOB_A, 2, 'Completed'), '2.0');
      retry.send(jobEvent(JOB_B, 2, 'Completed'), '2.2');
      expect(a.completed && b.completed).toBe(true);
      expect(stats().queryFallbacks).toBe(0);
    });

    it("with streamAuth 'query', opens with the token in the URL and sends no credentials", () => {
      setup({ streamAuth: 'query' });
      const a = watch(JOB_A);
      vi.advanceTimersByTime(100);
      const post = grant('token-1');
      expect(post.request.withCredentials).toBe(false);
      const source = FakeEventSource.latest();
      expect(source.params.get('access_token')).toBe('token-1');
      expect(source.withCredentials).toBe(false);
      source.open().send(jobEvent(JOB_A, 2, 'Running', 0.5), '2');
      source.fail(false);
      vi.advanceTimersByTime(1000);
      grant('token-2');
      const next = FakeEventSource.latest();
      expect(next.params.get('access_token')).toBe('token-2');
      expect(next.params.get('lastEventId')).toBe('2');
      next.open().send(jobEvent(JOB_A, 3, 'Completed'));
      expect(a.completed).toBe(true);
      expect(stats().queryFallbacks).toBe(0); // asked for, not a fallback
    });

    it("with streamAuth 'query' and withCredentials, sends the app's cookies with the token", () => {
      setup({ streamAuth: 'query', withCredentials: true });
      watch(JOB_A);
      vi.advanceTimersByTime(100);
      expect(grant('token-1').request.withCredentials).toBe(true);
      const source = FakeEventSource.latest();
      expect(source.params.get('access_token')).toBe('token-1');
      expect(source.withCredentials).toBe(true);
      source.open().send(jobEvent(JOB_A, 2, 'Completed'));
    });
  });
});
