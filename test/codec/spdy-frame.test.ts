import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Anomaly } from '../../src/codec/anomaly.js';
import { MAX_SPDY_CONTROL_FRAME_BYTES, PAYLOAD_SEGMENT_BYTES } from '../../src/codec/limits.js';
import {
  encodeControlFrame,
  encodeDataFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
} from '../../src/codec/spdy-encode.js';
import {
  SPDY_GOAWAY_STATUS,
  SPDY_RST_STATUS,
  type SpdyControlFrame,
  SpdyFrameDecoder,
  type SpdyFrameHandler,
  SpdyFrameType,
  spdyFrameTypeName,
} from '../../src/codec/spdy-frame.js';
import { prng } from '../support/split.js';
import { VECTORS_DIR as VECTORS, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();
const SEG = PAYLOAD_SEGMENT_BYTES;

type Entry = Record<string, unknown>;

/** Buffers become short hex, or length and digest when long, so logs compare cheaply. */
function bytes(b: Buffer): string {
  if (b.length <= 64) return b.toString('hex');
  return `${b.length}:${createHash('sha1').update(b).digest('hex')}`;
}

function controlEntry(frame: SpdyControlFrame): Entry {
  const e: Entry = { call: 'control' };
  for (const [k, v] of Object.entries(frame)) e[k] = Buffer.isBuffer(v) ? bytes(v) : v;
  return e;
}

/** A handler that logs every call as a plain object. */
function recorder(): { handler: SpdyFrameHandler; log: Entry[] } {
  const log: Entry[] = [];
  const handler: SpdyFrameHandler = {
    control: (frame) => log.push(controlEntry(frame)),
    dataFrame: (h) => log.push({ call: 'dataFrame', ...h }),
    data: (s) => log.push({ call: 'data', frame: s.frame.offset, offset: s.offset, position: s.position, data: bytes(s.data), last: s.last }),
    dataEnd: (h) => log.push({ call: 'dataEnd', offset: h.offset }),
    anomaly: (a: Anomaly) => log.push({ call: 'anomaly', ...a }),
  };
  return { handler, log };
}

/** Feeds `input` cut at `cuts` (ascending offsets), then ends it; returns the log. */
function decode(input: Buffer, cuts: number[] = [], options: { startOffset?: number; end?: boolean } = {}): Entry[] {
  const { handler, log } = recorder();
  const decoder = new SpdyFrameDecoder(handler, { startOffset: options.startOffset ?? 0 });
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    decoder.push(input.subarray(at, cut));
    at = cut;
    // A plain check: this runs for every piece of every chunking.
    if (decoder.bufferedBytes > MAX_SPDY_CONTROL_FRAME_BYTES + 8) throw new Error(`holding ${decoder.bufferedBytes} bytes`);
  }
  if (options.end !== false) decoder.end();
  if (decoder.offset !== (options.startOffset ?? 0) + input.length) throw new Error(`offset ${decoder.offset}`);
  return log;
}

function randomCuts(length: number, seed: number): number[] {
  const rnd = prng(seed);
  const cuts: number[] = [];
  let at = 0;
  const maxStep = Math.max(2, Math.floor(rnd() * 70_000));
  while (true) {
    at += 1 + Math.floor(rnd() * maxStep);
    if (at >= length) return cuts;
    cuts.push(at);
  }
}

/**
 * The log for `input` fed whole; asserts it is identical when the input is split in two at every
 * offset and one byte at a time (small inputs), or at seeded random chunkings (large ones).
 */
function decodeAnyChunking(input: Buffer, options: { startOffset?: number } = {}): Entry[] {
  const whole = decode(input, [], options);
  const wholeJson = JSON.stringify(whole);
  // Compared as JSON first because this runs thousands of times; toEqual only to show a difference.
  const same = (cuts: number[]) => {
    const log = decode(input, cuts, options);
    if (JSON.stringify(log) !== wholeJson) expect({ cuts, log }).toEqual({ cuts, log: whole });
  };
  if (input.length <= 4096) {
    for (let i = 1; i < input.length; i++) same([i]);
    same(Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1));
  }
  for (let seed = 1; seed <= (input.length > 4096 ? 8 : 3); seed++) same(randomCuts(input.length, seed));
  return whole;
}

