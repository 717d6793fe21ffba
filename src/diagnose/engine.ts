/**
 * The diagnosis engine: a listener on the session observer (src/session/session-observer.ts)
 * that runs the rules over the session model's facts and hands on what they find. It evaluates
 * a session when something that can change a verdict arrives (a request, an answer, a status, a
 * close, an anomaly; not every data frame or keepalive), evaluates the live sessions on the
 * observer's tick (the time-based rules: a silent 101, missing pongs, a connection left open, a
 * refusal kubectl did not retry), and once more as ended when a session settles. Each rule
 * fires at most once per connection per session, and a rule that throws is skipped.
 *
 *   const engine = new DiagnosisEngine(running.sessions.model, (f) => publish(f));
 *   running.sessions.add(engine);
 *
 * Findings go back on the bus and return through the observer as derived records, which the
 * engine does not take. Memory: the model bounds the sessions; what the engine keeps of one
 * (the rule/connection pairs that fired, bounded) is forgotten with it.
 */
import { RULES } from './rules/index.js';
import { sessionView } from './session-view.js';
import type { FindingDraft, Rule } from './types.js';
import { parseTsMillis } from '../events/stamp.js';
import type { FindingEvent, KubewireEvent } from '../events/types.js';
import { MAX_SERVER_FRAME_BYTES } from '../session/connection-facts.js';
import type { SessionModel } from '../session/session-model.js';
import { LogReplay } from '../session/log-replay.js';
import type { SessionListener } from '../session/session-observer.js';
import type { SessionFacts } from '../session/session-facts.js';

export interface DiagnosisEngineOptions {
  rules?: readonly Rule[];
  /**
   * The API server's version (`v1.35.2`) when the caller knows it (the doctor asked `/version`);
   * otherwise the engine takes it from the first `/version` answer whose body it sees.
   */
  serverVersion?: string | null;
}

/** A finding of one session; `session` is absent for events that carried none (a decoded capture). */
export type SessionFinding = FindingDraft & { session?: string };

/** A finding as a log holds it, before its envelope: the `finding` body with its session and connection. */
export type DiagnosedFinding = FindingEvent & { session?: string; conn?: string };

/**
 * Connections per session whose fired rules are remembered before those of connections the
 * session has forgotten are dropped (the model keeps a few hundred connections per session).
 */
const MAX_FIRED_CONNS = 512;

/** What the engine keeps of one session. */
interface Diagnosis {
  /** The session id the events carried, or '' (a decoded capture, a connection of no session). */
  readonly session: string;
  /** Connection id → rules that fired for it. */
  readonly fired: Map<string, Set<string>>;
}

export class DiagnosisEngine implements SessionListener {
  private readonly rules: readonly Rule[];
  /** Keyed by the model's own session objects, so a session the model forgets is forgotten here too. */
  private readonly diagnoses = new WeakMap<SessionFacts, Diagnosis>();
  private now = Number.NaN;
  private serverVersion: string | null;

  constructor(private readonly model: SessionModel, private readonly publish: (f: SessionFinding) => void, options: DiagnosisEngineOptions = {}) {
    this.rules = options.rules ?? RULES;
    this.serverVersion = options.serverVersion ?? null;
  }

  /** An event replays with its own clock; one without a time keeps the last known. */
  primary(e: KubewireEvent, session: SessionFacts | null): void {
    if (!session) return;
    const t = parseTsMillis(e.ts);
    if (t !== null) this.now = t;
    const d = this.diagnosisOf(session, e);
    if (e.type === 'http.body') this.learnVersion(session, e);
    if (!routine(e)) this.evaluate(session, d, false);
  }

  tick(now: number): void {
    this.now = now;
    for (const s of this.model.values()) if (!s.settled) this.evaluateKnown(s, false);
  }

  settled(session: SessionFacts): void {
    this.evaluateKnown(session, true);
  }

  /** End of input outside an observer's `finish` (a proxy shutting down): every live session, as ended. */
  finish(now: number): void {
    this.now = now;
    for (const s of this.model.values()) if (!s.settled) this.evaluateKnown(s, true);
  }

