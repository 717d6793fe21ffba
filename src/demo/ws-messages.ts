/**
 * Sending on a `ws` connection with backpressure. `ws.send` queues without bound; counting
 * the bytes not yet flushed (its callback fires once they are written) tells the producer
 * when to wait, so a command writing 256 MiB to stdout never fills memory.
 */
import type { WebSocket } from 'ws';

const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;

export class WsSender {
  private inflight = 0;
  private drainListeners: (() => void)[] = [];

  constructor(private readonly ws: WebSocket) {}

  /** Queues one message; false when the caller should wait for `onDrain`. */
  send(data: Buffer | string, binary: boolean, done?: () => void): boolean {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.inflight += size;
    this.ws.send(data, { binary }, () => {
      this.inflight -= size;
      if (this.inflight <= LOW_WATER_BYTES && this.drainListeners.length) {
        const listeners = this.drainListeners;
        this.drainListeners = [];
        for (const l of listeners) l();
      }
      done?.();
    });
    return this.inflight < HIGH_WATER_BYTES;
  }

  onDrain(listener: () => void): void {
    if (this.inflight <= LOW_WATER_BYTES) queueMicrotask(listener);
    else this.drainListeners.push(listener);
  }
}
