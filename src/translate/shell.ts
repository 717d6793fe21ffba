/**
 * The shell of one `--translate` upgrade, for either direction: kubewire answers the client's
 * upgrade itself and speaks the other transport upstream (design §1: the bridge sits in the
 * relay's place). A `Direction` (spdy-to-ws.ts, ws-to-spdy.ts) supplies the handshakes and the
 * bridge; the order keeps kubectl's view of errors intact:
 *
 * 1. the client's protocol is negotiated as the server it expects would (refusals are that
 *    server's: the kubelet's for SPDY, x/net's or the API server's for WebSocket);
 * 2. the upstream is dialled and asked for the other transport on the same path and query;
 * 3. a refusal (any answer but a 101) goes back to the client verbatim, so kubectl prints the
 *    upstream's own `Error from server (…)`; a 101 kubectl would reject gets a 502 Status;
 * 4. only after the upstream's 101 does the client get its 101, and a bridge carries the
 *    session: exec and attach stream by stream (remotecommand-bridge.ts, ws-to-spdy-bridge.ts),
 *    port-forward as the SPDY bytes themselves in or out of the KEP-4006 tunnel
 *    (tunnel-bridge.ts), or the kubelet's legacy WebSocket port-forward port by port
 *    (ws-portforward-bridge.ts).
 *
 * The observer sees both legs as two connections of one session, each with its own tap: the
 * client's (conn `ctx.conn`) and the upstream's (conn `ctx.upstreamConn`); their `conn.open`
 * events say that they were translated and name each other.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Http1HeadDecoder } from '../codec/http1-head.js';
import { HttpBodyDecoder, responseBodyFraming } from '../codec/http1-body.js';
import { isTrue, k8sRequestInfo, splitTarget } from '../codec/k8s-request.js';
import type { EventBody } from '../events/types.js';
import { rawResponseHead } from '../http/raw-response.js';
import type { ConnectionTap, RelayObserver } from '../observer/relay-observer.js';
import { upstreamRequestHead } from '../proxy/request-head.js';
import { upstreamFailure } from '../proxy/upstream-failure.js';
import type { Upstream, UpstreamConnectionOptions } from '../proxy/upstream.js';
import type { HttpHead } from '../codec/http1-head.js';
import type { ClientNegotiation, UpstreamAnswer } from './handshake.js';
import type { RbacPreflight } from './rbac-preflight.js';
import { frameBodyParts, type BridgeOutput, type ExpectedStreams, type FrameBody } from './remotecommand-bridge.js';
import { halfOpen, ownRecords, remoteOf } from '../proxy/socket-sides.js';

export interface TranslateContext {
  upstream: Upstream;
  observer: RelayObserver;
  /** The client leg's connection id. */
  conn: string;
  /** The upstream leg's connection id, in the same session. */
  upstreamConn: string;
  session: string;
  onClose?: () => void;
  /** Asks RBAC for the verb the translated request needs before it is sent (rbac-preflight.ts). */
  preflight?: RbacPreflight;
}

/** kubectl pings every 5 s and gives up after 61 s without a pong; gateways cut idle legs. */
export const KEEPALIVE_MS = 5000;
/** The kubelet's stream creation timeout (KL server.go). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;
/** Upstream bytes held while the client creates its streams before the upstream is paused. */
const MAX_HELD_BYTES = 1024 * 1024;
/** After kubewire ends a leg, how long its peer gets to close before the socket is destroyed. */
const CLOSE_GRACE_MS = 10_000;

type Closer = 'client' | 'upstream' | 'error' | 'proxy';

/** What the shell needs of every bridge. */
export interface Bridge {
  readonly ready: boolean;
  readonly finished: boolean;
  readonly heldUpstreamBytes: number;
  readonly missingStreams: readonly string[];
  fromClient(chunk: Buffer): void;
  clientEnded(): void;
  fromUpstream(chunk: Buffer): void;
  upstreamEnded(): void;
  keepalive(): void;
  abort(message: string): void;
  /** The client has its 101: what the session opens with (the WebSocket's first message). */
  start?(): void;
}

