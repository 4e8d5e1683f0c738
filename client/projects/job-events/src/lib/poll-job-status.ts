import { assertInInjectionContext, inject, Injector } from '@angular/core';
import { Observable } from 'rxjs';

import { JobEventsService } from './job-events.service';
import { JobEvent } from './models';
import { PollOptions } from './poll';

/**
 * Polls one job until it is `Completed` or `Failed`, politely:
 * - the first request goes out at once (after `initialMs` when `knownStatus` is
 *   given); then it waits `initialMs`, and while the status stays the same 5 s,
 *   10 s, 20 s … up to `maxMs` (see `backoffDelay`); a change of status or
 *   progress brings the wait back to `initialMs`;
 * - a `Retry-After` from the server is a floor for the next wait. For a running
 *   job that reports progress the server says when it should be done, so after
 *   each progress report the next poll goes out about then, not after `initialMs`
 *   (without that floor, resetting on progress polls more than fixed 5 s polling:
 *   bench/README.md, benchmark 1);
 * - it sends `If-None-Match` with the last `ETag`; a `304` counts as unchanged;
 * - network errors, 408/429/5xx and hung requests are retried on the same backoff;
 *   any other error (404, 401 …) ends the poll with that `HttpErrorResponse`;
 * - after `timeoutMs` it errors with `JobPollTimeoutError`;
 * - it emits each new version once, and completes after the terminal one;
 * - unsubscribing cancels the request in flight and leaves no timer behind;
 * - with `fallback: true` every request carries `?fallback=1` (see `PollOptions`).
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