  /** A `/version` answer of any session tells every session what the API server is. */
  private learnVersion(s: SessionFacts, e: KubewireEvent & { type: 'http.body' }): void {
    if (this.serverVersion !== null || e.dir !== 's2c' || !e.text) return;
    if (s.conns.get(e.conn ?? '')?.request?.path !== '/version') return;
    const m = /"gitVersion"\s*:\s*"([^"]+)"/.exec(e.text);
    if (m) this.serverVersion = m[1]!;
  }

  private diagnosisOf(s: SessionFacts, e: KubewireEvent): Diagnosis {
    let d = this.diagnoses.get(s);
    if (!d) {
      // The model names a session of no `session` after its connection; its findings carry none.
      d = { session: e.session ?? '', fired: new Map() };
      this.diagnoses.set(s, d);
    }
    return d;
  }

  private evaluateKnown(s: SessionFacts, ended: boolean): void {
    const d = this.diagnoses.get(s);
    if (d) this.evaluate(s, d, ended);
  }

  private evaluate(s: SessionFacts, d: Diagnosis, ended: boolean): void {
    const view = sessionView(s, d.session, this.now, ended, this.serverVersion);
    for (const rule of this.rules) {
      let drafts: FindingDraft[];
      try {
        drafts = rule.evaluate(view);
      } catch {
        // A broken rule must not take the others (or the proxy) with it.
        continue;
      }
      for (const draft of drafts) if (this.firstTime(s, d, draft)) this.publish(findingOf(d, draft));
    }
  }

  private firstTime(s: SessionFacts, d: Diagnosis, draft: FindingDraft): boolean {
    const conn = draft.conn ?? '';
    let rules = d.fired.get(conn);
    if (rules?.has(draft.rule)) return false;
    if (!rules) {
      if (d.fired.size >= MAX_FIRED_CONNS) for (const id of d.fired.keys()) if (!s.conns.has(id)) d.fired.delete(id);
      rules = new Set();
      d.fired.set(conn, rules);
    }
    rules.add(draft.rule);
    return true;
  }
}

/** Data, data frames and keepalives: one of many, they move counters but decide nothing alone. */
function routine(e: KubewireEvent): boolean {
  switch (e.type) {
    case 'k8s.data':
    case 'pf.data':
    case 'ws.data':
      // Its folded frame (schema version 2) may be the oversized one.
      return (e.wsFrame?.length ?? 0) <= MAX_SERVER_FRAME_BYTES;
    case 'ws.frame':
      // A close frame ends a stream, and an oversized frame is a verdict of its own.
      return e.kind !== 'close' && e.length <= MAX_SERVER_FRAME_BYTES;
    case 'spdy.frame':
      return e.frame === 'DATA' || e.frame === 'PING';
    default:
      return false;
  }
}

function findingOf(d: Diagnosis, draft: FindingDraft): SessionFinding {
  const { conn, ...rest } = draft;
  // A connection without an id (a decoded capture) is the session itself.
  const f: SessionFinding = conn ? { ...rest, conn } : rest;
  return d.session === '' ? f : { ...f, session: d.session };
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

/**
 * The engine over a stream of logged or decoded events, as they come (`kubewire decode
 * --findings` holds none of them): its own session observer on the events' own clock
 * (src/session/log-replay.ts); `finish` ends the input and settles every session.
 */
export class EventDiagnosis {
  private readonly replay = new LogReplay();

  constructor(onFinding: (f: SessionFinding) => void, options: DiagnosisEngineOptions = {}) {
    this.replay.observer.add(new DiagnosisEngine(this.replay.observer.model, onFinding, options));
  }

  ingest(e: KubewireEvent): void {
    this.replay.ingest(e);
  }

  finish(): void {
    this.replay.finish();
  }
}

/**
 * Every finding of a whole log (or a decoded capture), in the order they arose: the events go
 * through a session observer of their own on the log's own clock (src/session/log-replay.ts),
 * so sessions settle as they did live, and it finishes at the end.
 */
export function diagnoseEvents(events: readonly KubewireEvent[], options: DiagnosisEngineOptions = {}): DiagnosedFinding[] {
  const found: SessionFinding[] = [];
  const diagnosis = new EventDiagnosis((f) => found.push(f), options);
  for (const e of events) diagnosis.ingest(e);
  diagnosis.finish();
  return found.map((f) => ({
    ...findingBody(f),
    ...(f.session !== undefined ? { session: f.session } : {}),
    ...(f.conn !== undefined ? { conn: f.conn } : {}),
  }));
}
