// Runs the client library's own polling loop (client/.../lib/poll.ts) against scripted jobs
// in virtual time, and returns when it sent each request. tests/bench/test_backoff_policy.py
// runs benchmark 1's Python copy against the same jobs and compares the two schedules.
//
// Bundled with the client's esbuild and run under node by tests/support/typescript.mjs.
import '@angular/compiler'; // the partially compiled Angular packages need the JIT facade
import {
  HttpErrorResponse,
  HttpHeaders,
  HttpResponse,
  type HttpClient,
} from '@angular/common/http';
import { defer, Observable, throwError, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';

import { DEFAULT_JOB_EVENTS_CONFIG } from '../../client/projects/job-events/src/lib/config';
import { pollStatus, PollSettings } from '../../client/projects/job-events/src/lib/poll';

/** One status write of a scripted job: from `atMs` on, the server answers with it. */
interface Change {
  readonly atMs: number;
  readonly status: 'Queued' | 'Running' | 'Completed' | 'Failed';
  readonly progress: number;
  /** The `Retry-After` (seconds) the server sends with it, or null for none. */
  readonly retryAfter: number | null;
}

/** A scripted job: its status writes in time order, the first at 0. */
type Scenario = readonly Change[];

/** One request the client sent: when, and whether it got 304. */
type Sent = [atMs: number, code: 200 | 304];

function schedule(scenario: Scenario): Sent[] {
  const sent: Sent[] = [];
  const scheduler = new TestScheduler(() => {});
  scheduler.run(({ flush }) => {
    const http = {
      get: (_url: string, options: { headers?: HttpHeaders }): Observable<unknown> =>
        defer(() => {
          const now = scheduler.now();
          const index = scenario.findLastIndex((c) => c.atMs <= now);
          const change = scenario[index];
          const version = index + 1;
          const headers = new HttpHeaders(
            change.retryAfter === null ? {} : { 'Retry-After': String(change.retryAfter) },
          );
          if (options.headers?.get('If-None-Match') === `"${version}"`) {
            sent.push([now, 304]);
            // Angular's HttpClient reports a 304 as an error.
            return throwError(() => new HttpErrorResponse({ status: 304, headers }));
          }
          sent.push([now, 200]);
          const body = {
            jobId: 'j',
            jobType: 'Sleep',
            status: change.status,
            progress: change.progress,
            version,
          };
          return of(
            new HttpResponse({ status: 200, body, headers: headers.set('ETag', `"${version}"`) }),
          );
        }),
    };
    // The library's defaults, as JobEventsService's fallback and pollJobStatus use them.
    const settings: PollSettings = {
      ...DEFAULT_JOB_EVENTS_CONFIG.poll,
      timeoutMs: 24 * 3600_000,
      knownStatus: 'Queued', // as benchmark 1: the start answer said Queued
    };
    // Only `get` is used, as pollStatus calls it.
    pollStatus(
      http as unknown as HttpClient,
      '/api',
      { jobType: 'Sleep', jobId: 'j' },
      settings,
    ).subscribe();
    flush();
  });
  return sent;
}

export default function run(scenarios: readonly Scenario[]): {
  defaults: object;
  schedules: Sent[][];
} {
  return { defaults: DEFAULT_JOB_EVENTS_CONFIG.poll, schedules: scenarios.map(schedule) };
}
