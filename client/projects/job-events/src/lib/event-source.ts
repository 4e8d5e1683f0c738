import { Observable } from 'rxjs';

import { EventSourceFactory } from './config';

/** What one `EventSource` tells us. */
export type SseFrame =
  | { readonly kind: 'open' }
  | { readonly kind: 'message'; readonly data: string; readonly id: string }
  /** The server's planned close (`event: reconnect`): routine, reopen with a newer id. */
  | { readonly kind: 'reconnect'; readonly reason: string };

/** The stream ended without a planned close: a network drop or a non-200 answer. */
export class StreamError extends Error {
  override readonly name = 'StreamError';

  constructor(
    /** `EventSource.readyState` at the error: 2 (CLOSED) for a refused stream (401, 403, 404, 503, 204). */
    readonly readyState: number,
  ) {
    super(readyState === 2 ? 'the event stream was refused' : 'the event stream was interrupted');
  }
}

export const defaultEventSourceFactory: EventSourceFactory = (url, init) =>
  new EventSource(url, init);

/**
 * One `EventSource` as an Observable: opened on subscribe and closed on
 * unsubscribe, error or the server's planned close, so the browser never
 * reconnects behind our back (we reconnect ourselves, with a fresh token and
 * the last event id). Emits `open`, each default-named message, and
 * `reconnect` just before it completes.
 */
export function eventSource$(
  factory: EventSourceFactory,
  url: string,
  init: EventSourceInit,
): Observable<SseFrame> {
  return new Observable<SseFrame>((subscriber) => {
    const source = factory(url, init);
    const onReconnect = (event: Event): void => {
      subscriber.next({ kind: 'reconnect', reason: reasonOf(event) });
      subscriber.complete();
    };
    source.onopen = () => subscriber.next({ kind: 'open' });
    source.onmessage = (event: MessageEvent<string>) =>
      subscriber.next({ kind: 'message', data: event.data, id: event.lastEventId });
    source.onerror = () => subscriber.error(new StreamError(source.readyState));
    source.addEventListener('reconnect', onReconnect);
    return () => {
      source.onopen = source.onmessage = source.onerror = null;
      source.removeEventListener('reconnect', onReconnect);
      source.close();
    };
  });
}

function reasonOf(event: Event): string {
  try {
    const data = JSON.parse((event as MessageEvent<string>).data) as { reason?: unknown };
    return typeof data.reason === 'string' ? data.reason : 'unknown';
  } catch {
    return 'unknown';
  }
}
