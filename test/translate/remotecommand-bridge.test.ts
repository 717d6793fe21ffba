/**
 * The SPDY→WebSocket bridge as playbooks: a scripted kubectl (SPDY frames from the project's
 * encoders) on one side, a scripted API server (WebSocket frames) on the other, and what the
 * bridge writes to each, decoded back. Every playbook is also fed with each step's bytes split
 * at every offset, one byte at a time and in seeded random chunks: the bytes written must be
 * identical, because neither decoder's segment edges depend on how TCP cut the input.
 */
import { describe, expect, it } from 'vitest';
import { encodeDataFrame, encodeGoaway, encodePing, encodeSynStream, SpdyHeaderBlockDeflater } from '../../src/codec/spdy-encode.js';
import { encodeClosePayload, encodeWsFrame } from '../../src/codec/websocket-encode.js';
import { WebSocketFrameDecoder } from '../../src/codec/websocket-frame.js';
import { encodeClientFrame } from '../../src/translate/client-frame.js';
import { frameBodyParts, SpdyToWebSocketBridge, statusAsText, type ExpectedStreams } from '../../src/translate/remotecommand-bridge.js';
import { cutPoints } from '../support/chunking.js';
import { spdyLines } from '../support/spdy-lines.js';
import { oneByteAtATime, randomChunks, splitAt } from '../support/split.js';

type Step = { from: 'client' | 'upstream'; bytes: Buffer } | { from: 'client-end' | 'upstream-end' | 'keepalive' };

const KEY = Buffer.of(0x11, 0x22, 0x33, 0x44);
const V4 = 'v4.channel.k8s.io';
const V5 = 'v5.channel.k8s.io';
const EXIT_3 = '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}';

/** kubectl's side: one SYN_STREAM per stream type, ids 1, 3, 5, …, one deflate context. */
class Kubectl {
  private readonly deflater = new SpdyHeaderBlockDeflater();
  private next = 1;
  readonly ids: Record<string, number> = {};

  open(...types: string[]): Buffer {
    return Buffer.concat(types.map((t) => {
      this.ids[t] = this.next;
      const frame = encodeSynStream({ streamId: this.next, headerBlock: this.deflater.deflate([['streamtype', t]]) });
      this.next += 2;
      return frame;
    }));
  }
}

const server = (opcode: number, payload: Buffer | string, fin = true): Buffer => encodeWsFrame({ opcode, payload: Buffer.from(payload), fin });
const msg = (channel: number, data: string | Buffer): Buffer => server(2, Buffer.concat([Buffer.of(channel), Buffer.from(data)]));

interface Run {
  /** What the client was sent, decoded: `SYN_REPLY 1`, `DATA 5 "hi"`, `DATA 5 FIN`, `RST 3`, `GOAWAY 7`, `PING 1`. */
  client: string[];
  /** What the upstream was sent, decoded: `binary 00616263`, `close 03e8`, `ping`, `pong 70`. */
  upstream: string[];
  ends: string[];
  raw: { client: string; upstream: string };
  bridge: SpdyToWebSocketBridge;
}

function play(steps: Step[], o: { client?: string; upstream?: string; streams: ExpectedStreams }, cut: (b: Buffer) => Buffer[] = (b) => [b]): Run {
  const toClient: Buffer[] = [];
  const toUpstream: Buffer[] = [];
  const ends: string[] = [];
  const bridge = new SpdyToWebSocketBridge({
    clientProtocol: o.client ?? V4,
    upstreamProtocol: o.upstream ?? V5,
    streams: o.streams,
    maskKey: () => KEY,
    out: {
      toClient: (b, body) => (toClient.push(b, ...frameBodyParts(body)), true),
      toUpstream: (b, body) => (toUpstream.push(b, ...frameBodyParts(body)), true),
      endClient: (by) => void ends.push(`client by ${by}`),
      endUpstream: (by) => void ends.push(`upstream by ${by}`),
    },
  });
  for (const s of steps) {
    if (s.from === 'client') for (const c of cut(s.bytes)) bridge.fromClient(c);
    else if (s.from === 'upstream') for (const c of cut(s.bytes)) bridge.fromUpstream(c);
    else if (s.from === 'client-end') bridge.clientEnded();
    else if (s.from === 'upstream-end') bridge.upstreamEnded();
    else bridge.keepalive();
  }
  const c = Buffer.concat(toClient);
  const u = Buffer.concat(toUpstream);
  return { client: spdyLines(c), upstream: decodeUpstream(u), ends, raw: { client: c.toString('hex'), upstream: u.toString('hex') }, bridge };
}

