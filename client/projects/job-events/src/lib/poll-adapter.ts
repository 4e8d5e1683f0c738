import { JobEvent, JobRef, JobState } from './models';

/**
 * What a legacy status endpoint says about one job, read out of its own answer by
 * `JobStatusAdapter.read`. Only `status` is required.
 */
export interface LegacyStatus {
  /** The endpoint's own status word (`'PROCESSING'`, `'done'` …), turned into a `JobState` by `states`. */
  readonly status: string;
  /** Fraction done, 0 to 1 (divide a percentage by 100). Absent: 0, or 1 once `Completed`. */
  readonly progress?: number | null;
  readonly message?: string | null;
  readonly resultRef?: string | null;
  readonly error?: string | null;
  /**
   * When the endpoint wrote this status (ISO-8601 or ms since the epoch), if it says
   * (`updatedAt`, `lastModified` …). Map it when there is one: the poll then knows the
   * job's pace exactly and polls right after the estimated end. Absent: the time the poll
   * saw it, and a rougher estimate.
   */
  readonly timestamp?: string | number | null;
  /** A number that rises with every change, if the endpoint has one. Absent: counted by the poll. */
  readonly version?: number | null;
}

/**
 * How to poll a job on an endpoint the backend already has, with no change to it:
 * where the status is, how to read the answer, and what its status words mean.
 * Pass it as `pollJobStatus(type, id, { timeoutMs, adapter })` (or in
 * `watchJob`'s `poll` with `transport: 'polling'`). An `ETag` and a `Retry-After` are
 * used when the endpoint sends them, and not needed.
 *
 * ```ts
 * interface PublishStatus { state: 'PENDING' | 'PUBLISHING' | 'DONE' | 'ERROR'; percent: number; updatedAt: string }
 *
 * export const storyPublishStatus = jobStatusAdapter<PublishStatus>({
 *   url: '/legacy/stories/{jobId}/publish-status',
 *   read: (s) => ({ status: s.state, progress: s.percent / 100, timestamp: s.updatedAt }),
 *   states: { PENDING: 'Queued', PUBLISHING: 'Running', DONE: 'Completed', ERROR: 'Failed' },
 * });
 * ```
 */
export interface JobStatusAdapter<T = unknown> {
  /**
   * The job's status URL: a template in which `{jobId}` and `{jobType}` are replaced
   * (URI-encoded), or a function of the job. Used as given, not under `apiUrl`.
   */
  readonly url: string | ((ref: JobRef) => string);
  /** Reads the endpoint's answer (the parsed JSON body). A throw ends the poll with that error. */
  readonly read: (body: T, ref: JobRef) => LegacyStatus;
  /**
   * The endpoint's status words and the state each one means, or a function that says.
   * A word it does not know ends the poll with `UnknownJobStatusError` (a poll that
   * cannot tell a finished job would otherwise run to its timeout). Default: the words
   * are the four states already.
   */
  readonly states?: Readonly<Record<string, JobState>> | ((word: string) => JobState | undefined);
}

/** Declares an adapter with its answer's type checked (the identity function). */
export function jobStatusAdapter<T>(adapter: JobStatusAdapter<T>): JobStatusAdapter<T> {
  return adapter;
}

/** A legacy endpoint answered with a status word its adapter does not map. */
export class UnknownJobStatusError extends Error {
  override readonly name = 'UnknownJobStatusError';

  constructor(
    readonly jobType: string,
    readonly jobId: string,
    /** The word, as the endpoint sent it. */
    readonly word: string,
  ) {
    super(`${jobType} job ${jobId}: the status "${word}" is not one the adapter maps`);
  }
}

const STATES: readonly JobState[] = ['Queued', 'Running', 'Completed', 'Failed'];

/** The status URL an adapter gives for one job. */
export function adapterUrl(adapter: JobStatusAdapter<never>, ref: JobRef): string {
  if (typeof adapter.url === 'function') return adapter.url(ref);
  return adapter.url
    .replaceAll('{jobId}', encodeURIComponent(ref.jobId))
    .replaceAll('{jobType}', encodeURIComponent(ref.jobType));
}

/** One read legacy answer: the standard event, and whether the endpoint dated it. */
export interface AdaptedStatus {
  readonly event: JobEvent;
  /** When it was written, ms since the epoch, if the endpoint said. */
  readonly writtenAtMs?: number;
}

/**
 * Turns one job's legacy answers into `JobEvent`s: the state from its word, and a
 * `version` that rises whenever anything the event carries changes (unless the endpoint
 * counts its own), with `timestamp` the time it was first seen (unless the endpoint says).
 */
export class LegacyStatusReader<T = unknown> {
  private last: JobEvent | undefined;

  constructor(
    private readonly adapter: JobStatusAdapter<T>,
    private readonly ref: JobRef,
  ) {}

  read(body: T, nowMs: number): AdaptedStatus {
    const legacy = this.adapter.read(body, this.ref);
    const status = this.state(String(legacy.status));
    const stamp = legacy.timestamp ?? undefined;
    const writtenAtMs =
      stamp === undefined ? undefined : typeof stamp === 'number' ? stamp : Date.parse(stamp);
    const dated = writtenAtMs !== undefined && Number.isFinite(writtenAtMs);
    const fields = {
      jobId: this.ref.jobId,
      jobType: this.ref.jobType,
      status,
      progress: legacy.progress ?? (status === 'Completed' ? 1 : (this.last?.progress ?? 0)),
      ...(legacy.message != null && { message: legacy.message }),
      ...(legacy.resultRef != null && { resultRef: legacy.resultRef }),
      ...(legacy.error != null && { error: legacy.error }),
    };
    const last = this.last;
    const same =
      last !== undefined &&
      last.status === fields.status &&
      last.progress === fields.progress &&
      last.message === fields.message &&
      last.resultRef === fields.resultRef &&
      last.error === fields.error;
    const version = legacy.version ?? (same ? last.version : (last?.version ?? 0) + 1);
    const timestamp = dated
      ? new Date(writtenAtMs).toISOString()
      : same
        ? last.timestamp
        : new Date(nowMs).toISOString();
    const event: JobEvent = { ...fields, timestamp, version };
    this.last = event;
    return dated ? { event, writtenAtMs } : { event };
  }

  private state(word: string): JobState {
    const states = this.adapter.states;
    const state =
      states === undefined
        ? STATES.find((s) => s === word)
        : typeof states === 'function'
          ? states(word)
          : Object.hasOwn(states, word)
            ? states[word]
            : undefined;
    if (state === undefined || !STATES.includes(state)) {
      throw new UnknownJobStatusError(this.ref.jobType, this.ref.jobId, word);
    }
    return state;
  }
}
