import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { Component, computed, DOCUMENT, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import {
  BehaviorSubject,
  catchError,
  combineLatest,
  distinctUntilChanged,
  EMPTY,
  exhaustMap,
  fromEvent,
  map,
  Observable,
  startWith,
  switchMap,
  throwError,
  timeout,
  timer,
} from 'rxjs';

import {
  Diagnostics,
  EMPTY_HISTORY,
  Figures,
  formatMs,
  formatRate,
  formatSeconds,
  isDiagnostics,
  readFigures,
  rateSeries,
  rebase,
  record,
  requestsPerMinute,
  RunTime,
  sparkline,
} from './diagnostics';

/** Served by the local host, on the demo's origin. */
export const DIAGNOSTICS_URL = '/local/diagnostics';
export const METRICS_POLL_MS = 2000;
/** Samples kept for the sparklines: two minutes at one every 2 s. */
export const METRICS_SAMPLES = 60;

/** The endpoint is not there (the demo is served by something else): hide, stop polling. */
class NoDiagnostics extends Error {}

type PanelState = 'loading' | 'live' | 'offline' | 'paused' | 'absent';

/**
 * The local host's own metrics, live: what an operator would read in Application
 * Insights, read from `GET /local/diagnostics` every 2 s while the tab is visible.
 *
 * Its reads are counted here, separately: they are not requests for watching jobs,
 * so they stay out of the demo's "Requests for watching" counter (and the host does
 * not count them in `jobevents.http.requests` either). A 404 hides the panel for good.
 */
@Component({
  selector: 'app-metrics-panel',
  template: `
    @if (state() !== 'absent') {
      <section class="panel metrics" aria-labelledby="metrics-heading" data-testid="metrics">
        <div class="panel-head">
          <h2 id="metrics-heading">Server metrics</h2>
          <span class="metrics-status">
            <span class="dot" [class]="'dot-' + state()" aria-hidden="true"></span>
            <span data-testid="metrics-state">{{ stateText() }}</span>
            <small data-testid="metrics-reads"
              >{{ reads() }} reads of {{ url }}, not in the counters above</small
            >
            <button type="button" class="link" (click)="toggle()" data-testid="metrics-toggle">
              {{ paused() ? 'Resume' : 'Pause' }}
            </button>
          </span>
        </div>

        <div class="metrics-grid">
          <div class="metric">
            <span class="label">Server requests / min</span>
            <strong data-testid="request-rate">{{ rateText() }}</strong>
            <svg class="spark" viewBox="0 0 120 28" preserveAspectRatio="none" aria-hidden="true">
              <path class="area" [attr.d]="rateLine().area" />
              <polyline [attr.points]="rateLine().line" />
            </svg>
            <small
              >last minute · top {{ formatRate(rateLine().max) }}/min ·
              {{ figures()?.requests ?? 0 }} since start</small
            >
          </div>

          <div class="metric">
            <span class="label">Open streams</span>
            <strong data-testid="server-open-streams">{{ figures()?.openStreams ?? '—' }}</strong>
            <svg
              class="spark"
              viewBox="0 0 120 28"
              preserveAspectRatio="none"
              aria-hidden="true"
              data-testid="open-streams-spark"
              [attr.data-peak]="streamsPeak()"
            >
              <path class="area" [attr.d]="streamsLine().area" />
              <polyline [attr.points]="streamsLine().line" />
            </svg>
            <small
              >{{ figures()?.streamsOpened ?? 0 }} opened · peak {{ streamsPeak() }} in view</small
            >
          </div>

          <div class="metric">
            <span class="label">Job run time</span>
            @if (runTimes().length) {
              <table class="runtimes" data-testid="run-times">
                <tr>
                  <th></th>
                  <th>avg</th>
                  <th>p95</th>
                  <th>jobs</th>
                </tr>
                @for (row of runTimes(); track row.outcome) {
                  <tr
                    data-testid="run-time"
                    [attr.data-outcome]="row.outcome"
                    [title]="detail(row)"
                  >
                    <td [class]="'status-text-' + row.outcome">{{ row.outcome }}</td>
                    <td data-testid="run-time-avg">{{ formatSeconds(row.avgSeconds) }}</td>
                    <td>{{ formatSeconds(row.p95Seconds) }}</td>
                    <td>{{ row.jobs }}</td>
                  </tr>
                }
              </table>
            } @else {
              <p class="none">No job finished yet.</p>
            }
          </div>

          <div class="metric">
            <span class="label">Reconnects</span>
            <strong data-testid="reconnects">{{ figures()?.reconnects ?? 0 }}</strong>
            <small
              >streams resumed with Last-Event-ID, of
              {{ figures()?.streamsOpened ?? 0 }} opened</small
            >
          </div>

          <div class="metric">
            <span class="label">Errors</span>
            <strong data-testid="errors">{{ errors()?.total ?? 0 }}</strong>
            <small data-testid="error-detail">
              <span
                >streams closed: client gone {{ errors()?.clientGone ?? 0 }} · capacity
                {{ errors()?.capacity ?? 0 }} · auth {{ errors()?.auth ?? 0 }}</span
              >
              <span
                >failed jobs {{ errors()?.failedJobs ?? 0 }} · fallback polls
                {{ errors()?.fallbackPolls ?? 0 }}</span
              >
            </small>
          </div>

          <div class="metric">
            <span class="label">Notification latency p95</span>
            <strong data-testid="notify-p95">{{ formatMs(figures()?.notifyP95Ms) }}</strong>
            <small>
              @for (path of figures()?.notifyPaths ?? []; track path.path) {
                <span
                  >{{ path.path }}: {{ formatMs(path.p95Ms) }} over {{ path.events }} events</span
                >
              } @empty {
                status written → event sent
              }
            </small>
          </div>
        </div>
      </section>
    }
  `,
})
export class MetricsPanel {
  private readonly http = inject(HttpClient);
  private readonly document = inject(DOCUMENT);
  private readonly running = new BehaviorSubject(true);

  protected readonly url = DIAGNOSTICS_URL;
  protected readonly state = signal<PanelState>('loading');
  protected readonly paused = signal(false);
  /** Requests this panel made: its own count, apart from the demo's watching counters. */
  protected readonly reads = signal(0);
  protected readonly figures = signal<Figures | null>(null);
  private readonly history = signal(EMPTY_HISTORY);

  protected readonly errors = computed(() => this.figures()?.errors);
  protected readonly runTimes = computed(() => this.figures()?.runTimes ?? []);
  protected readonly rateText = computed(() => {
    const samples = this.history().samples;
    const now = samples.at(-1)?.at ?? 0;
    return formatRate(requestsPerMinute(this.history(), now));
  });
  protected readonly rateLine = computed(() =>
    sparkline(rateSeries(this.history()), { capacity: METRICS_SAMPLES }),
  );
  private readonly streamsSeries = computed(() =>
    this.history().samples.map((sample) => sample.openStreams),
  );
  protected readonly streamsLine = computed(() =>
    sparkline(this.streamsSeries(), { capacity: METRICS_SAMPLES }),
  );
  protected readonly streamsPeak = computed(() => Math.max(0, ...this.streamsSeries()));
  protected readonly stateText = computed(
    () =>
      ({
        loading: 'connecting…',
        live: `live, every ${METRICS_POLL_MS / 1000} s`,
        offline: 'host unreachable, retrying',
        paused: 'paused',
        absent: '',
      })[this.state()],
  );

  protected readonly formatSeconds = formatSeconds;
  protected readonly formatMs = formatMs;
  protected readonly formatRate = formatRate;

  constructor() {
    const visible$ = fromEvent(this.document, 'visibilitychange').pipe(
      startWith(null),
      map(() => this.document.visibilityState !== 'hidden'),
      distinctUntilChanged(),
    );
    combineLatest([this.running, visible$])
      .pipe(
        switchMap(([running, visible]) => {
          this.history.update(rebase); // no rate across a pause
          if (!running) this.state.set('paused');
          // Paused, or the tab is hidden: no timer, no request (switchMap cancels one in flight).
          if (!running || !visible) return EMPTY;
          return timer(0, METRICS_POLL_MS).pipe(exhaustMap(() => this.read()));
        }),
        catchError((error: unknown) => {
          if (!(error instanceof NoDiagnostics)) throw error;
          this.state.set('absent'); // quietly: this host has no diagnostics
          return EMPTY;
        }),
        takeUntilDestroyed(),
      )
      .subscribe((diagnostics) => {
        const figures = readFigures(diagnostics);
        this.figures.set(figures);
        this.history.update((h) => record(h, figures, Date.now(), METRICS_SAMPLES));
        this.state.set('live');
      });
  }

  toggle(): void {
    this.paused.update((paused) => !paused);
    if (!this.paused()) this.state.set('loading');
    this.running.next(!this.paused());
  }

  protected detail(row: RunTime): string {
    return row.byType
      .map(
        (t) =>
          `${t.jobType}: ${t.jobs} jobs, avg ${formatSeconds(t.avgSeconds)}, p95 ${formatSeconds(t.p95Seconds)}`,
      )
      .join('\n');
  }

  /** One reading: 404 (or not diagnostics at all) ends the panel; other failures are retried. */
  private read(): Observable<Diagnostics> {
    this.reads.update((n) => n + 1);
    return this.http.get<unknown>(DIAGNOSTICS_URL).pipe(
      timeout(METRICS_POLL_MS * 5),
      map((body) => {
        if (!isDiagnostics(body)) throw new NoDiagnostics();
        return body;
      }),
      catchError((error: unknown) => {
        // 404: no such endpoint. 200 that is not JSON: a static server's index page.
        const absent =
          error instanceof NoDiagnostics ||
          (error instanceof HttpErrorResponse && (error.status === 404 || error.status === 200));
        if (absent) return throwError(() => new NoDiagnostics());
        this.state.set('offline'); // the host is restarting, or a hiccup: try again next tick
        return EMPTY;
      }),
    );
  }
}
