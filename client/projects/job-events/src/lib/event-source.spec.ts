import { Subscription } from 'rxjs';

import { EventSourceFactory } from './config';
import { eventSource$, SseFrame, StreamError } from './event-source';
import { FakeEventSource, fakeJobEvent, fakeJobId } from 'job-events/testing';

const JOB_A = fakeJobId(10);

interface Seen {
  frames: SseFrame[];
  errors: unknown[];
  completed: boolean;
  subscription: Subscription;
}

describe('eventSource$', () => {
  beforeEach(() => FakeEventSource.reset());

  function subscribe(
    url = '/api/watch/stream-1/events',
    init: EventSourceInit = { withCredentials: true },
    factory: EventSourceFactory = FakeEventSource.factory,
  ): Seen {
    const seen: Seen = {
      frames: [],
      errors: [],
      completed: false,
      subscription: Subscription.EMPTY,
    };
    seen.subscription = eventSource$(factory, url, init).subscribe({
      next: (frame) => seen.frames.push(frame),
      error: (error) => seen.errors.push(error),
      complete: () => (seen.completed = true),
    });
    return seen;
  }

  /** The listeners the source still holds for one event type. */
  const listeners = (source: FakeEventSource, type: string): number =>
    source['listeners'].get(type)?.size ?? 0;

  /** No handler or listener of ours is left on the source. */
  function expectDetached(source: FakeEventSource): void {
    expect(source.onopen).toBeNull();
    expect(source.onmessage).toBeNull();
    expect(source.onerror).toBeNull();
    expect(listeners(source, 'reconnect')).toBe(0);
  }

  it('creates the EventSource on subscribe, with the URL and init it was given, one per subscription', () => {
    const factory = vi.fn(FakeEventSource.factory);
    const frames$ = eventSource$(factory, '/api/watch/s/events?lastEventId=2', {
      withCredentials: true,
    });
    expect(factory).not.toHaveBeenCalled();
    const first = frames$.subscribe();
    expect(factory).toHaveBeenCalledExactlyOnceWith('/api/watch/s/events?lastEventId=2', {
      withCredentials: true,
    });
    const source = FakeEventSource.latest();
    expect(source.withCredentials).toBe(true);
    const second = frames$.subscribe();
    expect(FakeEventSource.all).toHaveLength(2);
    first.unsubscribe();
    second.unsubscribe();
  });

  it('emits open, then each message with its data and its event id', () => {
    const seen = subscribe();
    const source = FakeEventSource.latest();
    expect(seen.frames).toEqual([]);
    source.open();
    const event = fakeJobEvent(JOB_A, 2, 'Running', 0.5);
    source.send(event, '2.0');
    source.send(fakeJobEvent(JOB_A, 3, 'Running', 0.7), '3.0');
    expect(seen.frames).toEqual([
      { kind: 'open' },
      { kind: 'message', data: JSON.stringify(event), id: '2.0' },
      { kind: 'message', data: JSON.stringify(fakeJobEvent(JOB_A, 3, 'Running', 0.7)), id: '3.0' },
    ]);
    expect(seen.completed).toBe(false);
    expect(source.closed).toBe(false);
    seen.subscription.unsubscribe();
  });

  it("turns the server's planned close (event: reconnect) into a reconnect frame with its reason, then completes and closes", () => {
    const seen = subscribe();
    const source = FakeEventSource.latest().open();
    source.planned('shutdown', '4');
    expect(seen.frames).toEqual([{ kind: 'open' }, { kind: 'reconnect', reason: 'shutdown' }]);
    expect(seen.completed).toBe(true);
    expect(seen.errors).toEqual([]);
    expect(source.closed).toBe(true); // before the browser could reconnect by itself
    expectDetached(source);
  });

  it("reads the reason as 'unknown' when the reconnect event's data is not JSON or names none", () => {
    for (const data of ['not json', '{"lastEventId":"3"}', '{"reason":7}', 'null']) {
      const seen = subscribe();
      const source = FakeEventSource.latest();
      for (const listener of source['listeners'].get('reconnect') ?? []) {
        listener(new MessageEvent('reconnect', { data }));
      }
      expect(seen.frames).toEqual([{ kind: 'reconnect', reason: 'unknown' }]);
      expect(seen.completed).toBe(true);
    }
  });

  it('errors with StreamError(CLOSED) for a refused stream, and closes it', () => {
    const seen = subscribe();
    const source = FakeEventSource.latest();
    source.fail(); // a non-200 answer: the browser gives up, readyState CLOSED
    expect(seen.errors).toHaveLength(1);
    const error = seen.errors[0] as StreamError;
    expect(error).toBeInstanceOf(StreamError);
    expect(error.name).toBe('StreamError');
    expect(error.readyState).toBe(FakeEventSource.CLOSED);
    expect(error.message).toBe('the event stream was refused');
    expect(seen.frames).toEqual([]);
    expectDetached(source);
  });

  it('errors with StreamError(CONNECTING) for a dropped stream, and closes it so the browser does not retry', () => {
    const seen = subscribe();
    const source = FakeEventSource.latest().open();
    source.fail(false); // a drop: the browser would reconnect by itself, readyState CONNECTING
    expect(seen.frames).toEqual([{ kind: 'open' }]);
    const error = seen.errors[0] as StreamError;
    expect(error).toBeInstanceOf(StreamError);
    expect(error.readyState).toBe(FakeEventSource.CONNECTING);
    expect(error.message).toBe('the event stream was interrupted');
    expect(source.closed).toBe(true);
    expectDetached(source);
  });

  it('closes the EventSource and removes its handlers and listeners on unsubscribe', () => {
    const seen = subscribe();
    const source = FakeEventSource.latest().open();
    expect(listeners(source, 'reconnect')).toBe(1);
    seen.subscription.unsubscribe();
    expect(source.closed).toBe(true);
    expectDetached(source);
    expect(seen.completed).toBe(false);
    expect(seen.errors).toEqual([]);
  });

  it('closes an EventSource that never opened on unsubscribe', () => {
    const seen = subscribe();
    const source = FakeEventSource.latest();
    seen.subscription.unsubscribe();
    expect(source.closed).toBe(true);
    expectDetached(source);
    expect(FakeEventSource.live()).toHaveLength(0);
  });
});
