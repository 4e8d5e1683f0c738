import {
  counterTotal,
  Diagnostics,
  EMPTY_HISTORY,
  Figures,
  formatMs,
  formatRate,
  formatSeconds,
  History,
  isDiagnostics,
  METRIC,
  MetricName,
  rateSeries,
  readFigures,
  rebase,
  record,
  requestsPerMinute,
  sparkline,
} from './diagnostics';
import { fakeDiagnostics } from './fake-diagnostics';

/** Figures with just a request total and open streams, for history tests. */
function reading(requests: number, openStreams = 0): Figures {
  return { ...readFigures({ metrics: {} }), requests, openStreams };
}

describe('readFigures', () => {
  it('reads every figure of the panel from the diagnostics', () => {
    const figures = readFigures(fakeDiagnostics());
    expect(figures.requests).toBe(58);
    expect(figures.openStreams).toBe(2);
    expect(figures.streamsOpened).toBe(10);
    expect(figures.reconnects).toBe(3);
    expect(figures.errors).toEqual({
      clientGone: 1,
      capacity: 3,
      auth: 0,
      failedJobs: 5,
      fallbackPolls: 5,
      total: 14,
    });
    expect(figures.runTimes.map(({ byType, ...row }) => row)).toEqual([
      { outcome: 'Completed', jobs: 30, avgSeconds: 3.5, p95Seconds: 10 },
      { outcome: 'Failed', jobs: 5, avgSeconds: 2, p95Seconds: 2.5 },
    ]);
    expect(figures.runTimes[0].byType.map((t) => [t.jobType, t.avgSeconds])).toEqual([
      ['Sleep', 3],
      ['StoryPublish', 4.5],
    ]);
    expect(figures.notifyP95Ms).toBe(250);
    expect(figures.notifyPaths.map((p) => p.path)).toEqual(['feed', 'local']);
  });

  it('reads zeros and nothing-yet while metrics are absent (a fresh host)', () => {
    const figures = readFigures({ streams: { open: 0, opened: 0 }, metrics: {} });
    expect(figures).toEqual({
      requests: 0,
      openStreams: 0,
      streamsOpened: 0,
      reconnects: 0,
      errors: { clientGone: 0, capacity: 0, auth: 0, failedJobs: 0, fallbackPolls: 0, total: 0 },
      runTimes: [],
      notifyP95Ms: null,
      notifyPaths: [],
    });
  });

  it('takes open streams from the stream registry until the metric exists', () => {
    expect(readFigures({ streams: { open: 4 }, metrics: {} }).openStreams).toBe(4);
    const withMetric = fakeDiagnostics({}, { open: 9, opened: 9 });
    expect(readFigures(withMetric).openStreams).toBe(2);
  });

  it('matches counter attributes exactly, booleans included', () => {
    const diagnostics = fakeDiagnostics();
    expect(counterTotal(diagnostics, METRIC.POLLS)).toBe(45);
    expect(counterTotal(diagnostics, METRIC.POLLS, { fallback: false })).toBe(40);
    expect(counterTotal(diagnostics, METRIC.POLLS, { fallback: 'true' })).toBe(0);
    expect(counterTotal(diagnostics, 'no.such.metric' as MetricName)).toBe(0);
  });

  it('reads a metric that is not a list of points as absent', () => {
    const odd = { metrics: { [METRIC.REQUESTS]: {}, [METRIC.RUN_TIME]: [null] } };
    const figures = readFigures(odd as unknown as Diagnostics);
    expect(figures.requests).toBe(0);
    expect(figures.runTimes).toEqual([]);
  });

  it('tells a diagnostics body from anything else', () => {
    expect(isDiagnostics(fakeDiagnostics())).toBe(true);
    expect(isDiagnostics({ metrics: {} })).toBe(true);
    expect(isDiagnostics('<!doctype html>')).toBe(false);
    expect(isDiagnostics(null)).toBe(false);
    expect(isDiagnostics({ metrics: [] })).toBe(false);
  });
});

