/**
 * An observer on the caller's own thread: every copy is decoded and every event delivered
 * before `push` returns. For tests and tools that drive the relay in-process and read the bus
 * directly; a running proxy observes on a worker thread (worker-observer.ts) instead.
 */
import type { ConnectionDecoderOptions } from '../codec/connection-decoder.js';
import type { EventBus, PublishFields } from '../events/event-bus.js';
import { noteFor } from '../events/notes.js';
import type { EventBody } from '../events/types.js';
import { ConnectionObservation } from './connection-observation.js';
import type { ConnectionTap, RelayObserver } from './relay-observer.js';

export class LocalObserver implements RelayObserver {
  constructor(readonly bus: EventBus, private readonly decoding: ConnectionDecoderOptions) {}

  publish(body: EventBody, ids: PublishFields = {}): void {
    this.bus.publish(body, noteFor(body), ids);
  }

  tap(ids: { conn: string; session: string }): ConnectionTap {
    return new ConnectionObservation(this.bus, ids, this.decoding);
  }

  get writable(): boolean {
    return this.bus.writable;
  }

  onWritable(listener: () => void): void {
    this.bus.onWritable(listener);
  }
}