/** One direction of translation: its handshakes and its bridges. */
export interface Direction {
  from: 'spdy' | 'websocket';
  to: 'spdy' | 'websocket';
  /** The protocol of the client's 101, or the refusal its server would give. */
  negotiate(req: IncomingMessage, portForward: boolean): ClientNegotiation;
  /** The upstream request, and how its answer is judged. */
  upstreamRequest(req: IncomingMessage, host: string, pathPrefix: string, credentials: Record<string, string>, portForward: boolean): { head: Buffer; check(head: HttpHead): UpstreamAnswer };
  /** The client's 101, head only. */
  accept(req: IncomingMessage, clientProtocol: string): string;
  /** Which of the two protocols is the SPDY one (it decides which streams exist). */
  spdyProtocol(clientProtocol: string, upstreamProtocol: string): string;
  /** `query`: the request's, for what the streams do not say (the legacy port-forward's ports). */
  bridge(o: { portForward: boolean; clientProtocol: string; upstreamProtocol: string; streams: ExpectedStreams; query: URLSearchParams; out: BridgeOutput }): Bridge;
}

/** One leg: its socket, tap, byte counts and close bookkeeping. */
interface Leg {
  name: 'client' | 'upstream';
  socket: Duplex;
  conn: string;
  bytes: { c2s: number; s2c: number };
  tap: ConnectionTap;
  closedBy: Closer | null;
  error: string | null;
  closed: boolean;
}

