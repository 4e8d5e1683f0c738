import { Component, computed, DestroyRef, inject, signal, WritableSignal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { JobEventsService, RESUME_FINISHED_WITHIN_MS } from 'job-events';
import { catchError, EMPTY, finalize, from, map, mergeMap } from 'rxjs';

import { fail, fiftyJobs, JobKind, JobRequest, sleep, StartedJob, storyPublish } from './demo-jobs';
import { describeError } from './describe-error';
import { JobRow, RowState } from './job-row';
import { MetricsPanel } from './metrics-panel';

/** Starts run this many at a time, leaving the browser's other connections to the streams. */
const START_CONCURRENCY = 6;

/** A number input of a starter form; what is typed is kept between `min` and `max`. */
interface NumberField {
  readonly label: string;
  readonly testId: string;
  readonly value: WritableSignal<number>;
  readonly min: number;
  readonly max: number;
  /** The input's `step` attribute; none (steps of 1) when left out. */
  readonly step?: number;
}

/** A form that starts a number of jobs of one kind, with the fields of their input. */
interface Starter {
  readonly jobType: JobKind;
  readonly about: string;
  /** How many jobs to start, then the fields of their input. */
  readonly fields: readonly [jobs: NumberField, ...input: NumberField[]];
  /** The Fail form's message field. */
  readonly message?: WritableSignal<string>;
  readonly startTestId: string;
  /** One job's request, from what the fields say now. */
  make(): JobRequest;
}

/** The first field of every starter: how many jobs to start. */
function jobsField(testId: string, count: number): NumberField {
  return { label: 'Jobs', testId, value: signal(count), min: 1, max: 50 };
}

@Component({
  selector: 'app-root',
  imports: [JobRow, MetricsPanel],
  templateUrl: './app.html',
  styleUrl: './app.css',
})
export class App {
  private readonly events = inject(JobEventsService);
  private readonly destroyRef = inject(DestroyRef);

  protected readonly stats = this.events.stats;
  protected readonly watching = this.events.watching;
  protected readonly forcePolling = signal(false);
  protected readonly jobs = signal<readonly StartedJob[]>([]);
  protected readonly states = signal<ReadonlyMap<string, RowState>>(new Map());
  protected readonly starting = signal(0);
  protected readonly error = signal<string | null>(null);
  /** How many jobs `resume()` brought back after a reload (null until it answers). */
  protected readonly resumed = signal<number | null>(null);

  protected readonly storyStep = signal(1);
  protected readonly sleepSeconds = signal(5);
  protected readonly failAfter = signal(2);
  protected readonly failMessage = signal('simulated failure');

  protected readonly starters: readonly Starter[] = [
    {
      jobType: 'StoryPublish',
      about: 'Validate, render, publish to web and newsletter, purge.',
      fields: [
        jobsField('story-count', 3),
        {
          label: 'Seconds per step',
          testId: 'story-step',
          value: this.storyStep,
          min: 0,
          max: 60,
          step: 0.1,
        },
      ],
      startTestId: 'start-story',
      make: () => storyPublish(this.storyStep()),
    },
    {
      jobType: 'Sleep',
      about: 'Waits, reporting progress five times.',
      fields: [
        jobsField('sleep-count', 3),
        {
          label: 'Seconds',
          testId: 'sleep-seconds',
          value: this.sleepSeconds,
          min: 0,
          max: 3600,
          step: 0.5,
        },
      ],
      startTestId: 'start-sleep',
      make: () => sleep(this.sleepSeconds()),
    },
    {
      jobType: 'Fail',
      about: 'Reports a little progress, then fails.',
      fields: [
        jobsField('fail-count', 1),
        {
          label: 'After seconds',
          testId: 'fail-after',
          value: this.failAfter,
          min: 0,
          max: 600,
          step: 0.5,
        },
      ],
      message: this.failMessage,
      startTestId: 'start-fail',
      make: () => fail(this.failAfter(), this.failMessage()),
    },
  ];

  protected readonly summary = computed(() => {
    const counts = { total: this.jobs().length, active: 0, Completed: 0, Failed: 0, other: 0 };
    for (const job of this.jobs()) {
      const state = this.states().get(job.jobId) ?? 'Queued';
      if (state === 'Queued' || state === 'Running') counts.active++;
      else if (state === 'Completed' || state === 'Failed') counts[state]++;
      else counts.other++;
    }
    return counts;
  });

  constructor() {
    this.resume();
  }

  /** Starts as many jobs as the starter's first field says. */
  protected launch(starter: Starter): void {
    const [jobs] = starter.fields;
    this.start(Array.from({ length: jobs.value() }, () => starter.make()));
  }

  startFifty(): void {
    this.start(fiftyJobs());
  }

  clearFinished(): void {
    const states = this.states();
    const keep = this.jobs().filter((job) =>
      ['Queued', 'Running'].includes(states.get(job.jobId) ?? 'Queued'),
    );
    this.jobs.set(keep);
    this.states.set(new Map([...states].filter(([id]) => keep.some((job) => job.jobId === id))));
  }

  protected rowChanged(jobId: string, state: RowState): void {
    this.states.update((states) =>
      states.get(jobId) === state ? states : new Map(states).set(jobId, state),
    );
  }

  protected setNumber(field: NumberField, event: Event): void {
    const value = (event.target as HTMLInputElement).valueAsNumber;
    if (Number.isFinite(value)) field.value.set(Math.min(field.max, Math.max(field.min, value)));
  }

  protected setText(target: { set(value: string): void }, event: Event): void {
    target.set((event.target as HTMLInputElement).value);
  }

  /**
   * A reloaded tab forgets what it watched; the server does not. The caller's active jobs
   * (and those that ended in the last minute) come back as rows and finish live. A job this
   * tab starts meanwhile is listed once.
   */
  private resume(): void {
    // Jobs that ended in the last minute are this tab's only after a reload; a fresh visit
    // shows the running ones only (with auth off, every tab's jobs are "mine").
    this.events
      .resume({ finishedWithinMs: pageWasReloaded() ? RESUME_FINISHED_WITHIN_MS : 0 })
      .pipe(takeUntilDestroyed(this.destroyRef))
      .subscribe({
        next: (active) => {
          const found = active.map((job): StartedJob => ({
            jobId: job.jobId,
            jobType: job.jobType,
            label: 'resumed after a reload',
            startedAt: null,
            transport: this.forcePolling() ? 'polling' : 'auto',
          }));
          this.jobs.update((jobs) => [
            ...jobs,
            ...found.filter((job) => !jobs.some((known) => known.jobId === job.jobId)),
          ]);
          this.resumed.set(found.length);
        },
        error: (error: unknown) =>
          this.error.set(`Could not list your running jobs: ${describeError(error)}`),
      });
  }

  private start(requests: JobRequest[]): void {
    const transport = this.forcePolling() ? 'polling' : 'auto';
    this.error.set(null);
    this.starting.update((n) => n + requests.length);
    from(requests)
      .pipe(
        mergeMap((request) => {
          const startedAt = performance.now();
          return this.events.startJob(request.jobType, request.input).pipe(
            map((started): StartedJob => ({
              ...request,
              jobId: started.jobId,
              startedAt,
              transport,
            })),
            catchError((error: unknown) => {
              this.error.set(`Could not start a ${request.jobType} job: ${describeError(error)}`);
              return EMPTY;
            }),
            finalize(() => this.starting.update((n) => n - 1)),
          );
        }, START_CONCURRENCY),
        takeUntilDestroyed(this.destroyRef),
      )
      .subscribe((job) =>
        // resume() may have listed it already (a start racing the first listing): one row.
        this.jobs.update((jobs) => [job, ...jobs.filter((known) => known.jobId !== job.jobId)]),
      );
  }
}

/** This page load is a reload of the tab (Navigation Timing), not a fresh visit. */
function pageWasReloaded(): boolean {
  const [navigation] = performance.getEntriesByType('navigation') as PerformanceNavigationTiming[];
  return navigation?.type === 'reload';
}