const calls = (log: Entry[], call: string): Entry[] => log.filter((e) => e.call === call);
const block = Buffer.from('78f9e3c6a7c2', 'hex');

describe('SpdyFrameDecoder control frames (SPDY/3 §2.6)', () => {
  it('decodes SYN_STREAM with every field', () => {
    const input = encodeSynStream({
      streamId: 0x80000005, // reserved bit set: ignored
      assocStreamId: 3,
      priority: 5,
      slot: 7,
      fin: true,
      unidirectional: true,
      headerBlock: block,
    });
    expect(decodeAnyChunking(input)).toEqual([
      {
        call: 'control',
        offset: 0,
        version: 3,
        flags: 3,
        length: 16,
        type: 'SYN_STREAM',
        streamId: 5,
        assocStreamId: 3,
        priority: 5,
        slot: 7,
        fin: true,
        unidirectional: true,
        headerBlock: '78f9e3c6a7c2',
      },
    ]);
  });

  it('decodes SYN_REPLY and HEADERS with FIN', () => {
    const input = Buffer.concat([
      encodeSynReply({ streamId: 1, headerBlock: block }),
      encodeHeaders({ streamId: 1, fin: true, headerBlock: block.subarray(0, 2) }),
      encodeSynReply({ streamId: 3, fin: true, headerBlock: Buffer.alloc(0) }),
    ]);
    expect(decodeAnyChunking(input)).toEqual([
      { call: 'control', offset: 0, version: 3, flags: 0, length: 10, type: 'SYN_REPLY', streamId: 1, fin: false, headerBlock: '78f9e3c6a7c2' },
      { call: 'control', offset: 18, version: 3, flags: 1, length: 6, type: 'HEADERS', streamId: 1, fin: true, headerBlock: '78f9' },
      { call: 'control', offset: 32, version: 3, flags: 1, length: 4, type: 'SYN_REPLY', streamId: 3, fin: true, headerBlock: '' },
    ]);
  });

  it('decodes RST_STREAM with every status code', () => {
    const input = Buffer.concat(Array.from({ length: 12 }, (_, i) => encodeRstStream(2 * i + 1, i + 1)));
    const log = decodeAnyChunking(input);
    expect(log.map((e) => [e.type, e.streamId, e.statusCode, SPDY_RST_STATUS[e.statusCode as number]])).toEqual(
      Array.from({ length: 12 }, (_, i) => ['RST_STREAM', 2 * i + 1, i + 1, SPDY_RST_STATUS[i + 1]]),
    );
    expect(SPDY_RST_STATUS[5]).toBe('CANCEL');
    expect(SPDY_RST_STATUS[1]).toBe('PROTOCOL_ERROR');
    expect(SPDY_RST_STATUS[11]).toBe('FRAME_TOO_LARGE');
    expect(SPDY_RST_STATUS[12]).toBeUndefined();
  });

  it('encodes RST_STREAM CANCEL as the byte example says', () => {
    expect(encodeRstStream(1, 5).toString('hex')).toBe('80030003000000080000000100000005');
    expect(encodePing(1).toString('hex')).toBe('800300060000000400000001');
    expect(encodeDataFrame(3, Buffer.alloc(0), true).toString('hex')).toBe('0000000301000000');
  });

  it('decodes SETTINGS entries and the clear flag', () => {
    const input = Buffer.concat([
      encodeSettings([{ flags: 1, id: 4, value: 100 }, { id: 7, value: 0xffffffff }], true),
      encodeSettings([]),
    ]);
    expect(decodeAnyChunking(input)).toEqual([
      {
        call: 'control',
        offset: 0,
        version: 3,
        flags: 1,
        length: 20,
        type: 'SETTINGS',
        clearSettings: true,
        entries: [
          { flags: 1, id: 4, value: 100 },
          { flags: 0, id: 7, value: 0xffffffff },
        ],
      },
      { call: 'control', offset: 28, version: 3, flags: 0, length: 4, type: 'SETTINGS', clearSettings: false, entries: [] },
    ]);
  });

  it('decodes PING, GOAWAY with every status, and WINDOW_UPDATE', () => {
    const input = Buffer.concat([
      encodePing(0xffffffff),
      encodeGoaway(7),
      encodeGoaway(0x80000009, 1),
      encodeGoaway(3, 2),
      encodeWindowUpdate(5, 0x80010000),
    ]);
    const log = decodeAnyChunking(input);
    expect(log).toEqual([
      { call: 'control', offset: 0, version: 3, flags: 0, length: 4, type: 'PING', pingId: 0xffffffff },
      { call: 'control', offset: 12, version: 3, flags: 0, length: 8, type: 'GOAWAY', lastGoodStreamId: 7, statusCode: 0 },
      { call: 'control', offset: 28, version: 3, flags: 0, length: 8, type: 'GOAWAY', lastGoodStreamId: 9, statusCode: 1 },
      { call: 'control', offset: 44, version: 3, flags: 0, length: 8, type: 'GOAWAY', lastGoodStreamId: 3, statusCode: 2 },
      { call: 'control', offset: 60, version: 3, flags: 0, length: 8, type: 'WINDOW_UPDATE', streamId: 5, deltaWindowSize: 0x10000 },
    ]);
    expect(log.slice(1, 4).map((e) => SPDY_GOAWAY_STATUS[e.statusCode as number])).toEqual(['OK', 'PROTOCOL_ERROR', 'INTERNAL_ERROR']);
  });

  it('hands on CREDENTIAL raw and reports unknown types, delivering them as UNKNOWN', () => {
    const input = Buffer.concat([
      encodeControlFrame(SpdyFrameType.CREDENTIAL, 0, Buffer.from('0001abcd', 'hex')),
      encodeControlFrame(5, 0x40, Buffer.from('ff', 'hex')), // SPDY/2's NOOP is gone in SPDY/3
      encodeControlFrame(0xffff, 0, Buffer.alloc(0)),
      encodePing(2),
    ]);
    expect(decodeAnyChunking(input)).toEqual([
      { call: 'control', offset: 0, version: 3, flags: 0, length: 4, type: 'CREDENTIAL', body: '0001abcd' },
      { call: 'anomaly', offset: 12, code: 'KW_SPDY_UNKNOWN_FRAME', message: expect.stringContaining('type 5'), opaque: false },
      { call: 'control', offset: 12, version: 3, flags: 0x40, length: 1, type: 'UNKNOWN', typeCode: 5, body: 'ff' },
      { call: 'anomaly', offset: 21, code: 'KW_SPDY_UNKNOWN_FRAME', message: expect.stringContaining('65535'), opaque: false },
      { call: 'control', offset: 21, version: 3, flags: 0, length: 0, type: 'UNKNOWN', typeCode: 0xffff, body: '' },
      { call: 'control', offset: 29, version: 3, flags: 0, length: 4, type: 'PING', pingId: 2 },
    ]);
  });

  it('reports a version other than 3 and parses the frame anyway', () => {
    const input = Buffer.concat([
      encodeSynStream({ streamId: 1, headerBlock: block, version: 2 }),
      encodeControlFrame(SpdyFrameType.PING, 0, Buffer.from('00000009', 'hex'), 0x7fff),
    ]);
    const log = decodeAnyChunking(input);
    expect(log.map((e) => [e.call, e.code ?? e.type, e.offset, e.version ?? e.opaque])).toEqual([
      ['anomaly', 'KW_SPDY_BAD_VERSION', 0, false],
      ['control', 'SYN_STREAM', 0, 2],
      ['anomaly', 'KW_SPDY_BAD_VERSION', 24, false],
      ['control', 'PING', 24, 0x7fff],
    ]);
  });

  it('skips a control frame whose body is too short or too long for its type', () => {
    const bad: [number, number][] = [
      [SpdyFrameType.SYN_STREAM, 9],
      [SpdyFrameType.SYN_REPLY, 3],
      [SpdyFrameType.RST_STREAM, 4],
      [SpdyFrameType.RST_STREAM, 12],
      [SpdyFrameType.SETTINGS, 3],
      [SpdyFrameType.SETTINGS, 11], // count 1 needs 12
      [SpdyFrameType.PING, 8],
      [SpdyFrameType.GOAWAY, 4], // SPDY/2's GOAWAY had no status
      [SpdyFrameType.HEADERS, 0],
      [SpdyFrameType.WINDOW_UPDATE, 7],
    ];
    const frames = bad.map(([type, length]) => {
      const body = Buffer.alloc(length);
      if (type === SpdyFrameType.SETTINGS && length >= 4) body.writeUInt32BE(1, 0);
      return encodeControlFrame(type, 0, body);
    });
    const input = Buffer.concat([...frames, encodePing(1)]);
    const log = decodeAnyChunking(input);
    let offset = 0;
    const expected: Entry[] = frames.map((f, i) => {
      const e = { call: 'anomaly', offset, code: 'KW_SPDY_BAD_FRAME_LENGTH', message: expect.stringContaining(spdyFrameTypeName(bad[i]![0])), opaque: false };
      offset += f.length;
      return e;
    });
    expected.push({ call: 'control', offset, version: 3, flags: 0, length: 4, type: 'PING', pingId: 1 });
    expect(log).toEqual(expected);
  });

  it('skips an oversize control frame without holding it', () => {
    const length = MAX_SPDY_CONTROL_FRAME_BYTES + 1;
    const header = encodeControlFrame(SpdyFrameType.SYN_STREAM, 0, Buffer.alloc(0));
    header.writeUIntBE(length, 5, 3);
    const { handler, log } = recorder();
    const decoder = new SpdyFrameDecoder(handler);
    decoder.push(header);
    const piece = Buffer.alloc(SEG + 3, 0xaa);
    for (let sent = 0; sent < length; sent += piece.length) {
      decoder.push(piece.subarray(0, Math.min(piece.length, length - sent)));
      expect(decoder.bufferedBytes).toBe(0);
    }
    decoder.push(encodePing(4));
    decoder.end();
    expect(log).toEqual([
      { call: 'anomaly', offset: 0, code: 'KW_SPDY_BAD_FRAME_LENGTH', message: expect.stringContaining(`${length}`), opaque: false },
      { call: 'control', offset: 8 + length, version: 3, flags: 0, length: 4, type: 'PING', pingId: 4 },
    ]);
    // The same bytes in one piece and at random cuts give the same log.
    const whole = Buffer.concat([header, Buffer.alloc(length, 0xaa), encodePing(4)]);
    expect(decodeAnyChunking(whole)).toEqual(log);
  });

  it('names frame types', () => {
    expect(spdyFrameTypeName(1)).toBe('SYN_STREAM');
    expect(spdyFrameTypeName(10)).toBe('CREDENTIAL');
    expect(spdyFrameTypeName(5)).toBe('UNKNOWN(5)');
  });
});