describe('request rate', () => {
  function readings(...points: [at: number, requests: number][]): History {
    return points.reduce((h, [at, requests]) => record(h, reading(requests), at), EMPTY_HISTORY);
  }

  it('is the delta of the request total over the time between readings, per minute', () => {
    const history = readings([0, 100], [2000, 104], [4000, 104], [6000, 130]);
    expect(rateSeries(history)).toEqual([120, 0, 780]);
    // The last minute: 30 requests in 6 s.
    expect(requestsPerMinute(history, 6000)).toBe(300);
  });

  it('has no rate from a single reading', () => {
    const history = readings([0, 100]);
    expect(rateSeries(history)).toEqual([]);
    expect(requestsPerMinute(history, 0)).toBeNull();
  });

  it('averages only the intervals of the last minute', () => {
    let history = readings([0, 0], [2000, 60]); // 1800/min, long ago
    for (let at = 4000; at <= 90_000; at += 2000) history = record(history, reading(60), at);
    expect(requestsPerMinute(history, 90_000)).toBe(0);
    history = record(history, reading(62), 92_000);
    expect(requestsPerMinute(history, 92_000)).toBe(2); // 2 requests over the last 60 s
  });

  it('treats a smaller total as a host restart: counting from zero again', () => {
    const history = readings([0, 500], [2000, 510], [4000, 6]);
    expect(rateSeries(history)).toEqual([300, 180]);
  });

  it('computes no rate across a pause', () => {
    let history = readings([0, 100], [2000, 110]);
    history = rebase(history);
    history = record(history, reading(400), 60_000); // baseline after the pause
    history = record(history, reading(402), 62_000);
    expect(rateSeries(history)).toEqual([300, 60]);
    expect(history.samples).toHaveLength(4);
  });

  it('keeps the last 60 samples', () => {
    let history = EMPTY_HISTORY;
    for (let i = 0; i < 100; i++) history = record(history, reading(i, i), i * 2000);
    expect(history.samples).toHaveLength(60);
    expect(history.samples[0].openStreams).toBe(40);
    expect(history.samples.at(-1)!.openStreams).toBe(99);
  });
});

describe('sparkline', () => {
  it('puts the newest value at the right edge, 0 at the bottom and the largest at the top', () => {
    const line = sparkline([0, 5, 10], { width: 100, height: 24, capacity: 11, pad: 2 });
    expect(line.max).toBe(10);
    expect(line.line).toBe('80,22 90,12 100,2');
    expect(line.area).toBe('M80,24 L80,22 L90,12 L100,2 L100,24 Z');
  });

  it('scales to at least 1, so a run of zeros lies flat on the bottom', () => {
    const line = sparkline([0, 0, 0], { width: 20, height: 10, capacity: 3, pad: 0 });
    expect(line.max).toBe(1);
    expect(line.line).toBe('0,10 10,10 20,10');
  });

  it('shows only the last `capacity` values, and clamps negatives to 0', () => {
    const values = Array.from({ length: 80 }, (_, i) => i);
    const line = sparkline(values, { width: 59, height: 10, capacity: 60, pad: 0 });
    const points = line.line.split(' ');
    expect(points).toHaveLength(60);
    expect(points[0]).toBe(`0,${Math.round((10 - (20 / 79) * 10) * 10) / 10}`);
    expect(points.at(-1)).toBe('59,0');
    expect(sparkline([-3, 2], { width: 10, height: 10, capacity: 2, pad: 0 }).line).toBe(
      '0,10 10,0',
    );
  });

  it('draws a short flat line for one value, and nothing for none', () => {
    expect(sparkline([3], { width: 100, height: 10, capacity: 5, pad: 0 }).line).toBe('75,0 100,0');
    expect(sparkline([])).toEqual({ line: '', area: '', max: 1 });
  });
});

describe('formatting', () => {
  it('formats durations, latencies and rates for the panel', () => {
    expect(formatSeconds(0.25)).toBe('250 ms');
    expect(formatSeconds(3.14)).toBe('3.1 s');
    expect(formatSeconds(300)).toBe('5.0 min');
    expect(formatSeconds(null)).toBe('—');
    expect(formatMs(25)).toBe('25 ms');
    expect(formatMs(2500)).toBe('2.5 s');
    expect(formatMs(undefined)).toBe('—');
    expect(formatRate(2.345)).toBe('2.3');
    expect(formatRate(123.6)).toBe('124');
    expect(formatRate(null)).toBe('—');
  });
});
