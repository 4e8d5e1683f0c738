import { JobEvent } from './models';

/** A poll ran past its `timeoutMs` before the job finished. */
export class JobPollTimeoutError extends Error {
  override readonly name = 'JobPollTimeoutError';

  constructor(
    readonly jobType: string,
    readonly jobId: string,
    readonly timeoutMs: number,
    /** The last state seen before giving up, if any. */
    readonly lastEvent?: JobEvent,
  ) {
    super(`${jobType} job ${jobId} did not finish within ${timeoutMs} ms`);
  }
}

/**
 * A stream could not be (re)opened after the configured reconnect attempts.
 * `JobEventsService.watchJob` catches it and falls back to polling; you only
 * see it if you use the stream pool directly.
 */
export class StreamUnavailableError extends Error {
  override readonly name = 'StreamUnavailableError';

  constructor(cause?: unknown) {
    super('the event stream is unavailable', { cause });
  }
}
