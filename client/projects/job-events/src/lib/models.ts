/** The four states of a job. `Completed` and `Failed` are terminal. */
export type JobState = 'Queued' | 'Running' | 'Completed' | 'Failed';

/**
 * The standard payload: the body of `GET /api/jobs/{jobType}/{jobId}` and every
 * SSE `data:` line. `version` rises with every change of the job.
 */
export interface JobEvent {
  readonly jobId: string;
  readonly jobType: string;
  readonly status: JobState;
  /** Fraction done, 0.0 to 1.0. */
  readonly progress: number;
  readonly message?: string;
  readonly resultRef?: string;
  readonly error?: string;
  /** ISO-8601 time of this version. */
  readonly timestamp: string;
  readonly version: number;
}

/** The answer to `POST /api/jobs/{jobType}/start`. */
export interface JobStarted {
  readonly jobId: string;
  readonly jobType: string;
  readonly status: JobState;
  readonly statusUrl: string;
  readonly eventsUrl: string;
  readonly token: string;
  readonly tokenExpiresAt: string;
}

/** The answer to `POST /api/watch`: a token for one stream that carries several jobs. */
export interface WatchToken {
  readonly token: string;
  readonly tokenExpiresAt: string;
  readonly eventsUrl: string;
  /** The stream's job order: the order of the versions in its event ids. */
  readonly jobIds: readonly string[];
}

export interface JobRef {
  readonly jobType: string;
  readonly jobId: string;
}

/** The answer to `GET /api/jobs?status=active|recent`: the caller's jobs, newest first. */
export interface JobList {
  readonly jobs: readonly JobEvent[];
  /** Pass it back as `continuationToken` for the next page; `null` on the last page. */
  readonly continuationToken: string | null;
}

/**
 * How a job is being watched right now:
 * - `sse`: on a shared server-sent-events stream;
 * - `polling`: polled because the caller (or the config) asked for polling;
 * - `fallback`: polled because the stream failed (after reconnect attempts).
 */
export type JobTransport = 'sse' | 'polling' | 'fallback';

export function isTerminal(event: Pick<JobEvent, 'status'>): boolean {
  return event.status === 'Completed' || event.status === 'Failed';
}
