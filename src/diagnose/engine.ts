/**
 * The diagnosis engine: events in, findings out. It groups events by session (kubectl's
 * Kubectl-Session, which the proxy turns into `session`), keeps a bounded view of each, and
 * runs the rules when something that can change a verdict arrives (a request, an answer, a
 * status, a close, an anomaly; not every data frame). Each rule fires at most once per
 * connection per session. Time-based rules (a silent 101, missing pongs, a connection left
 * open) also run on `tick`; `finish` runs everything once more with the session ended.
 *
 *   const engine = new DiagnosisEngine();
 *   bus.subscribe((e) => { for (const f of engine.ingest(e)) bus.publish(findingBody(f), noteFor(findingBody(f)), { session: f.session, conn: f.conn }); });
 *   setInterval(() => publishAll(engine.tick(Date.now())), 1000);
 *
 * Memory: at most `maxSessions` sessions (the least recently active go first), each storing at
 * most `maxEventsPerSession` events (payload bytes stripped; past the bound only non-bulk events,
 * up to twice the bound). The rules read per-connection summaries kept for every event, so a
 * verdict does not depend on what was left out.
 */
import { RULES } from './rules/index.js';
import { SessionTracker, isBulk, tsOf } from './session-view.js';
import type { FindingDraft, Rule, SessionView } from './types.js';
import type { FindingEvent, KubewireEvent } from '../events/types.js';

export interface DiagnosisEngineOptions {
  rules?: readonly Rule[];
  /** Sessions remembered at once (default 512). */
  maxSessions?: number;
  /** Events stored per session (default 2000); see the module note. */
  maxEventsPerSession?: number;
}

/** A finding of one session; `session` is absent for events that carried none (a decoded capture). */
export type SessionFinding = FindingDraft & { session?: string };

/** A finding as a log holds it, before its envelope: the `finding` body with its session and connection. */
export type DiagnosedFinding = FindingEvent & { session?: string; conn?: string };

const DEFAULT_MAX_SESSIONS = 512;
const DEFAULT_MAX_EVENTS = 2000;
/** Sessions all of whose connections ended this long ago are forgotten on `tick`. */
const FORGET_AFTER_MS = 10 * 60_000;
/** Ended sessions quiet for this long have nothing time-based pending (the longest wait is a fallback's grace). */
const SETTLED_MS = 30_000;
/** Key for events that carry no session and no connection (a decoded capture). */
const ANONYMOUS = '';
/** Events that belong to no kubectl session. */
const GLOBAL_TYPES = new Set(['proxy.start', 'proxy.stop', 'sink.dropped', 'sink.backpressure', 'finding']);

export class DiagnosisEngine {
  private readonly rules: readonly Rule[];
  private readonly maxSessions: number;
  private readonly maxEvents: number;
  private readonly sessions = new Map<string, SessionTracker>();
  private lastNow = Number.NaN;

  constructor(options: DiagnosisEngineOptions = {}) {
    this.rules = options.rules ?? RULES;
    this.maxSessions = Math.max(1, options.maxSessions ?? DEFAULT_MAX_SESSIONS);
    this.maxEvents = Math.max(1, options.maxEventsPerSession ?? DEFAULT_MAX_EVENTS);
  }

  /** Sessions currently remembered. */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * Feeds one event; returns the findings it made new. `now` defaults to the event's own time
   * (so a log replays with its clock), else the last known time.
   */
  ingest(event: KubewireEvent, now?: number): SessionFinding[] {
    // The audit chain's own records (audit.*) say nothing about a stream.
    if (GLOBAL_TYPES.has(event.type) || event.type.startsWith('audit.')) return [];
    const key = event.session ?? (event.conn !== undefined ? `conn:${event.conn}` : ANONYMOUS);
    let s = this.sessions.get(key);
    if (s) {
      // Most recently active last, so eviction takes the oldest.
      this.sessions.delete(key);
    } else {
      s = new SessionTracker(event.session ?? ANONYMOUS, { maxEvents: this.maxEvents });
      this.evictIfFull();
    }
    this.sessions.set(key, s);
    s.add(event);
    if (isBulk(event) || isKeepalive(event)) return [];
    const t = now ?? tsOf(event) ?? this.lastNow;
    if (Number.isFinite(t)) this.lastNow = t;
    return this.evaluate(s, t, false);
  }

