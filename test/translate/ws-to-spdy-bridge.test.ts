/**
 * The WebSocket→SPDY bridges as playbooks: a scripted kubectl (masked WebSocket frames) on one
 * side, a scripted kubelet (SPDY frames from the project's encoders) on the other, and what the
 * bridge writes to each, decoded back. Every playbook is also fed with each step's bytes split
 * at every offset, one byte at a time and in seeded random chunks: the bytes written must be
 * identical, because neither decoder's segment edges depend on how TCP cut the input.
 */
import { describe, expect, it } from 'vitest';
import { encodeDataFrame, encodeGoaway, encodePing, encodeRstStream, encodeSynReply, SpdyHeaderBlockDeflater } from '../../src/codec/spdy-encode.js';
import { encodeClosePayload, encodeWsFrame } from '../../src/codec/websocket-encode.js';
import { WebSocketFrameDecoder } from '../../src/codec/websocket-frame.js';
import type { ExpectedStreams } from '../../src/translate/remotecommand-bridge.js';
import { TunnelToSpdyBridge } from '../../src/translate/tunnel-bridge.js';
import { WebSocketToSpdyBridge } from '../../src/translate/ws-to-spdy-bridge.js';
import { cutPoints } from '../support/chunking.js';
import { spdyLines } from '../support/spdy-lines.js';
import { oneByteAtATime, randomChunks, splitAt } from '../support/split.js';

type Step = { from: 'client' | 'upstream'; bytes: Buffer } | { from: 'client-end' | 'upstream-end' | 'keepalive' | 'start' };

const KEY = Buffer.of(0x11, 0x22, 0x33, 0x44);
const V4 = 'v4.channel.k8s.io';
const V5 = 'v5.channel.k8s.io';
const V1 = 'channel.k8s.io';
const EXIT_3 = '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}';
const SUCCESS = '{"metadata":{},"status":"Success"}';

/** A client's masked frame; `channel` prefixes the payload. */
const client = (opcode: number, payload: Buffer | string, fin = true): Buffer => encodeWsFrame({ opcode, payload: Buffer.from(payload), fin, mask: KEY });
const msg = (channel: number, data: string | Buffer): Buffer => client(2, Buffer.concat([Buffer.of(channel), Buffer.from(data)]));

/** The kubelet's side: SYN_REPLY per stream, one deflate context. */
class Kubelet {
  private readonly deflater = new SpdyHeaderBlockDeflater();
  reply(...ids: number[]): Buffer {
    return Buffer.concat(ids.map((id) => encodeSynReply({ streamId: id, headerBlock: this.deflater.deflate([]) })));
  }
}

interface Run {
  /** What the client was sent, decoded: `binary 01…` (hex), `close 03e8`, `ping`, `pong 70`. */
  client: string[];
  /** What the upstream was sent, decoded: `SYN_STREAM 1 error`, `DATA 3 "hi"`, `DATA 3 FIN`, `RST 3 5`, `GOAWAY 0 0`, `PING 1`. */
  upstream: string[];
  ends: string[];
  problems: string[];
  raw: { client: string; upstream: string };
}

type Make = (out: ConstructorParameters<typeof WebSocketToSpdyBridge>[0]['out']) => WebSocketToSpdyBridge | TunnelToSpdyBridge;

