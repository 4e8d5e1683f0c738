import { JobEvent, JobState } from 'job-events';

/** A JobEvent as the server sends it. */
export function fakeJobEvent(
  jobId: string,
  version: number,
  status: JobState = 'Running',
  progress = 0,
  extra: Partial<JobEvent> = {},
): JobEvent {
  return {
    jobId,
    jobType: 'Sleep',
    status,
    progress: status === 'Completed' ? 1 : progress,
    timestamp: new Date(0).toISOString(),
    version,
    ...extra,
  };
}

/** A job id shaped like the server's (a UUID), numbered for readable tests. */
export function fakeJobId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
