/*
 * job-events/testing: test doubles for components that watch jobs.
 *
 *   provideJobEvents({ eventSource: FakeEventSource.factory })
 *
 * then drive the stream from the test: FakeEventSource.latest().open().send(fakeJobEvent(...)).
 */
export { FakeEventSource } from './fake-event-source';
export { fakeJobEvent, fakeJobId } from './job-events';