function play(steps: Step[], make: Make, cut: (b: Buffer) => Buffer[] = (b) => [b]): Run {
  const toClient: Buffer[] = [];
  const toUpstream: Buffer[] = [];
  const ends: string[] = [];
  const problems: string[] = [];
  const bridge = make({
    toClient: (b, body) => (toClient.push(b, ...(body ? [body] : [])), true),
    toUpstream: (b, body) => (toUpstream.push(b, ...(body ? [body] : [])), true),
    endClient: (by) => void ends.push(`client by ${by}`),
    endUpstream: (by) => void ends.push(`upstream by ${by}`),
    problem: (m) => void problems.push(m),
    notice: (m) => void problems.push(`notice: ${m}`),
  });
  for (const s of steps) {
    if (s.from === 'client') for (const c of cut(s.bytes)) bridge.fromClient(c);
    else if (s.from === 'upstream') for (const c of cut(s.bytes)) bridge.fromUpstream(c);
    else if (s.from === 'client-end') bridge.clientEnded();
    else if (s.from === 'upstream-end') bridge.upstreamEnded();
    else if (s.from === 'start') (bridge as WebSocketToSpdyBridge).start?.();
    else bridge.keepalive();
  }
  const c = Buffer.concat(toClient);
  const u = Buffer.concat(toUpstream);
  return { client: decodeClient(c), upstream: spdyLines(u), ends, problems, raw: { client: c.toString('hex'), upstream: u.toString('hex') } };
}

const remote = (streams: ExpectedStreams, clientProtocol = V5, upstreamProtocol = V4): Make => (out) => new WebSocketToSpdyBridge({ clientProtocol, upstreamProtocol, streams, out });
const tunnel: Make = (out) => new TunnelToSpdyBridge({ out });

function decodeClient(bytes: Buffer): string[] {
  const out: string[] = [];
  let parts: Buffer[] = [];
  const names: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  new WebSocketFrameDecoder({
    frame: (h) => {
      if (!h.fin || h.masked) out.push(`bad frame fin=${h.fin} masked=${h.masked}`);
      parts = [];
    },
    payload: (s) => parts.push(s.data),
    frameEnd: (h) => {
      const p = Buffer.concat(parts);
      // Data messages as their channel and text, control frames in hex.
      if (h.opcode === 2 && p.length > 0) out.push(`binary ${p[0]} ${JSON.stringify(p.length > 300 ? `${p.length} bytes` : p.subarray(1).toString('latin1'))}`);
      else out.push(`${names[h.opcode]}${p.length ? ` ${p.toString('hex')}` : ''}`);
    },
    anomaly: (a) => out.push(`anomaly ${a.code}`),
  }, { expectMasked: false }).push(bytes);
  return out;
}

/**
 * Plays `steps` whole, then in every chunking, and checks that what is written never changes:
 * the bytes themselves, or what `view` keeps of them (the tunnel's message boundaries follow
 * the upstream's reads and mean nothing).
 */
function playAllChunkings(steps: Step[], make: Make, view: (r: Run) => unknown = (r) => r.raw): Run {
  const whole = play(steps, make);
  const longest = Math.max(...steps.map((s) => ('bytes' in s ? s.bytes.length : 0)));
  for (const at of cutPoints(longest, { exhaustiveLimit: 600, edgeBytes: 200, stride: 97 })) {
    expect(view(play(steps, make, (b) => splitAt(b, [at]))), `split at ${at}`).toEqual(view(whole));
  }
  expect(view(play(steps, make, oneByteAtATime)), 'one byte at a time').toEqual(view(whole));
  for (let seed = 1; seed <= 20; seed++) {
    let n = 0;
    expect(view(play(steps, make, (b) => randomChunks(b, seed * 100 + n++, 13))), `random run ${seed}`).toEqual(view(whole));
  }
  return whole;
}

const data = (channel: number, text: string): string => `binary ${channel} ${JSON.stringify(text)}`;

/** The tunnel's view: the bytes upstream, and the client's frames with binary payloads joined. */
function tunnelView(r: Run): unknown {
  const joined: string[] = [];
  for (const f of r.client) {
    const m = /^binary (\d+) "(.*)"$/.exec(f);
    if (m && joined.length && joined.at(-1)!.startsWith('bytes ')) joined[joined.length - 1] += Buffer.of(Number(m[1])).toString('hex') + Buffer.from(JSON.parse(`"${m[2]}"`) as string, 'latin1').toString('hex');
    else if (m) joined.push('bytes ' + Buffer.of(Number(m[1])).toString('hex') + Buffer.from(JSON.parse(`"${m[2]}"`) as string, 'latin1').toString('hex'));
    else joined.push(f);
  }
  return { upstream: r.raw.upstream, client: joined, ends: r.ends };
}
const EXEC_I: ExpectedStreams = { stdin: true, stdout: true, stderr: true, resize: false };

