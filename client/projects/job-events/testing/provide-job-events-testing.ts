import { provideHttpClient } from '@angular/common/http';
import { provideHttpClientTesting, TestRequest } from '@angular/common/http/testing';
import { EnvironmentProviders, makeEnvironmentProviders } from '@angular/core';
import { JobEventsOptions, provideJobEvents, WatchToken } from 'job-events';

import { FakeEventSource } from './fake-event-source';

/**
 * Everything a component test of job-events needs: `HttpClient` with the testing
 * backend, and `provideJobEvents` with `FakeEventSource` (override anything in `options`).
 */
export function provideJobEventsTesting(options: JobEventsOptions = {}): EnvironmentProviders {
  return makeEnvironmentProviders([
    provideHttpClient(),
    provideHttpClientTesting(),
    provideJobEvents({ eventSource: FakeEventSource.factory, ...options }),
  ]);
}

let streams = 0;

/**
 * Answers a `POST {apiUrl}/watch` with a stream token for the jobs it asks for;
 * returns the answer. The stream then opens as `FakeEventSource.latest()`. Like the
 * server, each answer names a stream URL of its own (`{apiUrl}/watch/{streamId}/events`,
 * the path its cookie is scoped to).
 */
export function answerWatch(
  request: TestRequest,
  token = 'token-1',
  expiresInMs = 300_000,
  streamId = `stream-${++streams}`,
): WatchToken {
  const { jobs } = request.request.body as { jobs: { jobId: string }[] };
  const answer: WatchToken = {
    token,
    tokenExpiresAt: new Date(Date.now() + expiresInMs).toISOString(),
    // A path, as the server sends it, on whatever origin the API lives.
    eventsUrl: `${new URL(request.request.url, 'http://localhost').pathname}/${streamId}/events`,
    jobIds: jobs.map((job) => job.jobId),
  };
  request.flush(answer);
  return answer;
}
