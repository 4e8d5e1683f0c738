// Runs the client library's own polling loop (client/.../lib/poll.ts, its PollPlanner) against
// scripted jobs in virtual time, and returns when it sent each request.
// tests/bench/test_backoff_policy.py holds the policy to benchmark 1's targets with it.
//
// Bundled with the client's esbuild and run under node by tests/support/typescript.mjs.
import "@angular/compiler"; // the partially compiled Angular packages need the JIT facade
import {
  HttpErrorResponse,
  HttpHeaders,
  HttpResponse,
  type HttpClient,
} from "@angular/common/http";
import { defer, Observable, of, throwError } from "rxjs";
import { TestScheduler } from "rxjs/testing";

import { DEFAULT_JOB_EVENTS_CONFIG } from "../../client/projects/job-events/src/lib/config";
import {
  pollStatus,
  PollSettings,
} from "../../client/projects/job-events/src/lib/poll";
import { jobStatusAdapter } from "../../client/projects/job-events/src/lib/poll-adapter";

/** One status write of a scripted job: from `atMs` on, the server answers with it. */
interface Change {
  readonly atMs: number;
  readonly status: "Queued" | "Running" | "Completed" | "Failed";
  readonly progress: number;
  /** The `Retry-After` (seconds) the server sends with it, or null for none. */
  readonly retryAfter: number | null;
  /**
   * The end the server estimates (ms), if it does: then `Retry-After` is the time left
   * at each request + 1 s, 2 to 60 s, as api/handlers.py `poll_after` computes it.
   */
  readonly etaMs?: number;
}

/** What the scripted server sends besides the status. */
interface Server {
  /** `Retry-After` (the hint). */
  readonly hint: boolean;
  /** The standard payload with its `timestamp` and an `ETag`; false: a legacy endpoint with neither. */
  readonly standard: boolean;
}

/** A scripted job: its status writes in time order, the first at 0. */
interface Scenario {
  readonly changes: readonly Change[];
  readonly server: Server;
}

/** One request the client sent: when, and whether it got 304. */
type Sent = [atMs: number, code: 200 | 304];

interface LegacyBody {
  readonly state: string;
  readonly percent: number;
}

// How a legacy endpoint's answer is read: benchmark 1's "legacy endpoint" row uses the same.
const legacy = jobStatusAdapter<LegacyBody>({
  url: "/legacy/{jobType}/{jobId}",
  read: (body) => ({ status: body.state, progress: body.percent / 100 }),
  states: {
    QUEUED: "Queued",
    RUNNING: "Running",
    DONE: "Completed",
    ERROR: "Failed",
  },
});
const WORDS = {
  Queued: "QUEUED",
  Running: "RUNNING",
  Completed: "DONE",
  Failed: "ERROR",
};

function schedule({ changes, server }: Scenario): Sent[] {
  const sent: Sent[] = [];
  const scheduler = new TestScheduler(() => {});
  scheduler.run(({ flush }) => {
    const http = {
      get: (
        _url: string,
        options: { headers?: HttpHeaders },
      ): Observable<unknown> =>
        defer(() => {
          const now = scheduler.now();
          const index = changes.findLastIndex((c) => c.atMs <= now);
          const change = changes[index];
          const version = index + 1;
          const retryAfter =
            change.etaMs === undefined
              ? change.retryAfter
              : Math.min(
                  60,
                  Math.max(2, Math.ceil((change.etaMs - now) / 1000 + 1)),
                );
          let headers = new HttpHeaders(
            server.hint && retryAfter !== null
              ? { "Retry-After": String(retryAfter) }
              : {},
          );
          if (
            server.standard &&
            options.headers?.get("If-None-Match") === `"${version}"`
          ) {
            sent.push([now, 304]);
            // Angular's HttpClient reports a 304 as an error.
            return throwError(
              () => new HttpErrorResponse({ status: 304, headers }),
            );
          }
          sent.push([now, 200]);
          if (!server.standard) {
            const body: LegacyBody = {
              state: WORDS[change.status],
              percent: Math.round(change.progress * 100),
            };
            return of(new HttpResponse({ status: 200, body, headers }));
          }
          headers = headers.set("ETag", `"${version}"`);
          const body = {
            jobId: "j",
            jobType: "Sleep",
            status: change.status,
            progress: change.progress,
            timestamp: new Date(change.atMs).toISOString(),
            version,
          };
          return of(new HttpResponse({ status: 200, body, headers }));
        }),
    };
    // The library's defaults, as JobEventsService's fallback and pollJobStatus use them.
    const settings: PollSettings = {
      ...DEFAULT_JOB_EVENTS_CONFIG.poll,
      timeoutMs: 24 * 3600_000,
      knownStatus: "Queued", // as benchmark 1: the start answer said Queued
      ...(!server.standard && { adapter: legacy }),
    };
    // Only `get` is used, as pollStatus calls it.
    pollStatus(
      http as unknown as HttpClient,
      "/api",
      { jobType: "Sleep", jobId: "j" },
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
  return {
    defaults: DEFAULT_JOB_EVENTS_CONFIG.poll,
    schedules: scenarios.map(schedule),
  };
}
