/** The demo's job kinds, their inputs, and the "50 jobs" mix. */

export type JobKind = 'StoryPublish' | 'Sleep' | 'Fail';

export interface JobRequest {
  readonly jobType: JobKind;
  readonly input: object;
  /** A few words about the input, for the list. */
  readonly label: string;
}

/** A job in the demo's list: one it started, or one `resume()` found after a reload. */
export interface StartedJob {
  readonly jobId: string;
  readonly jobType: string;
  readonly label: string;
  /** `performance.now()` when the start was requested; null for a resumed job. */
  readonly startedAt: number | null;
  readonly transport: 'auto' | 'polling';
}

let stories = 0;

export function storyPublish(stepSeconds: number): JobRequest {
  const storyId = `story-${Date.now().toString(36)}-${++stories}`;
  return {
    jobType: 'StoryPublish',
    input: { storyId, title: `Story ${stories}`, channels: ['web', 'newsletter'], stepSeconds },
    label: `6 steps × ${stepSeconds}s`,
  };
}

export function sleep(seconds: number): JobRequest {
  return { jobType: 'Sleep', input: { seconds, steps: 5 }, label: `${seconds}s in 5 steps` };
}

export function fail(afterSeconds: number, message: string): JobRequest {
  return {
    jobType: 'Fail',
    input: { afterSeconds, message },
    label: `fails after ${afterSeconds}s`,
  };
}

/**
 * The "50 jobs" button: 20 story publishes, 20 sleeps and 10 failures of a few
 * seconds each, always the same, so SSE and polling runs can be compared.
 */
export function fiftyJobs(): JobRequest[] {
  const jobs: JobRequest[] = [];
  for (let i = 0; i < 20; i++) jobs.push(storyPublish(Math.round((0.4 + (i % 4) * 0.2) * 10) / 10));
  for (let i = 0; i < 20; i++) jobs.push(sleep(2 + (i % 5)));
  for (let i = 0; i < 10; i++) jobs.push(fail(1 + (i % 3), `simulated failure #${i + 1}`));
  return jobs;
}
