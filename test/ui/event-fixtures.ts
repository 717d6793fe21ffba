/**
 * Events for the TUI tests: real vectors decoded as the proxy would decode them, then given the
 * session, connection and clock the proxy's bus adds; and small hand-made events for what no
 * vector holds (plain REST, findings, unknown types). `feed` hands them to a store the way a
 * running proxy does: through a session observer.
 */
import type { PayloadMode } from '../../src/codec/decode-context.js';
import { noteFor } from '../../src/events/notes.js';
import type { ConnCloseEvent, EventBody, KubewireEvent } from '../../src/events/types.js';
import { SessionObserver } from '../../src/session/session-observer.js';
import type { SessionStore } from '../../ui/store/session-store.js';
import { decodeAll } from '../support/decode.js';
import { loadVector } from '../support/vectors.js';

export const T0 = Date.UTC(2026, 10, 21, 10, 35, 43);

/** Gives events their place in one log: increasing `seq` and `ts` across every call. */
export class Clock {
  seq = 0;
  constructor(public ms = T0) {}

  stamp(e: KubewireEvent | EventBody, fields: { session?: string; conn?: string }, stepMs = 1): KubewireEvent {
    this.ms += stepMs;
    const base = e as Partial<KubewireEvent>;
    return {
      ...(e as object),
      v: 1,
      seq: ++this.seq,
      ts: new Date(this.ms).toISOString().replace('Z', '000Z'),
      ...(fields.session !== undefined ? { session: fields.session } : {}),
      ...(fields.conn !== undefined ? { conn: fields.conn } : {}),
      note: base.note ?? noteFor(e as EventBody),
    } as KubewireEvent;
  }
}

export interface VectorEventOptions {
  session: string;
  conn: string;
  clock: Clock;
  payload?: PayloadMode;
  /** Milliseconds between two events. */
  stepMs?: number;
  /** Add conn.open before and conn.close after, as the live proxy does. */
  live?: boolean;
  /** Who closed the live connection; the client by default. */
  closedBy?: ConnCloseEvent['closedBy'];
}

