import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { Observable, Subscription } from 'rxjs';
import { JobEvent } from 'job-events';

import { answerWatch } from './provide-job-events-testing';

/** What a watch delivered: its events, its errors and whether it completed. */
export interface RecordedWatch {
  readonly events: JobEvent[];
  readonly errors: unknown[];
  completed: boolean;
  subscription: Subscription;
}

/** Subscribes to `source` and records what it delivers. */
export function recordWatch(source: Observable<JobEvent>): RecordedWatch {
  const watch: RecordedWatch = {
    events: [],
    errors: [],
    completed: false,
    subscription: Subscription.EMPTY,
  };
  watch.subscription = source.subscribe({
    next: (event) => watch.events.push(event),
    error: (error: unknown) => watch.errors.push(error),
    complete: () => (watch.completed = true),
  });
  return watch;
}

/** Answers the one pending `POST {apiUrl}/watch` with a token for the jobs it asks for. */
export function grantWatch(
  http: HttpTestingController,
  token = 'token-1',
  expiresInMs = 300_000,
  url = '/api/watch',
): TestRequest {
  const request = http.expectOne({ method: 'POST', url });
  answerWatch(request, token, expiresInMs);
  return request;
}
