/**
 * Hand-built event logs for the rule tests: what no vector holds (timestamps, conn.close,
 * gateways' answers, RBAC texts, HTTP/2). A `LogBuilder` stamps each event with the next seq, a
 * clock the test moves (`at`, `after`), the session and the connection.
 */
import { parseStatusBody } from '../../src/codec/k8s-status.js';
import { sessionView } from '../../src/diagnose/session-view.js';
import type { SessionView } from '../../src/diagnose/types.js';
import { noteFor } from '../../src/events/notes.js';
import { timestampMicros } from '../../src/events/stamp.js';
import type {
  DecodeStackEvent, Direction, EventBody, HeaderLines, HttpRequestEvent, HttpResponseEvent, K8sRequestInfo, KubewireEvent, SpdyFrameEvent, WsFrameEvent,
} from '../../src/events/types.js';
import { webSocketAccept } from '../../src/session/handshake.js';
import type { SessionFacts } from '../../src/session/session-facts.js';
import { SessionModel } from '../../src/session/session-model.js';

export const T0 = Date.UTC(2026, 10, 21, 10, 0, 0);
export const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const V5 = 'v5.channel.k8s.io';
export const TUNNEL = 'SPDY/3.1+portforward.k8s.io';
export const SPDY_EXEC_OFFER = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

export class LogBuilder {
  readonly events: KubewireEvent[] = [];
  private seq = 0;
  /** Milliseconds since T0. */
  ms = 0;

  constructor(readonly session = 'sess-1', private readonly clock = true) {}

  /** Moves the clock to `ms` after T0. */
  at(ms: number): this {
    this.ms = ms;
    return this;
  }

  after(ms: number): this {
    this.ms += ms;
    return this;
  }

  add(conn: string, ...bodies: EventBody[]): this {
    for (const body of bodies) {
      this.events.push({
        v: 1, seq: ++this.seq, ...(this.clock ? { ts: timestampMicros(T0 + this.ms) } : {}), session: this.session, conn, ...body, note: noteFor(body),
      } as KubewireEvent);
    }
    return this;
  }

  /** The last event added. */
  get last(): KubewireEvent {
    return this.events[this.events.length - 1]!;
  }

  /** The session model's facts of this log (one session). */
  facts(): SessionFacts {
    const model = new SessionModel();
    for (const e of this.events) model.ingest(e);
    return model.get(this.session)!;
  }

  /** The rules' view of the log: ended unless told, at `now` ms after T0 (no clock unless told), the API server's version unknown unless told. */
  view(options: { now?: number; ended?: boolean; serverVersion?: string } = {}): SessionView {
    return sessionView(this.facts(), this.session, options.now === undefined ? Number.NaN : T0 + options.now, options.ended ?? true, options.serverVersion ?? null);
  }
}

const k8s = (operation: K8sRequestInfo['operation'], extra: Partial<K8sRequestInfo> = {}): K8sRequestInfo => ({
  operation, namespace: 'default', pod: 'p1', container: operation === 'portforward' ? null : 'c1', command: operation === 'exec' ? ['echo', 'hi'] : [],
  stdin: false, stdout: true, stderr: true, tty: false, ports: [], ...extra,
});

export interface RequestOptions {
  op?: K8sRequestInfo['operation'];
  offered?: string[];
  version?: string;
  headers?: HeaderLines;
  k8s?: Partial<K8sRequestInfo>;
}

export function wsRequest(o: RequestOptions = {}): HttpRequestEvent {
  const op = o.op ?? 'exec';
  const offered = o.offered ?? (op === 'portforward' ? [TUNNEL] : [V5]);
  const path = `/api/v1/namespaces/default/pods/p1/${op}`;
  return {
    type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: `${path}${op === 'exec' ? '?command=echo&command=hi&container=c1&stderr=true&stdout=true' : ''}`, path,
    version: o.version ?? 'HTTP/1.1',
    headers: o.headers ?? [['Host', 'k'], ['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Key', WS_KEY], ['Sec-WebSocket-Protocol', offered.join(', ')], ['Sec-WebSocket-Version', '13']],
    upgrade: 'websocket', offered, kubectlSession: 'sess-1', kubectlCommand: `kubectl ${op}`, userAgent: 'kubectl/v1.33.1', k8s: k8s(op, o.k8s),
  };
}

