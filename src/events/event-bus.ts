/**
 * The event bus: stamps each event once (v, seq, ts, session, conn) and hands it to every sink
 * (JSONL log, audit chain) and every in-process subscriber (TUI store, console lines).
 *
 * Sinks are bounded and may fall behind. What happens then depends on the mode (design §2.5):
 * - lossy (default): a sink that is behind skips events until it drains; the skipped events are
 *   counted and, once it drained, a `sink.dropped` event says how many (at most once a second
 *   per sink, so a sink that keeps falling behind does not flood the log with reports).
 * - lossless (`--payload full`, `--audit`): every event reaches every sink, which must queue it;
 *   `writable` turns false while any sink is behind so producers pause their sockets, and
 *   `sink.backpressure` events say when and for how long the relay was held.
 *
 * Delivery is serial: an event published while another is being delivered (a subscriber that
 * publishes a finding, a drain that reports drops) waits its turn, so every sink and subscriber
 * sees events in `seq` order.
 */
import { noteFor } from './notes.js';
import { EventStamper, timestampMicros } from './stamp.js';
import type { EventBody, KubewireEvent } from './types.js';

export interface EventSink {
  readonly name: string;
  /**
   * Takes one stamped event; returns false when the sink is behind (its queue is above its
   * bound). The event passed is kept either way, as with Node's writable streams.
   */
  write(event: KubewireEvent): boolean;
  /**
   * Registers a listener called once, the next time the sink drained after `write` returned
   * false (at once, asynchronously, if it is not behind). The bus registers again after each
   * false, so a sink keeps no listener longer than one episode.
   */
  onDrain(listener: () => void): void;
  /** Flushes and closes. */
  close(): Promise<void>;
}

export interface EventBusOptions {
  /** `--payload full` / `--audit`: never drop; hold the producers (backpressure) instead. */
  lossless: boolean;
  /** Wall clock in milliseconds, fractions giving the microseconds; for tests. */
  now?: () => number;
}

export interface PublishFields {
  session?: string;
  conn?: string;
}

/** Minimum time between two `sink.dropped` reports of one sink. */
export const DROP_REPORT_INTERVAL_MS = 1000;

interface SinkState {
  readonly sink: EventSink;
  behind: boolean;
  /** When it fell behind (lossless), for `pausedMs`. */
  pausedAt: number;
  /** Dropped since the last `sink.dropped` report. */
  unreported: number;
  total: number;
  lastReport: number;
  reportTimer: NodeJS.Timeout | undefined;
}

