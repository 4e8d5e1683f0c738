/*
 * job-events/testing: test doubles for components that watch jobs.
 *
 *   TestBed.configureTestingModule({ providers: [provideJobEventsTesting()] });
 *
 * then answer the stream token and drive the stream from the test:
 * answerWatch(httpTesting.expectOne('/api/watch')); FakeEventSource.latest().open().send(fakeJobEvent(...)).
 */
export { FakeEventSource } from './fake-event-source';
export { fakeJobEvent, fakeJobId } from './job-events';
export { answerWatch, provideJobEventsTesting } from './provide-job-events-testing';
export { grantWatch, recordWatch, type RecordedWatch } from './recorded-watch';
