import { backoffDelay, PollPlanner, retryAfterMs } from './backoff';

describe('backoffDelay', () => {
  it('starts at initialMs, then 5, 10, 20, 40 s and caps at maxMs', () => {
    const steps = [0, 1, 2, 3, 4, 5, 6, 20].map((step) => backoffDelay(step, 1000, 60_000));
    expect(steps).toEqual([1000, 5000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
  });

  it('never drops below twice a large initialMs', () => {
    expect([0, 1, 2].map((step) => backoffDelay(step, 4000, 30_000))).toEqual([4000, 8000, 16_000]);
  });

  it('starts from 2 s as readily as from 1 s: the second wait is still 5 s', () => {
    expect([0, 1, 2, 3].map((step) => backoffDelay(step, 2000, 60_000))).toEqual([
      2000, 5000, 10_000, 20_000,
    ]);
  });

  it('is back at initialMs for step 0, the step after any change (and for a step below 0)', () => {
    expect(backoffDelay(0, 1000, 60_000)).toBe(1000);
    expect(backoffDelay(-3, 1000, 60_000)).toBe(1000);
  });

  it('holds every wait at or under maxMs, the first one included', () => {
    expect([0, 1, 2, 3].map((step) => backoffDelay(step, 1000, 8000))).toEqual([
      1000, 5000, 8000, 8000,
    ]);
    expect(backoffDelay(0, 1000, 500)).toBe(500);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and ignores junk', () => {
    expect(retryAfterMs('7')).toBe(7000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon')).toBe(0);
    expect(retryAfterMs(null)).toBe(0);
  });

  it('reads 0 for a missing or empty header and for an HTTP date in the past', () => {
    expect(retryAfterMs(undefined)).toBe(0);
    expect(retryAfterMs('')).toBe(0);
    expect(retryAfterMs(new Date(1000).toUTCString(), 5000)).toBe(0);
  });

  it('allows whitespace around the seconds', () => {
    expect(retryAfterMs(' 12 ')).toBe(12_000);
    expect(retryAfterMs('0')).toBe(0);
  });
});

describe('PollPlanner', () => {
  const running = (version: number, progress: number, writtenAtMs?: number) => ({
    status: 'Running' as const,
    progress,
    version,
    writtenAtMs,
  });

  it('grows the wait with every answer, whatever changed, while no pace can be told', () => {
    const planner = new PollPlanner(1000, 60_000);
    expect(planner.answered(0, { status: 'Queued', progress: 0, version: 1 })).toBe(1000);
    expect(planner.answered(1000, running(2, 0))).toBe(5000);
    expect(planner.answered(6000, null)).toBe(10_000);
    // A message-only change: still no progress, no pace.
    expect(planner.answered(16_000, running(3, 0))).toBe(20_000);
  });

  it("waits until the end the job's write times give, plus a second, up to maxMs", () => {
    const planner = new PollPlanner(1000, 60_000);
    planner.first();
    expect(planner.answered(1000, running(2, 0, 500))).toBe(5000);
    // 20 % in 10 s: the end at 50.5 s, the poll at 51.5 s.
    expect(planner.answered(11_000, running(3, 0.2, 10_500))).toBe(40_500);
    const slow = new PollPlanner(1000, 30_000);
    slow.answered(0, running(1, 0, 0));
    expect(slow.answered(10_000, running(2, 0.1, 10_000))).toBe(30_000);
  });

  it("reads the server's clock from the answers when it is not the poll's", () => {
    const planner = new PollPlanner(1000, 60_000);
    // The server's clock is 100 s behind: its write times are, too.
    planner.answered(0, running(1, 0, -100_000));
    planner.answered(4900, null);
    // Written after the poll at 4.9 s and before this one: the clocks are 99.95–100 s apart,
    // and the end (4.95 s after this report on the server's clock) at 9.9–9.95 s on the poll's.
    expect(planner.answered(5000, running(2, 0.5, -95_050))).toBe(-90_100 + 99_950 + 1000 - 5000);
  });

  it('falls back to the middle of the wait, and closes in by halves, without write times', () => {
    const planner = new PollPlanner(1000, 60_000);
    planner.answered(0, running(1, 0));
    // Seen at 10 s, so dated 5 s: 10 % in 5 s, the end at 50 s; 41 s left, polled in halves.
    expect(planner.answered(10_000, running(2, 0.1))).toBe(20_500);
    expect(planner.answered(30_500, null)).toBe(10_250);
    expect(planner.answered(47_000, null)).toBe(4000);
  });

  it('starts the pace again when the progress goes back (the job restarted)', () => {
    const planner = new PollPlanner(1000, 60_000);
    planner.answered(0, running(1, 0, 0));
    expect(planner.answered(1000, running(2, 0.5, 1000))).toBe(2000);
    expect(planner.answered(3000, running(3, 0.1, 3000))).toBe(10_000); // the old pace is gone
  });

  it("never waits less than the answer's Retry-After", () => {
    const planner = new PollPlanner(1000, 60_000);
    planner.answered(0, running(1, 0, 0));
    expect(planner.answered(1000, running(2, 0.5, 1000), 30_000)).toBe(30_000);
    expect(planner.failed(31_000, 70_000)).toBe(70_000);
  });
});
