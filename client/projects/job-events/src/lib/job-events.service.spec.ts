import { HttpErrorResponse } from '@angular/common/http';
import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { Component, DestroyRef, inject, input, OnInit, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { TestBed } from '@angular/core/testing';
import { map, of } from 'rxjs';

import { JobEventsOptions } from './config';
import {
  JobEventsService,
  newerVersionsOnly,
  newIdempotencyKey,
  RESUME_MAX_PAGES,
} from './job-events.service';
import { JobEvent } from './models';
import {
  FakeEventSource,
  fakeJobEvent as jobEvent,
  fakeJobId as jobId,
  provideJobEventsTesting,
  grantWatch,
  type RecordedWatch,
  recordWatch,
} from 'job-events/testing';

const [JOB_A, JOB_B, JOB_C] = [jobId(10), jobId(11), jobId(12)];

/** A status request made because streaming failed: it carries the fallback marker. */
const fallbackPoll = (id: string) => `/api/jobs/Sleep/${id}?fallback=1`;

type Watcher = RecordedWatch;

let http: HttpTestingController;
let service: JobEventsService;

function setup(options: JobEventsOptions = {}): void {
  TestBed.configureTestingModule({ providers: [provideJobEventsTesting(options)] });
  http = TestBed.inject(HttpTestingController);
  service = TestBed.inject(JobEventsService);
}

// What the service adds to the stream pool: one watch per job, transports, fallback polling,
// stats, held(), its lifetime. How streams are shared, reconnected and authenticated:
// stream-pool.spec.ts; one EventSource: event-source.spec.ts; the waits: backoff.spec.ts.
describe('JobEventsService.watchJob', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
  });

  function watch(id: string, transport: 'auto' | 'polling' = 'auto'): Watcher {
    return recordWatch(service.watchJob('Sleep', id, { transport }));
  }

  /** Answers the next `POST /api/watch` with a token for the jobs it asks for. */
  const grant = (token?: string, expiresInMs?: number): TestRequest =>
    grantWatch(http, token, expiresInMs);

  function versions(watcher: Watcher): number[] {
    return watcher.events.map((event) => event.version);
  }

  it('carries all jobs watched together on one stream, and closes it after the last terminal event', () => {
    setup();
    const [a, b, c] = [watch(JOB_A), watch(JOB_B), watch(JOB_C)];
    expect(FakeEventSource.all).toHaveLength(0); // batched: nothing until the window ends
    vi.advanceTimersByTime(100);
    const post = grant();
    expect(post.request.body).toEqual({
      jobs: [JOB_A, JOB_B, JOB_C].map((jobId) => ({ jobType: 'Sleep', jobId })),
    });
    const source = FakeEventSource.latest();
    expect(source.url).toMatch(/^\/api\/watch\/[^/?]+\/events$/); // the cookie carries the token
    source.open();
    source.send(jobEvent(JOB_A, 1, 'Queued'), '1.0.0');
    source.send(jobEvent(JOB_B, 2, 'Running', 0.5), '1.2.0');
    source.send(jobEvent(JOB_C, 4, 'Completed'), '1.2.4');
    expect(c.completed).toBe(true);
    expect(source.closed).toBe(false);
    source.send(jobEvent(JOB_A, 3, 'Failed', 0.3, { message: 'failed', error: 'boom' }), '3.2.4');
    source.send(jobEvent(JOB_B, 3, 'Completed'), '3.3.4');

    expect(versions(a)).toEqual([1, 3]);
    expect(versions(b)).toEqual([2, 3]);
    expect(versions(c)).toEqual([4]);
    expect([a, b, c].every((w) => w.completed && w.errors.length === 0)).toBe(true);
    expect(source.closed).toBe(true); // closed by us, before the server's close could trigger a browser retry
    expect(FakeEventSource.all).toHaveLength(1);
    expect(service.stats()).toMatchObject({
      tokens: 1,
      streamsOpened: 1,
      openStreams: 0,
      polls: 0,
      requests: 2,
    });
    expect(service.watching()).toEqual({ sse: 0, polling: 0, fallback: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never emits the same version twice', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant();
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2));
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2));
    source.send(jobEvent(JOB_A, 1, 'Queued'));
    source.send(jobEvent(JOB_A, 3, 'Running', 0.4));
    expect(versions(a)).toEqual([2, 3]);
    a.subscription.unsubscribe();
  });

  it('shares one watch between subscribers; a late one gets the latest state first', () => {
    setup();
    const first = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant();
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2));
    const second = watch(JOB_A);
    source.send(jobEvent(JOB_A, 3, 'Completed'));
    expect(versions(first)).toEqual([2, 3]);
    expect(versions(second)).toEqual([2, 3]);
    expect(FakeEventSource.all).toHaveLength(1);
    http.expectNone('/api/watch');
  });

  it('keeps one watch per job when a holder of the observable subscribes again', () => {
    setup();
    const held = service.watchJob('Sleep', JOB_A); // e.g. an async pipe in a toggling @if
    held.subscribe().unsubscribe();
    const shown: JobEvent[] = [];
    held.subscribe((event) => shown.push(event));
    const other = watch(JOB_A); // another component watches the same job
    vi.advanceTimersByTime(100);
    grant();
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 2, 'Completed'));
    expect(other.errors).toEqual([]);
    expect(versions(other)).toEqual([2]);
    expect(shown.map((event) => event.version)).toEqual([2]);
    expect(FakeEventSource.all).toHaveLength(1);
  });

  it("lets a holder of an ended watch ride the job's newer watch", () => {
    setup();
    const held = service.watchJob('Sleep', JOB_A);
    held.subscribe().unsubscribe();
    const current = watch(JOB_A); // a new watch of the job, live now
    const shown: JobEvent[] = [];
    const errors: unknown[] = [];
    held.subscribe({ next: (event) => shown.push(event), error: (error) => errors.push(error) });
    vi.advanceTimersByTime(100);
    grant();
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 2, 'Completed'));
    expect(errors).toEqual([]);
    expect(shown.map((event) => event.version)).toEqual([2]);
    expect(versions(current)).toEqual([2]);
    expect(service.watching()).toEqual({ sse: 0, polling: 0, fallback: 0 });
  });

  it('falls back to polling, each request marked, once the stream is out of reconnect attempts', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant('token-1');
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 2, 'Running', 0.2))
      .fail(false);
    // The reconnects themselves (fresh tokens, the last id, the delays): stream-pool.spec.ts.
    vi.advanceTimersByTime(1000);
    grant('token-2');
    let source = FakeEventSource.latest();
    source.fail(); // refused, e.g. 503

    vi.advanceTimersByTime(3000);
    grant('token-3');
    source = FakeEventSource.latest();
    expect(service.transportOf(JOB_A)).toBe('sse');
    source.fail();

    // Out of attempts: poll, marking each request as a fallback for the server's metrics.
    expect(service.transportOf(JOB_A)).toBe('fallback');
    const poll = http.expectOne(fallbackPoll(JOB_A));
    expect(poll.request.params.get('fallback')).toBe('1');
    poll.flush(jobEvent(JOB_A, 2, 'Running', 0.2)); // already seen: not emitted again
    vi.advanceTimersByTime(1000);
    http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 4, 'Completed'));
    expect(versions(a)).toEqual([2, 4]);
    expect(a.completed).toBe(true);
    expect(FakeEventSource.live()).toHaveLength(0);
    expect(service.stats()).toMatchObject({
      tokens: 3,
      streamsOpened: 3,
      polls: 2,
      openStreams: 0,
    });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('falls back to polling when no stream token can be had', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    const problem = { status: 503, statusText: 'Service Unavailable' };
    http.expectOne('/api/watch').flush({ title: 'busy' }, problem);
    vi.advanceTimersByTime(1000);
    http.expectOne('/api/watch').flush({ title: 'busy' }, problem);
    vi.advanceTimersByTime(3000);
    http.expectOne('/api/watch').flush({ title: 'busy' }, problem);
    http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 3, 'Completed'));
    expect(versions(a)).toEqual([3]);
    expect(FakeEventSource.all).toHaveLength(0);
  });

  it('polls only, and opens no stream, when polling is asked for', () => {
    setup();
    const a = watch(JOB_A, 'polling');
    expect(service.transportOf(JOB_A)).toBe('polling');
    // Asked-for polling is not a fallback: no marker (expectOne matches the whole URL).
    const first = http.expectOne(`/api/jobs/Sleep/${JOB_A}`);
    expect(first.request.params.has('fallback')).toBe(false);
    first.flush(jobEvent(JOB_A, 1, 'Running'));
    vi.advanceTimersByTime(1000);
    http.expectOne(`/api/jobs/Sleep/${JOB_A}`).flush(jobEvent(JOB_A, 2, 'Completed'));
    vi.advanceTimersByTime(1000);
    expect(versions(a)).toEqual([1, 2]);
    expect(FakeEventSource.all).toHaveLength(0);
    http.expectNone('/api/watch');
  });

  it('sends no fallback marker when polling is the configured transport', () => {
    setup({ transport: 'polling' });
    const seen: JobEvent[] = [];
    service.watchJob('Sleep', JOB_A).subscribe((event) => seen.push(event));
    expect(service.transportOf(JOB_A)).toBe('polling');
    http.expectOne(`/api/jobs/Sleep/${JOB_A}`).flush(jobEvent(JOB_A, 1, 'Completed'));
    expect(seen).toHaveLength(1);
  });

  it('marks polls as a fallback when there is no EventSource to stream with', () => {
    vi.stubGlobal('EventSource', undefined);
    try {
      setup({ eventSource: undefined });
      const a = watch(JOB_A);
      expect(service.transportOf(JOB_A)).toBe('fallback');
      http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Completed'));
      expect(a.completed).toBe(true);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('polls without the fallback marker when polling is asked for and there is no EventSource', () => {
    vi.stubGlobal('EventSource', undefined);
    try {
      setup({ eventSource: undefined });
      const a = watch(JOB_A, 'polling');
      expect(service.transportOf(JOB_A)).toBe('polling');
      const poll = http.expectOne(`/api/jobs/Sleep/${JOB_A}`);
      expect(poll.request.params.has('fallback')).toBe(false);
      poll.flush(jobEvent(JOB_A, 1, 'Completed'));
      expect(a.completed).toBe(true);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('closes every stream when the application is destroyed', () => {
    setup();
    watch(JOB_A);
    watch(JOB_B);
    vi.advanceTimersByTime(100);
    grant();
    FakeEventSource.latest().open();
    TestBed.resetTestingModule(); // destroys the root injector, as closing the app does
    expect(FakeEventSource.live()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
    http = { verify: () => undefined } as unknown as HttpTestingController;
  });

  describe('bookkeeping (what a long session would accumulate)', () => {
    const NOTHING = { watches: [], transports: [], members: [], streams: [] };
    /** Every job id the service or its pool still holds, wherever it is held. */
    const named = () => {
      const held = service.held();
      return new Set([
        ...held.watches,
        ...held.transports,
        ...held.members,
        ...held.streams.flat(),
      ]);
    };

    it('names no job once its terminal event is delivered, over a stream', () => {
      setup();
      watch(JOB_A);
      vi.advanceTimersByTime(100);
      grant();
      const source = FakeEventSource.latest().open();
      expect(service.held()).toEqual({
        watches: [JOB_A],
        transports: [JOB_A],
        members: [JOB_A],
        streams: [[JOB_A]],
      });
      source.send(jobEvent(JOB_A, 2, 'Completed'));
      expect(service.held()).toEqual(NOTHING);
    });

    it('on a shared stream, only that stream still names a finished job, until it closes', () => {
      setup();
      watch(JOB_A);
      const b = watch(JOB_B);
      vi.advanceTimersByTime(100);
      grant();
      const source = FakeEventSource.latest().open();
      source.send(jobEvent(JOB_A, 2, 'Completed'), '2.0');
      // Its token names both jobs (bounded: maxJobsPerStream, for the stream's life).
      expect(service.held()).toEqual({
        watches: [JOB_B],
        transports: [JOB_B],
        members: [JOB_B],
        streams: [[JOB_A, JOB_B]],
      });
      b.subscription.unsubscribe();
      expect(source.closed).toBe(true);
      expect(service.held()).toEqual(NOTHING);
    });

    it('names no job once its subscriber unsubscribes, streamed, polled or falling back', () => {
      setup({ reconnectDelaysMs: [] });
      const [a, b] = [watch(JOB_A), watch(JOB_B, 'polling')];
      http.expectOne(`/api/jobs/Sleep/${JOB_B}`).flush(jobEvent(JOB_B, 1, 'Running'));
      vi.advanceTimersByTime(100);
      grant();
      FakeEventSource.latest().fail(); // refused, no attempts left: A falls back to polling
      http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Running'));
      expect(named()).toEqual(new Set([JOB_A, JOB_B]));
      a.subscription.unsubscribe();
      expect(named()).toEqual(new Set([JOB_B]));
      b.subscription.unsubscribe();
      expect(service.held()).toEqual(NOTHING);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('names no job after a fallback poll sees its terminal state', () => {
      setup({ reconnectDelaysMs: [] });
      watch(JOB_A);
      vi.advanceTimersByTime(100);
      grant();
      FakeEventSource.latest().fail();
      http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 3, 'Failed'));
      expect(service.held()).toEqual(NOTHING);
    });

    it('holds nothing for a watch that is never subscribed to', () => {
      setup();
      const unused = service.watchJob('Sleep', JOB_A); // e.g. an async pipe never rendered
      expect(service.held()).toEqual(NOTHING);
      // Still one watch per job once it is used.
      const other = watch(JOB_A);
      const shown: number[] = [];
      unused.subscribe((event) => shown.push(event.version));
      vi.advanceTimersByTime(100);
      grant();
      FakeEventSource.latest()
        .open()
        .send(jobEvent(JOB_A, 2, 'Completed'));
      expect([versions(other), shown]).toEqual([[2], [2]]);
      expect(FakeEventSource.all).toHaveLength(1);
      expect(service.held()).toEqual(NOTHING);
    });
  });

  it('cancels the fallback poll and its timers when unsubscribed', () => {
    setup({ reconnectDelaysMs: [] });
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    grant();
    FakeEventSource.latest().fail();
    const poll = http.expectOne(fallbackPoll(JOB_A));
    a.subscription.unsubscribe();
    expect(poll.cancelled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops watching when the component that watches is destroyed (takeUntilDestroyed)', () => {
    setup();

    @Component({ selector: 'test-job', template: '{{ state()?.status }}' })
    class JobComponent implements OnInit {
      readonly jobId = input.required<string>();
      readonly state = signal<JobEvent | null>(null);
      private readonly jobs = inject(JobEventsService);
      private readonly destroyRef = inject(DestroyRef);

      ngOnInit(): void {
        this.jobs
          .watchJob('Sleep', this.jobId())
          .pipe(takeUntilDestroyed(this.destroyRef))
          .subscribe((event) => this.state.set(event));
      }
    }

    const fixture = TestBed.createComponent(JobComponent);
    fixture.componentRef.setInput('jobId', JOB_A);
    fixture.detectChanges();
    vi.advanceTimersByTime(100);
    grant();
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.5));
    fixture.detectChanges();
    expect(fixture.nativeElement.textContent).toContain('Running');

    fixture.destroy();
    expect(source.closed).toBe(true);
    expect(service.stats().openStreams).toBe(0);
    expect(service.watching().sse).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('JobEventsService.startJob', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    setup();
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
  });

  it('posts the input and answers what the server accepted', () => {
    let started: unknown;
    service.startJob('Sleep', { seconds: 2 }).subscribe((answer) => (started = answer));
    const request = http.expectOne({ method: 'POST', url: '/api/jobs/Sleep/start' });
    expect(request.request.body).toEqual({ seconds: 2 });
    request.flush(
      { jobId: JOB_A, jobType: 'Sleep', status: 'Queued' },
      { status: 202, statusText: 'Accepted' },
    );
    expect(started).toMatchObject({ jobId: JOB_A });
  });

  it('retries a 503 (the job was not started) after Retry-After, but not a 422', () => {
    const errors: unknown[] = [];
    let started: unknown;
    service
      .startJob('Sleep', {})
      .subscribe({ next: (a) => (started = a), error: (e) => errors.push(e) });
    http
      .expectOne('/api/jobs/Sleep/start')
      .flush(
        { title: 'busy' },
        { status: 503, statusText: 'Unavailable', headers: { 'Retry-After': '5' } },
      );
    vi.advanceTimersByTime(4999);
    http.expectNone('/api/jobs/Sleep/start');
    vi.advanceTimersByTime(1);
    http
      .expectOne('/api/jobs/Sleep/start')
      .flush({ jobId: JOB_A }, { status: 202, statusText: 'Accepted' });
    expect(started).toMatchObject({ jobId: JOB_A });
    expect(service.stats().starts).toBe(1); // one job, two attempts

    service.startJob('Sleep', { seconds: -1 }).subscribe({ error: (e) => errors.push(e) });
    http
      .expectOne('/api/jobs/Sleep/start')
      .flush({ title: 'invalid' }, { status: 422, statusText: 'Unprocessable' });
    expect(errors).toHaveLength(1);
    expect(service.stats().starts).toBe(1); // the 422 started nothing
  });
});

describe('JobEventsService.startJob: the Idempotency-Key', () => {
  const KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const start = () => http.expectOne({ method: 'POST', url: '/api/jobs/Sleep/start' });
  const keyOf = (request: TestRequest) => request.request.headers.get('Idempotency-Key');
  const accept = (request: TestRequest) =>
    request.flush({ jobId: JOB_A, jobType: 'Sleep' }, { status: 202, statusText: 'Accepted' });
  /** No answer at all (a reset connection, a dropped response): HttpClient's status 0. */
  const networkError = (request: TestRequest) => request.error(new ProgressEvent('error'));
  const serverError = (request: TestRequest) =>
    request.flush({ title: 'oops' }, { status: 500, statusText: 'Internal Server Error' });

  beforeEach(() => {
    vi.useFakeTimers();
    setup();
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('sends a random key, the same on every retry of one call and a new one for the next call', () => {
    service.startJob('Sleep', {}).subscribe();
    const first = start();
    const key = keyOf(first);
    expect(key).toMatch(KEY);
    networkError(first);
    vi.advanceTimersByTime(1000);
    const retry = start();
    expect(keyOf(retry)).toBe(key); // a new key here would let the retry start a second job
    accept(retry);

    service.startJob('Sleep', {}).subscribe();
    const next = start();
    expect(keyOf(next)).toMatch(KEY);
    expect(keyOf(next)).not.toBe(key); // the same key would answer the first call's job
    accept(next);
  });

  it.each([
    ['a network error (status 0)', networkError],
    ['a 500', serverError],
  ])('retries %s after 1 s, and the retry finds the job the lost attempt started', (_, fail) => {
    const errors: unknown[] = [];
    let started: unknown;
    service
      .startJob('Sleep', { seconds: 2 })
      .subscribe({ next: (a) => (started = a), error: (e) => errors.push(e) });
    fail(start());
    vi.advanceTimersByTime(999);
    http.expectNone('/api/jobs/Sleep/start');
    vi.advanceTimersByTime(1);
    const retry = start();
    expect(retry.request.body).toEqual({ seconds: 2 }); // the same body: the server's same job
    accept(retry);
    expect(errors).toEqual([]);
    expect(started).toMatchObject({ jobId: JOB_A });
    expect(service.stats().starts).toBe(1);
  });

  it('gives up after two retries, with the last error', () => {
    const errors: HttpErrorResponse[] = [];
    service.startJob('Sleep', {}).subscribe({ error: (e) => errors.push(e) });
    serverError(start());
    vi.advanceTimersByTime(1000);
    networkError(start());
    vi.advanceTimersByTime(1000);
    serverError(start());
    vi.advanceTimersByTime(60_000);
    http.expectNone('/api/jobs/Sleep/start');
    expect(errors.map((e) => e.status)).toEqual([500]);
    expect(service.stats().starts).toBe(0);
  });

  it.each([
    [400, 'Bad Request'], // a malformed key or input
    [409, 'Conflict'], // the key was used before with another body: retrying cannot help
    [422, 'Unprocessable'],
  ])('fails at once on a %i, with no retry', (status, statusText) => {
    const errors: HttpErrorResponse[] = [];
    service.startJob('Sleep', {}).subscribe({ error: (e) => errors.push(e) });
    start().flush({ title: statusText }, { status, statusText });
    vi.advanceTimersByTime(60_000);
    http.expectNone('/api/jobs/Sleep/start');
    expect(errors.map((e) => e.status)).toEqual([status]);
    expect(service.stats().starts).toBe(0);
  });

  it('sends the key the caller gives, on every attempt', () => {
    service.startJob('Sleep', {}, { idempotencyKey: 'order-42:publish' }).subscribe();
    const first = start();
    expect(keyOf(first)).toBe('order-42:publish');
    networkError(first);
    vi.advanceTimersByTime(1000);
    const retry = start();
    expect(keyOf(retry)).toBe('order-42:publish');
    accept(retry);
  });

  it('makes a UUID without crypto.randomUUID (a page served over plain http)', () => {
    const native = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: (a: Uint8Array) => native.getRandomValues(a) });
    const keys = new Set([newIdempotencyKey(), newIdempotencyKey()]);
    expect(keys.size).toBe(2);
    for (const key of keys) expect(key).toMatch(KEY);
    vi.stubGlobal('crypto', undefined); // no Web Crypto at all
    expect(newIdempotencyKey()).toMatch(KEY);
  });
});

describe('JobEventsService.cancel', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    setup();
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
  });

  const cancelUrl = (id: string) => `/api/jobs/Sleep/${id}/cancel`;
  const cancelled = (id: string, version: number) =>
    jobEvent(id, version, 'Failed', 0, { message: 'cancelled', error: 'its owner cancelled it' });

  it('posts no body and answers the state the server gives: Failed at once for a queued job', () => {
    const watcher = recordWatch(service.cancel({ jobType: 'Sleep', jobId: JOB_A }));
    const request = http.expectOne({ method: 'POST', url: cancelUrl(JOB_A) });
    expect(request.request.body).toBeNull();
    request.flush(cancelled(JOB_A, 2));
    expect(watcher.events.map((e) => [e.status, e.message])).toEqual([['Failed', 'cancelled']]);
    expect(watcher.completed).toBe(true);
  });

  it('answers Running for a running job asked to stop (202)', () => {
    const watcher = recordWatch(service.cancel({ jobType: 'Sleep', jobId: JOB_A }));
    http
      .expectOne(cancelUrl(JOB_A))
      .flush(jobEvent(JOB_A, 4, 'Running', 0.5), { status: 202, statusText: 'Accepted' });
    expect(watcher.events.map((e) => e.status)).toEqual(['Running']);
    expect(watcher.completed).toBe(true);
  });

  it('fails with the 409 when the job had finished before the first attempt', () => {
    const watcher = recordWatch(service.cancel({ jobType: 'Sleep', jobId: JOB_A }));
    http
      .expectOne(cancelUrl(JOB_A))
      .flush({ title: 'finished' }, { status: 409, statusText: 'Conflict' });
    expect(watcher.events).toEqual([]);
    expect((watcher.errors[0] as HttpErrorResponse).status).toBe(409);
  });

  it("fails at once with a 404 (unknown job, or another user's): no retry", () => {
    const watcher = recordWatch(service.cancel({ jobType: 'Sleep', jobId: JOB_A }));
    http
      .expectOne(cancelUrl(JOB_A))
      .flush({ title: 'unknown' }, { status: 404, statusText: 'Not Found' });
    vi.advanceTimersByTime(10_000);
    http.expectNone(cancelUrl(JOB_A));
    expect((watcher.errors[0] as HttpErrorResponse).status).toBe(404);
  });

  it("retries a lost answer; a 409 on the retry is the first attempt's doing: the job's state is the answer", () => {
    const watcher = recordWatch(service.cancel({ jobType: 'Sleep', jobId: JOB_A }));
    http.expectOne(cancelUrl(JOB_A)).error(new ProgressEvent('error')); // status 0: no answer
    vi.advanceTimersByTime(999);
    http.expectNone(cancelUrl(JOB_A));
    vi.advanceTimersByTime(1);
    http
      .expectOne(cancelUrl(JOB_A))
      .flush({ title: 'finished' }, { status: 409, statusText: 'Conflict' });
    http.expectOne({ method: 'GET', url: `/api/jobs/Sleep/${JOB_A}` }).flush(cancelled(JOB_A, 2));
    expect(watcher.errors).toEqual([]);
    expect(watcher.events.map((e) => e.message)).toEqual(['cancelled']);
  });

  it('ends every watch of the job with the terminal state the server sends', () => {
    const watch = recordWatch(service.watchJob('Sleep', JOB_A));
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.3));
    service.cancel({ jobType: 'Sleep', jobId: JOB_A }).subscribe();
    http
      .expectOne(cancelUrl(JOB_A))
      .flush(jobEvent(JOB_A, 2, 'Running', 0.3), { status: 202, statusText: 'Accepted' });
    source.send(cancelled(JOB_A, 3));
    expect(watch.events.map((e) => e.status)).toEqual(['Running', 'Failed']);
    expect(watch.events.at(-1)?.message).toBe('cancelled');
    expect(watch.completed).toBe(true);
  });
});

