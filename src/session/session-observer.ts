/**
 * The one place where events meet the session model in a running kubewire: it feeds every
 * event to the model, then hands it on to the consumers (console lines, the live view,
 * diagnosis, the audit recorder) with the session it belongs to, so each reads the same facts
 * instead of deriving its own.
 *
 * Primary events and derived records go to different hooks (src/events/record-kinds.ts):
 * diagnosis and the audit recorder derive records from primary events and never see their own
 * output come back; the console and the view show both. Time passes through `tick`, which
 * settles quiet sessions; `finish` settles the rest at the end of input.
 */
import type { EventBus } from '../events/event-bus.js';
import { recordKind } from '../events/record-kinds.js';
import type { KubewireEvent } from '../events/types.js';
import type { ConnectionFacts } from './connection-facts.js';
import type { SessionFacts } from './session-facts.js';
import { SessionModel } from './session-model.js';

export interface SessionListener {
  /** An event of the wire or the relay, after the model took it; `session` is null for events about none. */
  primary?(e: KubewireEvent, session: SessionFacts | null): void;
  /** A derived record (finding, audit record, sink report) or a lifecycle event (proxy.start/stop). */
  derived?(e: KubewireEvent, session: SessionFacts | null): void;
  /** A connection's facts are complete (src/session/connection-facts.ts). */
  connectionEnded?(conn: ConnectionFacts, session: SessionFacts): void;
  /** No more connections can join the session: its story is final (until a late event). */
  settled?(session: SessionFacts): void;
  /**
   * The clock moved to `now` (milliseconds since the epoch), before quiet sessions settle: for
   * checks that depend on time passing without events (diagnosis: a silent 101, missing pongs).
   */
  tick?(now: number): void;
}

/** How often a live observer settles quiet sessions and runs time-based checks. */
export const TICK_MS = 1000;

export class SessionObserver {
  /** Replaced, never changed in place: a listener may add or remove listeners while being called. */
  private listeners: readonly SessionListener[] = [];

  constructor(readonly model: SessionModel = new SessionModel()) {}

  add(listener: SessionListener): this {
    this.listeners = [...this.listeners, listener];
    return this;
  }

  remove(listener: SessionListener): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }

  ingest(e: KubewireEvent): void {
    const observed = this.model.ingest(e);
    const session = observed?.session ?? null;
    const derived = recordKind(e.type) !== 'primary';
    for (const l of this.listeners) {
      if (derived) l.derived?.(e, session);
      else l.primary?.(e, session);
    }
    if (observed?.connEnded && observed.conn) for (const l of this.listeners) l.connectionEnded?.(observed.conn, observed.session);
  }

  tick(now: number): void {
    for (const l of this.listeners) l.tick?.(now);
    for (const s of this.model.tick(now)) this.settle(s);
  }

  finish(): void {
    for (const s of this.model.finish()) this.settle(s);
  }

  /**
   * Feeds every event of `bus` and settles quiet sessions every TICK_MS; the returned function
   * stops both. Call `finish` before it at shutdown, so that records derived at the end still
   * come back through the bus to the consumers that show them.
   */
  attach(bus: EventBus, now: () => number = Date.now): () => void {
    const unsubscribe = bus.subscribe((e) => this.ingest(e));
    const timer = setInterval(() => this.tick(now()), TICK_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      unsubscribe();
    };
  }

  private settle(s: SessionFacts): void {
    for (const l of this.listeners) l.settled?.(s);
  }
}
