/**
 * Playbooks for the WebSocket→SPDY bridges: a scripted client (masked WebSocket frames) on one
 * side, a scripted upstream (SPDY frames from the project's encoders) on the other, and what
 * the bridge writes to each, decoded back to lines. `playAllChunkings` plays a book whole,
 * then with each step's bytes split at every offset, one byte at a time and in seeded random
 * chunks: what is written must not change, because neither decoder's segment edges depend on
 * how TCP cut the input.
 */
import { expect } from 'vitest';
import { encodeSynReply, SpdyHeaderBlockDeflater } from '../../src/codec/spdy-encode.js';
import { encodeWsFrame } from '../../src/codec/websocket-encode.js';
import { WebSocketFrameDecoder } from '../../src/codec/websocket-frame.js';
import { frameBodyParts, type BridgeOutput } from '../../src/translate/remotecommand-bridge.js';
import type { Bridge } from '../../src/translate/shell.js';
import { cutPoints } from './chunking.js';
import { spdyLines } from './spdy-lines.js';
import { oneByteAtATime, randomChunks, splitAt } from './split.js';

export type Step = { from: 'client' | 'upstream'; bytes: Buffer } | { from: 'client-end' | 'upstream-end' | 'keepalive' | 'start' };

export const KEY = Buffer.of(0x11, 0x22, 0x33, 0x44);

/** A client's masked frame. */
export const client = (opcode: number, payload: Buffer | string, fin = true): Buffer => encodeWsFrame({ opcode, payload: Buffer.from(payload), fin, mask: KEY });
/** A client's binary channel message. */
export const msg = (channel: number, data: string | Buffer): Buffer => client(2, Buffer.concat([Buffer.of(channel), Buffer.from(data)]));
/** A client's base64 channel message: text `'0'+channel` + base64. */
export const msg64 = (channel: number, data: string | Buffer): Buffer => client(1, String.fromCharCode(0x30 + channel) + Buffer.from(data).toString('base64'));

/** The kubelet's side: SYN_REPLY per stream, one deflate context. */
export class Kubelet {
  private readonly deflater = new SpdyHeaderBlockDeflater();
  reply(...ids: number[]): Buffer {
    return Buffer.concat(ids.map((id) => encodeSynReply({ streamId: id, headerBlock: this.deflater.deflate([]) })));
  }
}

export interface Run {
  /** What the client was sent, decoded: `binary 1 "hi"`, `text 1 "hi"` (base64 decoded), `close 03e8`, `ping`, `pong 70`. */
  client: string[];
  /** What the upstream was sent, decoded: `SYN_STREAM 1 streamtype=error`, `DATA 3 "hi"`, `DATA 3 FIN`, `RST 3 5`, `GOAWAY 0 0`, `PING 1`. */
  upstream: string[];
  ends: string[];
  problems: string[];
  raw: { client: string; upstream: string };
}

export type Make = (out: BridgeOutput) => Bridge;

export function play(steps: Step[], make: Make, cut: (b: Buffer) => Buffer[] = (b) => [b]): Run {
  const toClient: Buffer[] = [];
  const toUpstream: Buffer[] = [];
  const ends: string[] = [];
  const problems: string[] = [];
  const bridge = make({
    toClient: (b, body) => (toClient.push(b, ...frameBodyParts(body)), true),
    toUpstream: (b, body) => (toUpstream.push(b, ...frameBodyParts(body)), true),
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
    else if (s.from === 'start') bridge.start?.();
    else bridge.keepalive();
  }
  const c = Buffer.concat(toClient);
  const u = Buffer.concat(toUpstream);
  return { client: decodeClient(c), upstream: spdyLines(u), ends, problems, raw: { client: c.toString('hex'), upstream: u.toString('hex') } };
}

/** The frames a bridge wrote to its client, one line each; text data messages base64-decoded. */
export function decodeClient(bytes: Buffer): string[] {
  const out: string[] = [];
  let parts: Buffer[] = [];
  const names: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  const shown = (b: Buffer): string => JSON.stringify(b.length > 300 ? `${b.length} bytes` : b.toString('latin1'));
  new WebSocketFrameDecoder({
    frame: (h) => {
      if (!h.fin || h.masked) out.push(`bad frame fin=${h.fin} masked=${h.masked}`);
      parts = [];
    },
    payload: (s) => parts.push(s.data),
    frameEnd: (h) => {
      const p = Buffer.concat(parts);
      // Data messages as their channel and text, control frames in hex.
      if (h.opcode === 2 && p.length > 0) out.push(`binary ${p[0]} ${shown(p.subarray(1))}`);
      else if (h.opcode === 1 && p.length > 0) {
        const text = p.subarray(1).toString('latin1');
        out.push(/^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0 ? `text ${p[0]! - 0x30} ${shown(Buffer.from(text, 'base64'))}` : `bad base64 ${JSON.stringify(p.toString('latin1'))}`);
      } else out.push(`${names[h.opcode]}${p.length ? ` ${p.toString('hex')}` : ''}`);
    },
    anomaly: (a) => out.push(`anomaly ${a.code}`),
  }, { expectMasked: false }).push(bytes);
  return out;
}

/**
 * Plays `steps` whole, then in every chunking, and checks that what is written never changes:
 * the bytes themselves, or what `view` keeps of them.
 */
export function playAllChunkings(steps: Step[], make: Make, view: (r: Run) => unknown = (r) => r.raw): Run {
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
