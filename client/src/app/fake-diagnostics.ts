/** Test data: a `GET /local/diagnostics` body, for the panel's unit tests. */
import { Diagnostics, METRIC, MetricName, StreamFigures } from './diagnostics';

const NO_CLOSES: StreamFigures['closed'] = {
  terminal: 0,
  client_gone: 0,
  lifetime: 0,
  shutdown: 0,
  auth: 0,
  capacity: 0,
  rejected: 0,
};

/** A `GET /local/diagnostics` body, with any metric replaced and the stream figures given. */
export function fakeDiagnostics(
  overrides: Partial<Record<MetricName, unknown[]>> = {},
  streams: Partial<StreamFigures> = { open: 0, opened: 0 },
): Diagnostics {
  return {
    streams: { open: 0, opened: 0, closed: NO_CLOSES, max: 5000, ...streams },
    hub: { watchedJobs: 0 },
    watcher: { running: false, polls: 0, reconciles: 0 },
    queue: [],
    storageOperations: {},
    process: { asyncioTasks: 5, openFiles: 13, maxRssKiB: 86568, rssKiB: 86836, gcObjects: null },
    metrics: {
      [METRIC.REQUESTS]: [
        {
          attributes: {
            'http.route': '/api/jobs/{jobType}/start',
            'http.request.method': 'POST',
            'http.response.status_code': 202,
          },
          value: 50,
        },
        {
          attributes: {
            'http.route': '/api/watch',
            'http.request.method': 'POST',
            'http.response.status_code': 200,
          },
          value: 8,
        },
      ],
      [METRIC.STREAMS_OPEN]: [{ attributes: {}, value: 2 }],
      [METRIC.STREAMS_OPENED]: [
        { attributes: { resumed: false, jobs: 'many' }, value: 7 },
        { attributes: { resumed: true, jobs: 'many' }, value: 2 },
        { attributes: { resumed: true, jobs: 'one' }, value: 1 },
      ],
      [METRIC.STREAMS_CLOSED]: [
        { attributes: { reason: 'terminal' }, value: 7 },
        { attributes: { reason: 'client_gone' }, value: 1 },
        { attributes: { reason: 'capacity' }, value: 3 },
        { attributes: { reason: 'lifetime' }, value: 4 },
      ],
      [METRIC.POLLS]: [
        { attributes: { job_type: 'Sleep', fallback: true }, value: 3 },
        { attributes: { job_type: 'Sleep', fallback: false }, value: 40 },
        { attributes: { job_type: 'Fail', fallback: true }, value: 2 },
      ],
      [METRIC.RUN_TIME]: [
        {
          attributes: { job_type: 'Sleep', outcome: 'Completed' },
          ...{ count: 20, sum: 60, min: 2.9, max: 3.3, p50: 2.5, p95: 5, p99: 5 },
        },
        {
          attributes: { job_type: 'StoryPublish', outcome: 'Completed' },
          ...{ count: 10, sum: 45, min: 4, max: 5, p50: 5, p95: 10, p99: 10 },
        },
        {
          attributes: { job_type: 'Fail', outcome: 'Failed' },
          ...{ count: 5, sum: 10, min: 1, max: 3, p50: 2.5, p95: 2.5, p99: 2.5 },
        },
      ],
      [METRIC.JOBS_FAILED]: [{ attributes: { job_type: 'Fail', reason: 'error' }, value: 5 }],
      [METRIC.NOTIFY_LATENCY]: [
        {
          attributes: { path: 'local' },
          ...{ count: 120, sum: 800, min: 1, max: 30, p50: 10, p95: 25, p99: 25 },
        },
        {
          attributes: { path: 'feed' },
          ...{ count: 4, sum: 900, min: 150, max: 300, p50: 250, p95: 250, p99: 250 },
        },
      ],
      ...overrides,
    },
  } as Diagnostics;
}
