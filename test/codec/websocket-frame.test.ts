import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Anomaly } from '../../src/codec/anomaly.js';
import { AnomalyCode } from '../../src/events/anomaly-codes.js';
import { PAYLOAD_SEGMENT_BYTES } from '../../src/codec/limits.js';
import { encodeClosePayload, encodeWsFrame, type WsFrameSpec } from '../../src/codec/websocket-encode.js';
import {
  WebSocketFrameDecoder,
  WsOpcode,
  parseClosePayload,
  wsOpcodeName,
  type WebSocketFrameDecoderOptions,
  type WsFrameHandler,
  type WsFrameHeader,
  type WsPayloadSegment,
} from '../../src/codec/websocket-frame.js';
import { oneByteAtATime, prng, splitAt } from '../support/split.js';

const SEG = PAYLOAD_SEGMENT_BYTES;
const MAX_BUFFERED = SEG + 14;

interface FrameEntry extends Omit<WsFrameHeader, 'maskKey'> {
  ev: 'frame';
  maskKey: string | null;
}
interface PayloadEntry {
  ev: 'payload';
  frame: number;
  offset: number;
  position: number;
  data: string;
  last: boolean;
}
interface FrameEndEntry {
  ev: 'frameEnd';
  offset: number;
}
interface AnomalyEntry extends Anomaly {
  ev: 'anomaly';
}
type LogEntry = FrameEntry | PayloadEntry | FrameEndEntry | AnomalyEntry;

/** Logs every handler call as a plain object and checks that the calls fit together. */
class Recorder implements WsFrameHandler {
  readonly log: LogEntry[] = [];
  private current: WsFrameHeader | null = null;
  private next = 0;

  frame(h: WsFrameHeader): void {
    if (this.current !== null) throw new Error('frame() while another frame is open');
    this.current = h;
    this.next = 0;
    this.log.push({ ev: 'frame', ...h, maskKey: h.maskKey === null ? null : h.maskKey.toString('hex') });
  }

  payload(s: WsPayloadSegment): void {
    const h = this.current;
    if (h === null || s.frame !== h) throw new Error('payload() outside its frame');
    if (s.position !== this.next) throw new Error(`segment at ${s.position}, expected ${this.next}`);
    if (s.data.length === 0 || s.data.length > SEG) throw new Error(`segment of ${s.data.length} bytes`);
    if (s.offset !== h.offset + h.headerLength + s.position) throw new Error('segment offset');
    this.next += s.data.length;
    if (s.last !== (this.next === h.length)) throw new Error('segment last flag');
    this.log.push({ ev: 'payload', frame: h.offset, offset: s.offset, position: s.position, data: s.data.toString('hex'), last: s.last });
  }

  frameEnd(h: WsFrameHeader): void {
    if (h !== this.current || this.next !== h.length) throw new Error('frameEnd() before the payload was complete');
    this.current = null;
    this.log.push({ ev: 'frameEnd', offset: h.offset });
  }

  anomaly(a: Anomaly): void {
    this.log.push({ ev: 'anomaly', ...a });
  }
}

/** Feeds `chunks`, checking offset and bufferedBytes after each push, then ends the input. */
function decode(chunks: readonly Uint8Array[], options?: WebSocketFrameDecoderOptions): LogEntry[] {
  const recorder = new Recorder();
  const decoder = new WebSocketFrameDecoder(recorder, options);
  let pushed = options?.startOffset ?? 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    pushed += chunk.length;
    if (decoder.offset !== pushed) throw new Error(`offset ${decoder.offset}, pushed ${pushed}`);
    if (decoder.bufferedBytes > MAX_BUFFERED) throw new Error(`${decoder.bufferedBytes} bytes buffered`);
  }
  decoder.end();
  if (decoder.bufferedBytes !== 0 && !decoder.opaque) throw new Error('bytes left after end()');
  return recorder.log;
}

