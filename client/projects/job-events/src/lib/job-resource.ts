import { HttpErrorResponse } from '@angular/common/http';
import {
  assertInInjectionContext,
  computed,
  DestroyRef,
  effect,
  inject,
  Injector,
  Signal,
  signal,
  untracked,
} from '@angular/core';
import { Subscription } from 'rxjs';

import { JobPollTimeoutError } from './errors';
import { JobEventsService, WatchOptions } from './job-events.service';
import { isTerminal, JobEvent, JobRef, JobState, JobTransport } from './models';

/**
 * A job to watch, optionally with its own `watchJob` options: a `JobStarted`, a `JobEvent`
 * (as `resume()` lists them) or an app's own record of a job fits as it is.
 */
export interface WatchedJob extends JobRef {
  readonly transport?: WatchOptions['transport'];
  readonly poll?: WatchOptions['poll'];
}

/** Why a job can no longer be watched: what `watchJob` failed with. */
export type JobWatchError = HttpErrorResponse | JobPollTimeoutError | Error;

/** One watched job, as `jobResource` and `jobsResource` show it. */
export interface JobWatchState {
  readonly ref: JobRef;
  /** The latest state received; undefined until the first one arrives. */
  readonly event: JobEvent | undefined;
  readonly status: JobState | undefined;
  /** Fraction done, 0 to 1 (0 until the first state). */
  readonly progress: number;
  /**
   * Why watching failed (a 404, a poll that outlived its timeout...), else undefined.
   * A job that ran and failed is not an error here: it is `status` `Failed`, with its
   * reason in `event.message` and `event.error`.
   */
  readonly error: JobWatchError | undefined;
  /** The job reached `Completed` or `Failed`. */
  readonly finished: boolean;
  /** A watch is live: not finished, not failed, not removed. */
  readonly watching: boolean;
  /** How it is watched now, or was watched last (`sse`, `polling`, `fallback`). */
  readonly transport: JobTransport | undefined;
}

export interface JobResourceOptions extends WatchOptions {
  /** Where to find `JobEventsService` and whose `DestroyRef` ends the watch; default: the current injection context. */
  readonly injector?: Injector;
}

/** `jobResource`: one job's state as signals. */
export interface JobResource {
  /** The job watched now; undefined while the reference is undefined (idle). */
  readonly ref: Signal<JobRef | undefined>;
  readonly event: Signal<JobEvent | undefined>;
  readonly status: Signal<JobState | undefined>;
  readonly progress: Signal<number>;
  readonly error: Signal<JobWatchError | undefined>;
  readonly finished: Signal<boolean>;
  readonly watching: Signal<boolean>;
  readonly transport: Signal<JobTransport | undefined>;
}

/** Counts over a `jobsResource`'s jobs. */
export interface JobsSummary {
  readonly total: number;
  /** Still watched (not finished, no error). */
  readonly active: number;
  readonly completed: number;
  readonly failed: number;
  /** Jobs that could not be watched to the end (see `JobWatchState.error`). */
  readonly errors: number;
}

/** `jobsResource`: many jobs' states as signals. */
export interface JobsResource {
  /** One entry per job, in the order of the references (duplicates once). */
  readonly jobs: Signal<readonly JobWatchState[]>;
  /** The same entries by job id. */
  readonly byId: Signal<ReadonlyMap<string, JobWatchState>>;
  readonly summary: Signal<JobsSummary>;
  /** There are jobs and none is still watched: each finished or failed to be watched. */
  readonly finished: Signal<boolean>;
}

/**
 * One job's state as signals: `watchJob` (server-sent events with polling as the fallback,
 * the same shared watch) behind a reactive reference.
 *
 * ```ts
 * readonly job = input.required<JobStarted>();
 * readonly watch = jobResource(() => this.job());
 * // template: {{ watch.status() }} {{ watch.progress() * 100 }}%
 * ```
 *
 * Call it in an injection context (a field initializer, a constructor) or pass `injector`.
 * When the reference changes to another job, the old watch ends and the new one starts; when
 * it is undefined the resource is idle and holds no watch; when the injection context is
 * destroyed (the component goes) the watch ends. Finished jobs and failed watches hold
 * nothing either; their last state stays readable.
 */
export function jobResource(
  ref: () => WatchedJob | undefined,
  options: JobResourceOptions = {},
): JobResource {
  if (!options.injector) assertInInjectionContext(jobResource);
  const watches = watchJobs(
    () => {
      const job = ref();
      return job ? [job] : [];
    },
    options,
    options.injector ?? inject(Injector),
  );
  const current = computed(() => watches.states()[0]);
  return {
    ref: computed(() => current()?.ref),
    event: computed(() => current()?.event),
    status: computed(() => current()?.status),
    progress: computed(() => current()?.progress ?? 0),
    error: computed(() => current()?.error),
    finished: computed(() => current()?.finished ?? false),
    watching: computed(() => current()?.watching ?? false),
    transport: computed(() => current()?.transport),
  };
}

/**
 * Many jobs' states as signals, for a list: each job is watched as `jobResource` watches
 * one. When the list changes only the difference changes: new jobs start watching, removed
 * ones stop, the others keep their watch (and their stream) untouched.
 *
 * ```ts
 * private readonly resumed = toSignal(inject(JobEventsService).resume(), { initialValue: [] });
 * readonly jobs = jobsResource(() => this.resumed());
 * ```
 */
