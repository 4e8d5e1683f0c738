import { HttpErrorResponse } from '@angular/common/http';
import { HttpTestingController } from '@angular/common/http/testing';
import {
  Component,
  createEnvironmentInjector,
  EnvironmentInjector,
  inject,
  signal,
} from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { ComponentFixture, TestBed } from '@angular/core/testing';

import { JobEventsOptions } from './config';
import { JobEventsService } from './job-events.service';
import { JobResourceOptions, jobResource, jobsResource, WatchedJob } from './job-resource';
import {
  answerWatch,
  FakeEventSource,
  fakeJobEvent as jobEvent,
  fakeJobId as jobId,
  grantWatch,
  provideJobEventsTesting,
} from 'job-events/testing';

const [JOB_A, JOB_B, JOB_C] = [jobId(20), jobId(21), jobId(22)];
const ref = (id: string, extra: Partial<WatchedJob> = {}): WatchedJob => ({
  jobType: 'Sleep',
  jobId: id,
  ...extra,
});
const NOTHING = { watches: [], transports: [], members: [], streams: [] };
const fallbackPoll = (id: string) => `/api/jobs/Sleep/${id}?fallback=1`;

@Component({ selector: 'test-one-job', template: '{{ watch.status() }} {{ watch.progress() }}' })
class OneJob {
  static options: JobResourceOptions = {};
  readonly job = signal<WatchedJob | undefined>(undefined);
  readonly watch = jobResource(() => this.job(), OneJob.options);
}

@Component({ selector: 'test-many-jobs', template: '{{ watch.summary().active }}' })
class ManyJobs {
  readonly jobs = signal<readonly WatchedJob[]>([]);
  readonly watch = jobsResource(() => this.jobs());
}

/** A reloaded tab: it watches what the server says the caller has running (the README's example). */
@Component({ selector: 'test-resumed-jobs', template: '' })
class ResumedJobs {
  readonly resumed = toSignal(inject(JobEventsService).resume(), { initialValue: [] });
  readonly watch = jobsResource(() => this.resumed());
}

let http: HttpTestingController;
let service: JobEventsService;

function setup(options: JobEventsOptions = {}): void {
  TestBed.configureTestingModule({ providers: [provideJobEventsTesting(options)] });
  http = TestBed.inject(HttpTestingController);
  service = TestBed.inject(JobEventsService);
}

/** The component, its watch started for `job` (and batched into the next stream's window). */
function oneJob(job: WatchedJob | undefined): ComponentFixture<OneJob> {
  const fixture = TestBed.createComponent(OneJob);
  fixture.componentInstance.job.set(job);
  fixture.detectChanges();
  return fixture;
}

