/**
 * The session model: events in, connection facts and session stories out. Sans-IO like the
 * codecs: no sockets, no timers, no clock of its own; the caller passes `now` to `tick`.
 * O(1) per event, and bounded: at most `maxSessions` sessions, the oldest settled ones
 * forgotten first.
 *
 * The grouping key is the envelope's `session` (the `Kubectl-Session` header, or the proxy's
 * own id for a request without one); a connection without a session is a session of its own,
 * and a decoded capture (no session, no connection) is one anonymous session. Audit records
 * and sink reports are about no session; a finding joins the session it names.
 *
 * A session settles once every connection of it ended and FALLBACK_GRACE_MS passed without an
 * event: then no SPDY retry can join it any more, and its story is final. A later primary
 * event unsettles it until it settles again; a finding joins its story without unsettling it.
 */
import type { KubewireEvent } from '../events/types.js';
import { recordKind } from '../events/record-kinds.js';
import type { ConnectionFacts } from './connection-facts.js';
import { FALLBACK_GRACE_MS, SessionFacts } from './session-facts.js';

export const DEFAULT_MAX_SESSIONS = 4096;
/** How far eviction looks for a settled session before it forgets the oldest one. */
const EVICTION_SCAN = 64;

export interface SessionModelOptions {
  maxSessions?: number;
}

/** What one event changed. */
export interface Observed {
  session: SessionFacts;
  /** The connection the event was about, if any. */
  conn: ConnectionFacts | null;
  /** This event completed the connection's facts. */
  connEnded: boolean;
}

/** The session an event belongs to, or null for events about none. */
export function sessionKeyOf(e: KubewireEvent): string | null {
  if (recordKind(e.type) !== 'primary' && e.type !== 'finding') return null;
  if (e.session !== undefined) return e.session;
  if (e.conn !== undefined) return `conn:${e.conn}`;
  // A proxy error outside any connection (a failed listen, a log fault) is about no session.
  return e.type === 'proxy.error' ? null : '';
}

export class SessionModel {
  private readonly sessions = new Map<string, SessionFacts>();
  private readonly maxSessions: number;
  /** Sessions forgotten to keep within the bound. */
  evicted = 0;

  constructor(options: SessionModelOptions = {}) {
    this.maxSessions = Math.max(1, options.maxSessions ?? DEFAULT_MAX_SESSIONS);
  }

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): SessionFacts | undefined {
    return this.sessions.get(id);
  }

  values(): IterableIterator<SessionFacts> {
    return this.sessions.values();
  }

  ingest(e: KubewireEvent): Observed | null {
    const key = sessionKeyOf(e);
    if (key === null) return null;
    let s = this.sessions.get(key);
    if (!s) {
      this.evictIfFull();
      s = new SessionFacts(e.session ?? key);
      this.sessions.set(key, s);
    }
    if (e.type !== 'finding') {
      s.settled = false;
      s.settledBy = null;
    }
    const { conn, connEnded } = s.add(e);
    return { session: s, conn, connEnded };
  }

  /** Sessions that settled by `now` (milliseconds since the epoch). */
  tick(now: number): SessionFacts[] {
    const out: SessionFacts[] = [];
    for (const s of this.sessions.values()) {
      if (s.settled || !s.allEnded()) continue;
      const last = s.lastMs;
      if (last !== null && now - last >= FALLBACK_GRACE_MS) {
        s.settled = true;
        s.settledBy = 'quiet';
        out.push(s);
      }
    }
    return out;
  }

  /** Forgets every session (a new kubewire run in a log reuses connection ids); consumers keep what they hold. */
  reset(): void {
    this.sessions.clear();
  }

  /** End of input: every session not yet settled settles now. */
  finish(): SessionFacts[] {
    const out: SessionFacts[] = [];
    for (const s of this.sessions.values()) {
      if (s.settled) continue;
      s.settled = true;
      s.settledBy = 'end';
      out.push(s);
    }
    return out;
  }

  private evictIfFull(): void {
    while (this.sessions.size >= this.maxSessions) {
      let victim: string | undefined;
      let scanned = 0;
      for (const [key, s] of this.sessions) {
        if (s.settled) {
          victim = key;
          break;
        }
        if (++scanned >= EVICTION_SCAN) break;
      }
      victim ??= this.sessions.keys().next().value;
      if (victim === undefined) return;
      this.sessions.delete(victim);
      this.evicted++;
    }
  }
}
