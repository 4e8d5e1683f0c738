import { assertInInjectionContext, inject, Injector } from '@angular/core';
import { Observable } from 'rxjs';

import { JobEventsService } from './job-events.service';
import { JobEvent } from './models';
import { PollOptions } from './poll';

/**
 * Polls one job until it is `Completed` or `Failed`, politely (the policy is
 * `PollPlanner`'s, in backoff.ts):
 * - the first request goes out at once (after `initialMs` when `knownStatus` is
 *   given); then it waits `initialMs`, 5 s, 10 s, 20 s … up to `maxMs` (see
 *   `backoffDelay`); a change of status or progress holds that growth;
 * - once the job has reported progress, its pace says when it should be done, and
 *   the next poll goes out then (1 s after), whatever the backoff says; exactly with
 *   the payload's `timestamp`s, roughly (closing in by halves) without them;
 * - a `Retry-After` from the server is a floor for every wait (this project's server
 *   sends its own estimate of the end);
 * - it sends `If-None-Match` with the last `ETag`; a `304` counts as unchanged;
 * - network errors, 408/429/5xx and hung requests are retried on the same waits;
 *   any other error (404, 401 …) ends the poll with that `HttpErrorResponse`;
 * - after `timeoutMs` it errors with `JobPollTimeoutError`;
 * - it emits each new version once, and completes after the terminal one;
 * - unsubscribing cancels the request in flight and leaves no timer behind;
 * - with `fallback: true` every request carries `?fallback=1` (see `PollOptions`);
 * - with `adapter` it polls an endpoint the backend already has, and reads its
 *   answers and status words into `JobEvent`s (see `JobStatusAdapter`): a legacy
 *   poller moves to this helper with no change to the backend.
 *
 * Call it in an injection context (a constructor or field initializer), or pass
 * `injector`. `JobEventsService.pollJobStatus` works anywhere.
 */
export function pollJobStatus(
  jobType: string,
  jobId: string,
  options: PollOptions,
): Observable<JobEvent> {
  if (!options.injector) assertInInjectionContext(pollJobStatus);
  const injector = options.injector ?? inject(Injector);
  // The service's own poll: the same config merge, and the requests count in its stats.
  return injector.get(JobEventsService).pollJobStatus(jobType, jobId, options);
}