export function jobsResource(
  refs: () => readonly WatchedJob[],
  options: JobResourceOptions = {},
): JobsResource {
  if (!options.injector) assertInInjectionContext(jobsResource);
  const { states } = watchJobs(refs, options, options.injector ?? inject(Injector));
  const summary = computed<JobsSummary>(() => {
    const counts = { total: 0, active: 0, completed: 0, failed: 0, errors: 0 };
    for (const job of states()) {
      counts.total++;
      if (job.error) counts.errors++;
      else if (job.status === 'Completed') counts.completed++;
      else if (job.status === 'Failed') counts.failed++;
      else counts.active++;
    }
    return counts;
  });
  return {
    jobs: states,
    byId: computed(() => new Map(states().map((job) => [job.ref.jobId, job]))),
    summary,
    finished: computed(() => summary().total > 0 && summary().active === 0),
  };
}

/** What is kept per job between events; the transport is read live on top. */
interface Held {
  readonly ref: JobRef;
  readonly event?: JobEvent;
  readonly error?: JobWatchError;
  readonly ended: boolean;
  readonly lastTransport?: JobTransport;
}

/**
 * The engine of both resources: an effect keeps one `watchJob` subscription per wanted job,
 * diffing the wanted list against the held one, and the injector's `DestroyRef` ends them all.
 */
function watchJobs(
  refs: () => readonly WatchedJob[],
  defaults: WatchOptions,
  injector: Injector,
): { states: Signal<readonly JobWatchState[]> } {
  const service = injector.get(JobEventsService);
  const subscriptions = new Map<string, Subscription>();
  const held = signal<ReadonlyMap<string, Held>>(new Map());
  // Equal when the same job ids in the same order: a new array (or new objects) for the same
  // jobs must not restart anything.
  const wanted = computed(() => unique(refs()), { equal: sameJobs });

  const update = (jobId: string, change: (entry: Held) => Held): void =>
    held.update((current) => {
      const entry = current.get(jobId);
      // A late notification of a removed job (a synchronous replay during unsubscribe) is dropped.
      return entry ? new Map(current).set(jobId, change(entry)) : current;
    });

  const start = (job: WatchedJob): Subscription =>
    service
      .watchJob(job.jobType, job.jobId, {
        transport: job.transport ?? defaults.transport,
        poll: job.poll ?? defaults.poll,
      })
      .subscribe({
        next: (event) =>
          update(job.jobId, (entry) => ({
            ...entry,
            event,
            lastTransport: service.transportOf(job.jobId) ?? entry.lastTransport,
          })),
        error: (error: unknown) =>
          update(job.jobId, (entry) => ({
            ...entry,
            error: asWatchError(error),
            event:
              entry.event ?? (error instanceof JobPollTimeoutError ? error.lastEvent : undefined),
            ended: true,
          })),
        complete: () => update(job.jobId, (entry) => ({ ...entry, ended: true })),
      });

  const sync = (jobs: readonly WatchedJob[]): void => {
    const keep = new Set(jobs.map((job) => job.jobId));
    const next = new Map<string, Held>();
    const current = held();
    for (const job of jobs) {
      next.set(job.jobId, current.get(job.jobId) ?? { ref: refOf(job), ended: false });
    }
    held.set(next);
    for (const job of jobs) {
      if (subscriptions.has(job.jobId)) continue;
      subscriptions.set(job.jobId, start(job));
      update(job.jobId, (entry) => ({
        ...entry,
        lastTransport: service.transportOf(job.jobId) ?? entry.lastTransport,
      }));
    }
    for (const [jobId, subscription] of subscriptions) {
      if (keep.has(jobId)) continue;
      subscriptions.delete(jobId);
      subscription.unsubscribe();
    }
  };

  const watcher = effect(
    () => {
      const jobs = wanted();
      untracked(() => sync(jobs));
    },
    { injector },
  );
  injector.get(DestroyRef).onDestroy(() => {
    watcher.destroy();
    for (const subscription of subscriptions.values()) subscription.unsubscribe();
    subscriptions.clear();
  });

  const states = computed<readonly JobWatchState[]>(() =>
    [...held().values()].map((entry) => {
      const event = entry.event;
      return {
        ref: entry.ref,
        event,
        status: event?.status,
        progress: event?.progress ?? 0,
        error: entry.error,
        finished: event ? isTerminal(event) : false,
        watching: !entry.ended,
        transport: service.transportOf(entry.ref.jobId) ?? entry.lastTransport,
      };
    }),
  );
  return { states };
}

function refOf(job: JobRef): JobRef {
  return { jobType: job.jobType, jobId: job.jobId };
}

function unique(jobs: readonly WatchedJob[]): readonly WatchedJob[] {
  const seen = new Set<string>();
  return jobs.filter((job) => !seen.has(job.jobId) && seen.add(job.jobId));
}

function sameJobs(a: readonly WatchedJob[], b: readonly WatchedJob[]): boolean {
  return a.length === b.length && a.every((job, i) => job.jobId === b[i].jobId);
}

function asWatchError(error: unknown): JobWatchError {
  return error instanceof HttpErrorResponse || error instanceof Error
    ? error
    : new Error(String(error), { cause: error });
}