describe('SpdyFrameDecoder DATA frames (SPDY/3 §2.2.2)', () => {
  it('reports DATA with FIN and empty FIN-only frames', () => {
    const input = Buffer.concat([encodeDataFrame(0x80000003, Buffer.from('hi\n'), true), encodeDataFrame(1, Buffer.alloc(0), true), encodeDataFrame(5, Buffer.alloc(0))]);
    expect(decodeAnyChunking(input)).toEqual([
      { call: 'dataFrame', offset: 0, streamId: 3, flags: 1, fin: true, length: 3 },
      { call: 'data', frame: 0, offset: 8, position: 0, data: '68690a', last: true },
      { call: 'dataEnd', offset: 0 },
      { call: 'dataFrame', offset: 11, streamId: 1, flags: 1, fin: true, length: 0 },
      { call: 'dataEnd', offset: 11 },
      { call: 'dataFrame', offset: 19, streamId: 5, flags: 0, fin: false, length: 0 },
      { call: 'dataEnd', offset: 19 },
    ]);
  });

  it('cuts payload into segments at multiples of PAYLOAD_SEGMENT_BYTES from the payload start', () => {
    const payload = Buffer.alloc(2 * SEG + 5);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const input = Buffer.concat([encodePing(1), encodeDataFrame(1, payload), encodeDataFrame(3, payload.subarray(0, SEG), true)]);
    const log = decodeAnyChunking(input, { startOffset: 1000 });
    const base = 1012;
    const next = base + 8 + payload.length;
    expect(log.filter((e) => e.call !== 'control')).toEqual([
      { call: 'dataFrame', offset: base, streamId: 1, flags: 0, fin: false, length: 2 * SEG + 5 },
      { call: 'data', frame: base, offset: base + 8, position: 0, data: bytes(payload.subarray(0, SEG)), last: false },
      { call: 'data', frame: base, offset: base + 8 + SEG, position: SEG, data: bytes(payload.subarray(SEG, 2 * SEG)), last: false },
      { call: 'data', frame: base, offset: base + 8 + 2 * SEG, position: 2 * SEG, data: bytes(payload.subarray(2 * SEG)), last: true },
      { call: 'dataEnd', offset: base },
      { call: 'dataFrame', offset: next, streamId: 3, flags: 1, fin: true, length: SEG },
      { call: 'data', frame: next, offset: next + 8, position: 0, data: bytes(payload.subarray(0, SEG)), last: true },
      { call: 'dataEnd', offset: next },
    ]);
  });

  it('reports a 16 MiB DATA frame in segments while it streams, holding at most one segment', () => {
    const length = 0xffffff;
    const segments: { position: number; length: number; last: boolean }[] = [];
    let ended = 0;
    const decoder = new SpdyFrameDecoder({
      control: () => expect.unreachable(),
      dataFrame: (h) => expect(h.length).toBe(length),
      data: (s) => segments.push({ position: s.position, length: s.data.length, last: s.last }),
      dataEnd: () => ended++,
      anomaly: () => expect.unreachable(),
    });
    const header = encodeDataFrame(1, Buffer.alloc(0), true);
    header.writeUIntBE(length, 5, 3);
    const piece = Buffer.alloc(40_000, 0x61);
    decoder.push(header.subarray(0, 5));
    decoder.push(header.subarray(5));
    let sent = 0;
    while (sent < length) {
      const n = Math.min(piece.length, length - sent);
      decoder.push(piece.subarray(0, n));
      sent += n;
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(SEG + 8);
      expect(segments.length).toBe(Math.floor(sent / SEG) + (sent === length ? 1 : 0));
    }
    decoder.end();
    expect(ended).toBe(1);
    expect(segments.reduce((n, s) => n + s.length, 0)).toBe(length);
    expect(segments.every((s, i) => s.position === i * SEG && s.last === (i === segments.length - 1))).toBe(true);
  });
});

