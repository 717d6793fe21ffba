/**
 * The tunnel bridge: SPDY bytes from the client go upstream inside masked binary messages, and
 * the binary payload from upstream (in any fragmentation, with empty messages and pings between)
 * comes back as the same byte stream, for every chunking of the upstream's bytes.
 */
import { describe, expect, it } from 'vitest';
import { encodeDataFrame, encodePing } from '../../src/codec/spdy-encode.js';
import { encodeClosePayload, encodeWsFrame } from '../../src/codec/websocket-encode.js';
import { WebSocketFrameDecoder } from '../../src/codec/websocket-frame.js';
import { frameBodyParts } from '../../src/translate/remotecommand-bridge.js';
import { SpdyTunnelBridge } from '../../src/translate/tunnel-bridge.js';
import { cutPoints } from '../support/chunking.js';
import { oneByteAtATime, randomChunks, splitAt } from '../support/split.js';

const KEY = Buffer.of(9, 8, 7, 6);
const frame = (opcode: number, payload: Buffer | string, fin = true): Buffer => encodeWsFrame({ opcode, payload: Buffer.from(payload), fin });

function run(upstream: Buffer, cut: (b: Buffer) => Buffer[], client: Buffer[] = []) {
  const toClient: Buffer[] = [];
  const toUpstream: Buffer[] = [];
  const ends: string[] = [];
  const b = new SpdyTunnelBridge({
    maskKey: () => KEY,
    out: {
      toClient: (x, body) => (toClient.push(x, ...frameBodyParts(body)), true),
      toUpstream: (x, body) => (toUpstream.push(x, ...frameBodyParts(body)), true),
      endClient: (by) => void ends.push(`client by ${by}`),
      endUpstream: (by) => void ends.push(`upstream by ${by}`),
    },
  });
  for (const c of client) b.fromClient(c);
  for (const c of cut(upstream)) b.fromUpstream(c);
  const frames: string[] = [];
  const parts: Buffer[] = [];
  let payload: Buffer[] = [];
  new WebSocketFrameDecoder({
    frame: () => void (payload = []),
    payload: (s) => void payload.push(s.data),
    frameEnd: (h) => {
      const p = Buffer.concat(payload);
      frames.push(`${h.opcode}${h.masked ? ' masked' : ''} ${p.length}`);
      if (h.opcode === 2) parts.push(p);
    },
    anomaly: (a) => frames.push(`anomaly ${a.code}`),
  }, { expectMasked: true }).push(Buffer.concat(toUpstream));
  return { client: Buffer.concat(toClient), upstream: { frames, bytes: Buffer.concat(parts) }, ends, bridge: b };
}

describe('SpdyTunnelBridge', () => {
  const spdy = Buffer.concat([encodePing(2), encodeDataFrame(1, Buffer.from('HTTP/1.1 200 OK\r\n\r\nhello')), encodeDataFrame(1, Buffer.alloc(0), true)]);
  // As the API server writes it: arbitrary slices, a fragmented message ending in an empty
  // frame, an empty message, a ping between fragments, then close 1000.
  const upstream = Buffer.concat([
    frame(2, spdy.subarray(0, 5)),
    frame(2, spdy.subarray(5, 20), false), frame(9, 'hb'), frame(0, spdy.subarray(20), false), frame(0, '', true),
    frame(2, ''),
    frame(1, 'text is not tunnel bytes'),
    frame(8, encodeClosePayload(1000)),
  ]);

  it('passes the byte stream through in every chunking, answers the ping, and ends both legs at the close', () => {
    const whole = run(upstream, (b) => [b], [spdy.subarray(0, 3), spdy.subarray(3)]);
    expect(whole.client.equals(spdy)).toBe(true);
    expect(whole.upstream.bytes.equals(spdy)).toBe(true);
    expect(whole.upstream.frames).toEqual([`2 masked 3`, `2 masked ${spdy.length - 3}`, '10 masked 2', '8 masked 2']);
    expect(whole.ends).toEqual(['upstream by upstream', 'client by upstream']);
    for (const at of cutPoints(upstream.length)) expect(run(upstream, (b) => splitAt(b, [at])).client.equals(spdy), `split at ${at}`).toBe(true);
    expect(run(upstream, oneByteAtATime).client.equals(spdy)).toBe(true);
    for (let seed = 1; seed <= 20; seed++) expect(run(upstream, (b) => randomChunks(b, seed, 7)).client.equals(spdy)).toBe(true);
  });

  it("the client's end closes the tunnel with 1000; nothing is sent after it", () => {
    const r = run(Buffer.alloc(0), () => [], [Buffer.from('x')]);
    r.bridge.clientEnded();
    r.bridge.fromClient(Buffer.from('late'));
    expect(r.ends).toEqual(['upstream by client', 'client by client']);
  });
});