export function spdyRequest(o: RequestOptions = {}): HttpRequestEvent {
  const op = o.op ?? 'exec';
  const offered = o.offered ?? (op === 'portforward' ? ['portforward.k8s.io'] : SPDY_EXEC_OFFER);
  const path = `/api/v1/namespaces/default/pods/p1/${op}`;
  return {
    type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'POST', target: path, path, version: o.version ?? 'HTTP/1.1',
    headers: o.headers ?? [['Host', 'k'], ['Content-Length', '0'], ['Connection', 'Upgrade'], ['Upgrade', 'SPDY/3.1'], ...offered.map((p): [string, string] => ['X-Stream-Protocol-Version', p])],
    upgrade: 'SPDY/3.1', offered, kubectlSession: 'sess-1', kubectlCommand: `kubectl ${op}`, userAgent: 'kubectl/v1.33.1', k8s: k8s(op, o.k8s),
  };
}

export function httpRequest(target: string, o: { version?: string; op?: K8sRequestInfo['operation'] } = {}): HttpRequestEvent {
  const path = target.split('?')[0]!;
  return {
    type: 'http.request', dir: 'c2s', offset: 0, method: 'GET', target, path, version: o.version ?? '1.1', headers: [['Host', 'k']], upgrade: null, offered: [],
    kubectlSession: 'sess-1', kubectlCommand: 'kubectl logs', userAgent: 'kubectl/v1.33.1', k8s: o.op ? k8s(o.op, { command: [] }) : null,
  };
}

export interface ResponseOptions {
  reason?: string;
  headers?: HeaderLines;
  auditId?: string | null;
  version?: string;
  type?: 'upgrade.response' | 'http.response';
}

export function response(status: number, o: ResponseOptions = {}): HttpResponseEvent {
  const headers = o.headers ?? [];
  const get = (n: string): string | null => headers.find(([k]) => k.toLowerCase() === n)?.[1] ?? null;
  return {
    type: o.type ?? 'upgrade.response', dir: 's2c', offset: 0, status, reason: o.reason ?? REASONS[status] ?? '', version: o.version ?? 'HTTP/1.1', headers,
    protocol: get('sec-websocket-protocol') ?? get('x-stream-protocol-version'), auditId: o.auditId ?? get('audit-id'), server: get('server'), contentType: get('content-type'),
  };
}

const REASONS: Record<number, string> = { 101: 'Switching Protocols', 200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 407: 'Proxy Authentication Required', 500: 'Internal Server Error', 502: 'Bad Gateway' };

/** A correct WebSocket 101 for `protocol` (null: without Sec-WebSocket-Protocol). */
export function ws101(protocol: string | null = V5, extra: HeaderLines = []): HttpResponseEvent {
  return response(101, {
    headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Accept', webSocketAccept(WS_KEY)], ...(protocol ? [['Sec-WebSocket-Protocol', protocol] as [string, string]] : []), ...extra],
  });
}

export function spdy101(protocol: string | null = 'v4.channel.k8s.io', extra: HeaderLines = []): HttpResponseEvent {
  return response(101, { headers: [['Connection', 'Upgrade'], ['Upgrade', 'SPDY/3.1'], ...(protocol ? [['X-Stream-Protocol-Version', protocol] as [string, string]] : []), ...extra] });
}

export function statusJson(reason: string, message: string, code: number): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export function body(text: string, contentType = 'application/json'): EventBody {
  return { type: 'http.body', dir: 's2c', offset: 100, contentType, k8sStatus: parseStatusBody(text), text, size: Buffer.byteLength(text) };
}

export function stack(semantics: DecodeStackEvent['semantics'], transport: DecodeStackEvent['transport'] = 'websocket', protocol: string | null = V5): DecodeStackEvent {
  return { type: 'decode.stack', transport, protocol, semantics, layers: [], reason: 'test' };
}

export function wsFrame(dir: Direction, kind: WsFrameEvent['kind'], extra: Partial<WsFrameEvent> = {}): WsFrameEvent {
  const opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10, reserved: 3 }[kind];
  return { type: 'ws.frame', dir, offset: 0, opcode, kind, fin: true, rsv: 0, masked: dir === 'c2s', length: extra.length ?? (kind === 'close' ? 2 : kind === 'binary' ? 4 : 0), ...extra };
}

export function closeFrame(dir: Direction, code = 1000): WsFrameEvent {
  return wsFrame(dir, 'close', { closeCode: code, length: 2 });
}