describe('jobResource', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
    OneJob.options = {};
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
  });

  it('shows the job live over the shared stream, and holds nothing once it is finished', () => {
    setup();
    const fixture = oneJob(ref(JOB_A));
    const { watch } = fixture.componentInstance;
    expect([watch.status(), watch.progress(), watch.finished(), watch.watching()]).toEqual([
      undefined,
      0,
      false,
      true,
    ]);
    expect(watch.ref()).toEqual(ref(JOB_A));
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.4, { message: 'step 2' }));
    expect(watch.event()?.message).toBe('step 2');
    expect([watch.status(), watch.progress(), watch.transport()]).toEqual(['Running', 0.4, 'sse']);

    source.send(jobEvent(JOB_A, 3, 'Completed'));
    expect([watch.status(), watch.progress(), watch.finished(), watch.watching()]).toEqual([
      'Completed',
      1,
      true,
      false,
    ]);
    expect(watch.error()).toBeUndefined();
    expect(watch.transport()).toBe('sse'); // how it was watched, after the watch ended
    expect(source.closed).toBe(true);
    expect(service.held()).toEqual(NOTHING);
    fixture.detectChanges(); // the render Angular scheduled for the new state: its timers go
    expect(vi.getTimerCount()).toBe(0);
    expect(fixture.nativeElement.textContent).toBe('Completed 1');
  });

  it('ends the old watch and starts the new one when the reference changes to another job', () => {
    setup();
    const fixture = oneJob(ref(JOB_A));
    const { watch, job } = fixture.componentInstance;
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const first = FakeEventSource.latest().open();
    first.send(jobEvent(JOB_A, 2, 'Running', 0.5));

    job.set(ref(JOB_B));
    fixture.detectChanges();
    // The new job's state starts empty: nothing of job A shows as job B's.
    expect([watch.ref()?.jobId, watch.event(), watch.progress()]).toEqual([JOB_B, undefined, 0]);
    expect(first.closed).toBe(true); // A's stream had no other job
    expect(service.held().watches).toEqual([JOB_B]);
    vi.advanceTimersByTime(100);
    const post = grantWatch(http);
    expect(post.request.body).toEqual({ jobs: [{ jobType: 'Sleep', jobId: JOB_B }] });
    const second = FakeEventSource.latest().open();
    second.send(jobEvent(JOB_B, 1, 'Queued'));
    expect([watch.status(), watch.event()?.jobId]).toEqual(['Queued', JOB_B]);

    fixture.destroy();
    expect(second.closed).toBe(true);
    expect(service.held()).toEqual(NOTHING);
  });

  it('does not restart when the reference is a new object for the same job', () => {
    setup();
    const watchJob = vi.spyOn(TestBed.inject(JobEventsService), 'watchJob');
    const fixture = oneJob(ref(JOB_A));
    vi.advanceTimersByTime(100);
    grantWatch(http);
    fixture.componentInstance.job.set({ ...ref(JOB_A) });
    fixture.detectChanges();
    expect(watchJob).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.latest().closed).toBe(false);
    fixture.destroy();
  });

  it('is idle while the reference is undefined: no watch, no request, no timer', () => {
    setup();
    const fixture = oneJob(undefined);
    const { watch, job } = fixture.componentInstance;
    vi.advanceTimersByTime(1000);
    http.expectNone(() => true);
    expect([watch.ref(), watch.event(), watch.status(), watch.watching()]).toEqual([
      undefined,
      undefined,
      undefined,
      false,
    ]);
    expect(vi.getTimerCount()).toBe(0);

    job.set(ref(JOB_A));
    fixture.detectChanges();
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2));
    expect(watch.status()).toBe('Running');

    // Back to idle (a "stop watching" button): the watch ends, the job keeps running.
    job.set(undefined);
    fixture.detectChanges();
    expect([watch.ref(), watch.event(), watch.watching()]).toEqual([undefined, undefined, false]);
    expect(source.closed).toBe(true);
    expect(service.held()).toEqual(NOTHING);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ends the watch, its stream and its timers when the component is destroyed', () => {
    setup();
    const fixture = oneJob(ref(JOB_A));
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.2));
    fixture.detectChanges();
    fixture.destroy();
    expect(source.closed).toBe(true);
    expect(service.held()).toEqual(NOTHING);
    expect(service.stats().openStreams).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ends a watch not yet on a stream when destroyed (no token is ever asked for)', () => {
    setup();
    const fixture = oneJob(ref(JOB_A));
    fixture.destroy();
    vi.advanceTimersByTime(1000);
    http.expectNone('/api/watch');
    expect(service.held()).toEqual(NOTHING);
  });

  it('falls back to polling when the stream fails, as watchJob does, and shows it', () => {
    setup({ reconnectDelaysMs: [] });
    const fixture = oneJob(ref(JOB_A));
    const { watch } = fixture.componentInstance;
    vi.advanceTimersByTime(100);
    grantWatch(http);
    FakeEventSource.latest().fail(); // refused, no reconnect attempt left
    expect(watch.transport()).toBe('fallback');
    http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 2, 'Running', 0.6));
    expect([watch.status(), watch.progress()]).toEqual(['Running', 0.6]);
    vi.advanceTimersByTime(1000);
    http.expectOne(fallbackPoll(JOB_A)).flush(jobEvent(JOB_A, 3, 'Failed', 0.6, { error: 'boom' }));
    expect([watch.status(), watch.finished(), watch.watching(), watch.error()]).toEqual([
      'Failed',
      true,
      false,
      undefined, // the job failed; watching it did not
    ]);
    expect(watch.event()?.error).toBe('boom');
    expect(watch.transport()).toBe('fallback');
    expect(vi.getTimerCount()).toBe(0);
    expect(service.held()).toEqual(NOTHING);
  });

  it('polls only when the reference asks for polling', () => {
    setup();
    const fixture = oneJob(ref(JOB_A, { transport: 'polling' }));
    const { watch } = fixture.componentInstance;
    http.expectOne(`/api/jobs/Sleep/${JOB_A}`).flush(jobEvent(JOB_A, 3, 'Completed'));
    expect([watch.status(), watch.transport()]).toEqual(['Completed', 'polling']);
    http.expectNone('/api/watch');
  });

  it('takes the watch options of its own options when the reference has none', () => {
    setup();
    OneJob.options = { transport: 'polling' };
    const fixture = oneJob(ref(JOB_A));
    http.expectOne(`/api/jobs/Sleep/${JOB_A}`).flush(jobEvent(JOB_A, 3, 'Completed'));
    expect(fixture.componentInstance.watch.transport()).toBe('polling');
  });

  it('keeps the last state and says why when the job can no longer be watched', () => {
    setup({ reconnectDelaysMs: [] });
    const fixture = oneJob(ref(JOB_A));
    const { watch } = fixture.componentInstance;
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 2, 'Running', 0.3));
    source.fail();
    http
      .expectOne(fallbackPoll(JOB_A))
      .flush({ title: 'gone' }, { status: 404, statusText: 'Not Found' });
    expect(watch.error()).toBeInstanceOf(HttpErrorResponse);
    expect((watch.error() as HttpErrorResponse).status).toBe(404);
    expect([watch.status(), watch.progress(), watch.watching(), watch.finished()]).toEqual([
      'Running',
      0.3,
      false,
      false,
    ]);
    expect(service.held()).toEqual(NOTHING);
  });

  it('needs an injection context, or an injector whose destruction ends the watch', () => {
    setup();
    expect(() => jobResource(() => undefined)).toThrow(/injection context/);
    const injector = createEnvironmentInjector([], TestBed.inject(EnvironmentInjector));
    const watch = jobResource(() => ref(JOB_A), { injector });
    TestBed.tick(); // runs the effect that starts the watch
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_A, 1, 'Queued'));
    expect(watch.status()).toBe('Queued');
    injector.destroy();
    expect(source.closed).toBe(true);
    expect(service.held()).toEqual(NOTHING);
  });
});