  /** The current view of one session (`''` for events that carried no session), for inspection. */
  view(session: string, now: number = this.lastNow): SessionView | undefined {
    const s = this.sessions.get(session) ?? [...this.sessions.values()].find((x) => x.session === session);
    return s?.view(now, false);
  }

  /** Evaluates live sessions at `now` (time-based rules); forgets sessions long finished. */
  tick(now: number): SessionFinding[] {
    this.lastNow = now;
    const out: SessionFinding[] = [];
    for (const [key, s] of [...this.sessions]) {
      const idle = Number.isFinite(s.lastActivity) ? now - s.lastActivity : 0;
      if (s.allEnded()) {
        if (idle >= FORGET_AFTER_MS) this.sessions.delete(key);
        if (idle >= SETTLED_MS) continue;
      }
      out.push(...this.evaluate(s, now, false));
    }
    return out;
  }

  /** End of input: a final evaluation of every session, as ended. */
  finish(now: number = this.lastNow): SessionFinding[] {
    const out: SessionFinding[] = [];
    for (const s of this.sessions.values()) out.push(...this.evaluate(s, now, true));
    return out;
  }

  private evaluate(s: SessionTracker, now: number, ended: boolean): SessionFinding[] {
    const view = s.view(now, ended);
    const out: SessionFinding[] = [];
    for (const rule of this.rules) {
      let drafts: FindingDraft[];
      try {
        drafts = rule.evaluate(view);
      } catch {
        // A broken rule must not take the others (or the proxy) with it.
        continue;
      }
      for (const d of drafts) {
        const id = `${d.rule}|${d.conn ?? ''}`;
        if (s.fired.has(id)) continue;
        s.fired.add(id);
        const { conn, ...rest } = d;
        // A connection without an id (a decoded capture) is the session itself.
        const draft: SessionFinding = conn ? { ...rest, conn } : rest;
        out.push(s.session === ANONYMOUS ? draft : { ...draft, session: s.session });
      }
    }
    return out;
  }

  private evictIfFull(): void {
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) return;
      this.sessions.delete(oldest);
    }
  }
}

function isKeepalive(e: KubewireEvent): boolean {
  return (e.type === 'ws.frame' && (e.kind === 'ping' || e.kind === 'pong')) || (e.type === 'spdy.frame' && e.frame === 'PING');
}

/** The `finding` event body of a draft (session and connection go in the envelope). */
export function findingBody(f: FindingDraft): FindingEvent {
  return {
    type: 'finding',
    rule: f.rule,
    severity: f.severity,
    title: f.title,
    explanation: f.explanation,
    evidence: { facts: [...f.evidence.facts], seqs: [...f.evidence.seqs] },
    hop: { ...f.hop },
    fix: f.fix,
  };
}

/** Every finding of a whole log (or a decoded capture), in the order they arose. */
export function diagnoseEvents(events: readonly KubewireEvent[], options: Pick<DiagnosisEngineOptions, 'rules'> = {}): DiagnosedFinding[] {
  const engine = new DiagnosisEngine({ rules: options.rules, maxSessions: Number.MAX_SAFE_INTEGER, maxEventsPerSession: Number.MAX_SAFE_INTEGER });
  const found: SessionFinding[] = [];
  let last = Number.NaN;
  for (const e of events) {
    const t = tsOf(e);
    if (t !== null) last = t;
    found.push(...engine.ingest(e));
  }
  found.push(...engine.finish(last));
  return found.map((f) => ({
    ...findingBody(f),
    ...(f.session !== undefined ? { session: f.session } : {}),
    ...(f.conn !== undefined ? { conn: f.conn } : {}),
  }));
}