function decodeUpstream(bytes: Buffer): string[] {
  const out: string[] = [];
  let parts: Buffer[] = [];
  const names: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  new WebSocketFrameDecoder({
    frame: (h) => {
      if (!h.fin || !h.masked) out.push(`bad frame fin=${h.fin} masked=${h.masked}`);
      parts = [];
    },
    payload: (s) => parts.push(s.data),
    frameEnd: (h) => {
      const p = Buffer.concat(parts);
      out.push(`${names[h.opcode]}${p.length ? ` ${p.length > 64 ? `${p.length} bytes` : p.toString('hex')}` : ''}`);
    },
    anomaly: (a) => out.push(`anomaly ${a.code}`),
  }, { expectMasked: true }).push(bytes);
  return out;
}

/** Plays `steps` whole, then in every chunking, and checks the bytes written never change. */
function playAllChunkings(steps: Step[], o: Parameters<typeof play>[1]): Run {
  const whole = play(steps, o);
  const sizes = steps.map((s) => ('bytes' in s ? s.bytes.length : 0));
  const longest = Math.max(...sizes);
  for (const at of cutPoints(longest, { exhaustiveLimit: 600, edgeBytes: 200, stride: 97 })) {
    expect(play(steps, o, (b) => splitAt(b, [at])).raw, `split at ${at}`).toEqual(whole.raw);
  }
  expect(play(steps, o, oneByteAtATime).raw, 'one byte at a time').toEqual(whole.raw);
  for (let seed = 1; seed <= 20; seed++) {
    let n = 0;
    expect(play(steps, o, (b) => randomChunks(b, seed * 100 + n++, 13)).raw, `random run ${seed}`).toEqual(whole.raw);
  }
  return whole;
}

