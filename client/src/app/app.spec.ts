import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { ComponentFixture, TestBed } from '@angular/core/testing';
import { JobEvent, JobStarted } from 'job-events';
import {
  answerWatch,
  FakeEventSource,
  fakeJobEvent,
  fakeJobId,
  provideJobEventsTesting,
} from 'job-events/testing';

import { App } from './app';
import { DIAGNOSTICS_URL } from './metrics-panel';

describe('App (the demo)', () => {
  let fixture: ComponentFixture<App>;
  let http: HttpTestingController;
  let element: HTMLElement;
  let nextJob = 1;

  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
    TestBed.configureTestingModule({ imports: [App], providers: [provideJobEventsTesting()] });
    http = TestBed.inject(HttpTestingController);
    fixture = TestBed.createComponent(App);
    element = fixture.nativeElement as HTMLElement;
    fixture.detectChanges();
    // No local host here: the metrics panel hides itself and keeps no timer.
    vi.advanceTimersByTime(0);
    http.expectOne(DIAGNOSTICS_URL).flush(null, { status: 404, statusText: 'Not Found' });
    answerResume([]); // a fresh page: nothing was running
    fixture.detectChanges();
  });

  /**
   * Answers the page's `resume()`: its listing of the caller's active jobs, and after a
   * reload (`recent` given) of the recent ones too.
   */
  function answerResume(jobs: JobEvent[], recent?: JobEvent[]): void {
    http
      .expectOne({ method: 'GET', url: '/api/jobs?status=active&limit=100' })
      .flush({ jobs, continuationToken: null });
    if (recent === undefined) return;
    http
      .expectOne({ method: 'GET', url: '/api/jobs?status=recent&limit=100' })
      .flush({ jobs: recent, continuationToken: null });
  }

  /** The page loaded again (a reload): a new App, the same server; `resume()` still pending. */
  function reload(): void {
    fixture.destroy();
    vi.spyOn(performance, 'getEntriesByType').mockReturnValue([
      { type: 'reload' } as PerformanceNavigationTiming,
    ]);
    fixture = TestBed.createComponent(App);
    element = fixture.nativeElement as HTMLElement;
    fixture.detectChanges();
    vi.advanceTimersByTime(0);
    http.expectOne(DIAGNOSTICS_URL).flush(null, { status: 404, statusText: 'Not Found' });
  }

  afterEach(() => {
    fixture.destroy();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const byTestId = (id: string) => element.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
  const rows = () => [...element.querySelectorAll<HTMLElement>('[data-testid="job"]')];
  const click = (id: string) => {
    byTestId(id).click();
    fixture.detectChanges();
  };

  function setCount(kind: 'story' | 'sleep' | 'fail', count: number): void {
    const input = byTestId(`${kind}-count`) as HTMLInputElement;
    input.value = String(count);
    input.dispatchEvent(new Event('input'));
    fixture.detectChanges();
  }

  /** Accepts every pending start; returns their job types. */
  function acceptStarts(): string[] {
    const starts = http.match(
      (request) => request.method === 'POST' && request.url.endsWith('/start'),
    );
    const types = starts.map((request) => request.request.url.split('/').at(-2)!);
    starts.forEach((request, i) => request.flush(started(types[i])));
    fixture.detectChanges();
    return types;
  }

  function started(jobType: string): JobStarted {
    const jobId = fakeJobId(nextJob++);
    return {
      jobId,
      jobType,
      status: 'Queued',
      statusUrl: `/api/jobs/${jobType}/${jobId}`,
      eventsUrl: `/api/jobs/${jobType}/${jobId}/events`,
      token: 't',
      tokenExpiresAt: new Date(Date.now() + 300_000).toISOString(),
    };
  }

  function grantStream(): TestRequest {
    const request = http.expectOne('/api/watch');
    answerWatch(request);
    return request;
  }

  it('starts the 50-job mix, six at a time, and lists every job', () => {
    click('start-50');
    const types: string[] = [];
    for (let round = 0; round < 20 && types.length < 50; round++) {
      expect(http.match({ method: 'POST', url: '/api/watch' })).toEqual([]);
      const batch = acceptStarts();
      expect(batch.length).toBeLessThanOrEqual(6);
      types.push(...batch);
    }
    expect(types.filter((t) => t === 'StoryPublish')).toHaveLength(20);
    expect(types.filter((t) => t === 'Sleep')).toHaveLength(20);
    expect(types.filter((t) => t === 'Fail')).toHaveLength(10);
    expect(rows()).toHaveLength(50);
    vi.advanceTimersByTime(100);
    const watch = grantStream(); // one stream for all of them
    expect((watch.request.body as { jobs: unknown[] }).jobs).toHaveLength(50);
    expect(FakeEventSource.live()).toHaveLength(1);
  });

  it('shows progress, message, how the job is watched and its time to completion, live', () => {
    setCount('story', 1);
    click('start-story');
    acceptStarts();
    const [row] = rows();
    const id = row.dataset['jobId']!;
    vi.advanceTimersByTime(100);
    grantStream();
    const source = FakeEventSource.latest().open();

    source.send(fakeJobEvent(id, 2, 'Running', 0.5, { message: 'Rendering images' }));
    fixture.detectChanges();
    expect(row.dataset['status']).toBe('Running');
    expect(row.textContent).toContain('50%');
    expect(row.textContent).toContain('Rendering images');
    expect(row.querySelector('[data-testid="via"]')!.textContent!.trim()).toBe('SSE');
    expect(byTestId('open-streams').textContent!.trim()).toBe('1');

    vi.advanceTimersByTime(1500);
    source.send(fakeJobEvent(id, 3, 'Completed', 1, { message: 'Published' }));
    fixture.detectChanges();
    expect(row.dataset['status']).toBe('Completed');
    expect(row.querySelector('[data-testid="time"]')!.textContent).toMatch(/^\d+\.\d s$/);
    expect(row.querySelector('[data-testid="via"]')!.textContent!.trim()).toBe('SSE');
    expect(row.querySelector('button')).toBeNull();
    expect(byTestId('open-streams').textContent!.trim()).toBe('0');
  });

  it('polls new jobs when polling is forced, and counts the requests', () => {
    const toggle = byTestId('force-polling') as HTMLInputElement;
    toggle.click();
    fixture.detectChanges();
    setCount('sleep', 1);
    expect(byTestId('start-sleep').textContent).toContain('Start 1 Sleep');
    click('start-sleep');
    acceptStarts();
    const [row] = rows();
    const id = row.dataset['jobId']!;
    http.expectOne(`/api/jobs/Sleep/${id}`).flush(fakeJobEvent(id, 2, 'Running', 0.2));
    vi.advanceTimersByTime(1000);
    http.expectOne(`/api/jobs/Sleep/${id}`).flush(fakeJobEvent(id, 3, 'Completed'));
    fixture.detectChanges();
    expect(row.dataset['status']).toBe('Completed');
    expect(row.dataset['via']).toBe('polling');
    expect(byTestId('requests').textContent!.trim()).toBe('2');
    expect(FakeEventSource.all).toHaveLength(0);
    http.expectNone('/api/watch');
  });

  it('stops watching a job from its row, closing the stream', () => {
    setCount('fail', 1);
    click('start-fail');
    acceptStarts();
    vi.advanceTimersByTime(100);
    grantStream();
    const source = FakeEventSource.latest().open();
    source.send(fakeJobEvent(rows()[0].dataset['jobId']!, 2, 'Running', 0.4));
    fixture.detectChanges();
    rows()[0].querySelector<HTMLElement>('[data-testid="stop"]')!.click();
    fixture.detectChanges();
    expect(rows()[0].dataset['status']).toBe('Stopped');
    expect(rows()[0].textContent).toContain('40%'); // the last state stays on screen
    expect(rows()[0].dataset['via']).toBe('sse');
    expect(rows()[0].querySelector('button')).toBeNull();
    expect(source.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cancels a running job from its row: it ends Failed, "cancelled"', () => {
    setCount('sleep', 1);
    click('start-sleep');
    acceptStarts();
    const [row] = rows();
    const id = row.dataset['jobId']!;
    vi.advanceTimersByTime(100);
    grantStream();
    const source = FakeEventSource.latest().open();
    source.send(fakeJobEvent(id, 2, 'Running', 0.2));
    fixture.detectChanges();

    const cancel = row.querySelector<HTMLButtonElement>('[data-testid="cancel"]')!;
    expect(cancel.textContent!.trim()).toBe('Cancel');
    cancel.click();
    fixture.detectChanges();
    const request = http.expectOne({ method: 'POST', url: `/api/jobs/Sleep/${id}/cancel` });
    expect(cancel.disabled).toBe(true);
    expect(cancel.textContent!.trim()).toBe('Cancelling…');
    request.flush(fakeJobEvent(id, 2, 'Running', 0.2), { status: 202, statusText: 'Accepted' });
    fixture.detectChanges();
    expect(row.dataset['status']).toBe('Running'); // asked to stop; the worker stops it

    source.send(
      fakeJobEvent(id, 3, 'Failed', 0.2, { message: 'cancelled', error: 'its owner cancelled it' }),
    );
    fixture.detectChanges();
    expect(row.dataset['status']).toBe('Failed');
    expect(row.querySelector('[data-testid="message"]')!.textContent).toBe(
      'cancelled: its owner cancelled it',
    );
    expect(row.querySelector('button')).toBeNull();
    expect(byTestId('jobs-done').textContent!.trim()).toBe('1 / 1');
    expect(source.closed).toBe(true);
  });

  it('says so on the row when a cancel is refused, and keeps watching', () => {
    setCount('sleep', 1);
    click('start-sleep');
    acceptStarts();
    const [row] = rows();
    const id = row.dataset['jobId']!;
    row.querySelector<HTMLElement>('[data-testid="cancel"]')!.click();
    http
      .expectOne(`/api/jobs/Sleep/${id}/cancel`)
      .flush({ detail: 'no such job' }, { status: 404, statusText: 'Not Found' });
    fixture.detectChanges();
    expect(row.querySelector('[data-testid="message"]')!.textContent).toBe(
      'cancel failed: HTTP 404: no such job',
    );
    expect(row.querySelector<HTMLButtonElement>('[data-testid="cancel"]')!.disabled).toBe(false);
    expect(row.dataset['status']).toBe('Queued');
  });

  it('brings back the running jobs after a reload, and they finish live', () => {
    reload();
    expect(rows()).toHaveLength(0);
    const [a, b, c] = [fakeJobId(900), fakeJobId(901), fakeJobId(902)];
    // c finished while the page reloaded: it comes back with its terminal state.
    const justDone = { ...fakeJobEvent(c, 6, 'Completed'), timestamp: new Date().toISOString() };
    answerResume(
      [
        fakeJobEvent(b, 4, 'Running', 0.6),
        fakeJobEvent(a, 1, 'Queued', 0, { jobType: 'StoryPublish' }),
      ],
      [justDone],
    );
    fixture.detectChanges();
    expect(rows().map((row) => [row.dataset['jobId'], row.dataset['jobType']])).toEqual([
      [b, 'Sleep'],
      [a, 'StoryPublish'],
      [c, 'Sleep'],
    ]);
    expect(rows()[0].textContent).toContain('resumed after a reload');
    expect(byTestId('resumed').textContent).toContain('3 jobs picked up again');

    vi.advanceTimersByTime(100);
    const watch = grantStream(); // one stream for both, as for jobs started here
    expect((watch.request.body as { jobs: unknown[] }).jobs).toHaveLength(3);
    const source = FakeEventSource.latest().open();
    source.send(fakeJobEvent(b, 4, 'Running', 0.6), '4.0');
    source.send(fakeJobEvent(b, 5, 'Completed'), '5.0');
    source.send(fakeJobEvent(a, 2, 'Completed', 1, { jobType: 'StoryPublish' }), '5.2');
    source.send(justDone, '5.2.6'); // the server's first event for a finished job: its end
    fixture.detectChanges();
    expect(rows().map((row) => row.dataset['status'])).toEqual([
      'Completed',
      'Completed',
      'Completed',
    ]);
    expect(rows()[0].querySelector('[data-testid="time"]')!.textContent).toBe(''); // start unknown
    expect(byTestId('jobs-done').textContent!.trim()).toBe('3 / 3');
    expect(source.closed).toBe(true);
  });

  it('lists a job once when its start and the listing after a reload race', () => {
    reload();
    setCount('sleep', 1);
    click('start-sleep');
    const start = http.expectOne('/api/jobs/Sleep/start');
    const answer = started('Sleep');
    answerResume([fakeJobEvent(answer.jobId, 1, 'Queued')], []); // the server listed it first
    fixture.detectChanges();
    start.flush(answer);
    fixture.detectChanges();
    expect(rows().map((row) => row.dataset['jobId'])).toEqual([answer.jobId]);
    expect(rows()[0].textContent).toContain('5s in 5 steps'); // the start's own record
  });

  it('says why the running jobs could not be listed', () => {
    reload();
    http
      .expectOne('/api/jobs?status=active&limit=100')
      .flush(
        { detail: 'the listing query is not valid: status' },
        { status: 400, statusText: 'Bad' },
      );
    fixture.detectChanges();
    expect(byTestId('error').textContent).toContain('Could not list your running jobs: HTTP 400');
  });

  it('renders each starter form with its fields, their ranges and test ids', () => {
    const forms = [...element.querySelectorAll<HTMLFormElement>('form.starter')];
    expect(forms.map((form) => form.querySelector('h3')!.textContent)).toEqual([
      'StoryPublish',
      'Sleep',
      'Fail',
    ]);
    const fields = forms.map((form) =>
      [...form.querySelectorAll('input')].map((input) => [
        input.dataset['testid'],
        input.type,
        input.getAttribute('min'),
        input.getAttribute('max'),
        input.getAttribute('step'),
        input.value,
      ]),
    );
    expect(fields).toEqual([
      [
        ['story-count', 'number', '1', '50', null, '3'],
        ['story-step', 'number', '0', '60', '0.1', '1'],
      ],
      [
        ['sleep-count', 'number', '1', '50', null, '3'],
        ['sleep-seconds', 'number', '0', '3600', '0.5', '5'],
      ],
      [
        ['fail-count', 'number', '1', '50', null, '1'],
        ['fail-after', 'number', '0', '600', '0.5', '2'],
        ['fail-message', 'text', null, null, null, 'simulated failure'],
      ],
    ]);
    expect(forms.map((form) => form.querySelector('button')!.dataset['testid'])).toEqual([
      'start-story',
      'start-sleep',
      'start-fail',
    ]);
  });

  it('keeps typed numbers within their range and starts with what the fields say', () => {
    const type = (id: string, value: string) => {
      const input = byTestId(id) as HTMLInputElement;
      input.value = value;
      input.dispatchEvent(new Event('input'));
      fixture.detectChanges();
    };
    type('sleep-count', '99');
    expect(byTestId('start-sleep').textContent!.trim()).toBe('Start 50 Sleep');
    type('sleep-count', '');
    expect(byTestId('start-sleep').textContent!.trim()).toBe('Start 50 Sleep');
    type('sleep-count', '0');
    expect(byTestId('start-sleep').textContent!.trim()).toBe('Start 1 Sleep');

    type('fail-after', '1.5');
    type('fail-message', 'boom');
    click('start-fail');
    const start = http.expectOne('/api/jobs/Fail/start');
    expect(start.request.body).toEqual({ afterSeconds: 1.5, message: 'boom' });
  });

  it('says why a start failed', () => {
    click('start-fail');
    http
      .expectOne('/api/jobs/Fail/start')
      .flush(
        { detail: 'the Fail input is not valid: afterSeconds' },
        { status: 422, statusText: 'Unprocessable' },
      );
    fixture.detectChanges();
    expect(byTestId('error').textContent).toContain('the Fail input is not valid: afterSeconds');
    expect(rows()).toHaveLength(0);
  });
});