export function data(dir: Direction, stream: 'stdout' | 'stdin' | 'error' | 'stderr', size: number): EventBody {
  return { type: 'k8s.data', dir, offset: 0, channel: { stdin: 0, stdout: 1, stderr: 2, error: 3 }[stream], stream, size };
}

export function exitStatus(code = 0): EventBody {
  return code === 0
    ? { type: 'k8s.status', dir: 's2c', offset: 0, format: 'json', status: 'Success', reason: null, message: null, code: null, exitCode: 0, raw: '{"metadata":{},"status":"Success"}' }
    : { type: 'k8s.status', dir: 's2c', offset: 0, format: 'json', status: 'Failure', reason: 'NonZeroExitCode', message: `command terminated with non-zero exit code: ${code}`, code: null, exitCode: code, raw: '{}' };
}

/** The server's status message on channel 3 / the error stream, then its decoded form. */
export function statusMessage(code = 0): EventBody[] {
  return [wsFrame('s2c', 'binary', { length: 35 }), data('s2c', 'error', 34), exitStatus(code)];
}

export function spdyFrame(dir: Direction, frame: SpdyFrameEvent['frame'], extra: Partial<SpdyFrameEvent> = {}): SpdyFrameEvent {
  return { type: 'spdy.frame', dir, offset: 0, frame, flags: extra.fin ? 1 : 0, fin: false, length: 0, ...extra };
}

export function syn(streamId: number, streamType: string): SpdyFrameEvent {
  return spdyFrame('c2s', 'SYN_STREAM', { streamId, streamType, headers: [['streamtype', [streamType]]] });
}

export function reply(streamId: number): SpdyFrameEvent {
  return spdyFrame('s2c', 'SYN_REPLY', { streamId });
}

export function connEnd(dir: Direction, offset = 100): EventBody {
  return { type: 'conn.end', dir, offset };
}

export function connOpen(kind: 'upgrade' | 'http' = 'upgrade'): EventBody {
  return { type: 'conn.open', kind, client: '127.0.0.1:50000', upstream: 'https://10.0.0.1:6443' };
}

export function connClose(closedBy: 'client' | 'upstream' | 'error' | 'proxy', durationMs: number, bytes = { c2s: 500, s2c: 500 }, error: string | null = null): EventBody {
  return { type: 'conn.close', closedBy, bytes, durationMs, error };
}

/** Both directions ended, as a capture ends a connection. */
export function ends(): EventBody[] {
  return [connEnd('c2s'), connEnd('s2c')];
}

/** A healthy WebSocket v5 exec from request to close: the silent case of many rules. */
export function healthyWsExec(log: LogBuilder, conn = 'c1', exitCode = 0): LogBuilder {
  return log
    .add(conn, connOpen(), wsRequest(), ws101(), stack('channel-v5'))
    .after(2).add(conn, wsFrame('s2c', 'binary', { length: 1 }), data('s2c', 'stdout', 0))
    .after(3).add(conn, wsFrame('s2c', 'binary', { length: 4 }), data('s2c', 'stdout', 3), ...statusMessage(exitCode), closeFrame('s2c'), closeFrame('c2s'))
    .after(1).add(conn, ...ends(), connClose('upstream', 10));
}

/** A healthy SPDY v4 exec: streams opened and answered, status, FINs and GOAWAY. */
export function healthySpdyExec(log: LogBuilder, conn = 'c1', exitCode = 0): LogBuilder {
  return log
    .add(conn, connOpen(), spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'))
    .after(1).add(conn, syn(1, 'error'), reply(1), syn(3, 'stdout'), reply(3), syn(5, 'stderr'), reply(5))
    .after(2).add(conn, spdyFrame('s2c', 'DATA', { streamId: 3, streamType: 'stdout', length: 3 }), data('s2c', 'stdout', 3))
    .add(conn, spdyFrame('s2c', 'DATA', { streamId: 1, streamType: 'error', length: 34 }), data('s2c', 'error', 34))
    .add(conn, spdyFrame('s2c', 'DATA', { streamId: 1, streamType: 'error', fin: true }), exitStatus(exitCode), spdyFrame('s2c', 'GOAWAY', { lastGoodStreamId: 5, statusCode: 0, statusName: 'OK' }))
    .after(1).add(conn, ...ends(), connClose('upstream', 8));
}
