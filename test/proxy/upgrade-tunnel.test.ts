/**
 * The upgrade tunnel driven in-process, with no kubectl: a scripted upstream on 127.0.0.1 writes
 * exactly the bytes a case gives, when it gives them, and a raw client socket stands in for
 * kubectl. Every case runs on two rigs: the tunnel behind a bare HTTP listener with a plain-TCP
 * upstream, and the proxy server as `kubewire proxy` runs it (TLS and its own bearer token
 * towards the client) with a TLS upstream. Each side's bytes are compared byte for byte.
 *
 * Waits end on conditions (bytes received, FIN, close, an event on the bus, a socket paused);
 * their time limit is only a safety net that turns a hang into a failure saying what was missing.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PayloadMode } from '../../src/codec/decode-context.js';
import { EventBus, type EventSink } from '../../src/events/event-bus.js';
import { LocalObserver } from '../../src/observer/local-observer.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { kubeconfigText } from '../../src/kubeconfig/write-kubeconfig.js';
import { KubewireProxy } from '../../src/proxy/proxy-server.js';
import { tunnelUpgrade } from '../../src/proxy/upgrade-tunnel.js';
import { loadUpstream } from '../../src/proxy/kubeconfig-upstream.js';
import type { Upstream } from '../../src/proxy/upstream.js';
import { createDemoTls, type DemoTls } from '../../src/tls/local-ca.js';
import { ofType, waitUntil, type EventOf } from '../support/event-log.js';
import { prng } from '../support/split.js';
import { EXEC_TARGET, OP, Wire, cframe, chan, head, sframe, wsRequestHeaders, wsResponse, type Headers } from '../support/wire.js';

/** Only a safety net: no case is judged by how long it takes. */
const SAFETY_MS = 30_000;
const UPSTREAM_TOKEN = 'upstream-token-0123456789';
const PROTOCOL = 'v5.channel.k8s.io';

let tmp = '';
let rigs = 0;
let upstreamTls: DemoTls;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'kubewire-tunnel-'));
  upstreamTls = await createDemoTls();
});