/**
 * Small inputs: cut in two at every offset, and one byte at a time. Large inputs: cut around
 * segment edges and at sampled offsets. Both: seeded random chunkings, some as plain
 * Uint8Arrays rather than Buffers.
 */
function chunkings(input: Buffer, seed = 1): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  const random = prng(seed);
  if (input.length <= 1024) {
    for (let i = 0; i <= input.length; i++) out.push(splitAt(input, [i]));
    out.push(oneByteAtATime(input));
  } else {
    const points = [1, 2, 3, 7, 11, 15, input.length - 1];
    for (let edge = SEG; edge < input.length + SEG; edge += SEG) for (let d = -16; d <= 16; d += 3) points.push(edge + d);
    for (let i = 0; i < 24; i++) points.push(Math.floor(random() * input.length));
    for (const p of points) out.push(splitAt(input, [p]));
  }
  for (let n = 0; n < 16; n++) {
    const max = 1 + Math.floor(random() * Math.max(1, input.length / (1 + (n % 5) * 4)));
    const points: number[] = [];
    for (let at = 0; at < input.length; at += 1 + Math.floor(random() * max)) points.push(at);
    const chunks = splitAt(input, points);
    out.push(n % 2 === 0 ? chunks : chunks.map((c) => new Uint8Array(c)));
  }
  return out;
}

/** Decodes `input` whole and in every chunking of chunkings(); every log must be the same. */
function decodeAnyChunking(input: Buffer, options?: WebSocketFrameDecoderOptions): LogEntry[] {
  const original = Buffer.from(input);
  const whole = decode([input], options);
  for (const chunks of chunkings(input)) expect(decode(chunks, options)).toEqual(whole);
  expect(input.equals(original), 'the decoder must not write to pushed chunks').toBe(true);
  return whole;
}

const frames = (...specs: WsFrameSpec[]): Buffer => Buffer.concat(specs.map(encodeWsFrame));
const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const KEY = hex('37fa213d');

const headers = (log: LogEntry[]): FrameEntry[] => log.filter((e): e is FrameEntry => e.ev === 'frame');
const anomalies = (log: LogEntry[]): Omit<Anomaly, 'message'>[] =>
  log.filter((e): e is AnomalyEntry => e.ev === 'anomaly').map(({ code, offset, opaque }) => ({ code, offset, opaque }));
const payloadOf = (log: LogEntry[], frameOffset: number): Buffer =>
  Buffer.concat(log.filter((e): e is PayloadEntry => e.ev === 'payload' && e.frame === frameOffset).map((e) => hex(e.data)));

describe('wsOpcodeName', () => {
  it('names the six defined opcodes and calls the rest reserved', () => {
    expect([0, 1, 2, 8, 9, 10].map(wsOpcodeName)).toEqual(['continuation', 'text', 'binary', 'close', 'ping', 'pong']);
    for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) expect(wsOpcodeName(op)).toBe('reserved');
  });
});