describe('SpdyFrameDecoder at end of input', () => {
  it('says nothing when the input ends between frames', () => {
    expect(decode(encodePing(1))).toHaveLength(1);
    expect(decode(Buffer.alloc(0))).toEqual([]);
  });

  it('reports a truncated frame header, control body and skipped frame as opaque', () => {
    const ping = encodePing(1);
    expect(decode(ping.subarray(0, 3), [], { startOffset: 10 })).toEqual([
      { call: 'anomaly', offset: 10, code: 'KW_TRUNCATED', message: 'direction ended 3 bytes into an 8-byte frame header', opaque: true },
    ]);
    expect(decode(Buffer.concat([ping, ping.subarray(0, 10)]))).toEqual([
      { call: 'control', offset: 0, version: 3, flags: 0, length: 4, type: 'PING', pingId: 1 },
      { call: 'anomaly', offset: 12, code: 'KW_TRUNCATED', message: 'direction ended 10 bytes into a 12-byte frame', opaque: true },
    ]);
    const big = encodeControlFrame(SpdyFrameType.SETTINGS, 0, Buffer.alloc(0));
    big.writeUIntBE(MAX_SPDY_CONTROL_FRAME_BYTES + 100, 5, 3);
    expect(decode(Buffer.concat([big, Buffer.alloc(50)])).map((e) => [e.code, e.offset, e.opaque])).toEqual([
      ['KW_SPDY_BAD_FRAME_LENGTH', 0, false],
      ['KW_TRUNCATED', 0, true],
    ]);
  });

  it('flushes a held partial DATA segment before reporting the truncation, then only counts bytes', () => {
    const payload = Buffer.alloc(SEG + 100, 0x62);
    const frame = encodeDataFrame(7, payload);
    const input = frame.subarray(0, 8 + SEG + 40);
    const { handler, log } = recorder();
    const decoder = new SpdyFrameDecoder(handler);
    decoder.push(input);
    expect(decoder.bufferedBytes).toBe(40);
    decoder.end();
    expect(decoder.opaque).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(encodePing(1));
    decoder.end();
    expect(decoder.offset).toBe(input.length + 12);
    expect(log).toEqual([
      { call: 'dataFrame', offset: 0, streamId: 7, flags: 0, fin: false, length: SEG + 100 },
      { call: 'data', frame: 0, offset: 8, position: 0, data: bytes(payload.subarray(0, SEG)), last: false },
      { call: 'data', frame: 0, offset: 8 + SEG, position: SEG, data: bytes(payload.subarray(0, 40)), last: false },
      { call: 'anomaly', offset: 0, code: 'KW_TRUNCATED', message: `direction ended ${8 + SEG + 40} bytes into a ${8 + SEG + 100}-byte frame`, opaque: true },
    ]);
    // The flush at the end does not depend on chunking either.
    expect(decodeAnyChunking(input)).toEqual(log);
  });

  it('reports a DATA frame cut right after its header without a data call', () => {
    const frame = encodeDataFrame(1, Buffer.from('abc'));
    expect(decodeAnyChunking(frame.subarray(0, 8)).map((e) => e.call)).toEqual(['dataFrame', 'anomaly']);
  });
});

