/**
 * The wait before poll number `step + 1` while nothing changes: `initialMs`, then
 * 5 s, 10 s, 20 s … (doubling, and never less than twice `initialMs`), capped at
 * `maxMs`. `step` goes back to 0 whenever the job's status or progress changes.
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
