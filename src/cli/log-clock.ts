/**
 * The time of a log being read: the latest `ts` seen, moved on by the wall clock while no event
 * comes. Replaying a recorded log, it is the log's own time, so a session settles (and a SPDY
 * retry still joins its refused WebSocket attempt) as it did when the proxy wrote it, however
 * the reads are split; following a log still being written, it is the time now.
 */
import { parseTsMillis } from '../events/stamp.js';
import type { KubewireEvent } from '../events/types.js';

export class LogClock {
  private latest: number | null = null;
  private seenAt = 0;

  constructor(private readonly wall: () => number = Date.now) {}

  saw(e: KubewireEvent): void {
    const ms = parseTsMillis(e.ts);
    if (ms === null) return;
    if (this.latest === null || ms > this.latest) this.latest = ms;
    this.seenAt = this.wall();
  }

  /** Milliseconds since the epoch, or null before any event with a clock. */
  now(): number | null {
    return this.latest === null ? null : this.latest + Math.max(0, this.wall() - this.seenAt);
  }
}
