/**
 * The observer as the relay sees it: the only thing the relay's thread hands its copies to.
 *
 * The relay writes each chunk onward first and only then gives the observer a copy through a
 * connection's tap (design §2.1); events of the relay itself (a connection opened, a request
 * forwarded, an upstream that failed) go through `publish`. Nothing here may block: an observer
 * does its work elsewhere (src/observer/worker-observer.ts, on a worker thread) or, for tests
 * and tools that observe in-process, right away (src/observer/local-observer.ts).
 *
 * `writable` is the lossless modes' brake (`--payload full`, `--audit`): while it is false the
 * relay pauses its sources, and `onWritable` says when to resume. A lossy observer is always
 * writable and drops what it cannot keep up with, saying so.
 */
import type { PublishFields } from '../events/event-bus.js';
import type { Direction, EventBody } from '../events/types.js';

/** One upgraded connection's bytes, both directions, as copies. */
export interface ConnectionTap {
  push(dir: Direction, chunk: Buffer): void;
  /** The direction saw its FIN (or the connection closed). */
  end(dir: Direction): void;
}

export interface RelayObserver {
  /** An event of the relay itself; stamped with the time of this call. */
  publish(body: EventBody, ids?: PublishFields): void;
  /** The decoder of one upgraded connection, from its request head on. */
  tap(ids: { conn: string; session: string }): ConnectionTap;
  /** False while a lossless observer is behind: the relay holds its sources. */
  readonly writable: boolean;
  /** Calls `listener` once when writable again (asynchronously if it already is). */
  onWritable(listener: () => void): void;
}