describe('encodeWsFrame', () => {
  it('writes the RFC 6455 §5.7 examples', () => {
    expect(encodeWsFrame({ opcode: WsOpcode.Text, payload: text('Hello') })).toEqual(hex('81 05 48656c6c6f'));
    expect(encodeWsFrame({ opcode: WsOpcode.Text, payload: text('Hello'), mask: KEY })).toEqual(hex('81 85 37fa213d 7f9f4d5158'));
    expect(encodeWsFrame({ opcode: WsOpcode.Text, payload: text('Hel'), fin: false })).toEqual(hex('01 03 48656c'));
    expect(encodeWsFrame({ opcode: WsOpcode.Continuation, payload: text('lo') })).toEqual(hex('80 02 6c6f'));
    expect(encodeWsFrame({ opcode: WsOpcode.Binary, payload: Buffer.alloc(256) }).subarray(0, 4)).toEqual(hex('82 7e 0100'));
    expect(encodeWsFrame({ opcode: WsOpcode.Binary, payload: Buffer.alloc(65536) }).subarray(0, 10)).toEqual(hex('82 7f 0000000000010000'));
  });

  it('forces long length encodings, sets RSV bits and draws random keys', () => {
    expect(encodeWsFrame({ opcode: 1, payload: text('Hi'), forceLengthBytes: 2 })).toEqual(hex('81 7e 0002 4869'));
    expect(encodeWsFrame({ opcode: 1, payload: text('Hi'), forceLengthBytes: 8 })).toEqual(hex('81 7f 0000000000000002 4869'));
    expect(encodeWsFrame({ opcode: 2, rsv: 5 })).toEqual(hex('d2 00'));
    const masked = encodeWsFrame({ opcode: 2, payload: text('abcd'), mask: true });
    expect(masked.length).toBe(10);
    expect(masked[1]).toBe(0x84);
  });

  it('refuses what it cannot encode', () => {
    expect(() => encodeWsFrame({ opcode: 16 })).toThrow(RangeError);
    expect(() => encodeWsFrame({ opcode: 1, rsv: 8 })).toThrow(RangeError);
    expect(() => encodeWsFrame({ opcode: 1, mask: Buffer.alloc(3) })).toThrow(RangeError);
    expect(() => encodeWsFrame({ opcode: 2, payload: Buffer.alloc(65536), forceLengthBytes: 2 })).toThrow(RangeError);
  });

  it('writes close payloads', () => {
    expect(encodeClosePayload(1000)).toEqual(hex('03e8'));
    expect(encodeClosePayload(4001, 'é')).toEqual(hex('0fa1 c3a9'));
  });
});

describe('parseClosePayload', () => {
  it('reads code and reason', () => {
    expect(parseClosePayload(Buffer.alloc(0))).toEqual({ code: null, reason: '', valid: true, problem: null });
    expect(parseClosePayload(encodeClosePayload(1000, 'bye'))).toEqual({ code: 1000, reason: 'bye', valid: true, problem: null });
    expect(parseClosePayload(encodeClosePayload(4999, '\ufeffé'))).toMatchObject({ code: 4999, reason: '\ufeffé', valid: true });
  });

  it.each([
    [1000, true], [1001, true], [1003, true], [1004, false], [1005, false], [1006, false], [1007, true],
    [1011, true], [1012, true], [1014, true], [1015, false], [1016, false], [2999, false], [3000, true],
    [4999, true], [5000, false], [999, false], [0, false], [65535, false],
  ])('code %i valid=%s', (code, valid) => {
    const parsed = parseClosePayload(encodeClosePayload(code));
    expect(parsed.code).toBe(code);
    expect(parsed.valid).toBe(valid);
    expect(parsed.problem === null).toBe(valid);
  });

  it('rejects a 1-byte payload and a reason that is not UTF-8', () => {
    expect(parseClosePayload(hex('03'))).toMatchObject({ code: null, valid: false });
    const bad = parseClosePayload(Buffer.concat([encodeClosePayload(1000), hex('c328')]));
    expect(bad).toMatchObject({ code: 1000, valid: false });
    expect(bad.problem).toMatch(/UTF-8/);
  });
});

