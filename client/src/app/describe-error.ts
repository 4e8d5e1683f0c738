import { HttpErrorResponse } from '@angular/common/http';
import { JobPollTimeoutError } from 'job-events';

/** A failed start or watch in a few words, for the page. */
export function describeError(error: unknown): string {
  if (error instanceof JobPollTimeoutError) {
    return `gave up waiting after ${error.timeoutMs / 1000} s`;
  }
  if (error instanceof HttpErrorResponse) {
    if (error.status === 0) return 'the server cannot be reached';
    // The API answers problem+json: its `detail` says what was wrong.
    const detail = (error.error as { detail?: string } | null)?.detail;
    return `HTTP ${error.status}${detail ? `: ${detail}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}
