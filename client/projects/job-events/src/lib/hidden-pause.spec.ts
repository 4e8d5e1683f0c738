import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { DOCUMENT } from '@angular/core';
import { TestBed } from '@angular/core/testing';

import { JobEventsOptions } from './config';
import { JobPollTimeoutError } from './errors';
import { JobEventsService } from './job-events.service';
import { JobEvent } from './models';
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
const PAUSE_MS = 5_000; // the default hiddenPauseMs
const poll = (id: string) => `/api/jobs/Sleep/${id}`;

/** A `DOCUMENT` whose visibility the test sets, counting its `visibilitychange` listeners. */
class FakeDocument extends EventTarget {
  visibilityState: DocumentVisibilityState = 'visible';
  listeners = 0;

  override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
    if (args[0] === 'visibilitychange') this.listeners++;
    super.addEventListener(...args);
  }

  override removeEventListener(...args: Parameters<EventTarget['removeEventListener']>): void {
    if (args[0] === 'visibilitychange') this.listeners--;
    super.removeEventListener(...args);
  }

  show(state: DocumentVisibilityState): void {
    this.visibilityState = state;
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

type Watcher = RecordedWatch;

describe('JobEventsService in a hidden tab (hiddenPauseMs)', () => {
  let http: HttpTestingController;
  let service: JobEventsService;
  let document: FakeDocument;

  function setup(options: JobEventsOptions = {}): void {
    document = new FakeDocument();
    TestBed.configureTestingModule({
      providers: [provideJobEventsTesting(options), { provide: DOCUMENT, useValue: document }],
    });
    http = TestBed.inject(HttpTestingController);
    service = TestBed.inject(JobEventsService);
  }

  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
  });

  afterEach(() => {
    try {
      http.verify();
    } finally {
      vi.useRealTimers();
      TestBed.resetTestingModule(); // also after a failure, so the next test starts clean
    }
  });

  function watch(id: string, transport: 'auto' | 'polling' = 'auto', timeoutMs?: number): Watcher {
    const options = timeoutMs ? { transport, poll: { timeoutMs } } : { transport };
    return recordWatch(service.watchJob('Sleep', id, options));
  }

  /** Answers every status request open now (one cancelled by the pause needs no answer). */
  function answerPolls(event: JobEvent): void {
    for (const request of http.match(() => true)) if (!request.cancelled) request.flush(event);
  }

  /** Hides the tab until watching pauses, answering polls with `event` meanwhile. */
  function hideUntilPaused(event: JobEvent): void {
    document.show('hidden');
    for (let t = 0; t < PAUSE_MS; t += 1000) {
      vi.advanceTimersByTime(1000);
      answerPolls(event);
    }
  }

  const grant = (): TestRequest => grantWatch(http);

  /** Watches the jobs on open streams that have sent each its version (in `ids` order). */
  function streaming(ids: string[], versions: number[]): Watcher[] {
    const watchers = ids.map((id) => watch(id));
    vi.advanceTimersByTime(100);
    for (const post of http.match({ method: 'POST', url: '/api/watch' })) {
      const source = (answerWatch(post), FakeEventSource.latest()).open();
      for (const id of (post.request.body as { jobs: { jobId: string }[] }).jobs.map(
        (j) => j.jobId,
      )) {
        const version = versions[ids.indexOf(id)];
        source.send(jobEvent(id, version, 'Running', 0.1 * version));
      }
    }
    return watchers;
  }

  it('keeps streaming through a glance away shorter than the pause', () => {
    setup();
    const [a] = streaming([JOB_A], [2]);
    document.show('hidden');
    vi.advanceTimersByTime(PAUSE_MS - 1);
    document.show('visible');
    vi.advanceTimersByTime(PAUSE_MS); // the pause timer was cancelled on return
    expect(FakeEventSource.latest().closed).toBe(false);
    FakeEventSource.latest().send(jobEvent(JOB_A, 3, 'Completed'));
    expect(a.completed).toBe(true);
    expect(FakeEventSource.all).toHaveLength(1);
    expect(service.stats()).toMatchObject({ tokens: 1, streamsOpened: 1, pauses: 0 });
  });

  it('closes every stream after hiddenPauseMs hidden, and then makes no request of any kind', () => {
    setup({ maxJobsPerStream: 2 });
    streaming([JOB_A, JOB_B, JOB_C], [2, 3, 4]); // two streams: A+B, then C
    expect(FakeEventSource.live()).toHaveLength(2);
    const before = service.stats();

    document.show('hidden');
    vi.advanceTimersByTime(PAUSE_MS);
    expect(FakeEventSource.live()).toHaveLength(0);
    expect(service.stats().openStreams).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // nothing left to wake up: no retry, no batch window

    vi.advanceTimersByTime(60 * 60_000); // an hour hidden
    http.expectNone(() => true); // no token, no poll
    expect(FakeEventSource.all).toHaveLength(2); // no stream
    expect(service.stats()).toEqual({ ...before, openStreams: 0, pauses: 1 });
    expect(service.watching()).toEqual({ sse: 3, polling: 0, fallback: 0 });
  });

  it('reopens on return: a paused stream with its own token (one request), resuming from the versions it has', () => {
    setup({ maxJobsPerStream: 2 });
    const [a] = streaming([JOB_A, JOB_B], [2, 3]);
    document.show('hidden');
    vi.advanceTimersByTime(PAUSE_MS);
    const c = watch(JOB_C); // watched while paused: it waits for the return
    vi.advanceTimersByTime(10_000);
    http.expectNone('/api/watch');

    const pausedUrl = FakeEventSource.all[0].url;
    document.show('visible'); // at once: no batch window on return
    // A and B reopen on their paused stream's token (its cookie path); only C needs one.
    const posts = http.match({ method: 'POST', url: '/api/watch' });
    expect(posts.map((post) => post.request.body)).toEqual([
      { jobs: [{ jobType: 'Sleep', jobId: JOB_C }] },
    ]);
    posts.forEach((post) => answerWatch(post));
    const [ab, cOnly] = FakeEventSource.all.slice(-2);
    expect(ab.url.split('?')[0]).toBe(pausedUrl.split('?')[0]);
    expect(ab.params.get('lastEventId')).toBe('2.3');
    expect(cOnly.params.has('lastEventId')).toBe(false); // nothing seen yet: the current state first
    expect([ab, cOnly].every((source) => !source.params.has('access_token'))).toBe(true);
    expect(service.stats()).toMatchObject({ tokens: 2, streamsOpened: 3, openStreams: 2 });

    // A job that finished while hidden: the server sends its terminal state first.
    ab.open().send(jobEvent(JOB_A, 5, 'Completed'), '5.3');
    expect(a.events.map((event) => event.version)).toEqual([2, 5]);
    expect(a.completed).toBe(true);
    cOnly.open().send(jobEvent(JOB_C, 1, 'Failed', 0, { error: 'boom' }));
    expect(c.completed).toBe(true);
    expect(cOnly.closed).toBe(true);
  });

  it('is not a failure: no fallback, and the reconnect budget is whole after the return', () => {
    setup();
    const [a] = streaming([JOB_A], [2]);
    document.show('hidden');
    vi.advanceTimersByTime(PAUSE_MS - 500);
    FakeEventSource.latest().fail(false); // a drop: the first retry waits 1000 ms
    vi.advanceTimersByTime(10_000);
    http.expectNone('/api/watch'); // the pending retry went with the pause
    document.show('visible'); // on the paused stream's token
    http.expectNone('/api/watch');
    expect(FakeEventSource.latest().params.get('lastEventId')).toBe('2');
    FakeEventSource.latest().fail(); // refused: both retries are still there, each with a fresh token
    vi.advanceTimersByTime(1000);
    grant();
    FakeEventSource.latest().fail();
    vi.advanceTimersByTime(3000);
    grant();
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 3, 'Completed'));
    expect(a.completed).toBe(true);
    expect(a.errors).toEqual([]);
    expect(service.stats()).toMatchObject({ pauses: 1, polls: 0, queryFallbacks: 0 });
    expect(service.watching()).toEqual({ sse: 0, polling: 0, fallback: 0 });
  });

  it('mints a fresh token on return when the paused one is about to expire', () => {
    setup();
    const [a] = streaming([JOB_A], [2]); // its token expires 300 s after it was granted
    document.show('hidden');
    vi.advanceTimersByTime(250_000); // 50 s left: more than tokenRefreshMarginMs (30 s)
    document.show('visible');
    http.expectNone('/api/watch');
    expect(FakeEventSource.all).toHaveLength(2);
    FakeEventSource.latest().open();
    document.show('hidden');
    vi.advanceTimersByTime(30_000); // 20 s left of the same token: too little to reuse
    document.show('visible');
    grant();
    FakeEventSource.latest().open().send(jobEvent(JOB_A, 3, 'Completed'));
    expect(a.completed).toBe(true);
    expect(service.stats()).toMatchObject({ tokens: 2, streamsOpened: 3, pauses: 2 });
  });

  it('mints a fresh token on return for a stream whose jobs changed while paused', () => {
    setup();
    const [a, b] = streaming([JOB_A, JOB_B], [2, 3]);
    document.show('hidden');
    vi.advanceTimersByTime(PAUSE_MS);
    b.subscription.unsubscribe(); // the paused token names A and B; only A is still watched
    document.show('visible');
    const post = http.expectOne({ method: 'POST', url: '/api/watch' });
    expect(post.request.body).toEqual({ jobs: [{ jobType: 'Sleep', jobId: JOB_A }] });
    answerWatch(post);
    FakeEventSource.latest().open().send(jobEvent(JOB_A, 3, 'Completed'));
    expect(a.completed).toBe(true);
  });

  it('holds nothing for a watch that ends while paused, and reopens nothing for it', () => {
    setup();
    const [a, b] = streaming([JOB_A, JOB_B], [2, 3]);
    document.show('hidden');
    vi.advanceTimersByTime(PAUSE_MS);
    a.subscription.unsubscribe(); // e.g. the component went away while the tab was hidden
    b.subscription.unsubscribe();
    expect(service.held()).toEqual({ watches: [], transports: [], members: [], streams: [] });
    document.show('visible');
    http.expectNone(() => true);
    expect(FakeEventSource.all).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps streaming in a hidden tab with hiddenPauseMs: null, and arms no timer', () => {
    setup({ hiddenPauseMs: null });
    const [a] = streaming([JOB_A], [2]);
    vi.advanceTimersByTime(100); // the batch window the open started
    expect(vi.getTimerCount()).toBe(0);
    document.show('hidden');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60 * 60_000);
    expect(FakeEventSource.latest().closed).toBe(false);
    FakeEventSource.latest().send(jobEvent(JOB_A, 3, 'Completed'));
    expect(a.completed).toBe(true);
    expect(service.stats()).toMatchObject({ tokens: 1, streamsOpened: 1, pauses: 0 });
    expect(document.listeners).toBe(0);
  });

  it('pauses in a tab that opens hidden', () => {
    document = new FakeDocument();
    document.visibilityState = 'hidden';
    TestBed.configureTestingModule({
      providers: [provideJobEventsTesting(), { provide: DOCUMENT, useValue: document }],
    });
    http = TestBed.inject(HttpTestingController);
    service = TestBed.inject(JobEventsService);
    vi.advanceTimersByTime(PAUSE_MS);
    const a = watch(JOB_A);
    vi.advanceTimersByTime(10_000);
    http.expectNone('/api/watch');
    document.show('visible');
    grant();
    FakeEventSource.latest()
      .open()
      .send(jobEvent(JOB_A, 1, 'Completed'));
    expect(a.completed).toBe(true);
  });

  it('stops a polling watch while paused, and polls at once on return', () => {
    setup();
    const a = watch(JOB_A, 'polling');
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Running'));
    vi.advanceTimersByTime(1000);
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Running'));
    hideUntilPaused(jobEvent(JOB_A, 1, 'Running'));
    const polled = service.stats().polls;
    vi.advanceTimersByTime(20 * 60_000);
    http.expectNone(poll(JOB_A));
    expect(service.stats().polls).toBe(polled);
    expect(vi.getTimerCount()).toBe(0);

    document.show('visible');
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 4, 'Completed'));
    expect(a.events.map((event) => event.version)).toEqual([1, 4]);
    expect(a.completed).toBe(true);
    expect(service.watching()).toEqual({ sse: 0, polling: 0, fallback: 0 });
  });

  it('stops fallback polls too, and keeps their marker on return', () => {
    setup();
    const a = watch(JOB_A);
    vi.advanceTimersByTime(100);
    const problem = { status: 503, statusText: 'Service Unavailable' };
    http.expectOne('/api/watch').flush({ title: 'busy' }, problem);
    vi.advanceTimersByTime(1000);
    http.expectOne('/api/watch').flush({ title: 'busy' }, problem);
    vi.advanceTimersByTime(3000);
    http.expectOne('/api/watch').flush({ title: 'busy' }, problem);
    http.expectOne(`${poll(JOB_A)}?fallback=1`).flush(jobEvent(JOB_A, 1, 'Running'));
    hideUntilPaused(jobEvent(JOB_A, 1, 'Running'));
    vi.advanceTimersByTime(20 * 60_000);
    http.expectNone(() => true);
    document.show('visible');
    http.expectOne(`${poll(JOB_A)}?fallback=1`).flush(jobEvent(JOB_A, 2, 'Completed'));
    expect(a.completed).toBe(true);
  });

  it('gives a poll whose deadline passed while paused one last look: a finished job completes', () => {
    setup();
    const a = watch(JOB_A, 'polling', 60_000);
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Running'));
    hideUntilPaused(jobEvent(JOB_A, 1, 'Running'));
    vi.advanceTimersByTime(10 * 60_000); // far past the 60 s deadline
    expect(a.errors).toEqual([]);
    document.show('visible');
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 3, 'Completed'));
    expect(a.errors).toEqual([]);
    expect(a.completed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('times a poll out on return when the last look finds the job still running', () => {
    setup();
    const a = watch(JOB_A, 'polling', 60_000);
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Running'));
    hideUntilPaused(jobEvent(JOB_A, 1, 'Running'));
    vi.advanceTimersByTime(10 * 60_000);
    document.show('visible');
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 2, 'Running', 0.5));
    expect(a.events.map((event) => event.version)).toEqual([1, 2]);
    expect(a.errors).toHaveLength(1);
    const error = a.errors[0] as JobPollTimeoutError;
    expect(error).toBeInstanceOf(JobPollTimeoutError);
    expect(error.timeoutMs).toBe(60_000); // the caller's timeout, not what was left of it
    expect(error.lastEvent?.version).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('still times a visible poll out on time, across a pause', () => {
    setup();
    const start = Date.now();
    const a = watch(JOB_A, 'polling', 120_000);
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Running'));
    hideUntilPaused(jobEvent(JOB_A, 1, 'Running'));
    vi.advanceTimersByTime(60_000 - PAUSE_MS); // 60 s in: 60 s left
    document.show('visible');
    http.expectOne(poll(JOB_A)).flush(jobEvent(JOB_A, 1, 'Running'));
    // Answer every poll until the deadline: the whole watch, hidden time included, is 120 s.
    for (let t = 0; t < 60_000 && a.errors.length === 0; t += 1000) {
      vi.advanceTimersByTime(1000);
      answerPolls(jobEvent(JOB_A, 1, 'Running'));
    }
    expect(a.errors[0]).toBeInstanceOf(JobPollTimeoutError);
    expect((a.errors[0] as JobPollTimeoutError).timeoutMs).toBe(120_000);
    expect(Date.now() - start).toBe(120_000);
  });

  it('removes its visibilitychange listener when the application is destroyed', () => {
    setup();
    streaming([JOB_A], [2]);
    expect(document.listeners).toBe(1);
    TestBed.resetTestingModule();
    expect(document.listeners).toBe(0);
    document.show('hidden');
    expect(vi.getTimerCount()).toBe(0);
    http = { verify: () => undefined } as unknown as HttpTestingController;
  });
});
