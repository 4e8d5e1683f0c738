import { EventSourceFactory, JobEvent } from 'job-events';

/**
 * A stand-in for the browser's `EventSource` in unit tests (jsdom has none).
 * Tests drive it: `open()`, `send(event)`, `planned()` (the server's
 * `event: reconnect`), `fail()`. The real one is exercised by the browser tests.
 */
export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;

  static all: FakeEventSource[] = [];
  /** The most sources ever open at the same time since `reset()`. */
  static maxOpen = 0;

  readyState = FakeEventSource.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  private readonly listeners = new Map<string, Set<(event: Event) => void>>();

  static reset(): void {
    FakeEventSource.all = [];
    FakeEventSource.maxOpen = 0;
  }

  static readonly factory: EventSourceFactory = (url, init) =>
    new FakeEventSource(url, init) as unknown as EventSource;

  /** Sources not closed yet (connecting or open). */
  static live(): FakeEventSource[] {
    return FakeEventSource.all.filter((source) => source.readyState !== FakeEventSource.CLOSED);
  }

  static latest(): FakeEventSource {
    const source = FakeEventSource.all.at(-1);
    if (!source) throw new Error('no EventSource was created');
    return source;
  }

  constructor(
    readonly url: string,
    readonly init?: EventSourceInit,
  ) {
    FakeEventSource.all.push(this);
    FakeEventSource.maxOpen = Math.max(FakeEventSource.maxOpen, FakeEventSource.live().length);
  }

  /** As the browser's: whether the stream sends cookies (cross-origin). */
  get withCredentials(): boolean {
    return this.init?.withCredentials ?? false;
  }

  get params(): URLSearchParams {
    return new URL(this.url, 'http://localhost').searchParams;
  }

  get closed(): boolean {
    return this.readyState === FakeEventSource.CLOSED;
  }

  addEventListener(type: string, listener: (event: Event) => void): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(listener);
  }

  removeEventListener(type: string, listener: (event: Event) => void): void {
    this.listeners.get(type)?.delete(listener);
  }

  close(): void {
    this.readyState = FakeEventSource.CLOSED;
  }

  // --- the server's side ---------------------------------------------------

  open(): this {
    this.assertLive();
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.(new Event('open'));
    return this;
  }

  send(event: JobEvent, id = String(event.version)): this {
    this.assertLive();
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(event), lastEventId: id }));
    return this;
  }

  /** `event: reconnect` before a planned close (lifetime or shutdown). */
  planned(reason: 'lifetime' | 'shutdown' = 'lifetime', lastEventId = ''): this {
    this.assertLive();
    const event = new MessageEvent('reconnect', { data: JSON.stringify({ reason, lastEventId }) });
    for (const listener of this.listeners.get('reconnect') ?? []) listener(event);
    return this;
  }

  /** A failure: `closed` for a refused stream (non-200), else a dropped one the browser would retry. */
  fail(closed = true): this {
    this.assertLive();
    this.readyState = closed ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.onerror?.(new Event('error'));
    return this;
  }

  private assertLive(): void {
    if (this.closed) throw new Error(`EventSource ${this.url} is closed`);
  }
}
