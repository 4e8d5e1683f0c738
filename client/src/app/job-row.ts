import {
  Component,
  computed,
  DestroyRef,
  inject,
  input,
  OnInit,
  output,
  signal,
} from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { isTerminal, JobEvent, JobEventsService, JobTransport } from 'job-events';
import { Subscription } from 'rxjs';

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
 * One job in the list. It watches its own job, and stops when it is destroyed:
 * the `watchJob` + `takeUntilDestroyed` pattern of the README.
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
          (click)="stop()"
          [attr.aria-label]="'Stop watching ' + job().jobId.slice(0, 8)"
        >
          Stop
        </button>
      }
    </span>
  `,
})
export class JobRow implements OnInit {
  readonly job = input.required<StartedJob>();
  /** Every change of what the row shows as the state. */
  readonly changed = output<RowState>();

  private readonly jobs = inject(JobEventsService);
  private readonly destroyRef = inject(DestroyRef);
  private subscription = Subscription.EMPTY;

  protected readonly event = signal<JobEvent | null>(null);
  protected readonly problem = signal<string | null>(null);
  protected readonly stopped = signal(false);
  private readonly finishedAt = signal<number | null>(null);
  private readonly lastVia = signal<JobTransport | null>(null);

  protected readonly state = computed<RowState>(() => {
    if (this.problem()) return 'Error';
    const status = this.event()?.status ?? 'Queued';
    return this.stopped() && !isTerminal({ status }) ? 'Stopped' : status;
  });
  protected readonly active = computed(
    () => !this.stopped() && !this.problem() && !this.finishedAt(),
  );
  protected readonly percent = computed(() => Math.round((this.event()?.progress ?? 0) * 100));
  protected readonly detail = computed(() => {
    const event = this.event();
    if (this.problem()) return this.problem();
    if (event?.status === 'Failed') return [event.message, event.error].filter(Boolean).join(': ');
    return event?.message ?? '';
  });
  protected readonly elapsed = computed(() => {
    const end = this.finishedAt();
    return end === null ? '' : `${((end - this.job().startedAt) / 1000).toFixed(1)} s`;
  });
  /** How the job is watched now, or was watched last. */
  protected readonly via = computed(
    () => this.jobs.transportOf(this.job().jobId) ?? this.lastVia(),
  );
  protected readonly viaText = computed(() => {
    const via = this.via();
    return via ? VIA_TEXT[via] : '';
  });

  ngOnInit(): void {
    const { jobType, jobId, transport } = this.job();
    this.subscription = this.jobs
      .watchJob(jobType, jobId, { transport })
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: (event) => {
          this.lastVia.set(this.jobs.transportOf(jobId) ?? null);
          this.event.set(event);
          if (isTerminal(event)) this.finishedAt.set(performance.now());
          this.changed.emit(this.state());
        },
        error: (error: unknown) => {
          this.problem.set(describeError(error));
          this.changed.emit(this.state());
        },
      });
    this.lastVia.set(this.jobs.transportOf(jobId) ?? null);
  }

  /** Stop watching (the job itself keeps running on the server). */
  stop(): void {
    this.subscription.unsubscribe();
    this.stopped.set(true);
    this.changed.emit(this.state());
  }
}