describe('SpdyToWebSocketBridge', () => {
  it('exec -i: upstream output waits for the streams; stdin, its end (FF 00), pings, fragments, the status and the close', () => {
    const k = new Kubectl();
    const r = playAllChunkings([
      { from: 'upstream', bytes: Buffer.concat([msg(1, ''), msg(1, 'early\n')]) },
      { from: 'client', bytes: k.open('error', 'stdin', 'stdout', 'stderr') },
      { from: 'client', bytes: Buffer.concat([encodeDataFrame(3, Buffer.from('abc')), encodePing(1), encodeDataFrame(3, Buffer.alloc(0), true)]) },
      { from: 'keepalive' },
      {
        from: 'upstream',
        bytes: Buffer.concat([
          server(9, 'p'),
          server(2, Buffer.from('\x01xy', 'latin1'), false), server(9, ''), server(0, 'z'),
          msg(2, 'err\n'), msg(3, EXIT_3.slice(0, 40)), msg(3, EXIT_3.slice(40)), msg(7, 'ignored'),
          server(8, encodeClosePayload(1000)),
        ]),
      },
    ], { streams: { stdin: true, stdout: true, stderr: true, resize: false } });
    expect(r.client).toEqual([
      'SYN_REPLY 1', 'SYN_REPLY 3', 'SYN_REPLY 5', 'SYN_REPLY 7',
      'DATA 5 "early\\n"',
      'PING 1',
      'DATA 5 "xy"', 'DATA 5 "z"', 'DATA 7 "err\\n"',
      `DATA 1 ${JSON.stringify(EXIT_3.slice(0, 40))}`, `DATA 1 ${JSON.stringify(EXIT_3.slice(40))}`,
      'DATA 5 FIN', 'DATA 7 FIN', 'DATA 1 FIN', 'RST 3 5', 'GOAWAY 7 0',
    ]);
    expect(r.upstream).toEqual(['binary 00616263', 'binary ff00', 'ping', 'pong 70', 'pong', 'close 03e8']);
    expect(r.ends).toEqual(['upstream by upstream', 'client by upstream']);
    expect(r.bridge.finished).toBe(true);
  });

  it('a v3 client with a tty: resize goes to channel 4 verbatim, and the JSON Status becomes the text of v1-v3', () => {
    const k = new Kubectl();
    const resize = '{"Width":100,"Height":30}\n';
    const r = playAllChunkings([
      { from: 'client', bytes: k.open('error', 'stdin', 'stdout', 'resize') },
      { from: 'client', bytes: Buffer.concat([encodeDataFrame(7, Buffer.from(resize)), encodeDataFrame(3, Buffer.from('exit 5\r'))]) },
      { from: 'upstream', bytes: Buffer.concat([msg(1, 'bye\r\n'), msg(3, EXIT_3), server(8, encodeClosePayload(1000))]) },
    ], { client: 'v3.channel.k8s.io', streams: { stdin: true, stdout: true, stderr: false, resize: true } });
    expect(r.upstream).toEqual([`binary 04${Buffer.from(resize).toString('hex')}`, `binary 00${Buffer.from('exit 5\r').toString('hex')}`, 'close 03e8']);
    expect(r.client).toEqual([
      'SYN_REPLY 1', 'SYN_REPLY 3', 'SYN_REPLY 5', 'SYN_REPLY 7',
      'DATA 5 "bye\\r\\n"',
      'DATA 5 FIN', 'DATA 1 "command terminated with non-zero exit code: exit status 3"', 'DATA 1 FIN', 'RST 3 5', 'RST 7 5', 'GOAWAY 7 0',
    ]);
  });

  it('statusAsText: nothing on success, the message on failure, other text as it is', () => {
    expect(statusAsText(Buffer.from('{"metadata":{},"status":"Success"}')).length).toBe(0);
    expect(statusAsText(Buffer.from(EXIT_3)).toString()).toBe('command terminated with non-zero exit code: exit status 3');
    expect(statusAsText(Buffer.from('not json')).toString()).toBe('not json');
  });

  it('the upstream cut without a close frame or status: a failure Status, so kubectl does not report success', () => {
    const k = new Kubectl();
    const r = play([
      { from: 'client', bytes: k.open('error', 'stdout', 'stderr') },
      { from: 'upstream', bytes: msg(1, 'partial') },
      { from: 'upstream-end' },
    ], { streams: { stdin: false, stdout: true, stderr: true, resize: false } });
    const status = r.client.find((l) => l.startsWith('DATA 1 "'))!;
    expect(JSON.parse(JSON.parse(status.slice('DATA 1 '.length)) as string)).toMatchObject({ status: 'Failure', code: 500, message: expect.stringContaining('without a close frame') });
    expect(r.client.slice(-5)).toEqual(['DATA 3 FIN', 'DATA 5 FIN', status, 'DATA 1 FIN', 'GOAWAY 5 0']);
  });

  it('a normal close with no status is passed on as none (what the server said)', () => {
    const k = new Kubectl();
    const r = play([
      { from: 'client', bytes: k.open('error', 'stdout') },
      { from: 'upstream', bytes: server(8, encodeClosePayload(1000)) },
    ], { streams: { stdin: false, stdout: true, stderr: false, resize: false } });
    expect(r.client).toEqual(['SYN_REPLY 1', 'SYN_REPLY 3', 'DATA 3 FIN', 'DATA 1 FIN', 'GOAWAY 3 0']);
  });

  it('an upstream that ends before the client created its streams is handled once they exist', () => {
    const k = new Kubectl();
    const r = play([
      { from: 'upstream', bytes: Buffer.concat([msg(1, 'fast\n'), msg(3, '{"metadata":{},"status":"Success"}'), server(8, encodeClosePayload(1000))]) },
      { from: 'upstream-end' },
      { from: 'client', bytes: k.open('error') },
      { from: 'client', bytes: k.open('stdout') },
    ], { streams: { stdin: false, stdout: true, stderr: false, resize: false } });
    // The status goes on as it comes (v4 to v4 is verbatim); the FINs follow at the close.
    expect(r.client).toEqual(['SYN_REPLY 1', 'SYN_REPLY 3', 'DATA 3 "fast\\n"', 'DATA 1 "{\\"metadata\\":{},\\"status\\":\\"Success\\"}"', 'DATA 3 FIN', 'DATA 1 FIN', 'GOAWAY 3 0']);
  });

  it('v4 upstream: the end of stdin cannot be carried, and is not turned into anything else', () => {
    const k = new Kubectl();
    const r = play([
      { from: 'client', bytes: k.open('error', 'stdin', 'stdout') },
      { from: 'client', bytes: Buffer.concat([encodeDataFrame(3, Buffer.from('x')), encodeDataFrame(3, Buffer.alloc(0), true)]) },
    ], { upstream: 'v4.channel.k8s.io', streams: { stdin: true, stdout: true, stderr: false, resize: false } });
    expect(r.upstream).toEqual(['binary 0078']);
  });

  it('the client goes away (GOAWAY) mid-command: close 1000 upstream, both legs end', () => {
    const k = new Kubectl();
    const r = play([
      { from: 'client', bytes: k.open('error', 'stdout') },
      { from: 'client', bytes: encodeGoaway(0) },
      { from: 'upstream', bytes: msg(1, 'late') },
    ], { streams: { stdin: false, stdout: true, stderr: false, resize: false } });
    expect(r.upstream).toEqual(['close 03e8']);
    expect(r.ends).toEqual(['upstream by client', 'client by client']);
    expect(r.client).toEqual(['SYN_REPLY 1', 'SYN_REPLY 3']);
  });

  it('a 1 MiB stdin frame and a 1 MiB stdout message stream through in segments, nothing held whole', () => {
    const k = new Kubectl();
    const big = Buffer.alloc(1024 * 1024, 0x61);
    const r = play([
      { from: 'client', bytes: k.open('error', 'stdin', 'stdout') },
      { from: 'client', bytes: encodeDataFrame(3, big) },
      { from: 'upstream', bytes: msg(1, big) },
    ], { streams: { stdin: true, stdout: true, stderr: false, resize: false } });
    // 64 KiB decoder segments, each one whole message upstream, and DATA frames of at most 32 KiB.
    expect(r.upstream).toHaveLength(16);
    expect(r.upstream.every((l) => l === `binary ${64 * 1024 + 1} bytes`)).toBe(true);
    const frames = r.client.filter((l) => l.startsWith('DATA 5 "')).map((l) => {
      const text = JSON.parse(l.slice('DATA 5 '.length)) as string;
      return /^\d+ bytes$/.test(text) ? parseInt(text, 10) : text.length;
    });
    expect(frames.every((n) => n <= 32 * 1024)).toBe(true);
    expect(frames.reduce((a, b) => a + b, 0)).toBe(big.length);
  });

  it('abort (the stream creation timeout): a failure Status, close upstream', () => {
    const k = new Kubectl();
    const toClient: Buffer[] = [];
    const b = new SpdyToWebSocketBridge({
      clientProtocol: V4, upstreamProtocol: V5, streams: { stdin: true, stdout: true, stderr: false, resize: false }, maskKey: () => KEY,
      out: { toClient: (x, body) => (toClient.push(x, ...frameBodyParts(body)), true), toUpstream: () => true, endClient: () => {}, endUpstream: () => {} },
    });
    b.fromClient(k.open('error'));
    expect(b.missingStreams).toEqual(['stdin', 'stdout']);
    b.abort('timed out waiting for client to create streams');
    expect(spdyLines(Buffer.concat(toClient))).toEqual(['SYN_REPLY 1', expect.stringContaining('timed out waiting for client to create streams'), 'DATA 1 FIN', 'GOAWAY 1 0']);
  });
});

describe('encodeClientFrame', () => {
  it('writes what encodeWsFrame writes for the same masked frame, at every length encoding', () => {
    for (const n of [0, 1, 124, 125, 126, 65535, 65536, 70000]) {
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = (i * 7) & 0xff;
      expect(encodeClientFrame(2, payload, KEY).equals(encodeWsFrame({ opcode: 2, payload, mask: KEY })), `length ${n}`).toBe(true);
      expect(encodeClientFrame(2, payload, KEY, 3).equals(encodeWsFrame({ opcode: 2, payload: Buffer.concat([Buffer.of(3), payload]), mask: KEY })), `channel, length ${n}`).toBe(true);
    }
  });

  it('masks correctly wherever the pool places the buffer', () => {
    for (let skew = 0; skew < 8; skew++) {
      Buffer.allocUnsafe(skew);
      const payload = Buffer.from('a payload long enough for the word loop', 'latin1');
      expect(encodeClientFrame(1, payload, KEY).equals(encodeWsFrame({ opcode: 1, payload, mask: KEY }))).toBe(true);
    }
  });
});