describe('WebSocket exec to SPDY', () => {
  it('exec -i, v5 client, v4 upstream: the streams, stdin, its end (FF 00 → FIN), pings on each leg, output, the status verbatim, the close', () => {
    const kubelet = new Kubelet();
    const r = playAllChunkings([
      { from: 'start' },
      { from: 'upstream', bytes: kubelet.reply(1, 3, 5, 7) },
      { from: 'client', bytes: Buffer.concat([msg(0, 'abc'), client(9, 'p'), msg(0, ''), client(2, Buffer.of(0xff), false), client(0, Buffer.of(0))]) },
      { from: 'upstream', bytes: Buffer.concat([encodePing(2), encodeDataFrame(5, Buffer.from('abc')), encodeDataFrame(7, Buffer.from('warn')), encodeDataFrame(5, Buffer.alloc(0), true), encodeDataFrame(7, Buffer.alloc(0), true)]) },
      { from: 'keepalive' },
      { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(1, Buffer.from(EXIT_3.slice(0, 50))), encodeDataFrame(1, Buffer.from(EXIT_3.slice(50)), true), encodeRstStream(3, 5), encodeGoaway(7, 0)]) },
      { from: 'upstream-end' },
    ], remote(EXEC_I));
    expect(r.upstream).toEqual([
      'SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stdin', 'SYN_STREAM 5 streamtype=stdout', 'SYN_STREAM 7 streamtype=stderr',
      'DATA 3 "abc"', 'DATA 3 FIN', 'PING 2', 'PING 1', 'RST 3 5', 'GOAWAY 0 0',
    ]);
    expect(r.client).toEqual([data(1, ''), 'pong 70', data(1, 'abc'), data(2, 'warn'), 'ping', data(3, EXIT_3), 'close 03e8']);
    expect(r.ends).toEqual(['upstream by upstream', 'client by upstream']);
  });

  it('a tty with a resize: channel 4 goes to the resize stream verbatim, no stderr stream; the first message is on stdout', () => {
    const r = playAllChunkings([
      { from: 'start' },
      { from: 'client', bytes: Buffer.concat([msg(4, '{"Width":100,"Height":30}\n'), msg(0, 'ls\r')]) },
      { from: 'upstream', bytes: Buffer.concat([encodeDataFrame(1, Buffer.from(SUCCESS), true)]) },
    ], remote({ stdin: true, stdout: true, stderr: false, resize: true }));
    expect(r.upstream).toEqual(['SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stdin', 'SYN_STREAM 5 streamtype=stdout', 'SYN_STREAM 7 streamtype=resize', 'DATA 7 "{\\"Width\\":100,\\"Height\\":30}\\n"', 'DATA 3 "ls\\r"', 'RST 3 5', 'RST 7 5', 'GOAWAY 0 0']);
    expect(r.client).toEqual([data(1, ''), data(3, SUCCESS), 'close 03e8']);
  });

  it('only stderr asked for: the first message is on channel 2, stdin data for a stream not asked for is dropped', () => {
    const r = play([{ from: 'start' }, { from: 'client', bytes: msg(0, 'x') }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(SUCCESS), true) }], remote({ stdin: false, stdout: false, stderr: true, resize: false }));
    expect(r.upstream).toEqual(['SYN_STREAM 1 streamtype=error', 'SYN_STREAM 3 streamtype=stderr', 'GOAWAY 0 0']);
    expect(r.client[0]).toBe(data(2, ''));
  });

  it('a v1 client (channel.k8s.io): the JSON Status becomes the text of v1, success becomes nothing', () => {
    const fail = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(EXIT_3), true) }], remote(EXEC_I, V1));
    expect(fail.client).toEqual([data(1, ''), data(3, 'command terminated with non-zero exit code: exit status 3'), 'close 03e8']);
    const ok = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from(SUCCESS), true) }], remote(EXEC_I, ''));
    expect(ok.client).toEqual([data(1, ''), 'close 03e8']);
  });

  it('a v3 upstream (text status) to a v5 client: its text becomes a Failure Status, nothing becomes Success', () => {
    const fail = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.from('boom'), true) }], remote(EXEC_I, V5, 'v3.channel.k8s.io'));
    expect(fail.client[1]).toBe(data(3, '{"metadata":{},"status":"Failure","message":"boom","reason":"InternalError","code":500}'));
    const ok = play([{ from: 'start' }, { from: 'upstream', bytes: encodeDataFrame(1, Buffer.alloc(0), true) }], remote(EXEC_I, V5, 'v3.channel.k8s.io'));
    expect(ok.client).toEqual([data(1, ''), 'close 03e8']);
  });

  it('a v4 client cannot send the end of stdin: a close signal from it is noted and not carried', () => {
    const r = play([{ from: 'start' }, { from: 'client', bytes: msg(255, Buffer.of(0)) }], remote(EXEC_I, V4));
    expect(r.upstream).not.toContain('DATA 3 FIN');
    expect(r.problems).toEqual(['notice: the client sent a close signal, which v4.channel.k8s.io does not have: not carried']);
  });

  it('the upstream ends before any status: a failure Status, so the client does not report success', () => {
    const r = play([{ from: 'start' }, { from: 'upstream-end' }], remote(EXEC_I));
    expect(r.client[1]).toContain('kubewire: the upstream ended the SPDY connection before any status (translating WebSocket to SPDY)');
    expect(r.client[1]).toMatch(/^binary 3 /);
    expect(r.client.at(-1)).toBe('close 03e8');
  });

  it('the client leaves (close frame): the upstream gets RST and GOAWAY, both legs end', () => {
    const r = playAllChunkings([{ from: 'start' }, { from: 'client', bytes: client(8, encodeClosePayload(1000)) }], remote(EXEC_I));
    expect(r.upstream.slice(-2)).toEqual(['RST 3 5', 'GOAWAY 0 0']);
    expect(r.ends).toEqual(['upstream by client', 'client by client']);
  });
});

