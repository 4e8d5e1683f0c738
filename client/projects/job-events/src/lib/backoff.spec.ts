import { backoffDelay, retryAfterMs } from './backoff';

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
