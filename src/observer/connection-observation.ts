/**
 * One connection's decoder on the observer's side of the relay: the bytes it is given go to a
 * ConnectionDecoder whose events go on the bus with the connection's ids. A decoder that throws
 * is reported once and dropped, and the connection goes on unobserved (design §2.3: observe,
 * don't enforce). An observer that fell behind and skipped bytes stops decoding the connection
 * the same way, since a decoder cannot resynchronise after a gap.
 */
import { ConnectionDecoder, type ConnectionDecoderOptions } from '../codec/connection-decoder.js';
import type { EventBus } from '../events/event-bus.js';
import { noteFor } from '../events/notes.js';
import type { Direction, EventBody } from '../events/types.js';
import type { ConnectionTap } from './relay-observer.js';

export class ConnectionObservation implements ConnectionTap {
  private decoder: ConnectionDecoder | null;
  private readonly ended = new Set<Direction>();
  private readonly ids: { conn: string; session: string };

  constructor(private readonly bus: EventBus, ids: { conn: string; session: string }, options: ConnectionDecoderOptions) {
    this.ids = { conn: ids.conn, session: ids.session };
    this.decoder = new ConnectionDecoder((e) => bus.publish(e.body, e.note, this.ids), options);
  }

  push(dir: Direction, chunk: Buffer): void {
    if (!this.decoder) return;
    try {
      this.decoder.push(dir, chunk);
    } catch (e) {
      this.stop(`decoder failed and was stopped; bytes still flow: ${(e as Error).message}`, 'KW_ERR_DECODER');
    }
  }

  end(dir: Direction): void {
    if (this.ended.has(dir)) return;
    this.ended.add(dir);
    try {
      this.decoder?.end(dir);
    } catch {
      this.decoder = null;
    }
  }

  /** The observer could not keep up and `bytes` of `dir` were never copied to it. */
  skipped(dir: Direction, bytes: number): void {
    if (!this.decoder) return;
    this.stop(`the observer fell behind and ${bytes} bytes (${dir}) were not decoded; this connection is no longer decoded, its bytes still flow`, 'KW_ERR_OBSERVER_BEHIND');
  }

  private stop(message: string, code: string): void {
    this.decoder = null;
    const body: EventBody = { type: 'proxy.error', code, message, upstream: null, status: null };
    this.bus.publish(body, noteFor(body), this.ids);
  }
}
