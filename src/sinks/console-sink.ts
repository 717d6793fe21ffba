/**
 * Console lines for humans when there is no TUI: one line per kubectl command once its session
 * settled (every connection ended and FALLBACK_GRACE_MS passed, so a SPDY fallback has joined
 * it; src/session/session-model.ts), read from the session's story alone; and a `!` line for
 * each proxy error, finding and dropped-events report as it comes.
 *
 *   22:10:53 exec default/web/app [sh -c echo hello; exit 3] websocket v5.channel.k8s.io exit 3 ↑548 B ↓4.0 KiB 135 ms
 *   22:10:55 exec default/web/app [echo fell back] spdy v4.channel.k8s.io exit 0 ↑1.3 KiB ↓4.0 KiB 212 ms (fell back from WebSocket: 403 Forbidden)
 *   22:12:03 exec default/web/app [sh -c sleep 5; echo late] websocket v5.channel.k8s.io failed: the stream ended without a status: the exit code is unknown ↑540 B ↓3.7 KiB 2.2 s
 *
 * Bytes and duration are the whole command's (the pod GET, a refused attempt and the stream).
 *
 * Sessions that made an upgrade get a line, and so do `logs` and `watch` streams; plain REST
 * (kubectl get) gets none. A session observer's listener, not a sink: it never slows the relay.
 *
 * A `!` line that repeats the one before it (one failing `kubectl get` retries, and each try
 * gets the same proxy error) is counted, not printed again; the count follows as one line when
 * another line comes, on the observer's tick, or when a session settles:
 *
 *   ! KW_ERR_UPSTREAM_CONNECT connect ECONNREFUSED 127.0.0.1:6443 (answered 502)
 *   ! KW_ERR_UPSTREAM_CONNECT connect ECONNREFUSED 127.0.0.1:6443 (answered 502) (repeated 4 more times)
 */
import type { Output } from '../io/output.js';
import { formatBytes } from '../events/preview.js';
import { parseTsMillis } from '../events/stamp.js';
import type { KubewireEvent } from '../events/types.js';
import type { FallbackStory, SessionFacts, SessionStory, TranslationStory } from '../session/session-facts.js';
import type { SessionListener } from '../session/session-observer.js';

/** What a session's line says: a part of its story. */
export type SessionLine = Pick<
  SessionStory,
  'start' | 'verb' | 'target' | 'connections' | 'stream' | 'transport' | 'protocol' | 'ports' | 'exitCode' | 'status' | 'statusReason'
  | 'state' | 'failure' | 'bytes' | 'durationMs'
> & { fallback: Pick<FallbackStory, 'reason'> | null; translation?: Pick<TranslationStory, 'to' | 'protocol'> | null };

/** A session gets a line when it made an upgrade, streamed logs or a watch, or was a stream verb that failed before its upgrade. */
function hasSessionLine(s: Pick<SessionStory, 'verb' | 'connections'>): boolean {
  // A stream verb counts even with no upgrade: `kubectl exec nosuch` fails at its pod GET.
  return s.verb !== 'rest' || s.connections.some((c) => c.transport !== 'http');
}

/** One kubectl command as one line; pure, for tests. */
export function formatSessionLine(s: SessionLine): string {
  const parts: string[] = [];
  const start = parseTsMillis(s.start);
  if (start !== null) parts.push(clockTime(new Date(start)));
  parts.push(s.verb);
  const stream = s.connections.find((c) => c.id === s.stream) ?? null;
  const pod = [s.target.namespace, s.target.pod, s.target.container].filter(Boolean).join('/');
  // A watch or a service proxy names no pod: its path says what it asked for.
  const target = s.target.pod ? pod : (stream ?? s.connections[s.connections.length - 1])?.path ?? pod;
  if (target) parts.push(target);
  if (s.target.command.length) parts.push(`[${s.target.command.join(' ')}]`);
  if (stream?.transport === 'http') parts.push('http');
  else if (stream) parts.push(s.transport ?? stream.transport, s.protocol ?? '(no subprotocol)');
  else {
    // Nothing carried the command: the transport of the last attempt, whose refusal the failure names.
    const tried = s.connections.filter((c) => c.transport !== 'http').pop();
    if (tried) parts.push(tried.transport);
  }
  if (s.ports.length) parts.push(`port ${s.ports.join(',')}`);
  if (s.exitCode !== null) parts.push(`exit ${s.exitCode}`);
  else if (s.status !== null && s.state !== 'failed') parts.push(`status ${s.status}${s.statusReason ? ` (${s.statusReason})` : ''}`);
  if (s.state === 'failed') parts.push(`failed: ${s.failure ?? 'unknown'}`);
  else if (s.state === 'live') parts.push('still open');
  parts.push(`↑${formatBytes(s.bytes.c2s)}`, `↓${formatBytes(s.bytes.s2c)}`);
  if (s.durationMs !== null) parts.push(formatDuration(s.durationMs));
  if (s.fallback) parts.push(`(fell back from WebSocket: ${s.fallback.reason})`);
  if (s.translation) parts.push(`(translated to ${s.translation.to}${s.translation.protocol ? ` ${s.translation.protocol}` : ''} upstream)`);
  return parts.join(' ');
}

/** `! warn websocket-fallback: title (fix: …)`: one finding as one line; pure, for tests. */
export function formatFindingLine(severity: string, rule: string, title: string, fix: string): string {
  const firstFix = fix.split('\n')[0]!.trim();
  return `! ${severity} ${rule}: ${title}${firstFix ? ` (fix: ${firstFix})` : ''}`;
}

/** `! KW_ERR_UPSTREAM_TLS certificate expired (answered 502)` */
export function formatErrorLine(code: string, message: string, status: number | null = null): string {
  return `! ${code} ${message}${status !== null ? ` (answered ${status})` : ''}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function clockTime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

export class ConsoleSink implements SessionListener {
  /**
   * The line each session last printed. A late event reopens a settled session; it prints
   * again only when its story changed. Keyed by the model's session, so it is forgotten with it.
   */
  private readonly printed = new WeakMap<SessionFacts, string>();
  /** The last `!` line printed, and how often it came again since. */
  private lastAlert: string | null = null;
  private repeats = 0;

  constructor(private readonly out: Output) {}

  primary(e: KubewireEvent): void {
    if (e.type === 'proxy.error') this.alert(formatErrorLine(e.code, e.message, e.status));
  }

  derived(e: KubewireEvent): void {
    // A fallback's line carries its mark; its finding adds the why and the fix.
    if (e.type === 'finding') this.alert(formatFindingLine(e.severity, e.rule, e.title, e.fix));
    else if (e.type === 'sink.dropped') this.alert(`! ${e.note}`);
  }

  tick(): void {
    this.flushRepeats();
  }

  settled(session: SessionFacts): void {
    this.flushRepeats();
    const story = session.story();
    if (!hasSessionLine(story)) return;
    const line = formatSessionLine(story);
    if (this.printed.get(session) === line) return;
    this.printed.set(session, line);
    this.lastAlert = null;
    this.out.line(line);
  }

  private alert(line: string): void {
    if (line === this.lastAlert) {
      this.repeats++;
      return;
    }
    this.flushRepeats();
    this.lastAlert = line;
    this.out.line(line);
  }

  private flushRepeats(): void {
    if (this.repeats === 0 || this.lastAlert === null) return;
    this.out.line(`${this.lastAlert} (repeated ${this.repeats} more time${this.repeats > 1 ? 's' : ''})`);
    this.repeats = 0;
  }
}
