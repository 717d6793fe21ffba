/**
 * Feeding a log (recorded, or still being written) to a session observer, the one way every
 * reader does it: `view`, `summary --sessions`, replay/export's session scan, HAR and
 * `diagnoseEvents`.
 *
 * - **The log's own clock.** A live observer settles quiet sessions once a second
 *   (session-observer.ts, TICK_MS). A log has no clock but its events' `ts`, so the replay
 *   ticks once per TICK_MS of log time, one tick behind the newest event: what the proxy
 *   derived when it settled a session (findings, logged then) has been read before the
 *   session settles here, and a SPDY retry still joins its refused WebSocket attempt however
 *   the reads are split. While a followed log is quiet, `tickNow` moves that time on by the
 *   wall clock.
 * - **One model per kubewire run.** Connection ids and request-made session ids restart with
 *   every run (`audit.start`, or a `proxy.start` not right after one), so at a new run the
 *   observer finishes the sessions of the run before and its model starts empty.
 */
import { parseTsMillis } from '../events/stamp.js';
import type { KubewireEvent } from '../events/types.js';
import { SessionObserver, TICK_MS } from './session-observer.js';

export class LogReplay {
  private latest: number | null = null;
  private seenAt = 0;
  private nextTick = -Infinity;
  private runs = 0;
  /** An `audit.start` was read and its run's `proxy.start` has not come yet. */
  private auditStarted = false;

  constructor(readonly observer: SessionObserver = new SessionObserver(), private readonly wall: () => number = Date.now) {}

  /** Runs read so far (0 before the first `proxy.start` or `audit.start`). */
  get run(): number {
    return this.runs;
  }

  ingest(e: KubewireEvent): void {
    if (this.startsRun(e)) {
      if (this.runs > 0) {
        this.observer.finish();
        this.observer.model.reset();
      }
      this.runs++;
    }
    // The event joins its session before the clock moves: a late record settles with it once.
    this.observer.ingest(e);
    const ms = parseTsMillis(e.ts);
    if (ms === null) return;
    if (this.latest === null || ms > this.latest) {
      this.latest = ms;
      this.seenAt = this.wall();
    }
    if (ms >= this.nextTick) {
      this.nextTick = ms + TICK_MS;
      this.observer.tick(ms - TICK_MS);
    }
  }

  /** The log's time: its newest `ts`, moved on by the wall clock since; null before any. */
  now(): number | null {
    return this.latest === null ? null : this.latest + Math.max(0, this.wall() - this.seenAt);
  }

  /** For a followed log's timer: settles what went quiet while nothing was written. */
  tickNow(): void {
    const now = this.now();
    if (now !== null) this.observer.tick(now - TICK_MS);
  }

  finish(): void {
    this.observer.finish();
  }

  private startsRun(e: KubewireEvent): boolean {
    if (e.type === 'audit.start') {
      this.auditStarted = true;
      return true;
    }
    if (e.type !== 'proxy.start') return false;
    // An audit run logs audit.start, then proxy.start: one run.
    const sameRun = this.auditStarted;
    this.auditStarted = false;
    return !sameRun;
  }
}