export class EventBus {
  private readonly lossless: boolean;
  private readonly now: () => number;
  private readonly stamper = new EventStamper();
  private readonly sinks: SinkState[] = [];
  private readonly subscribers = new Set<(e: KubewireEvent) => void>();
  private readonly pending: KubewireEvent[] = [];
  private delivering = false;
  private behindCount = 0;
  private writableListeners: (() => void)[] = [];
  private droppedTotal = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: EventBusOptions) {
    this.lossless = options.lossless;
    this.now = options.now ?? preciseNow;
  }

  addSink(sink: EventSink): void {
    if (this.closed) throw new Error(`event bus closed: cannot add sink ${sink.name}`);
    this.sinks.push({ sink, behind: false, pausedAt: 0, unreported: 0, total: 0, lastReport: -Infinity, reportTimer: undefined });
  }

  /**
   * Stamps the event and delivers it (after any event already being delivered). After `close`
   * the event still reaches subscribers, but no sink.
   */
  publish(body: EventBody, note: string, fields: PublishFields = {}): KubewireEvent {
    // Whole microseconds first: a fraction of a ms near 1.8e12 is off by a few 1e-4 ms.
    const micros = Math.round(this.now() * 1000);
    const ms = Math.floor(micros / 1000);
    // stamp() leaves out undefined ids itself: no copy of `fields` per event.
    const event = this.stamper.stamp(body, note, { ts: timestampMicros(ms, micros - ms * 1000), session: fields.session, conn: fields.conn });
    this.pending.push(event);
    if (!this.delivering) this.deliverPending();
    return event;
  }

  /** Lossless mode: false while some sink is behind; producers pause their sources. */
  get writable(): boolean {
    return this.behindCount === 0;
  }

  /** Calls `listener` once when the bus is writable again (asynchronously if it already is). */
  onWritable(listener: () => void): void {
    if (this.writable) queueMicrotask(listener);
    else this.writableListeners.push(listener);
  }

  /** In-process readers; called synchronously for every event, whatever the sinks do. */
  subscribe(listener: (e: KubewireEvent) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  /** Events dropped so far, counted once per sink that missed them. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /**
   * Reports drops not yet reported (the rate limit no longer matters), releases paused
   * producers, then flushes and closes every sink. A sink's failure to close is rethrown after
   * the others closed.
   */
  close(): Promise<void> {
    this.closing ??= this.closeSinks();
    return this.closing;
  }

  private async closeSinks(): Promise<void> {
    for (const s of this.sinks) {
      clearTimeout(s.reportTimer);
      s.reportTimer = undefined;
      // The sinks are about to flush whatever they hold, so the last reports reach all of them.
      if (s.behind) this.setBehind(s, false);
    }
    for (const s of this.sinks) if (s.unreported > 0) this.reportDropped(s);
    this.closed = true;
    this.fireWritable();
    const results = await Promise.allSettled(this.sinks.map((s) => s.sink.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private deliverPending(): void {
    this.delivering = true;
    try {
      for (let event = this.pending.shift(); event; event = this.pending.shift()) {
        if (!this.closed) this.writeToSinks(event);
        for (const listener of this.subscribers) listener(event);
      }
    } finally {
      this.delivering = false;
    }
    if (this.writable) this.fireWritable();
  }

  private writeToSinks(event: KubewireEvent): void {
    for (const s of this.sinks) {
      if (s.behind && !this.lossless) {
        s.unreported++;
        s.total++;
        this.droppedTotal++;
        continue;
      }
      if (!s.sink.write(event) && !s.behind) this.fellBehind(s);
    }
  }

  private fellBehind(s: SinkState): void {
    this.setBehind(s, true);
    s.pausedAt = this.now();
    // Queued before the drain listener exists, so "paused" precedes "resumed" even for a sink
    // that calls the listener at once.
    if (this.lossless) {
      this.publishOwn({ type: 'sink.backpressure', sink: s.sink.name, state: 'paused', pausedMs: null });
    }
    s.sink.onDrain(() => this.drained(s));
  }

  private drained(s: SinkState): void {
    if (!s.behind || this.closed) return;
    this.setBehind(s, false);
    if (this.lossless) {
      const pausedMs = Math.max(0, Math.round(this.now() - s.pausedAt));
      this.publishOwn({ type: 'sink.backpressure', sink: s.sink.name, state: 'resumed', pausedMs });
    } else if (s.unreported > 0) {
      this.scheduleDropReport(s);
    }
  }

  private scheduleDropReport(s: SinkState): void {
    if (s.reportTimer) return;
    const wait = s.lastReport + DROP_REPORT_INTERVAL_MS - this.now();
    if (wait <= 0) {
      this.reportDropped(s);
      return;
    }
    s.reportTimer = setTimeout(() => {
      s.reportTimer = undefined;
      // Still behind: the next drain reports, so a report never goes to a sink that skips it.
      if (!s.behind && s.unreported > 0 && !this.closed) this.reportDropped(s);
    }, wait);
    s.reportTimer.unref();
  }

  private reportDropped(s: SinkState): void {
    const dropped = s.unreported;
    s.unreported = 0;
    s.lastReport = this.now();
    this.publishOwn({ type: 'sink.dropped', sink: s.sink.name, dropped, total: s.total });
  }

  private publishOwn(body: EventBody): void {
    this.publish(body, noteFor(body));
  }

  private setBehind(s: SinkState, behind: boolean): void {
    if (s.behind === behind) return;
    s.behind = behind;
    // Only lossless mode holds producers; a lossy bus stays writable and drops instead.
    if (this.lossless) this.behindCount += behind ? 1 : -1;
  }

  private fireWritable(): void {
    if (this.writableListeners.length === 0) return;
    const listeners = this.writableListeners;
    this.writableListeners = [];
    for (const listener of listeners) listener();
  }
}

/**
 * Wall-clock milliseconds with a microsecond fraction: the monotonic clock anchored to
 * `Date.now()`, re-anchored when the two part by more than a millisecond (a clock step).
 */
let anchor = Date.now() - performance.now();
export function preciseNow(): number {
  const mono = performance.now();
  const wall = Date.now();
  if (Math.abs(anchor + mono - wall) <= 1) return anchor + mono;
  anchor = wall - mono;
  return wall;
}
