import { HttpErrorResponse } from '@angular/common/http';
import { JobPollTimeoutError } from 'job-events';

import { describeError } from './describe-error';

describe('describeError', () => {
  it('says what went wrong in a few words', () => {
    const problem = (status: number, error: unknown = null) =>
      new HttpErrorResponse({ status, error });
    expect(describeError(problem(422, { detail: 'seconds must be positive' }))).toBe(
      'HTTP 422: seconds must be positive',
    );
    expect(describeError(problem(404))).toBe('HTTP 404');
    expect(describeError(problem(0))).toBe('the server cannot be reached');
    expect(describeError(new JobPollTimeoutError('Sleep', 'a', 90_000))).toBe(
      'gave up waiting after 90 s',
    );
    expect(describeError(new Error('boom'))).toBe('boom');
    expect(describeError('odd')).toBe('odd');
  });
});
