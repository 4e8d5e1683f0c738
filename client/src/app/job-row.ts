import { HttpErrorResponse } from '@angular/common/http';
import {
  Component,
  computed,
  DestroyRef,
  effect,
  inject,
  input,
  linkedSignal,
  output,
  signal,
  untracked,
} from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { isTerminal, JobEvent, JobEventsService, jobResource, JobTransport } from 'job-events';

import { StartedJob } from './demo-jobs';
import { describeError } from './describe-error';

/** What a row reports to the list: the job's state, or why it is no longer watched. */
export type RowState = JobEvent['status'] | 'Error' | 'Stopped';

const VIA_TEXT: Record<JobTransport, string> = {
  sse: 'SSE',
  polling: 'polling',
  fallback: 'polling (fallback)',
};

/**
 * One job in the list. It watches its own job through `jobResource` (the signals API of
 * the README): the watch ends when the row is destroyed, and "Stop" makes the reference
 * undefined, which ends it too. "Cancel" asks the server to stop the job itself; the watch
 * then shows it end `Failed`, "cancelled".
 */
@Component({
  selector: 'li[appJobRow]',
  host: {
    class: 'job',
    'data-testid': 'job',
    '[attr.data-job-id]': 'job().jobId',
    '[attr.data-job-type]': 'job().jobType',
    '[attr.data-status]': 'state()',
    '[attr.data-via]': 'via()',
  },
  template: `
    <span class="type" [class]="'type-' + job().jobType">{{ job().jobType }}</span>
    <span class="ident">
      <code [title]="job().jobId">{{ job().jobId.slice(0, 8) }}</code>
      <small>{{ job().label }}</small>
    </span>
    <span class="status" [class]="'status-' + state()" data-testid="status">{{ state() }}</span>
    <span
      class="bar"
      role="progressbar"
      aria-valuemin="0"
      aria-valuemax="100"
      [attr.aria-valuenow]="percent()"
      [attr.aria-label]="'Progress of job ' + job().jobId.slice(0, 8)"
    >
      <span class="fill" [class]="'fill-' + state()" [style.width.%]="percent()"></span>
    </span>
    <span class="percent">{{ percent() }}%</span>
    <span class="message" data-testid="message" [title]="detail()">{{ detail() }}</span>
    <span class="time" data-testid="time">{{ elapsed() }}</span>
    <span class="via" [class]="'via-' + (via() ?? 'none')" data-testid="via">{{ viaText() }}</span>
    <span class="action">
      @if (active()) {
        <button
          type="button"
          class="link"
          data-testid="cancel"
          (click)="cancel()"
          [disabled]="cancelling()"
          [attr.aria-label]="'Cancel job ' + job().jobId.slice(0, 8)"
        >
          {{ cancelling() ? 'Cancelling…' : 'Cancel' }}
        </button>
        <button
          type="button"
          class="link"
          data-testid="stop"
          (click)="stop()"
          [attr.aria-label]="'Stop watching ' + job().jobId.slice(0, 8)"
        >
          Stop
        </button>
      }
    </span>
  `,
})
export class JobRow {
  readonly job = input.required<StartedJob>();
  /** Every change of what the row shows as the state. */
  readonly changed = output<RowState>();

  private readonly jobs = inject(JobEventsService);
  private readonly destroyRef = inject(DestroyRef);

  protected readonly stopped = signal(false);
  /** The job's watch: idle (no watch at all) once stopped. */
  private readonly watch = jobResource(() => (this.stopped() ? undefined : this.job()));
  /** The last state received, kept after "Stop" makes the watch idle. */
  private readonly event = linkedSignal<JobEvent | undefined, JobEvent | undefined>({
    source: this.watch.event,
    computation: (event, previous) => event ?? previous?.value,
  });
  private readonly lastVia = linkedSignal<JobTransport | undefined, JobTransport | undefined>({
    source: this.watch.transport,
    computation: (via, previous) => via ?? previous?.value,
  });
  protected readonly cancelling = signal(false);
  private readonly cancelProblem = signal<string | null>(null);
  private readonly finishedAt = signal<number | null>(null);

  protected readonly problem = computed(() => {
    const error = this.watch.error();
    return error ? describeError(error) : null;
  });
  protected readonly state = computed<RowState>(() => {
    if (this.problem()) return 'Error';
    const status = this.event()?.status ?? 'Queued';
    return this.stopped() && !isTerminal({ status }) ? 'Stopped' : status;
  });
  protected readonly active = computed(
    () => !this.stopped() && !this.problem() && !this.watch.finished(),
  );
  protected readonly percent = computed(() => Math.round((this.event()?.progress ?? 0) * 100));
  protected readonly detail = computed(() => {
    const event = this.event();
    if (this.problem()) return this.problem();
    if (event?.status === 'Failed') return [event.message, event.error].filter(Boolean).join(': ');
    return this.cancelProblem() ?? event?.message ?? '';
  });
  protected readonly elapsed = computed(() => {
    const end = this.finishedAt();
    const start = this.job().startedAt;
    return end === null || start === null ? '' : `${((end - start) / 1000).toFixed(1)} s`;
  });
  /** How the job is watched now, or was watched last. */
  protected readonly via = computed(() => this.lastVia() ?? null);
  protected readonly viaText = computed(() => {
    const via = this.via();
    return via ? VIA_TEXT[via] : '';
  });

  constructor() {
    effect(() => {
      if (this.watch.finished() && untracked(this.finishedAt) === null) {
        this.finishedAt.set(performance.now());
      }
    });
    effect(() => this.changed.emit(this.state()));
  }

  /** Stop watching (the job itself keeps running on the server). */
  stop(): void {
    this.stopped.set(true);
  }

  /** Ask the server to cancel the job; the watch shows how it ends. */
  cancel(): void {
    this.cancelling.set(true);
    this.cancelProblem.set(null);
    this.jobs
      .cancel(this.job())
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        error: (error: unknown) => {
          this.cancelling.set(false);
          // 409: it had finished already; the watch shows how.
          if (error instanceof HttpErrorResponse && error.status === 409) return;
          this.cancelProblem.set(`cancel failed: ${describeError(error)}`);
        },
      });
  }
}