describe('WebSocketFrameDecoder', () => {
  it('reports the RFC 6455 §5.7 masked "Hello" field by field', () => {
    const log = decodeAnyChunking(hex('81 85 37fa213d 7f9f4d5158'), { expectMasked: true });
    expect(log).toEqual([
      {
        ev: 'frame', offset: 0, fin: true, rsv: 0, opcode: 1, masked: true, maskKey: '37fa213d', length: 5,
        headerLength: 6, messageOpcode: 1, messageStart: true, messageEnd: true,
      },
      { ev: 'payload', frame: 0, offset: 6, position: 0, data: text('Hello').toString('hex'), last: true },
      { ev: 'frameEnd', offset: 0 },
    ]);
  });

  it('reports a fragmented message with pings and pongs between its fragments', () => {
    const input = frames(
      { opcode: WsOpcode.Text, payload: text('Hel'), fin: false },
      { opcode: WsOpcode.Ping, payload: text('p') },
      { opcode: WsOpcode.Continuation, payload: text('lo '), fin: false },
      { opcode: WsOpcode.Pong },
      { opcode: WsOpcode.Continuation, payload: text('world') },
      { opcode: WsOpcode.Binary, payload: hex('0102') },
    );
    const log = decodeAnyChunking(input, { expectMasked: false });
    expect(anomalies(log)).toEqual([]);
    expect(headers(log).map((h) => [h.offset, h.opcode, h.fin, h.messageOpcode, h.messageStart, h.messageEnd])).toEqual([
      [0, 1, false, 1, true, false],
      [5, 9, true, 9, false, false],
      [8, 0, false, 1, false, false],
      [13, 10, true, 10, false, false],
      [15, 0, true, 1, false, true],
      [22, 2, true, 2, true, true],
    ]);
    // The length-0 pong gets frame and frameEnd but no payload call.
    expect(log.filter((e) => e.ev !== 'anomaly' && ('frame' in e ? e.frame : e.offset) === 13)).toEqual([
      expect.objectContaining({ ev: 'frame', length: 0 }),
      { ev: 'frameEnd', offset: 13 },
    ]);
  });

  it('reads 7-, 16- and 64-bit lengths, including forced long encodings', () => {
    const cases: [WsFrameSpec, number][] = [
      [{ opcode: 2 }, 2],
      [{ opcode: 2, payload: randomBytes(125) }, 2],
      [{ opcode: 2, payload: randomBytes(126) }, 4],
      [{ opcode: 2, payload: randomBytes(1000) }, 4],
      [{ opcode: 2, payload: randomBytes(5), forceLengthBytes: 2 }, 4],
      [{ opcode: 2, forceLengthBytes: 8 }, 10],
      [{ opcode: 1, payload: text('short'), forceLengthBytes: 8, mask: KEY }, 14],
      [{ opcode: 2, payload: randomBytes(300), forceLengthBytes: 8 }, 10],
    ];
    for (const [spec, headerLength] of cases) {
      const payload = Buffer.from(spec.payload ?? []);
      const log = decodeAnyChunking(encodeWsFrame(spec));
      expect(anomalies(log)).toEqual([]);
      expect(headers(log)).toEqual([expect.objectContaining({ length: payload.length, headerLength })]);
      expect(payloadOf(log, 0)).toEqual(payload);
    }
  });

  it('reports long frames in segments that end at multiples of PAYLOAD_SEGMENT_BYTES', () => {
    for (const size of [0xffff, SEG, SEG + 1, 2 * SEG + 70]) {
      const payload = randomBytes(size);
      const log = decodeAnyChunking(frames({ opcode: 2, payload }, { opcode: 9, payload: text('x') }));
      const h = headers(log)[0]!;
      expect(h.headerLength).toBe(size > 0xffff ? 10 : 4);
      const segments = log.filter((e): e is PayloadEntry => e.ev === 'payload' && e.frame === 0);
      expect(segments.map((s) => s.position)).toEqual(Array.from({ length: Math.ceil(size / SEG) }, (_, i) => i * SEG));
      expect(payloadOf(log, 0)).toEqual(payload);
      expect(headers(log)[1]).toMatchObject({ offset: h.headerLength + size, opcode: 9 });
    }
  });

  it('unmasks at every split point, with a different key per frame', () => {
    const payloads = [randomBytes(1), randomBytes(3), randomBytes(37), randomBytes(130), randomBytes(17)];
    const input = frames(...payloads.map((payload, i) => ({ opcode: i === 0 ? 1 : i === 4 ? 9 : 2, payload, mask: randomBytes(4) })));
    const log = decodeAnyChunking(input, { expectMasked: true });
    expect(anomalies(log)).toEqual([]);
    const hs = headers(log);
    expect(hs.map((h) => payloadOf(log, h.offset))).toEqual(payloads);
    expect(hs.every((h) => h.masked && h.maskKey?.length === 8)).toBe(true);
  });

  it('unmasks multi-segment frames at split points that fall in and around segments', () => {
    const payload = randomBytes(2 * SEG + 4099);
    const log = decodeAnyChunking(encodeWsFrame({ opcode: 2, payload, mask: hex('a1b2c3d4') }), { expectMasked: true });
    expect(payloadOf(log, 0)).toEqual(payload);
  });

  it('reads close code and reason, an empty close, and reports a bad close after its payload', () => {
    const good = decodeAnyChunking(frames({ opcode: 8, payload: encodeClosePayload(1000, 'bye') }));
    expect(anomalies(good)).toEqual([]);
    expect(parseClosePayload(payloadOf(good, 0))).toEqual({ code: 1000, reason: 'bye', valid: true, problem: null });
    expect(anomalies(decodeAnyChunking(frames({ opcode: 8 })))).toEqual([]);

    for (const payload of [hex('03'), encodeClosePayload(1005), encodeClosePayload(2000), Buffer.concat([encodeClosePayload(1000), hex('ff')])]) {
      const log = decodeAnyChunking(frames({ opcode: 1, payload: text('x') }, { opcode: 8, payload, mask: KEY }));
      expect(anomalies(log)).toEqual([{ code: AnomalyCode.WsBadClose, offset: 3, opaque: false }]);
      expect(log.slice(-3).map((e) => e.ev)).toEqual(['payload', 'anomaly', 'frameEnd']);
    }
  });

  it('reports RSV bits and reads on', () => {
    for (const rsv of [1, 2, 4, 7]) {
      const log = decodeAnyChunking(frames({ opcode: 1, payload: text('a') }, { opcode: 2, rsv, payload: text('bc') }, { opcode: 1 }));
      expect(anomalies(log)).toEqual([{ code: AnomalyCode.WsRsvBits, offset: 3, opaque: false }]);
      expect(headers(log).map((h) => h.rsv)).toEqual([0, rsv, 0]);
      expect(payloadOf(log, 3)).toEqual(text('bc'));
    }
  });

  it('reports every reserved opcode, still reports its payload, and reads the next frame', () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      const log = decodeAnyChunking(frames({ opcode, payload: text('zz') }, { opcode: 1, payload: text('ok') }));
      expect(anomalies(log)).toEqual([{ code: AnomalyCode.WsReservedOpcode, offset: 0, opaque: false }]);
      expect(log.map((e) => e.ev)).toEqual(['anomaly', 'frame', 'payload', 'frameEnd', 'frame', 'payload', 'frameEnd']);
      expect(headers(log)[0]).toMatchObject({ opcode, messageOpcode: opcode, messageStart: false, messageEnd: false });
      expect(headers(log)[1]).toMatchObject({ offset: 4, messageStart: true, messageEnd: true });
    }
  });

  it('reports control frames that are too long or fragmented', () => {
    const cases: WsFrameSpec[] = [
      { opcode: 9, payload: randomBytes(126) },
      { opcode: 8, payload: Buffer.concat([encodeClosePayload(1000), randomBytes(200)]) },
      { opcode: 10, fin: false },
      { opcode: 8, fin: false, payload: encodeClosePayload(1000) },
    ];
    for (const spec of cases) {
      const log = decodeAnyChunking(frames(spec, { opcode: 2, payload: text('next') }));
      const next = headers(log)[1]!.offset;
      expect(anomalies(log)).toEqual([
        { code: AnomalyCode.WsBadControlFrame, offset: 0, opaque: false },
        ...(spec.opcode === WsOpcode.Close ? [{ code: AnomalyCode.DataAfterClose, offset: next, opaque: false }] : []),
      ]);
      expect(payloadOf(log, 0)).toEqual(Buffer.from(spec.payload ?? []));
      expect(headers(log)[1]).toMatchObject({ opcode: 2, messageStart: true });
    }
    const both = decodeAnyChunking(frames({ opcode: 9, fin: false, payload: randomBytes(200) }));
    expect(anomalies(both).map((a) => a.code)).toEqual([AnomalyCode.WsBadControlFrame, AnomalyCode.WsBadControlFrame]);
  });

  it('goes opaque on a 64-bit length with the top bit set or past 2^53 - 1', () => {
    for (const length of ['8000000000000005', 'ffffffffffffffff', '0020000000000000']) {
      const input = Buffer.concat([frames({ opcode: 1, payload: text('hi') }), hex(`82 7f ${length}`), frames({ opcode: 1, payload: text('lost') })]);
      const log = decodeAnyChunking(input);
      expect(log.filter((e) => e.ev !== 'payload')).toEqual([
        expect.objectContaining({ ev: 'frame', offset: 0 }),
        { ev: 'frameEnd', offset: 0 },
        expect.objectContaining({ ev: 'anomaly', code: AnomalyCode.WsBadLength, offset: 4, opaque: true }),
      ]);
    }
    // The largest safe length is a frame header like any other; the input then ends inside it.
    const log = decodeAnyChunking(hex('82 7f 001fffffffffffff 0102'));
    expect(headers(log)).toEqual([expect.objectContaining({ length: Number.MAX_SAFE_INTEGER, headerLength: 10 })]);
    expect(anomalies(log)).toEqual([{ code: AnomalyCode.Truncated, offset: 0, opaque: true }]);
  });

  it('ignores further input once opaque, counting it in offset only', () => {
    const recorder = new Recorder();
    const decoder = new WebSocketFrameDecoder(recorder, { startOffset: 1000 });
    decoder.push(hex('82 7f 80000000 00000000 0102'));
    expect(decoder.opaque).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
    const before = recorder.log.length;
    decoder.push(frames({ opcode: 1, payload: text('ignored') }));
    decoder.end();
    expect(recorder.log.length).toBe(before);
    expect(decoder.offset).toBe(1000 + 12 + 9);
    expect(anomalies(recorder.log)).toEqual([{ code: AnomalyCode.WsBadLength, offset: 1000, opaque: true }]);
  });

  it('reports the mask direction once per decoder', () => {
    const unmasked = frames({ opcode: 1, payload: text('a') }, { opcode: 9 }, { opcode: 2, payload: text('b') });
    const masked = frames({ opcode: 1, payload: text('a'), mask: KEY }, { opcode: 9, mask: KEY }, { opcode: 2, mask: KEY });
    expect(anomalies(decodeAnyChunking(unmasked, { expectMasked: true }))).toEqual([{ code: AnomalyCode.WsMaskDirection, offset: 0, opaque: false }]);
    expect(anomalies(decodeAnyChunking(masked, { expectMasked: false }))).toEqual([{ code: AnomalyCode.WsMaskDirection, offset: 0, opaque: false }]);
    const mixed = frames({ opcode: 1, payload: text('a'), mask: KEY }, { opcode: 9 }, { opcode: 10 });
    expect(anomalies(decodeAnyChunking(mixed, { expectMasked: true }))).toEqual([{ code: AnomalyCode.WsMaskDirection, offset: 7, opaque: false }]);
    expect(anomalies(decodeAnyChunking(mixed, { expectMasked: null }))).toEqual([]);
    expect(anomalies(decodeAnyChunking(mixed))).toEqual([]);
  });

  it('reports a stray continuation and a new message inside a fragmented one', () => {
    const stray = decodeAnyChunking(frames({ opcode: 0, payload: text('a'), fin: false }, { opcode: 0, payload: text('b') }, { opcode: 2 }));
    expect(anomalies(stray)).toEqual([{ code: AnomalyCode.WsBadFragmentation, offset: 0, opaque: false }]);
    expect(headers(stray).map((h) => [h.messageOpcode, h.messageStart, h.messageEnd])).toEqual([
      [0, false, false],
      [0, false, true],
      [2, true, true],
    ]);

    const interrupted = decodeAnyChunking(frames({ opcode: 1, payload: text('a'), fin: false }, { opcode: 2, payload: text('b') }, { opcode: 0 }));
    expect(anomalies(interrupted)).toEqual([
      { code: AnomalyCode.WsBadFragmentation, offset: 3, opaque: false },
      { code: AnomalyCode.WsBadFragmentation, offset: 6, opaque: false },
    ]);
    expect(headers(interrupted).map((h) => [h.messageOpcode, h.messageStart, h.messageEnd])).toEqual([
      [1, true, false],
      [2, true, true],
      [0, false, true],
    ]);
  });

  it('reports truncation inside each header field and inside the payload', () => {
    const whole = frames({ opcode: 1, payload: text('ok') }, { opcode: 2, payload: randomBytes(SEG + 300), mask: KEY });
    const payloadStart = 4 + 14;
    for (const cut of [5, 6, 9, 13, 17, payloadStart + 1, payloadStart + 100, payloadStart + SEG, payloadStart + SEG + 7]) {
      const log = decodeAnyChunking(whole.subarray(0, cut));
      expect(anomalies(log)).toEqual([{ code: AnomalyCode.Truncated, offset: 4, opaque: true }]);
      if (cut > payloadStart) {
        const payload = Buffer.from(whole.subarray(payloadStart, cut));
        for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ KEY[i & 3]!;
        expect(payloadOf(log, 4)).toEqual(payload);
        const segments = log.filter((e): e is PayloadEntry => e.ev === 'payload' && e.frame === 4);
        expect(segments.every((s) => !s.last)).toBe(true);
        expect(log.at(-1)).toMatchObject({ ev: 'anomaly', code: AnomalyCode.Truncated });
      } else {
        expect(headers(log)).toHaveLength(1);
      }
    }
    expect(anomalies(decodeAnyChunking(whole.subarray(0, 4)))).toEqual([]);
    expect(anomalies(decodeAnyChunking(Buffer.alloc(0)))).toEqual([]);
  });

  it('reports frames after a close frame once', () => {
    const input = frames({ opcode: 1, payload: text('a') }, { opcode: 8, payload: encodeClosePayload(1000) }, { opcode: 1, payload: text('b') }, { opcode: 9 });
    const log = decodeAnyChunking(input);
    expect(anomalies(log)).toEqual([{ code: AnomalyCode.DataAfterClose, offset: 7, opaque: false }]);
    expect(headers(log)).toHaveLength(4);
  });

  it('counts offsets from startOffset', () => {
    const log = decodeAnyChunking(frames({ opcode: 1, payload: text('a') }, { opcode: 0 }), { startOffset: 500 });
    expect(log).toEqual([
      expect.objectContaining({ ev: 'frame', offset: 500 }),
      expect.objectContaining({ ev: 'payload', frame: 500, offset: 502 }),
      { ev: 'frameEnd', offset: 500 },
      expect.objectContaining({ ev: 'anomaly', code: AnomalyCode.WsBadFragmentation, offset: 503 }),
      expect.objectContaining({ ev: 'frame', offset: 503 }),
      { ev: 'frameEnd', offset: 503 },
    ]);
  });

  it.each([false, true])('streams a 16 MiB binary frame (masked=%s) fed in 1 MiB chunks', (masked) => {
    const MiB = 1024 * 1024;
    const payload = randomBytes(16 * MiB);
    const input = encodeWsFrame({ opcode: 2, payload, mask: masked ? KEY : false });
    const hash = createHash('sha256');
    const segmentPushes: number[] = [];
    let pushes = 0;
    let ended = false;
    const decoder = new WebSocketFrameDecoder(
      {
        frame: () => {},
        payload: (s) => {
          expect(s.data.length).toBeLessThanOrEqual(SEG);
          hash.update(s.data);
          segmentPushes.push(pushes);
        },
        frameEnd: () => {
          ended = true;
        },
        anomaly: (a) => {
          throw new Error(a.message);
        },
      },
      { expectMasked: masked },
    );
    for (let at = 0; at < input.length; at += MiB) {
      pushes++;
      decoder.push(input.subarray(at, at + MiB));
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(MAX_BUFFERED);
      if (at === 0) expect(segmentPushes.length).toBeGreaterThan(0);
    }
    decoder.end();
    expect(ended).toBe(true);
    expect(segmentPushes.length).toBe(16 * MiB / SEG);
    expect(segmentPushes[0]).toBe(1);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
  });
});