export async function translateUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, ctx: TranslateContext, direction: Direction): Promise<void> {
  const { observer, upstream, session } = ctx;
  const started = Date.now();
  client.on('error', () => {});
  halfOpen(client);
  // python-kubernetes reads the status and close frames only when they come in records of their own.
  ownRecords(client);
  const translated = (leg: 'client' | 'upstream') => ({ from: direction.from, to: direction.to, leg, peer: leg === 'client' ? ctx.upstreamConn : ctx.conn });
  const emitFor = (conn: string) => (body: EventBody): void => observer.publish(body, { conn, session });
  const emitClient = emitFor(ctx.conn);
  const emitUpstream = emitFor(ctx.upstreamConn);
  emitClient({ type: 'conn.open', kind: 'upgrade', client: remoteOf(client), upstream: upstream.describe(), translated: translated('client') });

  const c: Leg = { name: 'client', socket: client, conn: ctx.conn, bytes: { c2s: 0, s2c: 0 }, tap: observer.tap({ conn: ctx.conn, session }), closedBy: null, error: null, closed: false };
  // What the client sent, without kubewire's own token.
  const clientHead = upstreamRequestHead(req, req.headers.host ?? 'kubewire', '', {});
  c.tap.push('c2s', clientHead);
  c.bytes.c2s += clientHead.length;
  const toClient = (bytes: Buffer | string, body?: FrameBody): boolean => send(c, 's2c', typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, body);
  const finishClientOnly = (closedBy: Closer, error: string | null): void => {
    const closed = (): void => {
      c.tap.end('c2s');
      c.tap.end('s2c');
      emitClient({ type: 'conn.close', closedBy, bytes: { ...c.bytes }, durationMs: Date.now() - started, error });
      ctx.onClose?.();
    };
    if ((client as Duplex & { closed?: boolean }).closed) return closed();
    client.once('close', closed);
    endSoon(client);
  };

  const portForward = k8sRequestInfo(req.url ?? '/')?.operation === 'portforward';
  const negotiated = direction.negotiate(req, portForward);
  if (!negotiated.ok) {
    const h: Record<string, string> = { ...negotiated.headers, 'Content-Length': String(Buffer.byteLength(negotiated.body)), Connection: 'close' };
    toClient(rawResponseHead(negotiated.status, h) + negotiated.body);
    finishClientOnly('proxy', null);
    return;
  }

  let server: Duplex;
  let request: ReturnType<Direction['upstreamRequest']>;
  try {
    const opts = await upstream.connectionOptions();
    const refusal = await preflight(ctx, req, direction, opts);
    if (refusal !== null) {
      toClient(rawResponseHead(403, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(refusal)), Connection: 'close' }) + refusal);
      finishClientOnly('proxy', null);
      return;
    }
    request = direction.upstreamRequest(req, upstream.server.host, upstream.server.pathname, opts.headers, portForward);
    server = await upstream.connect(opts);
  } catch (e) {
    const failure = upstreamFailure(upstream, e);
    emitClient({ type: 'proxy.error', code: failure.code, message: failure.message, upstream: upstream.describe(), status: 502 });
    toClient(failure.rawResponse());
    finishClientOnly('error', failure.message);
    return;
  }
  server.on('error', () => {});
  halfOpen(server);
  if (client.destroyed) {
    server.destroy();
    finishClientOnly('client', null);
    return;
  }
  emitUpstream({ type: 'conn.open', kind: 'upgrade', client: 'kubewire', upstream: upstream.describe(), translated: translated('upstream') });
  const u: Leg = { name: 'upstream', socket: server, conn: ctx.upstreamConn, bytes: { c2s: 0, s2c: 0 }, tap: observer.tap({ conn: ctx.upstreamConn, session }), closedBy: null, error: null, closed: false };
  const toUpstream = (head: Buffer, body?: FrameBody): boolean => send(u, 'c2s', head, body);
  toUpstream(request.head);

  // Both legs close on their own; the connection is over when both have.
  let open = 2;
  const legClosed = (leg: Leg, emit: (b: EventBody) => void) => (): void => {
    if (leg.closed) return;
    leg.closed = true;
    leg.tap.end('c2s');
    leg.tap.end('s2c');
    emit({ type: 'conn.close', closedBy: leg.closedBy ?? 'proxy', bytes: { ...leg.bytes }, durationMs: Date.now() - started, error: leg.error });
    if (--open === 0) ctx.onClose?.();
  };
  client.once('close', legClosed(c, emitClient));
  server.once('close', legClosed(u, emitUpstream));
  // Once the bridge runs, the end of the upstream's socket, even by an error, is the bridge's to
  // handle: the API server may reset its socket right after its close frame, and what it sent
  // before (the status) must still reach the client, which must not be cut off.
  let bridged = false;
  const watchErrors = (leg: Leg, other: Duplex): void => {
    leg.socket.on('error', (e: Error) => {
      leg.closedBy ??= 'error';
      leg.error ??= `${leg.name} socket: ${e.message}`;
      if (leg === c || !bridged) other.destroy();
    });
  };
  watchErrors(c, server);
  watchErrors(u, client);

  // -- the upstream's answer ----------------------------------------------------------------
  const answer = new Http1HeadDecoder('response');
  const answerBytes: Buffer[] = [];
  const clientEarly: Buffer[] = head.length ? [head] : [];
  // What the client sends before the upstream answered is held for the bridge, up to
  // MAX_HELD_BYTES; past that the client waits (the preflight and the dial may take seconds).
  let earlyBytes = head.length;
  let earlyPaused = false;
  const onClientEarly = (chunk: Buffer): void => {
    c.tap.push('c2s', chunk);
    c.bytes.c2s += chunk.length;
    clientEarly.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes > MAX_HELD_BYTES && !earlyPaused) {
      earlyPaused = true;
      client.pause();
    }
  };
  client.on('data', onClientEarly);
  if (head.length) {
    c.tap.push('c2s', head);
    c.bytes.c2s += head.length;
  }
  const onClientEndEarly = (): void => {
    // The client left before the upstream answered: no session will follow.
    c.closedBy ??= 'client';
    server.destroy();
    client.end();
  };
  client.once('end', onClientEndEarly);

  const onAnswer = (chunk: Buffer): void => {
    u.tap.push('s2c', chunk);
    u.bytes.s2c += chunk.length;
    answerBytes.push(chunk);
    const outcome = answer.push(chunk);
    if (outcome.kind === 'need-more') return;
    server.off('data', onAnswer);
    server.off('end', onAnswerEnd);
    if (outcome.kind === 'error') {
      unusable(`the upstream's answer is not HTTP: ${outcome.anomaly.message}`);
      return;
    }
    const verdict = request.check(outcome.head);
    if (verdict.kind === 'refused') {
      passRefusal(Buffer.concat(answerBytes), responseBodyFraming(outcome.head, 'GET'), outcome.rest);
      return;
    }
    if (verdict.kind === 'unusable') {
      unusable(verdict.problem);
      return;
    }
    bridge(negotiated.protocol, verdict.protocol, outcome.rest);
  };
  const onAnswerEnd = (): void => {
    // No answer: kubectl sees the same end of its connection (`error sending request … EOF`).
    u.closedBy ??= 'upstream';
    endSoon(client);
    server.end();
  };
  server.on('data', onAnswer);
  server.once('end', onAnswerEnd);

  /** Not a 101: the upstream's answer, head and body, goes to the client as it came. */
  function passRefusal(bytes: Buffer, framing: ReturnType<typeof responseBodyFraming>, rest: Buffer): void {
    client.off('data', onClientEarly);
    const body = new HttpBodyDecoder(framing);
    toClient(bytes);
    u.closedBy ??= 'upstream';
    const finish = (): void => {
      endSoon(client);
      // Nothing more of this connection is of use.
      server.destroy();
    };
    if (body.push(rest).done) return finish();
    server.on('data', (chunk: Buffer) => {
      u.tap.push('s2c', chunk);
      u.bytes.s2c += chunk.length;
      toClient(chunk);
      if (body.push(chunk).done) finish();
    });
    server.once('end', finish);
  }

  /** A 101 kubectl would reject: a 502 Status that says why. */
  function unusable(problem: string): void {
    client.off('data', onClientEarly);
    const message = `kubewire: cannot translate to ${direction.to === 'spdy' ? 'SPDY' : 'WebSocket'}: ${problem}`;
    emitClient({ type: 'proxy.error', code: 'KW_ERR_TRANSLATE_UPSTREAM', message, upstream: upstream.describe(), status: 502 });
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'BadGateway', code: 502 });
    toClient(rawResponseHead(502, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }) + body);
    u.closedBy ??= 'proxy';
    endSoon(client);
    server.destroy();
  }

  function bridge(clientProtocol: string, upstreamProtocol: string, rest: Buffer): void {
    client.off('data', onClientEarly);
    client.off('end', onClientEndEarly);
    const { query } = splitTarget(req.url ?? '/');
    const tty = isTrue(query.get('tty'));
    const streams: ExpectedStreams = {
      stdin: isTrue(query.get('stdin')),
      stdout: isTrue(query.get('stdout')),
      // The kubelet ignores stderr with a tty, and has no resize stream before v3 (an
      // unnamed protocol is v1).
      stderr: isTrue(query.get('stderr')) && !tty,
      resize: tty && !/^((v2\.)?channel\.k8s\.io)?$/.test(direction.spdyProtocol(clientProtocol, upstreamProtocol)),
    };
    const sources = new SourceHolds();
    const out: BridgeOutput = {
      toClient: (bytes, body) => {
        const ok = toClient(bytes, body);
        if (!ok) sources.hold(server, 'client-full', client);
        return ok;
      },
      toUpstream: (bytes, body) => {
        const ok = toUpstream(bytes, body);
        if (!ok) sources.hold(client, 'upstream-full', server);
        return ok;
      },
      endClient: (by) => {
        c.closedBy ??= by;
        endSoon(client);
      },
      endUpstream: (by) => {
        u.closedBy ??= by;
        endSoon(server);
      },
      ready: () => {
        clearTimeout(streamTimer);
        sources.release(server, 'held');
      },
      problem: (message) => emitClient({ type: 'proxy.error', code: 'KW_ERR_TRANSLATE', message, upstream: upstream.describe(), status: null }),
      notice: (message) => emitClient({ type: 'proxy.error', code: 'KW_NOTE_TRANSLATE', message, upstream: upstream.describe(), status: null }),
    };
    const b = direction.bridge({ portForward, clientProtocol, upstreamProtocol, streams, query, out });
    bridged = true;
    toClient(direction.accept(req, clientProtocol));
    b.start?.();

    // The kubelet's limit on creating the streams; the tunnel carries a session that has its own.
    const streamTimer = b.ready ? undefined : setTimeout(() => {
      if (!b.ready) b.abort(`timed out waiting for client to create streams (${b.missingStreams.join(', ')} missing)`);
    }, STREAM_CREATION_TIMEOUT_MS);
    streamTimer?.unref();
    const keepalive = setInterval(() => b.keepalive(), KEEPALIVE_MS);
    keepalive.unref();
    const stopTimers = (): void => {
      clearTimeout(streamTimer);
      clearInterval(keepalive);
    };
    client.once('close', stopTimers);
    server.once('close', stopTimers);

    const lossless = (source: Duplex): void => {
      if (observer.writable) return;
      sources.hold(source, 'log');
      observer.onWritable(() => sources.release(source, 'log'));
    };
    server.on('data', (chunk: Buffer) => {
      u.tap.push('s2c', chunk);
      u.bytes.s2c += chunk.length;
      b.fromUpstream(chunk);
      if (!b.ready && b.heldUpstreamBytes > MAX_HELD_BYTES) sources.hold(server, 'held');
      lossless(server);
    });
    server.once('end', () => {
      u.closedBy ??= 'upstream';
      b.upstreamEnded();
    });
    client.on('data', (chunk: Buffer) => {
      c.tap.push('c2s', chunk);
      c.bytes.c2s += chunk.length;
      b.fromClient(chunk);
      lossless(client);
    });
    client.once('end', () => {
      c.closedBy ??= 'client';
      b.clientEnded();
    });
    // The client gone for good: the upstream cannot serve it either.
    client.once('close', () => {
      if (!b.finished) b.clientEnded();
      if (!server.destroyed) server.end(() => server.destroy());
    });
    // The bridge ends the client once it has written what it holds (it may still wait for the
    // client's streams).
    server.once('close', () => {
      if (!b.finished) b.upstreamEnded();
    });
    if (rest.length) b.fromUpstream(rest);
    for (const chunk of clientEarly) b.fromClient(chunk);
    if (earlyPaused) client.resume();
  }
}

