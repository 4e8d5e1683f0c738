// What the audit must report on fixtures/legacy-app, written by hand from reading the fixture:
// every poller in it, and nothing else (its eight timers that make no poll must not appear).
const yes = (how) => ({ ok: true, how });
const no = (how) => ({ ok: false, how });
const CALLER = { ok: null, how: 'returned to the caller' };
const NONE = no('none');
const FIXED = no('fixed period');

/** [file under src/app, line, column, mechanism, request, timeout, cleanup, backoff] */
// prettier-ignore
const rows = [
  ['exports/export-status.service.ts', 16, 5, 'interval(10000)', 'HttpClient.get()', NONE, no('subscription dropped'), FIXED],
  ['exports/legacy-poller.ts', 3, 18, 'setInterval(…, 5000)', 'fetch()', yes('setTimeout() → clearInterval()'), no('never cleared on destroy'), FIXED],
  ['exports/upload-status.component.ts', 13, 19, 'setInterval(…, 4000)', 'this.refresh() → HttpClient.get()', NONE, yes('clearInterval() in ngOnDestroy'), FIXED],
  ['jobs/dashboard.component.ts', 15, 16, 'interval(8000)', 'HttpClient.get()', NONE, yes('unsubscribe() in ngOnDestroy'), FIXED],
  ['jobs/job-detail.component.ts', 20, 11, 'interval(4000)', 'HttpClient.get()', NONE, yes('takeUntilDestroyed()'), FIXED],
  ['jobs/job-row.component.ts', 15, 5, 'interval(3000)', 'JobsApiService.status() → HttpClient.get()', NONE, no('subscription dropped'), FIXED],
  ['jobs/jobs-api.service.ts', 21, 12, 'interval(5000)', 'this.status() → HttpClient.get()', NONE, CALLER, FIXED],
  ['jobs/jobs-api.service.ts', 27, 7, 'expand()', 'this.status() → HttpClient.get()', yes('timeout()'), CALLER, yes('growing timer()')],
  ['jobs/render-progress.component.ts', 17, 5, 'timer(0, 2000)', 'HttpClient.get()', yes('timeout()'), yes('takeUntilDestroyed()'), FIXED],
  ['reports/publish-watcher.service.ts', 23, 22, 'setTimeout() loop', 'HttpClient.get()', NONE, no('never cleared on destroy'), yes('growing delay')],
  ['reports/report.service.ts', 18, 7, 'repeat()', 'HttpClient.get()', NONE, CALLER, no('fixed delay')],
  ['reports/report.service.ts', 32, 7, 'retry()', 'HttpClient.get()', yes('count 20'), CALLER, yes('growing delay')],
  ['widgets/health.component.ts', 11, 17, 'interval(30000)', 'this.check() → fetch()', NONE, yes('unsubscribe() in DestroyRef.onDestroy'), FIXED],
  ['widgets/queue-depth.component.ts', 11, 5, 'timer(0, 15000)', 'HttpClient.get()', NONE, yes('toSignal()'), FIXED],
];

export const expectedPollers = rows.map(
  ([file, line, column, mechanism, request, timeout, cleanup, backoff]) => ({
    file: `src/app/${file}`,
    line,
    column,
    mechanism,
    request,
    timeout,
    cleanup,
    backoff,
  }),
);

export const expectedTotals = {
  pollers: 14,
  withoutTimeout: 10,
  withoutCleanup: 4,
  cleanupLeftToCaller: 4,
  withoutBackoff: 11,
  complete: 0,
};

/** Every .ts file of the fixture, pollers or not. */
export const expectedFilesScanned = 15;
