import { provideHttpClient } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { ComponentFixture, TestBed } from '@angular/core/testing';
import { JobEventsService } from 'job-events';

import { Diagnostics, METRIC } from './diagnostics';
import { fakeDiagnostics } from './fake-diagnostics';
import { DIAGNOSTICS_URL, MetricsPanel } from './metrics-panel';

/** Diagnostics whose request total is `total`. */
function withRequests(total: number, open = 2): Diagnostics {
  return fakeDiagnostics({
    [METRIC.REQUESTS]: [{ attributes: { 'http.route': '/api/watch' }, value: total }],
    [METRIC.STREAMS_OPEN]: [{ attributes: {}, value: open }],
  });
}

describe('MetricsPanel', () => {
  let fixture: ComponentFixture<MetricsPanel>;
  let http: HttpTestingController;
  let element: HTMLElement;
  let visibility: DocumentVisibilityState;

  beforeEach(() => {
    vi.useFakeTimers();
    visibility = 'visible';
    Object.defineProperty(document, 'visibilityState', {
      configurable: true,
      get: () => visibility,
    });
    TestBed.configureTestingModule({
      imports: [MetricsPanel],
      providers: [provideHttpClient(), provideHttpClientTesting()],
    });
    http = TestBed.inject(HttpTestingController);
    fixture = TestBed.createComponent(MetricsPanel);
    element = fixture.nativeElement as HTMLElement;
    fixture.detectChanges();
  });

  afterEach(() => {
    fixture.destroy();
    http.verify();
    delete (document as { visibilityState?: unknown }).visibilityState; // back to jsdom's own
    vi.useRealTimers();
  });

  const text = (id: string) =>
    element.querySelector(`[data-testid="${id}"]`)?.textContent?.replace(/\s+/g, ' ').trim();
  const panel = () => element.querySelector('[data-testid="metrics"]');

  /** Answers the read that is due now. */
  function answer(body: object | string): void {
    vi.advanceTimersByTime(0);
    http.expectOne(DIAGNOSTICS_URL).flush(body);
    fixture.detectChanges();
  }

  function setVisibility(state: DocumentVisibilityState): void {
    visibility = state;
    document.dispatchEvent(new Event('visibilitychange'));
  }

  it('reads the diagnostics at once and every 2 s, and shows every figure', () => {
    answer(withRequests(100));
    expect(panel()).not.toBeNull();
    expect(text('request-rate')).toBe('—'); // one reading: no rate yet
    expect(text('server-open-streams')).toBe('2');

    vi.advanceTimersByTime(1999);
    http.expectNone(DIAGNOSTICS_URL);
    vi.advanceTimersByTime(1);
    answer(withRequests(110, 0)); // 10 requests in 2 s
    expect(text('request-rate')).toBe('300');
    expect(text('server-open-streams')).toBe('0');
    expect(
      element.querySelector('[data-testid="open-streams-spark"]')!.getAttribute('data-peak'),
    ).toBe('2');
    expect(element.querySelectorAll('svg.spark polyline')[0].getAttribute('points')).not.toBe('');

    const rows = [...element.querySelectorAll<HTMLTableRowElement>('[data-testid="run-time"]')];
    expect(rows.map((row) => row.dataset['outcome'])).toEqual(['Completed', 'Failed']);
    const cells = (row: HTMLTableRowElement) =>
      [...row.cells].map((cell) => cell.textContent!.trim());
    expect(cells(rows[0])).toEqual(['Completed', '3.5 s', '10.0 s', '30']);
    expect(cells(rows[1])).toEqual(['Failed', '2.0 s', '2.5 s', '5']);
    expect(text('reconnects')).toBe('3');
    expect(text('errors')).toBe('14');
    expect(text('error-detail')).toContain('client gone 1 · capacity 3 · auth 0');
    expect(text('error-detail')).toContain('failed jobs 5 · fallback polls 5');
    expect(text('notify-p95')).toBe('250 ms');
    expect(text('metrics-state')).toBe('live, every 2 s');
    expect(text('metrics-reads')).toContain('2 reads');
  });

  it('shows a fresh host, with no metric recorded yet, as zeros and dashes', () => {
    answer({ streams: { open: 0, opened: 0 }, metrics: {} });
    expect(text('server-open-streams')).toBe('0');
    expect(text('errors')).toBe('0');
    expect(text('notify-p95')).toBe('—');
    expect(element.querySelector('[data-testid="run-times"]')).toBeNull();
    expect(panel()!.textContent).toContain('No job finished yet.');
  });

  it('hides itself for good, quietly, when the endpoint is not there (404)', () => {
    vi.advanceTimersByTime(0);
    http
      .expectOne(DIAGNOSTICS_URL)
      .flush({ detail: 'no such route' }, { status: 404, statusText: 'Not Found' });
    fixture.detectChanges();
    expect(panel()).toBeNull();
    expect(element.textContent!.trim()).toBe('');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    http.expectNone(DIAGNOSTICS_URL);
  });

  it('hides itself when something else answers (a static server sending its index page)', () => {
    answer('<!doctype html><html></html>');
    expect(panel()).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps reading through network errors and 5xx (a host restart), and says so', () => {
    answer(withRequests(100));
    vi.advanceTimersByTime(2000);
    http.expectOne(DIAGNOSTICS_URL).error(new ProgressEvent('error'));
    fixture.detectChanges();
    expect(panel()).not.toBeNull();
    expect(text('metrics-state')).toBe('host unreachable, retrying');
    vi.advanceTimersByTime(2000);
    http.expectOne(DIAGNOSTICS_URL).flush('busy', { status: 503, statusText: 'Unavailable' });
    vi.advanceTimersByTime(2000);
    answer(withRequests(4)); // restarted: counting from zero again
    expect(text('metrics-state')).toBe('live, every 2 s');
    expect(text('request-rate')).toBe('40'); // 4 requests over the 6 s since the last reading
  });

  it('reads nothing while the tab is hidden, and starts a fresh baseline when it is back', () => {
    answer(withRequests(100));
    vi.advanceTimersByTime(2000);
    const inFlight = http.expectOne(DIAGNOSTICS_URL);
    setVisibility('hidden');
    expect(inFlight.cancelled).toBe(true);
    fixture.detectChanges();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    http.expectNone(DIAGNOSTICS_URL);

    setVisibility('visible');
    answer(withRequests(1000)); // 900 more while hidden: not a rate
    expect(text('request-rate')).toBe('—');
    vi.advanceTimersByTime(2000);
    answer(withRequests(1002));
    expect(text('request-rate')).toBe('60');
  });

  it('pauses and resumes from its button, leaving nothing running while paused', () => {
    answer(withRequests(100));
    vi.advanceTimersByTime(2000);
    const inFlight = http.expectOne(DIAGNOSTICS_URL);
    (element.querySelector('[data-testid="metrics-toggle"]') as HTMLButtonElement).click();
    fixture.detectChanges();
    expect(inFlight.cancelled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(text('metrics-state')).toBe('paused');
    expect(text('metrics-toggle')).toBe('Resume');

    (element.querySelector('[data-testid="metrics-toggle"]') as HTMLButtonElement).click();
    answer(withRequests(120));
    expect(text('metrics-state')).toBe('live, every 2 s');
  });

  it("counts its reads apart from the demo's watching requests, and stops when destroyed", () => {
    const jobs = TestBed.inject(JobEventsService);
    answer(withRequests(1));
    vi.advanceTimersByTime(2000);
    answer(withRequests(2));
    expect(text('metrics-reads')).toContain('2 reads');
    expect(jobs.stats().requests).toBe(0);

    vi.advanceTimersByTime(2000);
    const inFlight = http.expectOne(DIAGNOSTICS_URL);
    fixture.destroy();
    expect(inFlight.cancelled).toBe(true);
    vi.runOnlyPendingTimers(); // Angular's own change-detection tick, scheduled by the last read
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    http.expectNone(DIAGNOSTICS_URL);
  });
});
