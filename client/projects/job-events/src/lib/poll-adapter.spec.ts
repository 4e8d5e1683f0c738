import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';

import { JobEventsService } from './job-events.service';
import { JobEvent } from './models';
import { jobStatusAdapter, LegacyStatusReader, UnknownJobStatusError } from './poll-adapter';
import { provideJobEventsTesting } from 'job-events/testing';

/** A legacy endpoint's answer, as one of the old polling services reads it. */
interface PublishStatus {
  readonly state: string;
  readonly percent?: number;
  readonly note?: string;
  readonly updatedAt?: string;
}

const publish = jobStatusAdapter<PublishStatus>({
  url: '/legacy/{jobType}/stories/{jobId}/status',
  read: (s) => ({
    status: s.state,
    progress: s.percent === undefined ? undefined : s.percent / 100,
    message: s.note,
    timestamp: s.updatedAt,
  }),
  states: { PENDING: 'Queued', PUBLISHING: 'Running', DONE: 'Completed', ERROR: 'Failed' },
});

const URL = '/legacy/StoryPublish/stories/a%2Fb/status';

describe('pollJobStatus with a JobStatusAdapter', () => {
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

  function poll(options: { fallback?: boolean } = {}): void {
    service
      .pollJobStatus('StoryPublish', 'a/b', { timeoutMs: 600_000, adapter: publish, ...options })
      .subscribe({
        next: (event) => seen.push(event),
        error: (error) => errors.push(error),
        complete: () => (completed = true),
      });
  }

  function expectWait(ms: number): void {
    vi.advanceTimersByTime(ms - 1);
    http.expectNone(URL);
    vi.advanceTimersByTime(1);
  }

  it("polls the endpoint's own URL and reads its answers into JobEvents", () => {
    poll({ fallback: true });
    const first = http.expectOne(URL);
    expect(first.request.params.keys()).toEqual([]); // no fallback marker for a legacy endpoint
    first.flush({ state: 'PENDING' });
    expectWait(1000);
    http.expectOne(URL).flush({ state: 'PUBLISHING', percent: 40, note: 'images' });
    expectWait(5000);
    http.expectOne(URL).flush({ state: 'DONE' });
    expect(
      seen.map(({ status, progress, version, message }) => ({
        status,
        progress,
        version,
        message,
      })),
    ).toEqual([
      { status: 'Queued', progress: 0, version: 1, message: undefined },
      { status: 'Running', progress: 0.4, version: 2, message: 'images' },
      { status: 'Completed', progress: 1, version: 3, message: undefined },
    ]);
    expect(seen.every((e) => e.jobId === 'a/b' && e.jobType === 'StoryPublish')).toBe(true);
    expect(completed).toBe(true);
  });

  it('sends no If-None-Match without an ETag, counts an unchanged answer as unchanged, and emits it once', () => {
    poll();
    http.expectOne(URL).flush({ state: 'PUBLISHING', percent: 10 });
    expectWait(1000);
    const again = http.expectOne(URL);
    expect(again.request.headers.has('If-None-Match')).toBe(false);
    again.flush({ state: 'PUBLISHING', percent: 10 });
    expectWait(5000); // the backoff went on: nothing changed
    http.expectOne(URL).flush({ state: 'ERROR' });
    expect(seen.map((e) => e.version)).toEqual([1, 2]); // the unchanged answer kept version 1
    expect(completed).toBe(true);
  });

  it("uses the endpoint's ETag and Retry-After when it sends them", () => {
    poll();
    http
      .expectOne(URL)
      .flush({ state: 'PUBLISHING' }, { headers: { ETag: 'W/"x1"', 'Retry-After': '9' } });
    expectWait(9000);
    const unchanged = http.expectOne(URL);
    expect(unchanged.request.headers.get('If-None-Match')).toBe('W/"x1"');
    unchanged.flush(null, { status: 304, statusText: 'Not Modified' });
    expectWait(5000);
    http.expectOne(URL).flush({ state: 'DONE' });
    expect(seen.map((e) => e.status)).toEqual(['Running', 'Completed']);
  });

  it("polls at the end the job's pace gives, from the endpoint's own timestamps", () => {
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    poll();
    http.expectOne(URL).flush({ state: 'PUBLISHING', percent: 0, updatedAt: at(0) });
    expectWait(1000);
    // 10 % in 1 s: the end 9 s from now; the poll 1 s after it.
    http.expectOne(URL).flush({ state: 'PUBLISHING', percent: 10, updatedAt: at(0) });
    expectWait(10_000);
    http.expectOne(URL).flush({ state: 'DONE', updatedAt: at(0) });
    expect(completed).toBe(true);
  });

  it('without timestamps, closes in on the rough end by halves', () => {
    poll();
    http.expectOne(URL).flush({ state: 'PUBLISHING', percent: 0 }); // seen at 0
    expectWait(1000);
    // Changed between 0 and 1 s (dated 0.5 s): the end about 9.5 s later, the poll 1 s after.
    http.expectOne(URL).flush({ state: 'PUBLISHING', percent: 5 });
    expectWait(5000); // half of the 10 s left
    http.expectOne(URL).flush({ state: 'PUBLISHING', percent: 5 });
    expectWait(4000); // what is left, once it is no more than 4 s
    http.expectOne(URL).flush({ state: 'DONE' });
    expect(completed).toBe(true);
  });

  it('ends the poll with UnknownJobStatusError on a word the adapter does not map', () => {
    poll();
    http.expectOne(URL).flush({ state: 'ARCHIVED' });
    expect(errors).toHaveLength(1);
    const error = errors[0] as UnknownJobStatusError;
    expect(error).toBeInstanceOf(UnknownJobStatusError);
    expect(error.word).toBe('ARCHIVED');
    expect(error.jobId).toBe('a/b');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('takes a URL function and a function of the words', () => {
    service
      .pollJobStatus('Export', 'e1', {
        timeoutMs: 60_000,
        adapter: jobStatusAdapter<{ done: boolean }>({
          url: (ref) => `/exports/${ref.jobId}`,
          read: (body) => ({ status: body.done ? 'yes' : 'no' }),
          states: (word) => (word === 'yes' ? 'Completed' : 'Running'),
        }),
      })
      .subscribe((e) => seen.push(e));
    http.expectOne('/exports/e1').flush({ done: true });
    expect(seen.map((e) => e.status)).toEqual(['Completed']);
  });

  it('works in watchJob with transport polling, its requests counted', () => {
    service
      .watchJob('StoryPublish', 'a/b', { transport: 'polling', poll: { adapter: publish } })
      .subscribe((e) => seen.push(e));
    http.expectOne(URL).flush({ state: 'DONE' });
    expect(seen.map((e) => e.status)).toEqual(['Completed']);
    expect(service.stats().polls).toBe(1);
  });
});

describe('LegacyStatusReader', () => {
  const ref = { jobType: 'Sleep', jobId: 'j' };

  it('takes the four states as they are when no words are given, and refuses others', () => {
    const reader = new LegacyStatusReader(
      jobStatusAdapter<{ s: string }>({ url: '/s', read: (b) => ({ status: b.s }) }),
      ref,
    );
    expect(reader.read({ s: 'Running' }, 0).event.status).toBe('Running');
    expect(() => reader.read({ s: 'running' }, 0)).toThrowError(UnknownJobStatusError);
    expect(() => reader.read({ s: 'toString' }, 0)).toThrowError(UnknownJobStatusError);
  });

  it("keeps the endpoint's version and date when it has them, else counts and dates changes itself", () => {
    const reader = new LegacyStatusReader(
      jobStatusAdapter<{ s: string; v?: number; at?: number }>({
        url: '/s',
        read: (b) => ({ status: b.s, version: b.v, timestamp: b.at }),
      }),
      ref,
    );
    expect(reader.read({ s: 'Running', v: 7, at: 5000 }, 9000)).toEqual({
      event: expect.objectContaining({ version: 7, timestamp: new Date(5000).toISOString() }),
      writtenAtMs: 5000,
    });
    const own = new LegacyStatusReader(
      jobStatusAdapter<{ s: string }>({ url: '/s', read: (b) => ({ status: b.s }) }),
      ref,
    );
    const first = own.read({ s: 'Running' }, 1000);
    expect(first.writtenAtMs).toBeUndefined();
    expect(own.read({ s: 'Running' }, 2000).event).toEqual(first.event); // unchanged: same version and date
    expect(own.read({ s: 'Failed' }, 3000).event).toEqual(
      expect.objectContaining({ version: 2, timestamp: new Date(3000).toISOString() }),
    );
  });
});
