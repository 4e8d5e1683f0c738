/*
 * Public API Surface of job-events
 */

export * from './lib/job-events';