describe.skipIf(!available)('SpdyFrameDecoder on real kubectl captures', () => {
  const names = (available ? readdirSync(VECTORS) : [])
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .filter((name) => JSON.parse(readFileSync(join(VECTORS, `${name}.json`), 'utf8')).expectedSummary.transport === 'spdy');

  /** Captures whose client stream ends inside a frame: Go writes a frame's header and body separately. */
  const CUT_SHORT = new Set(['kubectl1.27-exec-warmcache-spdy', 'kubectl1.33-exec-fb-500-spdy-c2', 'kubectl1.33-exec-fb-v4answer-spdy-c2']);

  it('finds the SPDY vectors', () => {
    expect(names.length).toBeGreaterThan(50);
    expect(names).toContain('kubectl1.27-exec-spdy');
    expect(names).toContain('kubectl1.33-portforward-spdy');
  });

  /** The frames as the capture's instrumentEvents list them, in our terms. */
  function fromLog(log: Entry[]): Entry[] {
    const out: Entry[] = [];
    for (const e of log) {
      if (e.call === 'control') {
        out.push({ spdy: e.type, flags: e.flags, len: e.length, streamId: e.streamId, assocId: e.assocStreamId, priority: e.priority, slot: e.slot, fin: e.fin, unidirectional: e.unidirectional, version: e.version, pingId: e.pingId, status: e.statusCode, lastGoodStreamId: e.lastGoodStreamId });
      } else if (e.call === 'dataFrame') {
        out.push({ spdy: 'DATA', flags: e.flags, len: e.length, streamId: e.streamId, fin: e.fin });
      }
    }
    return out;
  }

  function expectMatches(ours: Entry[], theirs: Entry[]): void {
    expect(ours).toHaveLength(theirs.length);
    theirs.forEach((t, i) => {
      for (const [k, v] of Object.entries(t)) {
        if (['t', 'dir', 'headers', 'data', 'statusName'].includes(k)) continue;
        expect([i, k, ours[i]![k]]).toEqual([i, k, v]);
      }
    });
  }

  it('decodes every frame of every SPDY vector, the same for any chunking', () => {
    let frames = 0;
    for (const name of names) {
      const meta = JSON.parse(readFileSync(join(VECTORS, `${name}.json`), 'utf8')) as { instrumentEvents: Entry[] };
      for (const dir of ['c2s', 's2c'] as const) {
        const raw = readFileSync(join(VECTORS, `${name}.${dir}`));
        const head = raw.indexOf('\r\n\r\n') + 4;
        expect(head).toBeGreaterThan(4);
        const log = decodeAnyChunking(raw.subarray(head), { startOffset: head });
        const anomalies = calls(log, 'anomaly');
        if (dir === 'c2s' && CUT_SHORT.has(name)) {
          // kubectl exited while writing its last control frame (a GOAWAY where the type made it).
          const tail = (a: Entry) => raw.subarray(a.offset as number).toString('hex');
          expect(anomalies.map((a) => [a.code, a.opaque, /^8003(0007)?/.test(tail(a)), raw.length - (a.offset as number) < 16])).toEqual([
            ['KW_TRUNCATED', true, true, true],
          ]);
        } else {
          expect(anomalies).toEqual([]);
        }
        const theirs = meta.instrumentEvents.filter((e) => e.dir === dir && typeof e.spdy === 'string');
        expectMatches(fromLog(log), theirs);
        frames += theirs.length;
      }
    }
    expect(frames).toBeGreaterThan(1000);
  });
});