afterEach(async () => {
  // Last started, first stopped: clients, then the proxy, then the upstream.
  for (const stop of cleanups.splice(0).reverse()) await stop();
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// One end of a connection, as a test drives it

class End {
  private readonly chunks: Buffer[] = [];
  received = 0;
  /** The peer's FIN arrived. */
  ended = false;
  closed = false;
  error: NodeJS.ErrnoException | null = null;
  private readonly waiters = new Set<() => void>();

  /** `raw` is the TCP socket under `socket` when that is TLS, for a reset. */
  constructor(readonly socket: net.Socket, readonly raw: net.Socket = socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.received += c.length;
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.error ??= e;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Resolves once `check()` holds; checked again on every event of this socket. */
  until(label: string, check: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = (): void => {
        if (!check()) return;
        done();
        resolve();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(test);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${label}: ${this.received} bytes received, ended ${this.ended}, closed ${this.closed}, error ${this.error?.code ?? null}`));
      }, SAFETY_MS);
      this.waiters.add(test);
      test();
    });
  }

  /** Resolves once at least `n` bytes have arrived in all. */
  bytesArrived(n: number, label = `${n} bytes`): Promise<void> {
    return this.until(label, () => this.received >= n);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** A scripted upstream: it accepts connections and does nothing unless the test writes. */
class ScriptedUpstream {
  /** Every connection it accepted (over TLS: every one whose handshake completed). */
  readonly ends: End[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly url: string) {}

  static async start(material: DemoTls | null): Promise<ScriptedUpstream> {
    // Half-open, so a case can write after the proxy passed on the client's FIN.
    const server = material
      ? tls.createServer({ key: material.keyPem, cert: material.certPem, allowHalfOpen: true })
      : net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const up = new ScriptedUpstream(server, `${material ? 'https' : 'http'}://127.0.0.1:${port}`);
    const raws = new Map<number, net.Socket>();
    server.on('connection', (raw: net.Socket) => {
      up.track(raw);
      raws.set(raw.remotePort!, raw);
      if (!material) up.ends.push(new End(raw));
    });
    server.on('secureConnection', (s: tls.TLSSocket) => {
      up.track(s);
      s.allowHalfOpen = true;
      up.ends.push(new End(s, raws.get(s.remotePort!)));
    });
    server.on('tlsClientError', () => {});
    return up;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  get count(): number {
    return this.ends.length;
  }

  /** The `i`th connection (from 0), once it is there. */
  connection(i = 0): Promise<End> {
    return waitUntil(`upstream connection ${i + 1}`, () => this.ends[i], SAFETY_MS);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => this.sockets.delete(s));
  }
}

// ---------------------------------------------------------------------------------------------
// The two rigs

type RigKind = 'tunnel' | 'proxy';

interface RigOptions {
  lossless?: boolean;
  sinks?: EventSink[];
  payload?: PayloadMode;
}

interface Rig {
  kind: RigKind;
  bus: EventBus;
  events: KubewireEvent[];
  up: ScriptedUpstream;
  /** The proxy's sockets towards the upstream, in the order dialled. */
  dialled: Duplex[];
  /** The proxy's sockets towards the client, on the tunnel rig (the proxy rig keeps its own). */
  accepted: net.Socket[];
  /** Dials waiting at the gate set with `holdDials`. */
  dialsWaiting: number;
  /** Holds every dial until the function returned is called. */
  holdDials(): () => void;
  client(): Promise<End>;
  /** The client's upgrade request head, with the proxy's token on the proxy rig. */
  request(headers: Headers): Buffer;
  /** The head the upstream must receive for `request(headers)`. */
  upstreamHead(headers: Headers): Buffer;
}

async function startRig(kind: RigKind, opts: RigOptions = {}): Promise<Rig> {
  const bus = new EventBus({ lossless: opts.lossless ?? false });
  for (const sink of opts.sinks ?? []) bus.addSink(sink);
  const events: KubewireEvent[] = [];
  bus.subscribe((e) => events.push(e));
  cleanups.push(() => bus.close());

  const up = await ScriptedUpstream.start(kind === 'proxy' ? upstreamTls : null);
  cleanups.push(() => up.close());
  const kubeconfig = join(tmp, `upstream-${++rigs}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigText({ server: up.url, caCertPem: upstreamTls.caCertPem, token: UPSTREAM_TOKEN }), { mode: 0o600 });
  const real = await loadUpstream({ kubeconfig, env: {} });

  const dialled: Duplex[] = [];
  let gate: Promise<void> | null = null;
  // The real upstream, with its dials recorded and, when a case asks, held at a gate.
  const upstream = Object.create(real) as Upstream;
  upstream.connect = async (options) => {
    if (gate) {
      rig.dialsWaiting++;
      await gate;
      rig.dialsWaiting--;
    }
    const s = await real.connect(options);
    dialled.push(s);
    return s;
  };

  const accepted: net.Socket[] = [];
  const payload = opts.payload ?? 'head';
  const observer = new LocalObserver(bus, { payload });
  let connect: () => Promise<End>;
  let token = '';
  if (kind === 'tunnel') {
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    const sockets = new Set<net.Socket>();
    server.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, first: Buffer) => {
      accepted.push(socket);
      void tunnelUpgrade(req, socket, first, { upstream, observer, conn: `c${accepted.length}`, session: 's1' });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    connect = async () => {
      const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      await once(s, 'connect');
      return new End(s);
    };
  } else {
    const proxy = await KubewireProxy.start({ upstream, observer, host: '127.0.0.1', port: 0 });
    cleanups.push(() => proxy.stop());
    token = proxy.token;
    connect = async () => {
      const raw = net.connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
      const s = tls.connect({ socket: raw, host: '127.0.0.1', ca: proxy.caCertPem });
      await once(s, 'secureConnect');
      s.allowHalfOpen = true;
      return new End(s, raw);
    };
  }

  const requestLine = `GET ${EXEC_TARGET} HTTP/1.1`;
  const rig: Rig = {
    kind, bus, events, up, dialled, accepted,
    dialsWaiting: 0,
    holdDials: () => {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = null;
        release();
      };
    },
    client: async () => {
      const end = await connect();
      cleanups.push(() => void end.socket.destroy());
      return end;
    },
    request: (headers) => head(requestLine, kind === 'proxy' ? [headers[0]!, ['Authorization', `Bearer ${token}`], ...headers.slice(1)] : headers),
    upstreamHead: (headers) => {
      const kept = headers.filter(([name]) => !['host', 'authorization'].includes(name.toLowerCase()));
      // kubectl sends no credentials to a plain http:// server, and neither does kubewire.
      const credentials: Headers = kind === 'proxy' ? [['Authorization', `Bearer ${UPSTREAM_TOKEN}`]] : [];
      return head(requestLine, [['Host', up.host], ...kept, ...credentials]);
    },
  };
  return rig;
}

// ---------------------------------------------------------------------------------------------
// Bytes and connections

const REQUEST: Headers = wsRequestHeaders([PROTOCOL]);

const RESPONSE_101 = wsResponse(PROTOCOL);

/** The slow-reader bulk: seeded random bytes, as frames of FRAME payload bytes each. */
const BULK = 8 * 1024 * 1024;
const FRAME = 16 * 1024;

function seededBytes(n: number, seed: number): Buffer {
  const rnd = prng(seed);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

/** `bytes` as WebSocket frames of at most `frame` payload bytes on one k8s channel. */
function framed(bytes: Buffer, frame: number, dir: 'c2s' | 's2c'): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += frame) {
    const payload = chan(dir === 'c2s' ? 0 : 1, bytes.subarray(at, at + frame));
    parts.push(dir === 'c2s' ? cframe(OP.binary, payload) : sframe(OP.binary, payload));
  }
  return Buffer.concat(parts);
}

/** Large buffers compared without a deep diff: the first differing offset says enough. */
function expectSameBytes(got: Buffer, want: Buffer, label: string): void {
  if (got.equals(want)) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  expect.fail(`${label}: ${got.length} bytes received, ${want.length} sent; first difference at offset ${i}`);
}

interface Open {
  client: End;
  upstream: End;
  /** Everything the upstream must have received, and the client. */
  c2s: Wire;
  s2c: Wire;
}

/** A client connection upgraded through the rig: request head up, 101 down. */
async function open(rig: Rig): Promise<Open> {
  const client = await rig.client();
  const c2s = new Wire();
  const s2c = new Wire();
  client.socket.write(rig.request(REQUEST));
  c2s.add(rig.upstreamHead(REQUEST));
  const upstream = await rig.up.connection(rig.up.count);
  await upstream.bytesArrived(c2s.length, 'request head');
  upstream.socket.write(RESPONSE_101);
  s2c.add(RESPONSE_101);
  await client.bytesArrived(s2c.length, '101');
  return { client, upstream, c2s, s2c };
}

/** The conn.close of the rig's one connection. */
function closeOf(rig: Rig): Promise<EventOf<'conn.close'>> {
  return waitUntil('conn.close', () => ofType(rig.events, 'conn.close')[0], SAFETY_MS);
}

/** Writes `bytes` in `piece`-sized writes, waiting for 'drain' whenever a write says the socket is full. */
function sendPaced(socket: net.Socket, bytes: Buffer, piece: number): { done: Promise<void>; sent: () => number } {
  let sent = 0;
  const done = (async () => {
    for (let at = 0; at < bytes.length; at += piece) {
      const ok = socket.write(bytes.subarray(at, at + piece));
      sent = Math.min(bytes.length, at + piece);
      if (!ok) await once(socket, 'drain');
    }
  })();
  return { done, sent: () => sent };
}

/**
 * Two turns of the event loop, with a poll phase between them: by then every socket has read
 * what its kernel buffer already held, such as a reset or FIN the peer sent before the call.
 */
async function pollPassed(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
}

/** Reads one burst at a time, with a turn of the event loop between bursts, until `total` bytes arrived. */
async function readSlowly(reader: End, total: number): Promise<void> {
  for (let step = 0; step < total && reader.received < total; step++) {
    const before = reader.received;
    reader.socket.resume();
    await reader.until('more bytes for the slow reader', () => reader.received > before);
    reader.socket.pause();
    await new Promise((r) => setImmediate(r));
  }
  reader.socket.resume();
  await reader.bytesArrived(total, 'every byte');
}

/** The largest write buffer `socket` ever held just after a write. */
function watchWriteBuffer(socket: Duplex): () => number {
  let max = 0;
  const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
  socket.write = ((chunk: Buffer) => {
    const ok = write(chunk);
    max = Math.max(max, socket.writableLength);
    return ok;
  }) as Duplex['write'];
  return () => max;
}

// ---------------------------------------------------------------------------------------------

describe.each<RigKind>(['tunnel', 'proxy'])('the upgrade tunnel (%s rig)', (kind) => {
  it('a 101 with odd header order, case and duplicates reaches the client exactly as sent; the request head goes up as the credential swap leaves it', async () => {
    const rig = await startRig(kind);
    const client = await rig.client();
    const request: Headers = [
      ['Host', 'kubewire.invalid'],
      ['upgrade', 'websocket'],
      ['CONNECTION', 'Upgrade'],
      ['sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ['X-Dup', 'one'],
      ['Sec-WebSocket-Version', '13'],
      ['x-dup', 'two'],
      ['Sec-WebSocket-Protocol', `${PROTOCOL}, v4.channel.k8s.io`],
    ];
    client.socket.write(rig.request(request));
    const upstream = await rig.up.connection();
    const expectedHead = rig.upstreamHead(request);
    await upstream.bytesArrived(expectedHead.length, 'request head');
    expect(upstream.bytes.toString('latin1')).toBe(expectedHead.toString('latin1'));

    const response = Buffer.from([
      'HTTP/1.1 101 switching protocols',
      'X-Trace: first',
      'upgrade: websocket',
      'CONNECTION: Upgrade',
      'Sec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      'x-dup: 1',
      'X-Dup: 2',
      'X-Spaced:   two  spaces  ',
      'X-Empty:',
      `sec-websocket-protocol: ${PROTOCOL}`,
      '', '',
    ].join('\r\n'), 'latin1');
    upstream.socket.write(response);
    await client.bytesArrived(response.length, '101');
    expect(client.bytes.toString('latin1')).toBe(response.toString('latin1'));

    const down = sframe(OP.binary, chan(1, 'out'));
    const up = cframe(OP.binary, chan(0, 'in'));
    upstream.socket.write(down);
    client.socket.write(up);
    await client.bytesArrived(response.length + down.length, 'a frame after the 101');
    await upstream.bytesArrived(expectedHead.length + up.length, 'a frame after the request');
    expect(client.bytes).toEqual(Buffer.concat([response, down]));
    expect(upstream.bytes).toEqual(Buffer.concat([expectedHead, up]));

    // The decoder read the same 101 on its copy.
    const answer = await waitUntil('upgrade.response', () => ofType(rig.events, 'upgrade.response')[0], SAFETY_MS);
    expect(answer).toMatchObject({ status: 101, reason: 'switching protocols', protocol: PROTOCOL });
    expect(answer.headers.slice(0, 3)).toEqual([['X-Trace', 'first'], ['upgrade', 'websocket'], ['CONNECTION', 'Upgrade']]);
  });

  it('bytes in the same write as either head, and client bytes sent while the upstream is dialled, arrive in order', async () => {
    const rig = await startRig(kind);
    const release = rig.holdDials();
    const client = await rig.client();
    const first = cframe(OP.binary, chan(0, 'with the head'));
    const second = cframe(OP.binary, chan(0, 'before the upstream answered'));
    client.socket.write(Buffer.concat([rig.request(REQUEST), first]));
    await waitUntil('the dial to wait at the gate', () => (rig.dialsWaiting === 1 ? true : undefined), SAFETY_MS);
    client.socket.write(second);
    await pollPassed();
    release();

    const upstream = await rig.up.connection();
    const c2s = Buffer.concat([rig.upstreamHead(REQUEST), first, second]);
    await upstream.bytesArrived(c2s.length, 'head and both frames');
    expect(upstream.bytes).toEqual(c2s);

    const s2c = Buffer.concat([RESPONSE_101, sframe(OP.binary, chan(1, 'first frame')), sframe(OP.binary, chan(2, 'second frame'))]);
    upstream.socket.write(s2c);
    await client.bytesArrived(s2c.length, '101 and both frames');
    expect(client.bytes).toEqual(s2c);

    await waitUntil('four decoded frames', () => (ofType(rig.events, 'ws.frame').length === 4 ? true : undefined), SAFETY_MS);
    expect(ofType(rig.events, 'ws.frame').map((e) => `${e.dir} ${e.offset}`).sort()).toEqual([
      `c2s ${rig.upstreamHead(REQUEST).length}`,
      `c2s ${rig.upstreamHead(REQUEST).length + first.length}`,
      `s2c ${RESPONSE_101.length}`,
      `s2c ${RESPONSE_101.length + sframe(OP.binary, chan(1, 'first frame')).length}`,
    ].sort());
  });

  it('the client half-closes: the upstream sees FIN after every client byte and can still send', async () => {
    const rig = await startRig(kind);
    const { client, upstream, c2s, s2c } = await open(rig);
    const last = cframe(OP.close, [0x03, 0xe8]);
    client.socket.end(last);
    c2s.add(last);
    await upstream.until('FIN from the proxy', () => upstream.ended);
    expect(upstream.bytes).toEqual(c2s.bytes);

    const after = Buffer.concat([sframe(OP.binary, chan(1, 'still talking')), sframe(OP.close, [0x03, 0xe8])]);
    upstream.socket.write(after);
    s2c.add(after);
    await client.bytesArrived(s2c.length, 'bytes sent after the client\'s FIN');
    expect(client.ended).toBe(false);
    upstream.socket.end();
    await client.until('FIN and close', () => client.ended && client.closed);
    expect(client.bytes).toEqual(s2c.bytes);

    const closed = await closeOf(rig);
    expect(closed).toMatchObject({ closedBy: 'client', bytes: { c2s: c2s.length, s2c: s2c.length }, error: null });
  });

  it('the upstream half-closes: the client sees FIN after every upstream byte and can still send', async () => {
    const rig = await startRig(kind);
    const { client, upstream, c2s, s2c } = await open(rig);
    const last = sframe(OP.close, [0x03, 0xe8]);
    upstream.socket.end(last);
    s2c.add(last);
    await client.until('FIN from the proxy', () => client.ended);
    expect(client.bytes).toEqual(s2c.bytes);

    const after = Buffer.concat([cframe(OP.binary, chan(0, 'still typing')), cframe(OP.close, [0x03, 0xe8])]);
    client.socket.write(after);
    c2s.add(after);
    await upstream.bytesArrived(c2s.length, 'bytes sent after the upstream\'s FIN');
    expect(upstream.ended).toBe(false);
    client.socket.end();
    await upstream.until('FIN and close', () => upstream.ended && upstream.closed);
    expect(upstream.bytes).toEqual(c2s.bytes);

    const closed = await closeOf(rig);
    expect(closed).toMatchObject({ closedBy: 'upstream', bytes: { c2s: c2s.length, s2c: s2c.length }, error: null });
  });

  for (const dir of ['s2c', 'c2s'] as const) {
    it(`a slow reader (${dir}): several MiB arrive intact, and the proxy holds the sender instead of buffering`, async () => {
      const rig = await startRig(kind);
      const { client, upstream, c2s, s2c } = await open(rig);
      const [writer, reader, wire] = dir === 's2c' ? [upstream, client, s2c] : [client, upstream, c2s];
      // The proxy's two sockets for this direction, where the rig can reach them.
      const source = dir === 's2c' ? rig.dialled[0] : rig.accepted[0];
      const sink = dir === 's2c' ? rig.accepted[0] : rig.dialled[0];
      const maxQueued = sink ? watchWriteBuffer(sink) : null;

      const bulk = framed(seededBytes(BULK, dir === 's2c' ? 0x5eed : 0xc25), FRAME, dir);
      const base = wire.add(bulk);
      reader.socket.pause();
      const pauses = source ? countPauses(source) : null;
      const sending = sendPaced(writer.socket, bulk, 4096);
      // Nobody reads, so the proxy's socket towards the reader must come to wait for a drain
      // that does not come, and the proxy must then have stopped reading the sender.
      await waitUntil(
        'the proxy to hold the sender while nobody reads',
        () => ((source === undefined || source.isPaused()) && (sink === undefined || sink.writableNeedDrain) ? true : undefined),
        SAFETY_MS,
      ).catch((e: Error) => {
        throw new Error(`${e.message}: sent ${sending.sent()}, source paused ${source?.isPaused()}, sink needs drain ${sink?.writableNeedDrain}`);
      });

      await readSlowly(reader, wire.length);
      await sending.done;
      expectSameBytes(reader.bytes.subarray(base), bulk, `${dir} bulk`);
      expect(reader.received).toBe(wire.length);
      if (pauses) expect(pauses(), 'times the proxy paused the sender').toBeGreaterThan(0);
      // One read of the source, at most, on top of the socket's own high-water mark.
      if (maxQueued) expect(maxQueued()).toBeLessThanOrEqual(sink!.writableHighWaterMark + 64 * 1024);

      await waitUntil('every bulk frame decoded', () => (ofType(rig.events, 'ws.frame').filter((e) => e.dir === dir).length === BULK / FRAME ? true : undefined), SAFETY_MS);
    });
  }

  it('the upstream resets mid-stream: the client is closed and conn.close says the upstream socket failed', async () => {
    const rig = await startRig(kind);
    const { client, upstream, s2c } = await open(rig);
    const frame = sframe(OP.binary, chan(1, 'before the reset'));
    upstream.socket.write(frame);
    s2c.add(frame);
    await client.bytesArrived(s2c.length, 'the frame before the reset');
    upstream.raw.resetAndDestroy();
    await client.until('the proxy to close its side', () => client.ended || client.closed);
    expect(client.bytes).toEqual(s2c.bytes);
    const closed = await closeOf(rig);
    expect(closed.closedBy).toBe('error');
    expect(closed.error).toMatch(/^upstream socket: .*ECONNRESET/);
  });

  it('the client resets mid-stream: the upstream is closed and conn.close says the client socket failed', async () => {
    const rig = await startRig(kind);
    const { client, upstream, c2s } = await open(rig);
    const frame = cframe(OP.binary, chan(0, 'before the reset'));
    client.socket.write(frame);
    c2s.add(frame);
    await upstream.bytesArrived(c2s.length, 'the frame before the reset');
    client.raw.resetAndDestroy();
    await upstream.until('the proxy to close its side', () => upstream.ended || upstream.closed);
    expect(upstream.bytes).toEqual(c2s.bytes);
    const closed = await closeOf(rig);
    expect(closed.closedBy).toBe('error');
    expect(closed.error).toMatch(/^client socket: .*ECONNRESET/);
  });

  it('the client leaves while the upstream is dialled: the upstream connection is closed unused and conn.close says so', async () => {
    const rig = await startRig(kind);
    const release = rig.holdDials();
    const client = await rig.client();
    client.socket.write(rig.request(REQUEST));
    await waitUntil('the dial to wait at the gate', () => (rig.dialsWaiting === 1 ? true : undefined), SAFETY_MS);
    client.raw.resetAndDestroy();
    await client.until('close', () => client.closed);
    await pollPassed();
    if (rig.accepted[0]) expect(rig.accepted[0].destroyed, 'the proxy saw the reset before its dial ended').toBe(true);
    release();
    const dialled = await waitUntil('the dial', () => rig.dialled[0], SAFETY_MS);
    await waitUntil('the proxy to close its upstream socket', () => (dialled.destroyed ? true : undefined), SAFETY_MS);
    const closed = await closeOf(rig);
    expect(closed).toMatchObject({ closedBy: 'error', bytes: { c2s: 0, s2c: 0 } });
    expect(closed.error).toMatch(/^client socket: .*ECONNRESET/);
    // A TLS upstream may not even see its handshake complete; whatever it did see carried nothing.
    for (const upstream of rig.up.ends) {
      await upstream.until('the proxy to close its side', () => upstream.ended || upstream.closed);
      expect(upstream.received, 'the request never went up').toBe(0);
    }
  });

  it('the client half-closes while the upstream is dialled: the upstream gets the request, then FIN, and can still answer', async () => {
    const rig = await startRig(kind);
    const release = rig.holdDials();
    const client = await rig.client();
    const frame = cframe(OP.binary, chan(0, 'all the input there is'));
    client.socket.end(Buffer.concat([rig.request(REQUEST), frame]));
    await waitUntil('the dial to wait at the gate', () => (rig.dialsWaiting === 1 ? true : undefined), SAFETY_MS);
    await pollPassed();
    if (rig.accepted[0]) expect(rig.accepted[0].readableEnded, 'the proxy saw the FIN before its dial ended').toBe(true);
    release();
    const upstream = await rig.up.connection();
    await upstream.until('FIN from the proxy', () => upstream.ended);
    expect(upstream.bytes).toEqual(Buffer.concat([rig.upstreamHead(REQUEST), frame]));
    const s2c = Buffer.concat([RESPONSE_101, sframe(OP.binary, chan(1, 'the answer'))]);
    upstream.socket.end(s2c);
    await client.until('FIN and close', () => client.ended && client.closed);
    expect(client.bytes).toEqual(s2c);
    const closed = await closeOf(rig);
    expect(closed).toMatchObject({ closedBy: 'client', error: null });
  });

  it('a lossless log that falls behind holds the relay, past any drain of the client, then it resumes and nothing is lost', async () => {
    const sink = new SlowSink();
    const rig = await startRig(kind, { lossless: true, sinks: [sink], payload: 'full' });
    const { client, upstream, c2s, s2c } = await open(rig);
    const source = rig.dialled[0]!;
    const resumedWhileBehind = watchResumes(source, rig.bus);
    const towardsClient = rig.accepted[0];
    const maxQueued = towardsClient ? watchWriteBuffer(towardsClient) : null;

    const data = seededBytes(8 * 1024 * 1024, 0x10551e55);
    const bulk = framed(data, 4096, 's2c');
    const base = s2c.add(bulk);
    client.socket.pause();
    const sending = sendPaced(upstream.socket, bulk, 64 * 1024);
    // Nobody reads and the log keeps up: the relay comes to wait for the client's socket alone.
    await waitUntil('the relay to wait for the client alone, not for the log', () => (source.isPaused() && rig.bus.writable ? true : undefined), SAFETY_MS);

    // Now the log falls behind (on a client frame), and only then does the client read.
    sink.hold();
    const typed = cframe(OP.binary, chan(0, 'typed while the log is behind'));
    client.socket.write(typed);
    c2s.add(typed);
    await waitUntil('the log to fall behind', () => (!rig.bus.writable ? true : undefined), SAFETY_MS);
    client.socket.resume();
    if (towardsClient) await waitUntil('the relay\'s socket towards the client to drain', () => (!towardsClient.writableNeedDrain ? true : undefined), SAFETY_MS);
    expect(source.isPaused(), 'the relay still waits for the log').toBe(true);

    sink.release();
    // A slow client from here on, so drains and a log behind keep coming together.
    await readSlowly(client, s2c.length);
    await sending.done;
    expectSameBytes(client.bytes.subarray(base), bulk, 's2c bulk');
    expect(resumedWhileBehind(), 'resumes of the upstream socket while the log was behind').toBe(0);
    if (maxQueued) expect(maxQueued()).toBeLessThanOrEqual(towardsClient!.writableHighWaterMark + 64 * 1024);
    await upstream.bytesArrived(c2s.length, 'the frame typed while the log was behind');
    expect(upstream.bytes).toEqual(c2s.bytes);

    upstream.socket.end();
    await client.until('FIN', () => client.ended);
    client.socket.end();
    await closeOf(rig);
    await rig.bus.close();
    const logged = ofType(sink.seen, 'k8s.data').filter((e) => e.dir === 's2c');
    expectSameBytes(Buffer.concat(logged.map((e) => Buffer.from(e.payload ?? '', 'base64'))), data, 'stdout payloads in the log');
    const states = ofType(sink.seen, 'sink.backpressure').map((e) => e.state);
    expect(states.filter((s) => s === 'paused').length).toBeGreaterThan(1);
    expect(states.filter((s) => s === 'paused').length).toBe(states.filter((s) => s === 'resumed').length);
  });
});

/**
 * A log sink that keeps every event, is behind while more than a few wait, and takes a few per
 * turn of the event loop; `hold` makes it behind and stops it taking any until `release`.
 */
class SlowSink implements EventSink {
  readonly name = 'slow';
  readonly seen: KubewireEvent[] = [];
  private queued = 0;
  private held = false;
  private listeners: (() => void)[] = [];
  private scheduled = false;

  write(event: KubewireEvent): boolean {
    this.seen.push(event);
    this.queued++;
    this.schedule();
    return !this.held && this.queued < 8;
  }

  onDrain(listener: () => void): void {
    this.listeners.push(listener);
    this.schedule();
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.schedule();
  }

  async close(): Promise<void> {
    this.held = false;
    this.queued = 0;
    this.fire();
  }

  private schedule(): void {
    if (this.scheduled || this.held) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.held) return;
      this.queued = Math.max(0, this.queued - 4);
      if (this.queued < 8) this.fire();
      if (this.queued > 0) this.schedule();
    });
  }

  private fire(): void {
    const listeners = this.listeners;
    this.listeners = [];
    for (const l of listeners) l();
  }
}

/** Counts the times `socket` was paused while flowing. */
function countPauses(socket: Duplex): () => number {
  let count = 0;
  socket.on('pause', () => count++);
  return () => count;
}

/** Counts the times `socket` was resumed while `bus` was not writable. */
function watchResumes(socket: Duplex, bus: EventBus): () => number {
  let count = 0;
  const resume = socket.resume.bind(socket);
  socket.resume = () => {
    if (!bus.writable) count++;
    return resume();
  };
  return () => count;
}