/**
 * The reasons a source socket is paused (its receiver is full, the lossless log is behind,
 * the bridge holds too much); it resumes only when none is left.
 */
class SourceHolds {
  private readonly holds = new Map<Duplex, Set<string>>();

  hold(source: Duplex, reason: string, drainOf?: Duplex): void {
    let set = this.holds.get(source);
    if (set === undefined) this.holds.set(source, (set = new Set()));
    if (set.has(reason)) return;
    set.add(reason);
    source.pause();
    drainOf?.once('drain', () => this.release(source, reason));
  }

  release(source: Duplex, reason: string): void {
    const set = this.holds.get(source);
    if (set === undefined || !set.delete(reason)) return;
    if (set.size === 0) source.resume();
  }
}

/** Bytes onto `leg`'s socket, the way `dir` goes, and into its tap and counts; false when the socket is full. */
function send(leg: Leg, dir: 'c2s' | 's2c', head: Buffer, body: FrameBody | undefined): boolean {
  const ok = body === undefined ? leg.socket.write(head) : writeParts(leg.socket, head, body);
  leg.tap.push(dir, head);
  leg.bytes[dir] += head.length;
  for (const part of frameBodyParts(body)) {
    leg.tap.push(dir, part);
    leg.bytes[dir] += part.length;
  }
  return ok;
}