/** One vector's connection, as the proxy's bus would publish it. */
export function vectorEvents(name: string, o: VectorEventOptions): KubewireEvent[] {
  const v = loadVector(name);
  const { events } = decodeAll([v.c2s], [v.s2c], { payload: o.payload ?? 'full' });
  const ids = { session: o.session, conn: o.conn };
  const out: KubewireEvent[] = [];
  const started = o.clock.ms;
  if (o.live) out.push(o.clock.stamp({ type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:50000', upstream: 'https://127.0.0.1:6443' }, ids));
  for (const e of events) out.push(o.clock.stamp(e, ids, o.stepMs ?? 1));
  if (o.live) {
    out.push(o.clock.stamp({
      type: 'conn.close', closedBy: o.closedBy ?? 'client', bytes: { c2s: v.c2s.length, s2c: v.s2c.length }, durationMs: o.clock.ms - started, error: null,
    }, ids));
  }
  return out;
}

/** A plain REST request as http-forwarder.ts reports it. */
export function restEvents(
  clock: Clock,
  ids: { session: string; conn: string },
  req: {
    method?: string; path: string; kubectlCommand?: string | null; status?: number; reason?: string; bytes?: number;
    requestHeaders?: [string, string][]; responseHeaders?: [string, string][];
  },
): KubewireEvent[] {
  const path = req.path;
  const podPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)(?:\/([^/?]+))?/.exec(path);
  const sub = podPath?.[3];
  const operation = sub === 'log' || sub === 'exec' || sub === 'attach' || sub === 'portforward' ? sub : 'other';
  const query = new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
  return [
    clock.stamp({ type: 'conn.open', kind: 'http', client: '127.0.0.1:50001', upstream: 'https://127.0.0.1:6443' }, ids),
    clock.stamp({
      type: 'http.request', dir: 'c2s', offset: 0, method: req.method ?? 'GET', target: path, path: path.split('?')[0]!, version: '1.1', headers: req.requestHeaders ?? [],
      upgrade: null, offered: [], kubectlSession: ids.session, kubectlCommand: req.kubectlCommand ?? null, userAgent: 'kubectl/v1.33.1',
      k8s: podPath
        ? {
          operation, namespace: podPath[1]!, pod: podPath[2]!, container: query.get('container'), command: [], stdin: false, stdout: false,
          stderr: false, tty: false, ports: [],
        }
        : null,
    }, ids),
    clock.stamp({
      type: 'http.response', dir: 's2c', offset: 0, status: req.status ?? 200, reason: req.reason ?? 'OK', version: '1.1', headers: req.responseHeaders ?? [],
      protocol: null, auditId: null, server: null, contentType: 'application/json',
    }, ids, 3),
    clock.stamp({ type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 0, s2c: req.bytes ?? 1234 }, durationMs: 4, error: null }, ids, 1),
  ];
}

/** A stdout (or other stream) message, with its bytes recorded in full. */
export function dataEvent(clock: Clock, ids: { session: string; conn: string }, text: string | Uint8Array, stream: 'stdout' | 'stdin' | 'stderr' = 'stdout', offset = 0): KubewireEvent {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  return clock.stamp({
    type: 'k8s.data', dir: stream === 'stdin' ? 'c2s' : 's2c', offset, channel: stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : 2, stream,
    size: bytes.length, payload: bytes.toString('base64'),
  }, ids, 0);
}

const observers = new WeakMap<SessionStore, SessionObserver>();

/** The session observer that feeds `store`, one per store, as `running.sessions` is one per proxy. */
export function observerOf(store: SessionStore): SessionObserver {
  let observer = observers.get(store);
  if (!observer) {
    observer = new SessionObserver().add(store);
    observers.set(store, observer);
  }
  return observer;
}

/** Hands events to `store` through its session observer. */
export function feed(store: SessionStore, events: Iterable<KubewireEvent>): void {
  const observer = observerOf(store);
  for (const e of events) observer.ingest(e);
}

/** A finished `kubectl exec` over WebSocket v5, built by hand: request, 101, stdout, the status with its exit code, close. */
export function execEvents(
  clock: Clock,
  ids: { session: string; conn: string },
  o: { namespace?: string; pod: string; container?: string | null; command: string[]; stdout?: string; exitCode: number; bytes?: number },
): KubewireEvent[] {
  const ns = o.namespace ?? 'default';
  const query = o.command.map((c) => `command=${encodeURIComponent(c)}`).join('&');
  const failed = o.exitCode !== 0;
  return [
    clock.stamp({ type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:50002', upstream: 'https://127.0.0.1:6443' }, ids),
    clock.stamp({
      type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: `/api/v1/namespaces/${ns}/pods/${o.pod}/exec?${query}`, path: `/api/v1/namespaces/${ns}/pods/${o.pod}/exec`,
      version: '1.1', headers: [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], upgrade: 'websocket', offered: ['v5.channel.k8s.io'],
      kubectlSession: ids.session, kubectlCommand: 'kubectl exec', userAgent: 'kubectl/v1.33.1',
      k8s: { operation: 'exec', namespace: ns, pod: o.pod, container: o.container ?? null, command: o.command, stdin: false, stdout: true, stderr: true, tty: false, ports: [] },
    }, ids),
    clock.stamp({
      type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: '1.1',
      headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], protocol: 'v5.channel.k8s.io', auditId: null, server: null, contentType: null,
    }, ids),
    ...(o.stdout !== undefined ? [dataEvent(clock, ids, o.stdout)] : []),
    clock.stamp({
      type: 'k8s.status', dir: 's2c', offset: 200, format: 'json', status: failed ? 'Failure' : 'Success', reason: failed ? 'NonZeroExitCode' : null,
      message: failed ? `command terminated with non-zero exit code: exit status ${o.exitCode}` : null, code: failed ? 500 : null, exitCode: o.exitCode, raw: '{}',
    }, ids),
    clock.stamp({ type: 'conn.close', closedBy: 'client', bytes: { c2s: 400, s2c: o.bytes ?? 600 }, durationMs: 351, error: null }, ids, 351),
  ];
}
