import { HttpClient } from '@angular/common/http';
import { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { Subscription } from 'rxjs';

import { resolveConfig } from './config';
import { StreamUnavailableError } from './errors';
import { StreamPool } from './stream-pool';
import {
  answerWatch,
  FakeEventSource,
  fakeJobEvent as jobEvent,
  fakeJobId as jobId,
  provideJobEventsTesting,
} from 'job-events/testing';

const [JOB_A, JOB_B] = [jobId(20), jobId(21)];
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
