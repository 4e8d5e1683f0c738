// Benchmark 1's backoff rows: the client library's own poller (client/.../lib/poll.ts and its
// PollPlanner, compiled with the client's esbuild) with Angular's own HttpClient over fetch,
// against the benchmark's local host. No copy of the policy exists in Python.
//
//   node tests/support/typescript.mjs run bench/poll_driver.ts '{"apiUrl": "http://127.0.0.1:PORT/api"}'
//
// It bundles and starts, then reads one JSON line from stdin, `[{jobType, jobId}, ...]`, polls
// every job once per variant at the same time, and answers (as its result) per variant the
// requests sent, the 304s among them, and when (ms since the epoch) it learned each job's end.
// Variants: what the server shows the library, from one and the same endpoint.
//   hint     the answers as they are (ETag, Retry-After with the server's estimate, timestamps)
//   no hint  Retry-After removed: the policy on its own, with the payload's timestamps
//   legacy   a legacy endpoint: no ETag, no Retry-After, a body of {state, percent} only, read
//            through a JobStatusAdapter (no timestamp, no version)
import "@angular/compiler"; // the partially compiled Angular packages need the JIT facade
import {
  FetchBackend,
  HttpClient,
  HttpEvent,
  HttpHandler,
  HttpRequest,
  HttpResponse,
} from "@angular/common/http";
import {
  createEnvironmentInjector,
  EnvironmentInjector,
  Injector,
  NgZone,
  runInInjectionContext,
  ɵNoopNgZone as NoopNgZone,
} from "@angular/core";
import { createInterface } from "node:readline";
import { lastValueFrom, map, merge, Observable, tap } from "rxjs";

import { DEFAULT_JOB_EVENTS_CONFIG } from "../client/projects/job-events/src/lib/config";
import {
  isTerminal,
  JobEvent,
  JobRef,
} from "../client/projects/job-events/src/lib/models";
import {
  pollStatus,
  PollSettings,
} from "../client/projects/job-events/src/lib/poll";
import { jobStatusAdapter } from "../client/projects/job-events/src/lib/poll-adapter";

type Variant = "hint" | "no hint" | "legacy";
const VARIANTS: readonly Variant[] = ["hint", "no hint", "legacy"];

interface Counts {
  requests: number;
  notModified: number;
  learned: Record<string, number>;
}

interface LegacyBody {
  readonly state: string;
  readonly percent: number;
}

const WORDS: Record<string, string> = {
  Queued: "QUEUED",
  Running: "RUNNING",
  Completed: "DONE",
  Failed: "ERROR",
};

/** What the server's answers look like to one variant. */
class Shown implements HttpHandler {
  constructor(
    private readonly backend: HttpHandler,
    private readonly variant: Variant,
    private readonly counts: Counts,
  ) {}

  handle(request: HttpRequest<unknown>): Observable<HttpEvent<unknown>> {
    this.counts.requests += 1;
    return this.backend.handle(request).pipe(
      tap({
        error: (error: { status?: number }) => {
          if (error.status === 304) this.counts.notModified += 1;
        },
      }),
      map((event) => {
        if (!(event instanceof HttpResponse) || this.variant === "hint")
          return event;
        let headers = event.headers.delete("Retry-After");
        if (this.variant === "no hint") return event.clone({ headers });
        headers = headers.delete("ETag");
        const status = event.body as JobEvent;
        const body: LegacyBody = {
          state: WORDS[status.status],
          percent: Math.round(status.progress * 100),
        };
        return event.clone({ headers, body });
      }),
    );
  }
}

export default async function run({
  apiUrl,
}: {
  apiUrl: string;
}): Promise<Record<Variant, Counts>> {
  const injector = createEnvironmentInjector(
    [{ provide: NgZone, useValue: new NoopNgZone() }],
    Injector.NULL as EnvironmentInjector,
  );
  const backend = runInInjectionContext(injector, () => new FetchBackend());
  const legacy = jobStatusAdapter<LegacyBody>({
    url: `${apiUrl}/jobs/{jobType}/{jobId}`,
    read: (body) => ({ status: body.state, progress: body.percent / 100 }),
    states: {
      QUEUED: "Queued",
      RUNNING: "Running",
      DONE: "Completed",
      ERROR: "Failed",
    },
  });

  const lines = createInterface({ input: process.stdin });
  const jobs = JSON.parse(
    (await lines[Symbol.asyncIterator]().next()).value as string,
  ) as JobRef[];
  lines.close();

  const results = {} as Record<Variant, Counts>;
  const polls = VARIANTS.flatMap((variant) => {
    const counts: Counts = { requests: 0, notModified: 0, learned: {} };
    results[variant] = counts;
    const http = new HttpClient(new Shown(backend, variant, counts));
    // The library's defaults, as pollJobStatus and the fallback use them; the start answer said Queued.
    const settings: PollSettings = {
      ...DEFAULT_JOB_EVENTS_CONFIG.poll,
      timeoutMs: 30 * 60_000,
      knownStatus: "Queued",
      ...(variant === "legacy" && { adapter: legacy }),
    };
    return jobs.map((ref) =>
      pollStatus(http, apiUrl, ref, settings).pipe(
        tap((event) => {
          if (isTerminal(event)) counts.learned[ref.jobId] = Date.now();
        }),
      ),
    );
  });
  await lastValueFrom(merge(...polls), { defaultValue: null });
  injector.destroy();
  return results;
}
