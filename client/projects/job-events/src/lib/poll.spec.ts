import { HttpErrorResponse } from '@angular/common/http';
import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { Injector } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { Subscription } from 'rxjs';

import { JobPollTimeoutError } from './errors';
import { JobEventsService } from './job-events.service';
import { JobEvent, JobState } from './models';
import { pollJobStatus } from './poll-job-status';
import { fakeJobEvent as jobEvent, fakeJobId, provideJobEventsTesting } from 'job-events/testing';

const JOB_A = fakeJobId(10);

const URL = `/api/jobs/Sleep/${JOB_A}`;

describe('pollJobStatus', () => {
  let http: HttpTestingController;
  let service: JobEventsService;
  let seen: JobEvent[];
  let errors: unknown[];
  let completed: boolean;

  beforeEach(() => {
    vi.useFakeTimers();
    TestBed.configureTestingModule({ providers: [provideJobEventsTesting()] });
    http = TestBed.inject(HttpTestingController);
    service = TestBed.inject(JobEventsService);
    seen = [];
    errors = [];
    completed = false;
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
  });

  function poll(options: {
    timeoutMs: number;
    initialMs?: number;
    maxMs?: number;
    fallback?: boolean;
    knownStatus?: JobState;
  }): Subscription {
    return service.pollJobStatus('Sleep', JOB_A, options).subscribe({
      next: (event) => seen.push(event),
      error: (error) => errors.push(error),
      complete: () => (completed = true),
    });
  }

  function respond(event: JobEvent, headers: Record<string, string> = {}): TestRequest {
    const request = http.expectOne(URL);
    request.flush(event, { headers: { ETag: `"${event.version}"`, ...headers } });
    return request;
  }

  function notModified(version: number): TestRequest {
    const request = http.expectOne(URL);
    expect(request.request.headers.get('If-None-Match')).toBe(`"${version}"`);
    request.flush(null, {
      status: 304,
      statusText: 'Not Modified',
      headers: { ETag: `"${version}"` },
    });
    return request;
  }

  /** The wait before the next request is exactly `ms`. */
  function expectWait(ms: number): void {
    vi.advanceTimersByTime(ms - 1);
    http.expectNone(URL);
    vi.advanceTimersByTime(1);
  }

  it('sends the first request at once, then backs off while nothing changes, up to the cap', () => {
    poll({ timeoutMs: 3_600_000 });
    respond(jobEvent(JOB_A, 1, 'Running', 0.2));
    for (const wait of [1000, 5000, 10_000, 20_000, 40_000, 60_000, 60_000]) {
      expectWait(wait);
      notModified(1);
    }
    expect(seen.map((e) => e.version)).toEqual([1]);
  });

  it('holds the backoff when the status, the progress or the message changes', () => {
    poll({ timeoutMs: 600_000, initialMs: 2000 });
    respond(jobEvent(JOB_A, 1, 'Queued'));
    expectWait(2000);
    notModified(1);
    expectWait(5000);
    respond(jobEvent(JOB_A, 2, 'Running', 0)); // the status changed: no reset to 2 s
    expectWait(10_000);
    respond(jobEvent(JOB_A, 3, 'Running', 0.4)); // progress, but no pace to tell (same timestamp)
    expectWait(20_000);
    respond(jobEvent(JOB_A, 4, 'Running', 0.4, { message: 'almost' })); // a message only
    expectWait(40_000);
    respond(jobEvent(JOB_A, 5, 'Completed'));
    expect(seen.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
    expect(completed).toBe(true);
  });

  it("after progress, polls when the job's pace says it ends (its timestamps), with no Retry-After", () => {
    const t0 = Date.now();
    const at = (ms: number) => ({ timestamp: new Date(t0 + ms).toISOString() });
    poll({ timeoutMs: 600_000, knownStatus: 'Queued' });
    expectWait(1000);
    respond(jobEvent(JOB_A, 2, 'Running', 0, at(200))); // started at 0.2 s
    expectWait(5000);
    // A quarter done 5 s after it started: the end at 20.2 s; the poll 1 s later, at 21.2 s.
    respond(jobEvent(JOB_A, 3, 'Running', 0.25, at(5200)));
    expectWait(15_200);
    respond(jobEvent(JOB_A, 4, 'Completed', 1, at(20_200)));
    expect(seen.map((e) => e.version)).toEqual([2, 3, 4]);
    expect(completed).toBe(true);
  });

  it('past the estimated end, polls again soon, the waits growing with the delay', () => {
    const t0 = Date.now();
    const at = (ms: number) => ({ timestamp: new Date(t0 + ms).toISOString() });
    poll({ timeoutMs: 600_000 });
    respond(jobEvent(JOB_A, 1, 'Running', 0, at(0)));
    expectWait(1000);
    respond(jobEvent(JOB_A, 2, 'Running', 0.5, at(500))); // the end at 1 s: next poll at 2 s
    expectWait(1000);
    respond(jobEvent(JOB_A, 3, 'Running', 0.5, { ...at(500), message: 'slower' })); // at 2 s
    expectWait(1000); // each wait as long as the job is overdue (1 s at least)
    notModified(3);
    expectWait(1000);
    notModified(3);
    expectWait(2000);
    notModified(3);
    expectWait(4000);
    respond(jobEvent(JOB_A, 4, 'Completed', 1, at(9500)));
    expect(completed).toBe(true);
  });

  it("after progress, waits until the server's estimate of the end (its Retry-After) if later", () => {
    poll({ timeoutMs: 600_000, knownStatus: 'Queued' });
    expectWait(1000);
    respond(jobEvent(JOB_A, 2, 'Running', 0), { 'Retry-After': '2' });
    expectWait(5000);
    respond(jobEvent(JOB_A, 3, 'Running', 0.25), { 'Retry-After': '31' }); // 25 % after ~6 s of 40
    expectWait(31_000);
    notModified(3); // not done yet: the backoff goes on
    expectWait(20_000);
    respond(jobEvent(JOB_A, 4, 'Completed'));
    expect(seen.map((e) => e.version)).toEqual([2, 3, 4]);
    expect(completed).toBe(true);
  });

  it('waits initialMs before the first request when the status is already known', () => {
    poll({ timeoutMs: 600_000, initialMs: 2000, knownStatus: 'Queued' });
    expectWait(2000);
    respond(jobEvent(JOB_A, 1, 'Queued')); // known already: no reset
    expectWait(5000);
    respond(jobEvent(JOB_A, 2, 'Completed'));
    expect(completed).toBe(true);
  });

  it("waits at least the server's Retry-After", () => {
    poll({ timeoutMs: 600_000 });
    respond(jobEvent(JOB_A, 1), { 'Retry-After': '7' });
    expectWait(7000);
    notModified(1);
    expectWait(5000); // back to the backoff once the server stops asking
    respond(jobEvent(JOB_A, 2, 'Completed'));
    expect(completed).toBe(true);
  });

  it('retries a 503 after its Retry-After and a network error on the backoff', () => {
    poll({ timeoutMs: 600_000 });
    http
      .expectOne(URL)
      .flush(
        { title: 'busy' },
        { status: 503, statusText: 'Unavailable', headers: { 'Retry-After': '10' } },
      );
    expectWait(10_000);
    http.expectOne(URL).error(new ProgressEvent('error')); // status 0: the network
    expectWait(10_000); // third step of the backoff: 1 s, 5 s, 10 s
    respond(jobEvent(JOB_A, 3, 'Completed'));
    expect(errors).toEqual([]);
    expect(seen.map((e) => e.status)).toEqual(['Completed']);
  });

  it('fails at once on an error that retrying cannot fix', () => {
    poll({ timeoutMs: 600_000 });
    http.expectOne(URL).flush({ title: 'not found' }, { status: 404, statusText: 'Not Found' });
    expect(errors).toHaveLength(1);
    expect((errors[0] as HttpErrorResponse).status).toBe(404);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('emits each version once and completes after the terminal state, leaving no timer', () => {
    poll({ timeoutMs: 600_000 });
    respond(jobEvent(JOB_A, 2, 'Running', 0.5));
    expectWait(1000);
    respond(jobEvent(JOB_A, 2, 'Running', 0.5)); // the same version again (no ETag match)
    expectWait(5000);
    respond(jobEvent(JOB_A, 3, 'Failed', 0.5, { message: 'failed', error: 'boom' }));
    expect(seen.map((e) => e.version)).toEqual([2, 3]);
    expect(completed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('errors with a typed timeout, cancelling the request in flight', () => {
    poll({ timeoutMs: 8000 });
    respond(jobEvent(JOB_A, 1));
    expectWait(1000);
    notModified(1);
    vi.advanceTimersByTime(5000);
    const inFlight = http.expectOne(URL); // the request at t=6 s, not answered
    vi.advanceTimersByTime(2000);
    expect(errors).toHaveLength(1);
    const error = errors[0] as JobPollTimeoutError;
    expect(error).toBeInstanceOf(JobPollTimeoutError);
    expect(error.name).toBe('JobPollTimeoutError');
    expect(error.timeoutMs).toBe(8000);
    expect(error.jobId).toBe(JOB_A);
    expect(error.lastEvent?.version).toBe(1);
    expect(inFlight.cancelled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('retries a request that hangs longer than requestTimeoutMs', () => {
    service
      .pollJobStatus('Sleep', JOB_A, { timeoutMs: 600_000, requestTimeoutMs: 3000 })
      .subscribe((e) => seen.push(e));
    const hung = http.expectOne(URL);
    vi.advanceTimersByTime(3000);
    expect(hung.cancelled).toBe(true);
    expectWait(5000); // a failed request counts as "unchanged": next step of the backoff
    respond(jobEvent(JOB_A, 1, 'Completed'));
    expect(seen).toHaveLength(1);
  });

  it('leaves no timer and no request behind when unsubscribed while waiting', () => {
    const subscription = poll({ timeoutMs: 600_000 });
    respond(jobEvent(JOB_A, 1));
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    subscription.unsubscribe();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(600_000);
    http.expectNone(URL);
  });

  it('cancels the request in flight when unsubscribed', () => {
    const subscription = poll({ timeoutMs: 600_000 });
    const request = http.expectOne(URL);
    subscription.unsubscribe();
    expect(request.cancelled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses to start without a timeout', () => {
    expect(() => service.pollJobStatus('Sleep', JOB_A, {} as { timeoutMs: number })).toThrowError(
      /timeoutMs is mandatory/,
    );
    expect(() => service.pollJobStatus('Sleep', JOB_A, { timeoutMs: Infinity })).toThrowError(
      /timeoutMs/,
    );
  });

  it('works as a plain function in an injection context or with an injector', () => {
    const injector = TestBed.inject(Injector);
    pollJobStatus('Sleep', JOB_A, { timeoutMs: 60_000, injector }).subscribe((e) => seen.push(e));
    respond(jobEvent(JOB_A, 1, 'Completed'));
    TestBed.runInInjectionContext(() =>
      pollJobStatus('Sleep', JOB_A, { timeoutMs: 60_000 }),
    ).subscribe((e) => seen.push(e));
    respond(jobEvent(JOB_A, 1, 'Completed'));
    expect(seen).toHaveLength(2);
    expect(() => pollJobStatus('Sleep', JOB_A, { timeoutMs: 60_000 })).toThrowError(
      /injection context/,
    );
  });

  it('sends no fallback marker on ordinary polls', () => {
    poll({ timeoutMs: 600_000 });
    const first = respond(jobEvent(JOB_A, 1));
    expectWait(1000);
    const second = notModified(1);
    expectWait(5000);
    const last = respond(jobEvent(JOB_A, 2, 'Completed'));
    for (const request of [first, second, last]) {
      expect(request.request.urlWithParams).toBe(URL);
      expect(request.request.params.has('fallback')).toBe(false);
    }
  });

  it('marks every request with fallback=1 when it polls as a fallback, retries and 304s included', () => {
    poll({ timeoutMs: 600_000, fallback: true });
    const FALLBACK = `${URL}?fallback=1`;
    const first = http.expectOne(FALLBACK);
    first.flush({ title: 'busy' }, { status: 503, statusText: 'Unavailable' });
    expectWait(5000); // a failed request is a step of the backoff
    http.expectOne(FALLBACK).flush(jobEvent(JOB_A, 1), { headers: { ETag: '"1"' } });
    expectWait(1000);
    const unchanged = http.expectOne(FALLBACK);
    expect(unchanged.request.headers.get('If-None-Match')).toBe('"1"');
    unchanged.flush(null, { status: 304, statusText: 'Not Modified' });
    expectWait(5000);
    const last = http.expectOne(FALLBACK);
    expect(last.request.params.get('fallback')).toBe('1');
    last.flush(jobEvent(JOB_A, 2, 'Completed'));
    expect(seen.map((e) => e.version)).toEqual([1, 2]);
    expect(completed).toBe(true);
  });

  it('takes the fallback marker as an option of the plain function too', () => {
    const injector = TestBed.inject(Injector);
    pollJobStatus('Sleep', JOB_A, { timeoutMs: 60_000, injector, fallback: true }).subscribe();
    http.expectOne(`${URL}?fallback=1`).flush(jobEvent(JOB_A, 1, 'Completed'));
    pollJobStatus('Sleep', JOB_A, { timeoutMs: 60_000, injector, fallback: false }).subscribe();
    http.expectOne(URL).flush(jobEvent(JOB_A, 1, 'Completed'));
  });

  it('counts its requests in the service stats', () => {
    poll({ timeoutMs: 600_000 });
    respond(jobEvent(JOB_A, 1));
    expectWait(1000);
    respond(jobEvent(JOB_A, 2, 'Completed'));
    expect(service.stats().polls).toBe(2);
    expect(service.stats().requests).toBe(2);
  });

  it('counts the requests of the plain function in the service stats too', () => {
    const injector = TestBed.inject(Injector);
    pollJobStatus('Sleep', JOB_A, { timeoutMs: 60_000, injector }).subscribe();
    respond(jobEvent(JOB_A, 1, 'Completed'));
    expect(service.stats().polls).toBe(1);
  });
});
