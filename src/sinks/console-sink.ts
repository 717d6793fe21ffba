/**
 * Console lines for humans when there is no TUI: one line per upgraded connection when its
 * `conn.summary` arrives, and one `! KW_ERR_…` line per proxy error or dropped-events report.
 *
 *   11:02:03 exec default/web/app [sh -c exit 3] websocket v5.channel.k8s.io exit 3 ↑12 B ↓2.1 KiB 1.2 s
 *   11:02:05 exec default/web [echo hi] spdy v4.channel.k8s.io exit 0 ↑111 B ↓161 B 0.3 s (fell back from WebSocket: 403 Forbidden)
 *
 * A kubectl command that falls back from WebSocket to SPDY makes two connections sharing one
 * `Kubectl-Session` header; the refused attempt is held back for a moment, and when the SPDY
 * connection follows it only shows as the mark on that connection's line. This is a bus
 * subscriber, not a sink: it never slows the relay, and its per-connection state is bounded.
 */
import type { Output } from '../io/output.js';
import type { EventBus } from '../events/event-bus.js';
import { formatBytes } from '../events/preview.js';
import type { ConnectionSummary, K8sRequestInfo, KubewireEvent } from '../events/types.js';

/** How long a refused WebSocket attempt waits for its SPDY fallback before it gets a line. */
export const FALLBACK_WAIT_MS = 2000;
/** Connections and kubectl sessions remembered at once; the oldest are forgotten first. */
const MAX_TRACKED = 4096;

export interface SessionLine {
  /** When the connection began (its first event), or null for events without a clock. */
  startedAt: Date | null;
  /** The pod subresource request, from `upgrade.request`. */
  request: K8sRequestInfo | null;
  summary: ConnectionSummary;
  /** The response's reason phrase (`Forbidden`), when there was a response. */
  responseReason: string | null;
  /** Bytes each way, whole connection; null when unknown. */
  bytes: { c2s: number; s2c: number } | null;
  durationMs: number | null;
  /** Why the WebSocket attempt of the same kubectl command failed, when this connection is its fallback. */
  fellBackFrom: string | null;
}

/** `! warn websocket-fallback: title (fix: …)`: one finding as one line; pure, for tests. */
export function formatFindingLine(severity: string, rule: string, title: string, fix: string): string {
  const firstFix = fix.split('\n')[0]!.trim();
  return `! ${severity} ${rule}: ${title}${firstFix ? ` (fix: ${firstFix})` : ''}`;
}

/** One connection as one line; pure, for tests. */
export function formatSessionLine(s: SessionLine): string {
  const { summary, request } = s;
  const parts: string[] = [];
  if (s.startedAt) parts.push(clockTime(s.startedAt));
  parts.push(request?.operation ?? summary.request.operation ?? summary.request.method ?? 'connection');
  if (request) {
    const target = [request.namespace, request.pod, request.container].filter(Boolean).join('/');
    if (target) parts.push(target);
    if (request.command.length) parts.push(`[${request.command.join(' ')}]`);
  } else if (summary.request.path) {
    parts.push(summary.request.path);
  }
  parts.push(...outcome(s));
  if (s.bytes) parts.push(`↑${formatBytes(s.bytes.c2s)}`, `↓${formatBytes(s.bytes.s2c)}`);
  if (s.durationMs !== null) parts.push(formatDuration(s.durationMs));
  if (s.fellBackFrom) parts.push(`(fell back from WebSocket: ${s.fellBackFrom})`);
  return parts.join(' ');
}

/** `! KW_ERR_UPSTREAM_TLS certificate expired (answered 502)` */
export function formatErrorLine(code: string, message: string, status: number | null = null): string {
  return `! ${code} ${message}${status !== null ? ` (answered ${status})` : ''}`;
}

