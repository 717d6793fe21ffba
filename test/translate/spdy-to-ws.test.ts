/**
 * The translation shell in-process, before the bridge starts: a raw client socket sends a SPDY
 * upgrade, a scripted upstream on 127.0.0.1 answers with exactly the bytes a case gives, and
 * the client's bytes are compared byte for byte. A refusal comes back verbatim, no answer is no
 * answer, a 101 kubectl would reject is a 502 that says why, and a client offering nothing the
 * kubelet speaks is refused without dialling.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { kubeconfigText } from '../../src/kubeconfig/write-kubeconfig.js';
import { LocalObserver } from '../../src/observer/local-observer.js';
import { loadUpstream } from '../../src/proxy/kubeconfig-upstream.js';
import { translateSpdyToWs } from '../../src/translate/spdy-to-ws.js';
import { encodeDataFrame, encodeSynStream, SpdyHeaderBlockDeflater } from '../../src/codec/spdy-encode.js';
import { SpdyFrameDecoder } from '../../src/codec/spdy-frame.js';
import { encodeClosePayload, encodeWsFrame } from '../../src/codec/websocket-encode.js';
import { WebSocketFrameDecoder } from '../../src/codec/websocket-frame.js';
import { webSocketAccept } from '../../src/session/handshake.js';

const SAFETY_MS = 15_000;
let tmp = '';
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'kubewire-translate-'));
});
afterEach(async () => {
  for (const stop of cleanups.splice(0).reverse()) await stop();
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Collects a socket's bytes until its FIN (or close). */
function collect(s: net.Socket): Promise<Buffer> {
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no end after ${Buffer.concat(got).length} bytes: ${Buffer.concat(got).toString('latin1').slice(0, 200)}`)), SAFETY_MS);
    const done = (): void => {
      clearTimeout(t);
      resolve(Buffer.concat(got));
    };
    s.once('end', done);
    s.once('close', done);
  });
}

async function rig(answer: (s: net.Socket, request: string) => void) {
  const requests: string[] = [];
  const upstreamServer = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    let head = '';
    s.on('data', (d: Buffer) => {
      const had = head.includes('\r\n\r\n');
      head += d.toString('latin1');
      if (!had && head.includes('\r\n\r\n')) {
        requests.push(head);
        answer(s, head);
      }
    });
  });
  await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', r));
  const upSockets = new Set<net.Socket>();
  upstreamServer.on('connection', (s) => {
    upSockets.add(s);
    s.once('close', () => upSockets.delete(s));
  });
  cleanups.push(async () => {
    for (const s of upSockets) s.destroy();
    await new Promise<void>((r) => upstreamServer.close(() => r()));
  });
  const kubeconfig = join(tmp, `k-${cleanups.length}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigText({ server: `http://127.0.0.1:${(upstreamServer.address() as net.AddressInfo).port}`, caCertPem: '', token: 'upstream-token' }), { mode: 0o600 });
  const upstream = await loadUpstream({ kubeconfig, env: {} });
  const bus = new EventBus({ lossless: false });
  const events: KubewireEvent[] = [];
  bus.subscribe((e) => events.push(e));
  cleanups.push(() => bus.close());
  const observer = new LocalObserver(bus, { payload: 'head' });
  const server = http.createServer((_q, res) => res.writeHead(404).end());
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, first: Buffer) => {
    void translateSpdyToWs(req, socket, first, { upstream, observer, conn: 'c1', upstreamConn: 'c2', session: 's1' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as net.AddressInfo).port;
  const send = async (protocols = ['v4.channel.k8s.io', 'v3.channel.k8s.io'], after?: (c: net.Socket) => void, query = 'command=true&container=app&stdout=true'): Promise<Buffer> => {
    const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    c.on('error', () => {});
    cleanups.push(() => void c.destroy());
    await once(c, 'connect');
    const got = collect(c);
    if (after) c.once('data', () => after(c));
    c.write([
      `POST /api/v1/namespaces/default/pods/web/exec?${query} HTTP/1.1`, 'Host: kubewire', 'Content-Length: 0',
      'Connection: Upgrade', 'Upgrade: SPDY/3.1', ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`), '', '',
    ].join('\r\n'));
    return got;
  };
  return { send, requests, events };
}

const STATUS_403 = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"web\\" is forbidden: User \\"me\\" cannot get resource \\"pods/exec\\"","reason":"Forbidden","code":403}';

describe('translateSpdyToWs before the bridge', () => {
  it("a refusal comes back verbatim, head and body, even when the upstream keeps its connection open; the upstream got kubectl's WebSocket GET", async () => {
    const answer = `HTTP/1.1 403 Forbidden\r\nAudit-Id: 1234\r\nContent-Type: application/json\r\nContent-Length: ${STATUS_403.length}\r\n\r\n${STATUS_403}`;
    const r = await rig((s) => s.write(answer));
    const got = await r.send();
    expect(got.toString('latin1')).toBe(answer);
    const lines = r.requests[0]!.split('\r\n');
    expect(lines[0]).toBe('GET /api/v1/namespaces/default/pods/web/exec?command=true&container=app&stdout=true HTTP/1.1');
    expect(lines).toContain('Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io');
    expect(lines.some((l) => /^x-stream-protocol-version|^content-length/i.test(l))).toBe(false);
  });

  it('no answer from the upstream: the client gets none either', async () => {
    const r = await rig((s) => s.end());
    expect((await r.send()).length).toBe(0);
  });

  it('a 101 kubectl would reject is a 502 Status that says why', async () => {
    const r = await rig((s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bogus=\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n'));
    const got = (await r.send()).toString('latin1');
    expect(got).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    const status = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)) as { message: string; code: number };
    expect(status).toMatchObject({ code: 502, message: expect.stringContaining('wrong Sec-WebSocket-Accept') });
    expect(r.events.some((e) => e.type === 'proxy.error' && e.code === 'KW_ERR_TRANSLATE_UPSTREAM')).toBe(true);
  });

  it('a client that offers nothing the kubelet speaks gets its 403, and the upstream is never dialled', async () => {
    const r = await rig(() => {});
    const got = (await r.send(['v9.bogus.k8s.io'])).toString('latin1');
    expect(got).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(got).toContain('unable to upgrade: unable to negotiate protocol: client supports [v9.bogus.k8s.io]');
    expect(r.requests).toHaveLength(0);
  });

  it('an upstream that closes its socket at once after its close frame (as x/net does), before the client made its streams: the client still gets the output and the status', async () => {
    const status = '{"metadata":{},"status":"Success"}';
    const r = await rig((s, request) => {
      const key = /sec-websocket-key: (\S+)/i.exec(request)![1]!;
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${webSocketAccept(key)}\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n`);
      s.write(Buffer.concat([
        encodeWsFrame({ opcode: 2, payload: Buffer.from('\x01hi\n', 'latin1') }),
        encodeWsFrame({ opcode: 2, payload: Buffer.concat([Buffer.of(3), Buffer.from(status)]) }),
        encodeWsFrame({ opcode: 8, payload: encodeClosePayload(1000) }),
      ]), () => s.destroy());
    });
    // kubectl's streams, created after the 101, a moment after the upstream is gone.
    const deflater = new SpdyHeaderBlockDeflater();
    const got = await r.send(['v4.channel.k8s.io'], (c) => setTimeout(() => c.write(Buffer.concat([
      encodeSynStream({ streamId: 1, headerBlock: deflater.deflate([['streamtype', 'error']]) }),
      encodeSynStream({ streamId: 3, headerBlock: deflater.deflate([['streamtype', 'stdout']]) }),
    ])), 100));
    const text = got.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    const data: string[] = [];
    new SpdyFrameDecoder({
      control: (f) => data.push(f.type),
      dataFrame: () => {},
      data: (seg) => data.push(`${seg.frame.streamId} ${seg.data.toString('latin1')}`),
      dataEnd: (h) => void (h.fin && data.push(`${h.streamId} FIN`)),
      anomaly: (a) => data.push(`anomaly ${a.message}`),
    }).push(got.subarray(text.indexOf('\r\n\r\n') + 4));
    expect(data).toEqual(['SYN_REPLY', 'SYN_REPLY', '3 hi\n', `1 ${status}`, '3 FIN', '1 FIN', 'GOAWAY']);
  });

  it('a v4-only upstream cannot be given the end of stdin: the command goes on, and the log says so in a note', async () => {
    const status = '{"metadata":{},"status":"Success"}';
    const upstreamGot: Buffer[] = [];
    const r = await rig((s, request) => {
      const key = /sec-websocket-key: (\S+)/i.exec(request)![1]!;
      // An upstream that speaks only v4 (a kubelet's own WebSocket server reached directly).
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${webSocketAccept(key)}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`);
      s.on('data', (d: Buffer) => {
        upstreamGot.push(d);
        // Once stdin's bytes arrived, the command ends on its own.
        if (Buffer.concat(upstreamGot).length >= 8 + 4) {
          s.end(Buffer.concat([encodeWsFrame({ opcode: 2, payload: Buffer.concat([Buffer.of(3), Buffer.from(status)]) }), encodeWsFrame({ opcode: 8, payload: encodeClosePayload(1000) })]));
        }
      });
    });
    const deflater = new SpdyHeaderBlockDeflater();
    const got = await r.send(['v4.channel.k8s.io'], (c) => c.write(Buffer.concat([
      encodeSynStream({ streamId: 1, headerBlock: deflater.deflate([['streamtype', 'error']]) }),
      encodeSynStream({ streamId: 3, headerBlock: deflater.deflate([['streamtype', 'stdin']]) }),
      encodeSynStream({ streamId: 5, headerBlock: deflater.deflate([['streamtype', 'stdout']]) }),
      encodeDataFrame(3, Buffer.from('abc')),
      encodeDataFrame(3, Buffer.alloc(0), true),
    ])), 'command=cat&container=app&stdin=true&stdout=true');
    expect(got.toString('latin1')).toContain(status);
    // The upstream got stdin's bytes (binary 00 'abc', masked) and never a close signal.
    const frames: string[] = [];
    let parts: Buffer[] = [];
    new WebSocketFrameDecoder({
      frame: () => void (parts = []),
      payload: (seg) => void parts.push(seg.data),
      frameEnd: (h) => void frames.push(`${h.opcode} ${Buffer.concat(parts).toString('hex')}`),
      anomaly: () => {},
    }, { expectMasked: true }).push(Buffer.concat(upstreamGot));
    expect(frames).toContain('2 00616263');
    expect(frames.some((f) => f.startsWith('2 ff'))).toBe(false);
    const note = r.events.find((e) => e.type === 'proxy.error' && e.code === 'KW_NOTE_TRANSLATE');
    expect(note).toMatchObject({ message: expect.stringContaining('the end of stdin was not carried: the upstream speaks v4.channel.k8s.io') });
    expect(note?.note).toContain('KW_NOTE_TRANSLATE the end of stdin was not carried');
  });
});
