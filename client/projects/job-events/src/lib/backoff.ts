import { JobState } from './models';

/**
 * The wait before poll number `step + 1` while no end is in sight: `initialMs`,
 * then 5 s, 10 s, 20 s … (doubling, and never less than twice `initialMs`),
 * capped at `maxMs`. `step` counts the answers since polling began.
 *
 * With the defaults (1 s, 60 s): 1, 5, 10, 20, 40, 60, 60 … seconds.
 */
export function backoffDelay(step: number, initialMs: number, maxMs: number): number {
  const ms = step <= 0 ? initialMs : Math.max(2 * initialMs, 5000) * 2 ** (step - 1);
  return Math.min(maxMs, ms);
}

/**
 * A `Retry-After` header in milliseconds (delta-seconds or an HTTP date), or 0
 * when absent or unreadable.
 */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number {
  if (!value) return 0;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? 0 : Math.max(0, date - now);
}

/**
 * How long after the estimated end the poll goes out: the last write has to land
 * (the server's own estimate adds the same second).
 */
export const END_MARGIN_MS = 1000;

/**
 * Without the server's timestamps the end is only roughly known (a change is seen up
 * to a whole wait after it happened), so the poll closes in on it by halves, never in
 * steps shorter than this.
 */
export const ROUGH_STEP_MS = 4000;

/** What one status answer said, for `PollPlanner`. */
export interface PollAnswer {
  readonly status: JobState;
  /** Fraction done, 0 to 1. */
  readonly progress: number;
  /** Rises with every change; an answer with the version seen before is "unchanged". */
  readonly version: number;
  /**
   * When the server wrote this version (ms since the epoch), if the answer says so
   * (the standard payload's `timestamp`; a legacy adapter's, if it maps one).
   * With it the job's pace is exact; without it the poll's own clock brackets it.
   */
  readonly writtenAtMs?: number;
}

/**
 * Decides every wait of one poll. Pure: it is given the time of each answer and
 * never reads a clock, so the same policy runs in tests, in virtual time and in
 * benchmark 1 (which drives the compiled library).
 *
 * The policy, and why:
 * - While no end is in sight the wait grows with every answer: `initialMs`, then
 *   5, 10, 20 … s up to `maxMs` (`backoffDelay`). A change of status or progress
 *   **holds** that growth rather than resetting it to `initialMs`: resetting on
 *   every progress report polled more than fixed 5 s polling for a job that reports
 *   every 6–18 s (bench/README.md, benchmark 1).
 * - Once the job has reported progress past a first reference point (its start at
 *   0, or an earlier report), its pace tells when it should be done; the next poll
 *   goes out then, plus `END_MARGIN_MS`, however long that is (up to `maxMs`). The
 *   server's write times (`writtenAtMs`) give the pace exactly, and the poll's own
 *   clock is related to the server's by the answers themselves (a version was
 *   written after the poll that did not see it and before the one that did; clocks
 *   are taken as equal unless that says otherwise). Without write times a change is
 *   dated to the middle of the wait in which it happened, and the poll closes in on
 *   the rougher estimate by halves (steps of at least `ROUGH_STEP_MS`).
 * - Past the estimated end, the waits grow again from `initialMs` with the time
 *   overdue, never beyond the backoff.
 * - Every wait is at least the answer's `Retry-After`, when it sends one: a server
 *   that knows better (this project's says when a running job should be done) wins.
 */
export class PollPlanner {
  private step = -1;
  private known = false;
  private lastAt: number | undefined;
  private version: number | undefined;
  private progress: number | undefined;
  private exact = true;
  /** The first running report this pace is measured from. */
  private anchor: { readonly at: number; readonly progress: number } | undefined;
  /** The estimated end, on the server's clock when `exact`, else on the poll's. */
  private endAt: number | undefined;
  /** Bounds of (poll's clock − server's clock), from the answers. */
  private offsetLow = -Infinity;
  private offsetHigh = Infinity;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /**
   * The wait before the first request when the caller knows the status already (the
   * start answer said `Queued`): `initialMs`, the first step of the backoff.
   */
  first(): number {
    this.step = 0;
    this.known = true;
    return this.initialMs;
  }

  /** The answer at `now` (the poll's clock, ms): a new or repeated state, or `null` for a 304. */
  answered(now: number, answer: PollAnswer | null, retryAfter = 0): number {
    const before = this.lastAt;
    this.lastAt = now;
    if (answer && this.version === undefined) {
      // The first answer starts the backoff (failed requests before it were its steps):
      // `initialMs` next, or 5 s when the caller knew the status and waited already.
      this.step = this.known ? 0 : -1;
    }
    if (answer && answer.version !== this.version) this.learn(now, before, answer);
    return this.next(now, retryAfter);
  }

  /** A request that failed at `now` (retried on the same waits). */
  failed(now: number, retryAfter = 0): number {
    // A failure counts as "unchanged": the step after the first request's, at least.
    this.step = Math.max(this.step, 0);
    return this.next(now, retryAfter);
  }

  private learn(now: number, before: number | undefined, answer: PollAnswer): void {
    this.version = answer.version;
    const stamp = answer.writtenAtMs;
    let at: number;
    if (this.exact && stamp !== undefined && Number.isFinite(stamp)) {
      at = stamp;
      // Written before this answer, and after the answer before it that did not show it.
      this.offsetHigh = Math.min(this.offsetHigh, now - stamp);
      if (before !== undefined) this.offsetLow = Math.max(this.offsetLow, before - stamp);
    } else {
      if (this.exact) {
        // One unstamped version makes every time the poll's own.
        this.exact = false;
        this.anchor = undefined;
        this.endAt = undefined;
      }
      at = before === undefined ? now : (before + now) / 2;
    }
    const progress = answer.progress;
    const regressed = this.progress !== undefined && progress < this.progress;
    this.progress = progress;
    if (answer.status !== 'Running') return;
    if (!this.anchor || regressed) {
      this.anchor = { at, progress };
      this.endAt = undefined;
    } else if (progress > this.anchor.progress && progress < 1 && at > this.anchor.at) {
      const perUnit = (at - this.anchor.at) / (progress - this.anchor.progress);
      this.endAt = at + perUnit * (1 - progress);
    }
  }

  private next(now: number, retryAfter: number): number {
    this.step += 1;
    const backoff = backoffDelay(this.step, this.initialMs, this.maxMs);
    let wait = backoff;
    if (this.endAt !== undefined) {
      const left = this.endAt + this.offset() + END_MARGIN_MS - now;
      if (left <= 0) {
        wait = Math.min(backoff, Math.max(this.initialMs, -left));
      } else if (this.exact || left <= ROUGH_STEP_MS) {
        wait = Math.max(this.initialMs, left);
      } else {
        wait = Math.max(ROUGH_STEP_MS, left / 2);
      }
    }
    return Math.max(Math.min(wait, this.maxMs), retryAfter);
  }

  /** Poll's clock − server's: 0 (synchronised clocks) unless the answers rule it out. */
  private offset(): number {
    if (!this.exact) return 0;
    if (this.offsetLow > this.offsetHigh) return this.offsetHigh;
    return Math.min(Math.max(0, this.offsetLow), this.offsetHigh);
  }
}