function outcome(s: SessionLine): string[] {
  const { summary } = s;
  const status = summary.response.status;
  if (summary.transport === 'none') {
    const asked = transportOf(summary.request.upgrade) ?? summary.request.upgrade ?? 'http';
    return [asked, status === null ? 'no response' : `refused ${status}${s.responseReason ? ` ${s.responseReason}` : ''}`];
  }
  const out: string[] = [summary.transport, summary.response.protocol ?? '(no subprotocol)'];
  const ports = [...new Set([...summary.portForward.map((p) => p.port), ...(s.request?.ports ?? [])].filter((p): p is number => p !== null))];
  if (ports.length) out.push(`port ${ports.join(',')}`);
  const pfErrors = summary.portForward.filter((p) => p.error !== null).length;
  if (pfErrors) out.push(`${pfErrors} port error${pfErrors > 1 ? 's' : ''}`);
  if (summary.exitCode !== null) out.push(`exit ${summary.exitCode}`);
  else if (summary.status) out.push(`status ${summary.status}${summary.statusReason ? ` (${summary.statusReason})` : ''}`);
  if (summary.anomalies) out.push(`${summary.anomalies} anomal${summary.anomalies > 1 ? 'ies' : 'y'}`);
  return out;
}

function transportOf(upgrade: string | null): 'websocket' | 'spdy' | null {
  if (!upgrade) return null;
  if (/^websocket$/i.test(upgrade.trim())) return 'websocket';
  if (/^spdy\//i.test(upgrade.trim())) return 'spdy';
  return null;
}

function clockTime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** What the sink remembers of one open connection. */
interface ConnState {
  startedAt: string | null;
  request: K8sRequestInfo | null;
  kubectlSession: string | null;
  webSocket: boolean;
  responseReason: string | null;
  ended: { c2s: number | null; s2c: number | null };
  closed: { bytes: { c2s: number; s2c: number }; durationMs: number } | null;
}

interface HeldLine {
  line: string;
  timer: NodeJS.Timeout;
}

export interface ConsoleSinkOptions {
  fallbackWaitMs?: number;
}

export class ConsoleSink {
  private readonly conns = new Map<string, ConnState>();
  /** Kubectl-Session → why its WebSocket attempt failed. */
  private readonly refused = new Map<string, string>();
  /** Kubectl sessions that opened a SPDY connection. */
  private readonly spdySessions = new Set<string>();
  /** Kubectl-Session → the refused attempt's line, waiting to see whether a fallback follows. */
  private readonly held = new Map<string, HeldLine>();
  private readonly fallbackWaitMs: number;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly out: Output, options: ConsoleSinkOptions = {}) {
    this.fallbackWaitMs = options.fallbackWaitMs ?? FALLBACK_WAIT_MS;
  }

  /** Subscribes to `bus`; `close` unsubscribes. */
  attach(bus: EventBus): this {
    this.unsubscribe?.();
    this.unsubscribe = bus.subscribe((e) => this.handle(e));
    return this;
  }

  handle(e: KubewireEvent): void {
    switch (e.type) {
      case 'proxy.error':
        this.out.line(formatErrorLine(e.code, e.message, e.status));
        return;
      case 'finding':
        // The fallback's line already carries its mark; the finding adds the why and the fix.
        this.out.line(formatFindingLine(e.severity, e.rule, e.title, e.fix));
        return;
      case 'sink.dropped':
        this.out.line(`! ${e.note}`);
        return;
      case 'conn.open':
        this.connOf(e);
        return;
      case 'upgrade.request': {
        const c = this.connOf(e);
        c.request = e.k8s;
        c.kubectlSession = e.kubectlSession;
        c.webSocket = transportOf(e.upgrade) === 'websocket';
        if (e.kubectlSession !== null && transportOf(e.upgrade) === 'spdy') this.spdyStarted(e.kubectlSession);
        return;
      }
      case 'upgrade.response':
      case 'http.response': {
        const c = this.conns.get(e.conn ?? '');
        if (!c || c.responseReason !== null) return;
        c.responseReason = e.reason;
        if (c.webSocket && c.kubectlSession !== null) {
          const why = e.status !== 101 ? `${e.status} ${e.reason}` : e.protocol === null ? '101 without a subprotocol' : null;
          if (why) remember(this.refused, c.kubectlSession, why);
        }
        return;
      }
      case 'conn.end': {
        const c = this.conns.get(e.conn ?? '');
        if (c) c.ended[e.dir] = e.offset;
        return;
      }
      case 'conn.close': {
        const c = this.conns.get(e.conn ?? '');
        if (c) c.closed = { bytes: e.bytes, durationMs: e.durationMs };
        return;
      }
      case 'conn.summary':
        this.summarize(e, e.summary);
        return;
      default:
        return;
    }
  }

  /** Prints held lines and stops listening. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const [session, h] of this.held) this.release(session, h);
  }

  private summarize(e: KubewireEvent, summary: ConnectionSummary): void {
    const key = e.conn ?? '';
    const c = this.conns.get(key);
    this.conns.delete(key);
    if (!c || summary.request.upgrade === null) return;
    const session = c.kubectlSession;
    const failedWebSocket = c.webSocket && (summary.transport === 'none' || summary.response.protocol === null);
    if (failedWebSocket && session !== null && !this.refused.has(session)) {
      remember(this.refused, session, summary.response.status === null ? 'no response' : `${summary.response.status} ${c.responseReason ?? ''}`.trim());
    }
    const line = formatSessionLine({
      startedAt: c.startedAt ? new Date(c.startedAt) : null,
      request: c.request,
      summary,
      responseReason: c.responseReason,
      bytes: c.closed?.bytes ?? (c.ended.c2s !== null || c.ended.s2c !== null ? { c2s: c.ended.c2s ?? 0, s2c: c.ended.s2c ?? 0 } : null),
      durationMs: c.closed?.durationMs ?? (c.startedAt && e.ts ? Date.parse(e.ts) - Date.parse(c.startedAt) : null),
      fellBackFrom: !c.webSocket && session !== null ? this.refused.get(session) ?? null : null,
    });
    if (!failedWebSocket || session === null) {
      this.out.line(line);
      return;
    }
    if (this.spdySessions.has(session)) return;
    // A second refused attempt of the same command: the first gets its line now.
    this.release(session, this.held.get(session));
    const timer = setTimeout(() => this.release(session, this.held.get(session)), this.fallbackWaitMs);
    timer.unref();
    remember(this.held, session, { line, timer }, (h) => this.release(session, h));
  }

  private spdyStarted(session: string): void {
    remember(this.spdySessions, session);
    const h = this.held.get(session);
    if (!h) return;
    clearTimeout(h.timer);
    this.held.delete(session);
  }

  private release(session: string, h: HeldLine | undefined): void {
    if (!h) return;
    clearTimeout(h.timer);
    this.held.delete(session);
    this.out.line(h.line);
  }

  private connOf(e: KubewireEvent): ConnState {
    const key = e.conn ?? '';
    let c = this.conns.get(key);
    if (!c) {
      c = { startedAt: e.ts ?? null, request: null, kubectlSession: null, webSocket: false, responseReason: null, ended: { c2s: null, s2c: null }, closed: null };
      remember(this.conns, key, c);
    }
    return c;
  }
}

/** Adds to a bounded map or set, forgetting the oldest entry when full. */
function remember<K, V>(store: Map<K, V>, key: K, value: V, evicted?: (value: V) => void): void;
function remember<K>(store: Set<K>, key: K): void;
function remember<K, V>(store: Map<K, V> | Set<K>, key: K, value?: V, evicted?: (value: V) => void): void {
  if (store.size >= MAX_TRACKED && !store.has(key)) {
    const oldest = store.keys().next().value as K;
    if (store instanceof Map) {
      const v = store.get(oldest) as V;
      store.delete(oldest);
      evicted?.(v);
    } else {
      store.delete(oldest);
    }
  }
  if (store instanceof Map) store.set(key, value as V);
  else store.add(key);
}