describe('WebSocketFrameDecoder properties', () => {
  const chunkingArb = fc.array(fc.nat(), { maxLength: 12 });
  const splitBy = (input: Buffer, points: number[]): Buffer[] => splitAt(input, points.map((p) => p % (input.length + 1)));

  it('never throws on random bytes, stays bounded, and chunking never changes the log', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), chunkingArb, fc.constantFrom(true, false, null), (bytes, points, expectMasked) => {
        const input = Buffer.from(bytes);
        expect(decode(splitBy(input, points), { expectMasked })).toEqual(decode([input], { expectMasked }));
      }),
      { seed: 6455, numRuns: 300 },
    );
  });

  const specArb: fc.Arbitrary<WsFrameSpec> = fc.record({
    opcode: fc.constantFrom(0, 1, 2, 8, 9, 10, 3, 11),
    payload: fc.uint8Array({ maxLength: 200 }),
    fin: fc.boolean(),
    rsv: fc.constantFrom(0, 0, 0, 4),
    mask: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined }),
    forceLengthBytes: fc.constantFrom<0 | 2 | 8>(0, 0, 2, 8),
  });
  const mutationArb = fc.array(
    fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'insert', 'delete'), byte: fc.integer({ min: 0, max: 255 }) }),
    { maxLength: 4 },
  );

  it('never throws on mutated frame streams, stays bounded, and chunking never changes the log', () => {
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 6 }), mutationArb, chunkingArb, (specs, mutations, points) => {
        const bytes = [...frames(...specs)];
        for (const m of mutations) {
          const at = m.at % (bytes.length + 1);
          if (m.kind === 'insert') bytes.splice(at, 0, m.byte);
          else if (at < bytes.length && m.kind === 'delete') bytes.splice(at, 1);
          else if (at < bytes.length) bytes[at] = bytes[at]! ^ (m.byte | 1);
        }
        const input = Buffer.from(bytes);
        expect(decode(splitBy(input, points), { expectMasked: true })).toEqual(decode([input], { expectMasked: true }));
      }),
      { seed: 1455, numRuns: 300 },
    );
  });

  it('decodes valid streams without anomalies and gives every message back', () => {
    const messageArb = fc.record({
      opcode: fc.constantFrom(1, 2),
      fragments: fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
      pings: fc.array(fc.boolean(), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 6 }), fc.boolean(), chunkingArb, (messages, masked, points) => {
        const specs: WsFrameSpec[] = [];
        for (const m of messages) {
          m.fragments.forEach((payload, i) => {
            const fin = i === m.fragments.length - 1;
            specs.push({ opcode: i === 0 ? m.opcode : 0, payload, fin, mask: masked });
            if (m.pings[i]) specs.push({ opcode: 9, payload: Buffer.from([i]), mask: masked });
          });
        }
        specs.push({ opcode: 8, payload: encodeClosePayload(1000, 'done'), mask: masked });
        const input = frames(...specs);
        const log = decode(splitBy(input, points), { expectMasked: masked });
        expect(anomalies(log)).toEqual([]);
        const got: [number, Buffer][] = [];
        for (const h of headers(log)) {
          if (h.messageStart) got.push([h.messageOpcode, Buffer.alloc(0)]);
          if (h.opcode <= 2) got.at(-1)![1] = Buffer.concat([got.at(-1)![1], payloadOf(log, h.offset)]);
        }
        expect(got).toEqual(messages.map((m) => [m.opcode, Buffer.concat(m.fragments)]));
      }),
      { seed: 2011, numRuns: 200 },
    );
  });
});
