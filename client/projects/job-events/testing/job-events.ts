import { JobEvent, JobState } from '../models';

/** A JobEvent as the server sends it. */
export function jobEvent(
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

export const JOB_A = '00000000-0000-4000-8000-00000000000a';
export const JOB_B = '00000000-0000-4000-8000-00000000000b';
export const JOB_C = '00000000-0000-4000-8000-00000000000c';

export function jobId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