/**
 * A frame's head and its payload (views of what was read), written without joining them in a
 * buffer of their own first: such a buffer per message, allocated in JS, was most of a
 * translated stream's garbage collection (ws-to-spdy moved 0.59x the untranslated throughput
 * that way, 0.78x this way, in one A/B run). Corked, a socket that gathers writes hands both to
 * one `writev`, which its TLS layer joins in native memory; the client's socket writes each
 * chunk on its own (`ownRecords`), so there a message leaves as two TLS records, never sharing
 * one with the next message.
 */
function writeParts(socket: Duplex, head: Buffer, body: FrameBody): boolean {
  socket.cork();
  let ok = socket.write(head);
  for (const part of frameBodyParts(body)) ok = socket.write(part);
  socket.uncork();
  return ok;
}

/** FIN now; destroyed if the peer has not closed its side within CLOSE_GRACE_MS. */
function endSoon(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}



/** The 403 body when RBAC would refuse the verb the translated request is authorized as; else null. */
async function preflight(ctx: TranslateContext, req: IncomingMessage, direction: Direction, opts: UpstreamConnectionOptions): Promise<string | null> {
  const info = k8sRequestInfo(req.url ?? '/');
  if (!ctx.preflight || !info || info.namespace === null || info.pod === null) return null;
  if (info.operation !== 'exec' && info.operation !== 'attach' && info.operation !== 'portforward') return null;
  const toWebSocket = direction.to === 'websocket';
  return ctx.preflight.refusal({
    verb: toWebSocket ? 'get' : 'create', subresource: info.operation, namespace: info.namespace, pod: info.pod, translation: toWebSocket ? 'spdy-to-ws' : 'ws-to-spdy',
  }, opts);
}

