import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { Component, DestroyRef, inject, input, OnInit, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { TestBed } from '@angular/core/testing';
import { map, of, Subscription } from 'rxjs';

import { JobEventsOptions } from './config';
import { JobEventsService, newerVersionsOnly } from './job-events.service';
import { JobEvent } from './models';
import {
  answerWatch,
  FakeEventSource,
  fakeJobEvent as jobEvent,
  fakeJobId as jobId,
  provideJobEventsTesting,
} from 'job-events/testing';

const [JOB_A, JOB_B, JOB_C] = [jobId(10), jobId(11), jobId(12)];

/** The stream's own URL path (`/api/watch/{streamId}/events`): its cookie's path, a token of its own. */
const pathOf = (source: FakeEventSource) => new URL(source.url, 'http://localhost').pathname;

/** A status request made because streaming failed: it carries the fallback marker. */
const fallbackPoll = (id: string) => `/api/jobs/Sleep/${id}?fallback=1`;

interface Watcher {
  events: JobEvent[];
  errors: unknown[];
  completed: boolean;
  subscription: Subscription;
}

let http: HttpTestingController;
let service: JobEventsService;

function setup(options: JobEventsOptions = {}): void {
  TestBed.configureTestingModule({ providers: [provideJobEventsTesting(options)] });
  http = TestBed.inject(HttpTestingController);
  service = TestBed.inject(JobEventsService);
}

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
    const watcher: Watcher = {
      events: [],
      errors: [],
      completed: false,
      subscription: Subscription.EMPTY,
    };
    watcher.subscription = service.watchJob('Sleep', id, { transport }).subscribe({
      next: (event) => watcher.events.push(event),
      error: (error) => watcher.errors.push(error),
      complete: () => (watcher.completed = true),
    });
    return watcher;
  }

  /** Answers the next `POST /api/watch` with a token for the jobs it asks for. */
  function grant(token = 'token-1', expiresInMs = 300_000): TestRequest {
    const request = http.expectOne({ method: 'POST', url: '/api/watch' });
    answerWatch(request, token, expiresInMs);
    return request;
  }

  /** Answers every pending `POST /api/watch`; returns how many jobs each asked for. */
  function grantAll(): number[] {
    return http.match('/api/watch').map((request) => answerWatch(request).jobIds.length);
  }

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
      expect(service.stats().queryFallbacks).toBe(0);
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

    it('after a cookie stream is refused before it opens, the next attempt carries a fresh token, and the service keeps to that', () => {
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
      expect(service.stats().queryFallbacks).toBe(0); // not proven until it opens
      source.open().send(jobEvent(JOB_A, 2, 'Running', 0.2), '2');
      expect(service.stats().queryFallbacks).toBe(1);
      expect(service.transportOf(JOB_A)).toBe('sse');

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
      expect(service.stats()).toMatchObject({ queryFallbacks: 1, tokens: 3, polls: 0 });
      expect(vi.getTimerCount()).toBe(0);
    });

    it('after a refused cookie, a token attempt that hangs proves nothing: the stream keeps to the token, then polls as before', () => {
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
      FakeEventSource.latest().fail(); // out of attempts: polled, as before
      http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 2, 'Completed'));
      expect(a.completed).toBe(true);
      expect(service.stats()).toMatchObject({ queryFallbacks: 0, tokens: 3, streamsOpened: 3 });
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
      expect(service.stats()).toMatchObject({ queryFallbacks: 0, polls: 0 });
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
      expect(service.stats().queryFallbacks).toBe(0);
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
      expect(service.stats().queryFallbacks).toBe(0); // asked for, not a fallback
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
