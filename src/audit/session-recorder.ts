/**
 * What one kubectl command did, for the audit log: read from the live events of its session
 * (every request and connection sharing a `Kubectl-Session` id), written as one
 * `audit.session` record once the session is done, followed by the session's seal.
 *
 * "Done" is a quiet period, not a connection close: kubectl's WebSocket attempt and its SPDY
 * fallback are two connections of one session with a gap between them, and `kubectl exec`
 * first GETs the pod. A session is done when none of its connections is open and nothing of
 * it was seen for `quietMs`. Records that arrive for it later (a finding at shutdown) start a
 * new segment, which gets a seal of its own.
 *
 * Sans-IO: the caller passes `now` and publishes what comes back.
 */
import { parseTsMicros } from '../events/stamp.js';
import type { AuditSessionEvent, KubewireEvent, SessionTarget, Transport } from '../events/types.js';

export const SESSION_QUIET_MS = 2000;
const MAX_REMEMBERED = 10_000;

/** A record to publish for `session`: the summary (first segment only), then always a seal. */
export interface SessionClosing {
  session: string;
  summary: AuditSessionEvent | null;
}

interface SessionState {
  id: string;
  start: string;
  end: string;
  startMs: number;
  lastMs: number;
  open: Set<string>;
  connections: string[];
  requests: number;
  userAgent: string | null;
  kubectlCommand: string | null;
  upgrade: (SessionTarget & { operation: AuditSessionEvent['operation'] }) | null;
  transport: Transport | null;
  protocol: string | null;
  bytes: AuditSessionEvent['bytes'];
  streams: AuditSessionEvent['streams'];
  exitCode: number | null;
  status: string | null;
  findings: string[];
  /** A summary was published already; later segments get only a seal. */
  summarized: boolean;
  /** Records seen since the last seal. */
  dirty: boolean;
  failedAudit: boolean;
}

export class SessionRecorder {
  private readonly sessions = new Map<string, SessionState>();
  /** Ids summarized and dropped, so a late record gets a seal but no second summary (bounded). */
  private readonly summarizedIds = new Set<string>();

  constructor(private readonly quietMs: number = SESSION_QUIET_MS) {}

  ingest(e: KubewireEvent, now: number): void {
    const id = e.session;
    if (!id || e.type.startsWith('audit.')) return;
    let s = this.sessions.get(id);
    if (!s) {
      s = newSession(id, e.ts ?? new Date(now).toISOString(), now);
      s.summarized = this.summarizedIds.has(id);
      this.sessions.set(id, s);
    }
    s.dirty = true;
    s.lastMs = now;
    if (e.ts) s.end = e.ts;
    const conn = e.conn;
    switch (e.type) {
      case 'conn.open':
        if (conn) {
          s.open.add(conn);
          if (e.kind === 'upgrade' && !s.connections.includes(conn)) s.connections.push(conn);
        }
        break;
      case 'conn.close':
        if (conn) s.open.delete(conn);
        s.bytes.c2s += e.bytes.c2s;
        s.bytes.s2c += e.bytes.s2c;
        break;
      case 'http.request':
        s.requests++;
        s.userAgent ??= e.userAgent;
        s.kubectlCommand ??= e.kubectlCommand;
        break;
      case 'upgrade.request': {
        s.userAgent ??= e.userAgent;
        s.kubectlCommand ??= e.kubectlCommand;
        const k = e.k8s;
        s.upgrade = k
          ? { operation: k.operation, namespace: k.namespace, pod: k.pod, container: k.container, command: k.command, tty: k.tty, stdin: k.stdin }
          : { operation: 'other', namespace: null, pod: null, container: null, command: [], tty: false, stdin: false };
        break;
      }
      case 'upgrade.response':
        if (e.status === 101) s.protocol = e.protocol;
        break;
      case 'decode.stack':
        if (e.transport !== 'none') s.transport = e.transport;
        break;
      case 'k8s.data':
        if (e.stream === 'stdin' || e.stream === 'stdout' || e.stream === 'stderr') s.streams[e.stream] += e.size;
        break;
      case 'k8s.status':
        s.status = e.status;
        if (e.exitCode !== null) s.exitCode = e.exitCode;
        break;
      case 'finding':
        if (!s.findings.includes(e.rule)) s.findings.push(e.rule);
        break;
      default:
        break;
    }
  }

  /** Sessions that went quiet: publish their records now. */
  tick(now: number): SessionClosing[] {
    const out: SessionClosing[] = [];
    for (const s of this.sessions.values()) {
      if (s.dirty && s.open.size === 0 && now - s.lastMs >= this.quietMs) out.push(this.close(s, 'idle'));
    }
    return out;
  }

  /** Kubewire stops (or the log failed): every session with unsealed records closes now. */
  finish(now: number, endedBy: 'proxy-stop' | 'audit-failure' = 'proxy-stop'): SessionClosing[] {
    const out: SessionClosing[] = [];
    for (const s of this.sessions.values()) {
      if (!s.dirty) continue;
      out.push(this.close(s, s.open.size === 0 && now - s.lastMs >= this.quietMs ? 'idle' : endedBy));
    }
    return out;
  }

  /** The log failed while these sessions were open (closed mode ends them). */
  markAuditFailure(): void {
    for (const s of this.sessions.values()) if (s.open.size > 0) s.failedAudit = true;
  }

  private close(s: SessionState, endedBy: AuditSessionEvent['endedBy']): SessionClosing {
    s.dirty = false;
    const summary = s.summarized ? null : summarize(s, s.failedAudit ? 'audit-failure' : endedBy);
    s.summarized = true;
    // A sealed session with nothing open is finished; keeping its state would grow without
    // bound on a long-running proxy. A late record builds a fresh state and gets a seal.
    if (s.open.size === 0) {
      this.sessions.delete(s.id);
      this.summarizedIds.add(s.id);
      if (this.summarizedIds.size > MAX_REMEMBERED) this.summarizedIds.delete(this.summarizedIds.values().next().value!);
    }
    return { session: s.id, summary };
  }
}

function newSession(id: string, ts: string, now: number): SessionState {
  return {
    id, start: ts, end: ts, startMs: now, lastMs: now, open: new Set(), connections: [], requests: 0,
    userAgent: null, kubectlCommand: null, upgrade: null, transport: null, protocol: null,
    bytes: { c2s: 0, s2c: 0 }, streams: { stdin: 0, stdout: 0, stderr: 0 },
    exitCode: null, status: null, findings: [], summarized: false, dirty: false, failedAudit: false,
  };
}

function summarize(s: SessionState, endedBy: AuditSessionEvent['endedBy']): AuditSessionEvent {
  const u = s.upgrade;
  return {
    type: 'audit.session',
    kubectlVersion: kubectlVersionOf(s.userAgent),
    userAgent: s.userAgent,
    kubectlCommand: s.kubectlCommand,
    operation: u ? u.operation : 'rest',
    namespace: u?.namespace ?? null,
    pod: u?.pod ?? null,
    container: u?.container ?? null,
    command: u?.command ?? [],
    tty: u?.tty ?? false,
    stdin: u?.stdin ?? false,
    start: s.start,
    end: s.end,
    durationMs: Math.max(0, Math.round(((parseTsMicros(s.end) ?? 0) - (parseTsMicros(s.start) ?? 0)) / 1000)),
    connections: s.connections,
    requests: s.requests,
    transport: s.transport,
    protocol: s.protocol,
    bytes: { ...s.bytes },
    streams: { ...s.streams },
    exitCode: s.exitCode,
    status: s.status,
    findings: [...s.findings],
    endedBy,
  };
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
