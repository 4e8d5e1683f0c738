/*
 * job-events: learn when background jobs finish, without a request storm.
 * See the README of the client workspace for the adoption guide.
 */
export { backoffDelay, PollPlanner, retryAfterMs, type PollAnswer } from './lib/backoff';
export {
  DEFAULT_JOB_EVENTS_CONFIG,
  JOB_EVENTS_CONFIG,
  provideJobEvents,
  type EventSourceFactory,
  type JobEventsConfig,
  type JobEventsOptions,
  type PollDefaults,
} from './lib/config';
export { JobPollTimeoutError, StreamUnavailableError } from './lib/errors';
export {
  JobEventsService,
  newerVersionsOnly,
  newIdempotencyKey,
  RESUME_FINISHED_WITHIN_MS,
  RESUME_MAX_PAGES,
  type JobEventsHeld,
  type JobEventsStats,
  type StartOptions,
  type WatchOptions,
} from './lib/job-events.service';
export {
  isTerminal,
  type JobEvent,
  type JobList,
  type JobRef,
  type JobStarted,
  type JobState,
  type JobTransport,
  type WatchToken,
} from './lib/models';
export {
  jobResource,
  jobsResource,
  type JobResource,
  type JobResourceOptions,
  type JobsResource,
  type JobsSummary,
  type JobWatchError,
  type JobWatchState,
  type WatchedJob,
} from './lib/job-resource';
export { isTransient, type PollOptions } from './lib/poll';
export {
  jobStatusAdapter,
  UnknownJobStatusError,
  type JobStatusAdapter,
  type LegacyStatus,
} from './lib/poll-adapter';
export { pollJobStatus } from './lib/poll-job-status';