describe('SpdyFrameDecoder properties', () => {
  const frameArb: fc.Arbitrary<Buffer> = fc.oneof(
    fc.record({ streamId: fc.nat(), priority: fc.nat(7), slot: fc.nat(255), fin: fc.boolean(), block: fc.uint8Array({ maxLength: 40 }) }).map((o) =>
      encodeSynStream({ streamId: o.streamId, priority: o.priority, slot: o.slot, fin: o.fin, headerBlock: o.block }),
    ),
    fc.record({ streamId: fc.nat(), block: fc.uint8Array({ maxLength: 20 }) }).map((o) => encodeSynReply({ streamId: o.streamId, headerBlock: o.block })),
    fc.tuple(fc.nat(), fc.nat(12)).map(([s, c]) => encodeRstStream(s, c)),
    fc.array(fc.record({ id: fc.nat(0xffffff), value: fc.nat() }), { maxLength: 4 }).map((e) => encodeSettings(e)),
    fc.nat().map((id) => encodePing(id)),
    fc.tuple(fc.nat(), fc.nat(3)).map(([s, c]) => encodeGoaway(s, c)),
    fc.tuple(fc.nat(), fc.nat()).map(([s, d]) => encodeWindowUpdate(s, d)),
    fc.tuple(fc.nat(20), fc.nat(255), fc.uint8Array({ maxLength: 30 }), fc.nat(4)).map(([t, f, b, v]) => encodeControlFrame(t, f, b, v)),
    fc.tuple(fc.nat(), fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.nat(3 * SEG).map((n) => Buffer.alloc(n, 0x33))), fc.boolean()).map(([s, p, fin]) => encodeDataFrame(s, p, fin)),
  );
  const streamArb = fc.array(frameArb, { maxLength: 12 }).map((frames) => Buffer.concat(frames));
  const cutsFor = (input: Buffer) => fc.uniqueArray(fc.nat(Math.max(0, input.length - 1)), { maxLength: 12 }).map((c) => c.filter((x) => x > 0).sort((a, b) => a - b));

  it('valid frame streams: chunking never changes the log, and nothing is reported as an anomaly but unknown types and versions', () => {
    fc.assert(
      fc.property(streamArb.chain((input) => fc.tuple(fc.constant(input), cutsFor(input))), ([input, cuts]) => {
        const whole = decode(input);
        expect(decode(input, cuts)).toEqual(whole);
        for (const a of calls(whole, 'anomaly')) expect(['KW_SPDY_UNKNOWN_FRAME', 'KW_SPDY_BAD_VERSION', 'KW_SPDY_BAD_FRAME_LENGTH']).toContain(a.code);
      }),
      { numRuns: 150, seed: 42 },
    );
  });

  it('mutated and random streams never throw, stay bounded and decode the same for any chunking', () => {
    const mutated = fc
      .tuple(streamArb, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.nat())
      .map(([input, flips, cut]) => {
        const out = Buffer.from(input);
        for (const [at, value] of flips) if (out.length > 0) out[at % out.length] = value;
        return out.subarray(0, out.length === 0 ? 0 : cut % (out.length + 1));
      });
    const anyBytes = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b));
    fc.assert(
      fc.property(fc.oneof(mutated, anyBytes).chain((input) => fc.tuple(fc.constant(input), cutsFor(input))), ([input, cuts]) => {
        const whole = decode(input);
        expect(decode(input, cuts)).toEqual(whole);
        const opaque = calls(whole, 'anomaly').filter((a) => a.opaque);
        expect(opaque.length).toBeLessThanOrEqual(1);
        if (opaque.length === 1) expect(whole.at(-1)).toBe(opaque[0]);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});
