/**
 * What one kubectl command did, for the audit log: one `audit.session` record per session,
 * told by the session model (src/session/session-facts.ts: its verb, target, stream, exit code,
 * fallback), followed by the session's seal.
 *
 * A session is recorded once it settled (every connection ended and the fallback grace passed
 * without an event, or kubewire stopped first), so a refused WebSocket attempt and its SPDY
 * fallback, or kubectl cp's probe and its copy, are one record. The record is written right
 * after the round in which the session settled rather than inside it: other listeners of the
 * same round (diagnosis) may still add findings about the session, and the record lists them.
 *
 * Records about a session that arrive after its seal (a finding at shutdown, a late event)
 * start a new segment of it in the chain, which gets a seal of its own and no second record.
 *
 * Sans-IO: records go out through `publish`; when to write what became due is up to `defer`.
 */
import type { AuditSealEvent, AuditSessionEvent, EventBody, KubewireEvent } from '../events/types.js';
import { parseTsMillis } from '../events/stamp.js';
import type { SessionFacts } from '../session/session-facts.js';
import type { SessionModel } from '../session/session-model.js';
import type { SessionListener } from '../session/session-observer.js';

/** Ids of recorded sessions remembered, so a late record gets a seal but no second summary. */
const MAX_REMEMBERED = 10_000;

export type EndedBy = AuditSessionEvent['endedBy'];

export interface SessionRecorderOptions {
  /** Writes one record of `session` to the log (through the bus, which hands it to the chain). */
  publish(body: EventBody, session: string): void;
  /** Runs `flush` once the current round of events is over; a microtask by default. */
  defer?(flush: () => void): void;
}

/** A session with records in the chain since its last seal. */
interface Segment {
  /** It was live when the audit log failed (closed mode ends it). */
  auditFailure: boolean;
}

export class SessionRecorder implements SessionListener {
  private readonly pending = new Map<string, Segment>();
  /** Sessions (or their late segments) to record and seal at the next flush. */
  private readonly due = new Set<string>();
  private readonly recorded = new Set<string>();
  private readonly publish: SessionRecorderOptions['publish'];
  private readonly defer: (flush: () => void) => void;
  private scheduled = false;

  constructor(private readonly model: SessionModel, options: SessionRecorderOptions) {
    this.publish = options.publish;
    this.defer = options.defer ?? queueMicrotask;
  }

  primary(e: KubewireEvent): void {
    if (e.session !== undefined) this.segment(e.session);
  }

  derived(e: KubewireEvent, session: SessionFacts | null): void {
    // The recorder's own records close a segment rather than open one.
    if (e.session === undefined || e.type === 'audit.session' || e.type === 'audit.seal') return;
    this.segment(e.session);
    // A finding about a session sealed already: its next settling (if it is live again) or now.
    if (this.recorded.has(e.session) && session?.settled !== false) this.schedule(e.session);
  }

  settled(session: SessionFacts): void {
    if (this.pending.has(session.id)) this.schedule(session.id);
  }

  /**
   * The audit log failed: sessions live now were ended by it (closed mode) or lost records to
   * it (open mode); their records say so.
   */
  auditFailed(): void {
    for (const [id, seg] of this.pending) {
      const s = this.model.get(id);
      if (s && !s.allEnded()) seg.auditFailure = true;
    }
  }

  /**
   * Kubewire stops: every session with records not yet sealed is recorded (once) and sealed
   * now; those that had not settled by the quiet rule say the proxy stopped first.
   */
  finish(): void {
    for (const id of this.pending.keys()) this.due.add(id);
    this.flush();
  }

  /** Writes what is due: each session's record (the first time), then its seal. */
  flush(): void {
    this.scheduled = false;
    for (const id of [...this.due]) {
      this.due.delete(id);
      const seg = this.pending.get(id);
      if (!seg) continue;
      this.pending.delete(id);
      if (!this.recorded.has(id)) {
        const s = this.model.get(id);
        // A session the model no longer holds (forgotten to keep within its bound) can only be sealed.
        if (s) this.publish(sessionRecord(s, this.endedBy(s, seg)), id);
        this.remember(id);
      }
      this.publish(sessionSeal(), id);
    }
  }

