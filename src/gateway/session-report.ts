/**
 * What the gateway tells its log pipeline and its metrics, read from the one session model on
 * the observer's thread: one report per kubectl command once its session settled, one per
 * finding and one per proxy error as they come. Their JSON log lines are made and written on
 * the observer's thread too (json-log.ts); small copies are structured-cloned to the relay's
 * thread (observer-messages.ts) for the Prometheus counters. Sans-IO: reports go out through `post`.
 */
import type { KubewireEvent, SessionUser, Transport } from '../events/types.js';
import type { SessionFacts, SessionStory } from '../session/session-facts.js';
import type { SessionListener } from '../session/session-observer.js';

/** How a command ended, for the `outcome` label: a closed set, so metrics stay bounded. */
export type SessionOutcome = 'ok' | 'nonzero-exit' | 'failed' | 'error' | 'cut-short';

export interface SessionReport {
  kind: 'session';
  session: string;
  user: SessionUser | null;
  verb: string;
  namespace: string | null;
  pod: string | null;
  container: string | null;
  command: string[];
  transport: Transport | 'http';
  protocol: string | null;
  outcome: SessionOutcome;
  exitCode: number | null;
  failure: string | null;
  fallback: { status: number | null; reason: string } | null;
  bytes: { c2s: number; s2c: number };
  requests: number;
  start: string | null;
  durationMs: number | null;
  findings: string[];
}

export interface FindingReport {
  kind: 'finding';
  session: string | null;
  user: string | null;
  rule: string;
  severity: string;
  title: string;
  fix: string;
}

export interface ErrorReport {
  kind: 'error';
  session: string | null;
  code: string;
  message: string;
  status: number | null;
}

export type GatewayReport = SessionReport | FindingReport | ErrorReport;

export class SessionReports implements SessionListener {
  /** The story version each session was last reported at: a late event reports again only if it changed something. */
  private readonly reported = new WeakMap<SessionFacts, string>();

  constructor(private readonly post: (r: GatewayReport) => void) {}

  primary(e: KubewireEvent, session: SessionFacts | null): void {
    if (e.type === 'proxy.error') this.post({ kind: 'error', session: session?.id ?? null, code: e.code, message: e.message, status: e.status });
  }

  derived(e: KubewireEvent, session: SessionFacts | null): void {
    if (e.type !== 'finding') return;
    this.post({ kind: 'finding', session: session?.id ?? null, user: session?.story().user?.username ?? null, rule: e.rule, severity: e.severity, title: e.title, fix: e.fix.split('\n')[0]!.trim() });
  }

  settled(session: SessionFacts): void {
    const report = sessionReport(session.story(), session.settledBy);
    const key = JSON.stringify([report.outcome, report.bytes, report.findings, report.exitCode]);
    if (this.reported.get(session) === key) return;
    this.reported.set(session, key);
    this.post(report);
  }
}

export function sessionReport(s: SessionStory, settledBy: SessionFacts['settledBy']): SessionReport {
  const stream = s.connections.find((c) => c.id === s.stream) ?? null;
  const last = s.connections[s.connections.length - 1] ?? null;
  const httpError = s.stream === null && s.verb === 'rest' && last !== null && (last.status ?? 0) >= 400;
  const outcome: SessionOutcome = s.state === 'failed' ? 'failed'
    : s.exitCode !== null && s.exitCode !== 0 ? 'nonzero-exit'
    : httpError ? 'error'
    : settledBy === 'end' && s.state === 'live' ? 'cut-short'
    : 'ok';
  return {
    kind: 'session',
    session: s.session,
    user: s.user,
    verb: s.verb,
    namespace: s.target.namespace,
    pod: s.target.pod,
    container: s.target.container,
    command: s.target.command,
    // What carried the command, else what last tried to (a refused upgrade), else plain HTTP.
    transport: s.transport ?? stream?.transport ?? s.connections.filter((c) => c.transport !== 'http').pop()?.transport ?? 'http',
    protocol: s.protocol,
    outcome,
    exitCode: s.exitCode,
    failure: s.failure,
    fallback: s.fallback ? { status: s.fallback.status, reason: s.fallback.reason } : null,
    bytes: { ...s.bytes },
    requests: s.requests,
    start: s.start,
    durationMs: s.durationMs,
    findings: [...s.findings],
  };
}