describe('jobsResource', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
  });

  afterEach(() => {
    http.verify();
    vi.useRealTimers();
  });

  function manyJobs(jobs: readonly WatchedJob[]): ComponentFixture<ManyJobs> {
    const fixture = TestBed.createComponent(ManyJobs);
    fixture.componentInstance.jobs.set(jobs);
    fixture.detectChanges();
    return fixture;
  }

  it('watches every job on one stream, in the order given, and sums them up', () => {
    setup();
    const fixture = manyJobs([ref(JOB_A), ref(JOB_B), ref(JOB_A)]); // a duplicate counts once
    const { watch } = fixture.componentInstance;
    expect(watch.jobs().map((job) => job.ref.jobId)).toEqual([JOB_A, JOB_B]);
    vi.advanceTimersByTime(100);
    grantWatch(http);
    expect(FakeEventSource.all).toHaveLength(1);
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_B, 2, 'Running', 0.5), '0.2');
    expect(watch.byId().get(JOB_B)?.progress).toBe(0.5);
    expect(watch.summary()).toEqual({ total: 2, active: 2, completed: 0, failed: 0, errors: 0 });
    expect(watch.finished()).toBe(false);

    source.send(jobEvent(JOB_A, 3, 'Completed'), '3.2');
    source.send(jobEvent(JOB_B, 4, 'Failed', 0.5, { message: 'cancelled' }), '3.4');
    expect(watch.summary()).toEqual({ total: 2, active: 0, completed: 1, failed: 1, errors: 0 });
    expect(watch.finished()).toBe(true);
    expect(watch.jobs().map((job) => [job.status, job.watching])).toEqual([
      ['Completed', false],
      ['Failed', false],
    ]);
    expect(source.closed).toBe(true);
    expect(service.held()).toEqual(NOTHING);
  });

  it('changes only the difference when the list changes', () => {
    setup();
    const watchJob = vi.spyOn(TestBed.inject(JobEventsService), 'watchJob');
    const fixture = manyJobs([ref(JOB_A), ref(JOB_B)]);
    const { watch, jobs } = fixture.componentInstance;
    vi.advanceTimersByTime(100);
    grantWatch(http);
    const first = FakeEventSource.latest().open();
    first.send(jobEvent(JOB_A, 2, 'Running', 0.2), '2.0');

    // One job added (a new array with the same two objects copied): only it starts.
    jobs.set([{ ...ref(JOB_C) }, { ...ref(JOB_A) }, { ...ref(JOB_B) }]);
    fixture.detectChanges();
    expect(watchJob.mock.calls.map((call) => call[1])).toEqual([JOB_A, JOB_B, JOB_C]);
    expect(watch.jobs().map((job) => job.ref.jobId)).toEqual([JOB_C, JOB_A, JOB_B]);
    expect(watch.byId().get(JOB_A)?.status).toBe('Running'); // kept its state
    expect(first.closed).toBe(false);

    // One removed: only its watch ends, the others' stay.
    jobs.set([ref(JOB_C), ref(JOB_A)]);
    fixture.detectChanges();
    expect([...service.held().watches].sort()).toEqual([JOB_A, JOB_C].sort());
    expect(watch.summary().total).toBe(2);
    expect(watchJob).toHaveBeenCalledTimes(3);

    vi.advanceTimersByTime(100);
    http.match('/api/watch').forEach((request) => answerWatch(request)); // C's stream
    fixture.destroy();
    expect(FakeEventSource.live()).toHaveLength(0);
    expect(service.held()).toEqual(NOTHING);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts a job that can no longer be watched as an error, and is then finished', () => {
    setup({ transport: 'polling' });
    const fixture = manyJobs([ref(JOB_A), ref(JOB_B)]);
    const { watch } = fixture.componentInstance;
    http.expectOne(`/api/jobs/Sleep/${JOB_A}`).flush(jobEvent(JOB_A, 5, 'Completed'));
    http
      .expectOne(`/api/jobs/Sleep/${JOB_B}`)
      .flush({ title: 'gone' }, { status: 404, statusText: 'Not Found' });
    expect(watch.summary()).toEqual({ total: 2, active: 0, completed: 1, failed: 0, errors: 1 });
    expect(watch.finished()).toBe(true);
    expect(watch.byId().get(JOB_B)?.error).toBeInstanceOf(HttpErrorResponse);
  });

  it("watches again what resume() lists: a reloaded tab's jobs finish live", () => {
    setup();
    const fixture = TestBed.createComponent(ResumedJobs);
    fixture.detectChanges();
    const { watch } = fixture.componentInstance;
    http.expectOne('/api/jobs?status=active&limit=100').flush({
      jobs: [jobEvent(JOB_B, 4, 'Running', 0.5), jobEvent(JOB_A, 1, 'Queued')],
      continuationToken: null,
    });
    // The jobs that finished within the last minute: none here.
    http
      .expectOne('/api/jobs?status=recent&limit=100')
      .flush({ jobs: [], continuationToken: null });
    fixture.detectChanges();
    expect(watch.jobs().map((job) => job.ref)).toEqual([ref(JOB_B), ref(JOB_A)]);
    vi.advanceTimersByTime(100);
    const post = grantWatch(http);
    expect(post.request.body).toEqual({ jobs: [ref(JOB_B), ref(JOB_A)] });
    const source = FakeEventSource.latest().open();
    source.send(jobEvent(JOB_B, 5, 'Completed'), '5.0');
    source.send(jobEvent(JOB_A, 2, 'Failed', 0, { message: 'cancelled' }), '5.2');
    expect(watch.summary()).toMatchObject({ total: 2, completed: 1, failed: 1, active: 0 });
    expect(source.closed).toBe(true);
  });

  it('is not finished with no jobs, and holds nothing', () => {
    setup();
    const fixture = manyJobs([]);
    expect(fixture.componentInstance.watch.finished()).toBe(false);
    vi.advanceTimersByTime(1000);
    http.expectNone(() => true);
    expect(service.held()).toEqual(NOTHING);
  });
});