describe('WebSocket port-forward tunnel to SPDY', () => {
  it('binary payloads are the SPDY bytes upstream, upstream bytes come down as binary messages; pings answered; close ends both', () => {
    const syn = Buffer.from('80030001000000200000000100000000', 'hex');
    const r = playAllChunkings([
      { from: 'client', bytes: Buffer.concat([client(2, syn.subarray(0, 8)), client(2, syn.subarray(8)), client(9, ''), client(2, '')]) },
      { from: 'upstream', bytes: encodePing(1) },
      { from: 'keepalive' },
      { from: 'client', bytes: client(8, encodeClosePayload(1000)) },
    ], tunnel, tunnelView);
    expect(r.raw.upstream).toBe(syn.toString('hex'));
    expect(tunnelView(r)).toMatchObject({ client: ['pong', `bytes ${encodePing(1).toString('hex')}`, 'ping'] });
    expect(r.ends).toEqual(['upstream by client', 'client by client']);
  });

  it('the upstream ends: close 1000 to the client', () => {
    const r = play([{ from: 'upstream', bytes: Buffer.of(1, 2, 3) }, { from: 'upstream-end' }], tunnel);
    expect(r.client).toEqual([data(1, '\x02\x03'), 'close 03e8']);
    expect(r.ends).toEqual(['upstream by upstream', 'client by upstream']);
  });

  it('a text message is not part of the tunnel: noted, both legs end with 1002 to the client', () => {
    const r = play([{ from: 'client', bytes: client(1, 'hi') }], tunnel);
    expect(r.client).toEqual(['close 03ea']);
    expect(r.problems).toEqual(['the client sent a text message in the port-forward tunnel']);
  });
});