  /** Settled by the quiet rule, the command was over; else kubewire stopped before it was. */
  private endedBy(s: SessionFacts, seg: Segment): EndedBy {
    if (seg.auditFailure) return 'audit-failure';
    return s.settledBy === 'quiet' ? 'idle' : 'proxy-stop';
  }

  private segment(id: string): Segment {
    let seg = this.pending.get(id);
    if (!seg) {
      seg = { auditFailure: false };
      this.pending.set(id, seg);
    }
    return seg;
  }

  private schedule(id: string): void {
    this.due.add(id);
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(() => this.flush());
  }

  private remember(id: string): void {
    this.recorded.add(id);
    if (this.recorded.size > MAX_REMEMBERED) this.recorded.delete(this.recorded.values().next().value!);
  }
}

/** A session's seal; the chain fills in its count and last hash. */
export function sessionSeal(): AuditSealEvent {
  return { type: 'audit.seal', scope: 'session', count: null, last: null };
}

/** The session's `audit.session` record, from its story. */
export function sessionRecord(s: SessionFacts, endedBy: EndedBy): AuditSessionEvent {
  const story = s.story();
  const start = story.start ?? s.lastTs ?? new Date().toISOString();
  // A session cut short by the stop is still live in its story: it ends with its last event.
  const end = story.end ?? s.lastTs ?? start;
  const t = story.target;
  return {
    type: 'audit.session',
    kubectlVersion: kubectlVersionOf(story.userAgent),
    userAgent: story.userAgent,
    kubectlCommand: story.kubectlCommand,
    operation: operationOf(s),
    namespace: t.namespace,
    pod: t.pod,
    container: t.container,
    command: t.command,
    tty: t.tty,
    stdin: t.stdin,
    start,
    end,
    durationMs: story.durationMs ?? Math.max(0, Math.round((parseTsMillis(end) ?? 0) - (parseTsMillis(start) ?? 0))),
    connections: story.connections.map((c) => c.id),
    requests: story.requests,
    transport: story.transport,
    protocol: story.protocol,
    bytes: { ...story.bytes },
    streams: { ...story.streams },
    exitCode: story.exitCode,
    status: story.status,
    findings: [...story.findings],
    endedBy,
    ...(story.user ? { user: story.user } : {}),
    ...(story.translation ? { translated: translationRecord(story.translation) } : {}),
  };
}

/** The upstream leg of a translated session, in the record's words. */
function translationRecord(t: NonNullable<ReturnType<SessionFacts['story']>['translation']>): NonNullable<AuditSessionEvent['translated']> {
  const kind = (k: string): 'spdy' | 'websocket' => (k === 'spdy' ? 'spdy' : 'websocket');
  return { from: kind(t.from), to: kind(t.to), upstream: t.upstream, protocol: t.protocol, bytes: { ...t.bytes } };
}

/** The verb in the record's words (the subresource names of K8sRequestInfo). */
function operationOf(s: SessionFacts): AuditSessionEvent['operation'] {
  switch (s.story().verb) {
    case 'exec': return 'exec';
    case 'cp': return 'cp';
    case 'attach': return 'attach';
    case 'port-forward': return 'portforward';
    case 'logs': return 'log';
    default: return s.upgrades.length > 0 ? 'other' : 'rest';
  }
}

/**
 * kubectl's User-Agent is `kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0` (client-go's
 * DefaultKubernetesUserAgent: the binary's name, then its version); a renamed binary such as
 * `kubectl.1.30` keeps the `/vX.Y.Z` part.
 */
export function kubectlVersionOf(userAgent: string | null): string | null {
  const m = userAgent ? /^[^/\s]*\/(v\d+\.\d+\.\d+[^\s]*)/.exec(userAgent) : null;
  return m ? m[1]! : null;
}