describe('JobEventsService.listJobs and resume', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    setup();
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
  });

  const listed = (status: string, token?: string) => (request: { urlWithParams: string }) =>
    request.urlWithParams ===
    `/api/jobs?status=${status}&limit=100${token ? `&continuationToken=${token}` : ''}`;

  it('lists one page with the query the server expects', () => {
    let answer: unknown;
    service
      .listJobs('recent', { limit: 10, continuationToken: 'abc' })
      .subscribe((list) => (answer = list));
    const request = http.expectOne('/api/jobs?status=recent&limit=10&continuationToken=abc');
    expect(request.request.method).toBe('GET');
    request.flush({ jobs: [jobEvent(JOB_A, 3, 'Completed')], continuationToken: null });
    expect(answer).toEqual({ jobs: [jobEvent(JOB_A, 3, 'Completed')], continuationToken: null });

    service.listJobs().subscribe();
    http.expectOne('/api/jobs?status=active').flush({ jobs: [], continuationToken: null });
  });

  it('resumes every active job, page after page, once each, newest first', () => {
    const answers: (readonly JobEvent[])[] = [];
    let completed = false;
    service
      .resume({ finishedWithinMs: 0 })
      .subscribe({ next: (jobs) => answers.push(jobs), complete: () => (completed = true) });
    http
      .expectOne(listed('active'))
      .flush({ jobs: [jobEvent(JOB_C, 2), jobEvent(JOB_B, 1, 'Queued')], continuationToken: 'p2' });
    expect(answers).toEqual([]); // one answer, once every page is in
    http
      .expectOne(listed('active', 'p2'))
      .flush({ jobs: [jobEvent(JOB_B, 1, 'Queued'), jobEvent(JOB_A, 5)], continuationToken: null });
    expect(answers.map((jobs) => jobs.map((job) => job.jobId))).toEqual([[JOB_C, JOB_B, JOB_A]]);
    expect(completed).toBe(true);
  });

  it('answers an empty list when nothing is running', () => {
    const answers: (readonly JobEvent[])[] = [];
    service.resume({ finishedWithinMs: 0 }).subscribe((jobs) => answers.push(jobs));
    http.expectOne(listed('active')).flush({ jobs: [], continuationToken: null });
    expect(answers).toEqual([[]]);
  });

  it('adds the jobs that finished within the last minute: a reload of its own', () => {
    vi.setSystemTime(new Date('2026-12-01T12:00:00Z'));
    const at = (iso: string, event: JobEvent): JobEvent => ({ ...event, timestamp: iso });
    const answers: (readonly JobEvent[])[] = [];
    service.resume().subscribe((jobs) => answers.push(jobs));
    http.expectOne(listed('active')).flush({ jobs: [jobEvent(JOB_C, 2)], continuationToken: null });
    http.expectOne(listed('recent')).flush({
      jobs: [
        jobEvent(JOB_C, 2), // still running: listed once
        at('2026-12-01T11:59:30Z', jobEvent(JOB_B, 4, 'Completed')), // finished during the reload
        at('2026-12-01T11:58:00Z', jobEvent(JOB_A, 4, 'Failed')), // history, not this reload's
      ],
      continuationToken: 'more',
    });
    expect(answers.map((jobs) => jobs.map((job) => job.jobId))).toEqual([[JOB_C, JOB_B]]);
    http.expectNone((request) => request.url === '/api/jobs'); // one page of recent, no more
  });

  it(`reads at most ${RESUME_MAX_PAGES} pages`, () => {
    const answers: (readonly JobEvent[])[] = [];
    service.resume({ finishedWithinMs: 0 }).subscribe((jobs) => answers.push(jobs));
    for (let page = 0; page < RESUME_MAX_PAGES; page++) {
      http
        .expectOne((request) => request.url === '/api/jobs')
        .flush({ jobs: [jobEvent(jobId(100 + page), 1)], continuationToken: `p${page + 1}` });
    }
    http.expectNone((request) => request.url === '/api/jobs');
    expect(answers[0]).toHaveLength(RESUME_MAX_PAGES);
  });

  it('retries an unavailable server after its Retry-After, and fails on a 400', () => {
    const answers: (readonly JobEvent[])[] = [];
    const errors: unknown[] = [];
    service
      .resume({ finishedWithinMs: 0 })
      .subscribe({ next: (jobs) => answers.push(jobs), error: (e) => errors.push(e) });
    http
      .expectOne(listed('active'))
      .flush(
        { title: 'busy' },
        { status: 503, statusText: 'Unavailable', headers: { 'Retry-After': '3' } },
      );
    vi.advanceTimersByTime(2999);
    http.expectNone(listed('active'));
    vi.advanceTimersByTime(1);
    http.expectOne(listed('active')).flush({ jobs: [jobEvent(JOB_A, 2)], continuationToken: null });
    expect(answers.map((jobs) => jobs.length)).toEqual([1]);

    service.resume({ finishedWithinMs: 0 }).subscribe({ error: (e) => errors.push(e) });
    http
      .expectOne(listed('active'))
      .flush({ title: 'bad' }, { status: 400, statusText: 'Bad Request' });
    expect((errors[0] as HttpErrorResponse).status).toBe(400);
  });
});

describe('newerVersionsOnly', () => {
  it('lets each version through once, in rising order', () => {
    const seen: number[] = [];
    of(2, 2, 1, 3, 2, 5)
      .pipe(
        map((version) => jobEvent(JOB_A, version)),
        newerVersionsOnly(),
      )
      .subscribe((event) => seen.push(event.version));
    expect(seen).toEqual([2, 3, 5]);
  });
});
