/**
 * Properties of the whole connection decoder (fast-check, fixed seeds): after a valid upgrade
 * of each transport, random and half-structured bytes, and real kubectl vectors with bytes
 * flipped, inserted or deleted, never make it throw; every event has a note and sane offsets;
 * and how the bytes are chunked never changes the events. Last, what it holds stays bounded
 * when a peer sends tens of megabytes.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionDecoder } from '../../src/codec/connection-decoder.js';
import { PAYLOAD_SEGMENT_BYTES } from '../../src/codec/limits.js';
import {
  encodeControlFrame,
  encodeDataFrame,
  encodeGoaway,
  encodePing,
  encodeRstStream,
} from '../../src/codec/spdy-encode.js';
import { encodeWsFrame } from '../../src/codec/websocket-encode.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { decodeAll } from '../support/decode.js';
import { prng, splitAt } from '../support/split.js';
import { loadVector, vectorNames, vectorsAvailable } from '../support/vectors.js';
import {
  EXEC_TARGET,
  POD,
  SUCCESS_JSON,
  SpdyWriter,
  exitStatusJson,
  spdyRequest,
  spdyResponse,
  wsRequest,
  wsResponse,
} from '../support/wire.js';

const SEED = 0x6b_77_69_72;
const TUNNEL = 'SPDY/3.1+portforward.k8s.io';

interface Transport {
  name: string;
  c2sHead: Buffer;
  s2cHead: Buffer;
  kind: 'ws' | 'tunnel' | 'spdy';
}

const TRANSPORTS: Transport[] = [
  { name: 'WebSocket v5 exec', kind: 'ws', c2sHead: wsRequest(EXEC_TARGET, ['v5.channel.k8s.io']), s2cHead: wsResponse('v5.channel.k8s.io') },
  { name: 'WebSocket v4.base64 exec', kind: 'ws', c2sHead: wsRequest(EXEC_TARGET, ['v4.base64.channel.k8s.io']), s2cHead: wsResponse('v4.base64.channel.k8s.io') },
  { name: 'WebSocket tunnel', kind: 'tunnel', c2sHead: wsRequest(`${POD}/portforward`, [TUNNEL]), s2cHead: wsResponse(TUNNEL) },
  { name: 'SPDY exec', kind: 'spdy', c2sHead: spdyRequest(EXEC_TARGET, ['v4.channel.k8s.io']), s2cHead: spdyResponse('v4.channel.k8s.io') },
  { name: 'SPDY portforward', kind: 'spdy', c2sHead: spdyRequest(`${POD}/portforward`, ['portforward.k8s.io']), s2cHead: spdyResponse('portforward.k8s.io') },
  { name: 'legacy WebSocket port-forward', kind: 'ws', c2sHead: wsRequest(`${POD}/portforward?ports=8080&ports=9090`, ['v4.channel.k8s.io']), s2cHead: wsResponse('v4.channel.k8s.io') },
];

// -- invariants ---------------------------------------------------------------------------------

const isOffset = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0;

function fail(message: string, e: unknown): never {
  throw new Error(`${message}: ${JSON.stringify(e).slice(0, 400)}`);
}

/** What every event list must satisfy, whatever the input. */
function checkEvents(events: KubewireEvent[]): void {
  let summaries = 0;
  events.forEach((e, i) => {
    if (typeof e.note !== 'string') fail('event without a note', e);
    if (e.seq !== i + 1) fail(`seq ${e.seq} at position ${i}`, e);
    if ('offset' in e && e.offset !== undefined && !isOffset(e.offset)) fail('bad offset', e);
    if (e.type === 'conn.end' && e.cutOff && !isOffset(e.cutOff.offset)) fail('bad cutOff offset', e);
    if ('size' in e) {
      if (!isOffset(e.size)) fail('bad size', e);
      if (e.payload !== undefined) {
        const recorded = Buffer.from(e.payload, 'base64').length;
        if (e.truncated ? recorded > e.size : recorded !== e.size) fail(`payload of ${recorded} bytes for size ${e.size}`, e);
      }
    }
    if (e.type === 'conn.summary') summaries++;
  });
  if (summaries !== 1 || events.at(-1)?.type !== 'conn.summary') fail('the log must end with exactly one conn.summary', events.at(-1));
}

/** Decodes whole and split at `cuts`; both must satisfy the invariants and agree. */
function checkConnection(c2s: Buffer, s2c: Buffer, cutsC: number[], cutsS: number[]): KubewireEvent[] {
  const whole = decodeAll([c2s], [s2c]);
  checkEvents(whole.events);
  const sorted = (cuts: number[], n: number) => [...new Set(cuts.map((k) => (n > 1 ? 1 + (k % (n - 1)) : 0)))].sort((a, b) => a - b);
  const split = decodeAll(splitAt(c2s, sorted(cutsC, c2s.length)), splitAt(s2c, sorted(cutsS, s2c.length)));
  const a = JSON.stringify(whole.events);
  const b = JSON.stringify(split.events);
  if (a !== b) expect(split.events).toEqual(whole.events);
  return whole.events;
}

const cutsArb = fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 24 });

// -- half-structured generators -----------------------------------------------------------------

const TEXTS = [SUCCESS_JSON, exitStatusJson(3), '{"Width":80,"Height":24}\n', '{"Wid', 'th":1}\n', 'not json', '\x00\x90\x1f', '\x00'].map((t) => Buffer.from(t, 'latin1'));
const bodyArb = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)) },
  { weight: 1, arbitrary: fc.constantFrom(...TEXTS) },
);
const garbageArb = fc.uint8Array({ minLength: 1, maxLength: 16 }).map((u) => Buffer.from(u));

function wsFrameArb(masked: boolean): fc.Arbitrary<Buffer> {
  return fc
    .record({
      opcode: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(0, 1, 2, 2, 2, 8, 9, 10) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
      fin: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      rsv: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) }),
      masked: fc.oneof({ weight: 12, arbitrary: fc.constant(masked) }, { weight: 1, arbitrary: fc.constant(!masked) }),
      lengthBytes: fc.constantFrom<0 | 2 | 8>(0, 0, 0, 2, 8),
      channel: fc.constantFrom(-1, 0, 1, 2, 3, 3, 4, 4, 5, 255, 0x31, 0x33),
      body: bodyArb,
    })
    .map((f) =>
      encodeWsFrame({
        opcode: f.opcode,
        fin: f.fin,
        rsv: f.rsv,
        mask: f.masked ? Buffer.from([0x11, 0x22, 0x33, 0x44]) : false,
        forceLengthBytes: f.lengthBytes,
        payload: f.channel < 0 ? f.body : Buffer.concat([Buffer.from([f.channel]), f.body]),
      }),
    );
}

function wsBytesArb(masked: boolean): fc.Arbitrary<Buffer> {
  return fc
    .array(
      fc.oneof(
        { weight: 10, arbitrary: wsFrameArb(masked) },
        { weight: 1, arbitrary: garbageArb },
        // The v5 close signal is two exact bytes; random frames would hardly ever hit it.
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }).map((ch) => encodeWsFrame({ opcode: 2, payload: Buffer.from([0xff, ch]), mask: masked ? Buffer.from([5, 6, 7, 8]) : false })) },
      ),
      { maxLength: 14 },
    )
    .map((parts) => Buffer.concat(parts));
}

type SpdyOp =
  | { kind: 'syn'; type: string; port: string; requestId: string | null; fin: boolean; id: number | null }
  | { kind: 'data'; stream: number; body: Buffer; fin: boolean }
  | { kind: 'ctrl'; type: number; flags: number; body: Buffer }
  | { kind: 'ping' | 'goaway' }
  | { kind: 'rst'; stream: number; status: number }
  | { kind: 'garbage'; bytes: Buffer };

const streamArb = fc.constantFrom(1, 3, 5, 7, 9, 11, 2, 0, 0x7fffffff);
const spdyOpArb: fc.Arbitrary<SpdyOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('syn' as const), type: fc.constantFrom('error', 'stdin', 'stdout', 'stderr', 'resize', 'data', 'Data', 'other'), port: fc.constantFrom('80', '8080', 'x', '70000'), requestId: fc.constantFrom(null, '0', '1', 'abc'), fin: fc.boolean(), id: fc.option(streamArb, { freq: 6 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('data' as const), stream: streamArb, body: bodyArb, fin: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ctrl' as const), type: fc.integer({ min: 0, max: 12 }), flags: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('ping' as const, 'goaway' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rst' as const), stream: streamArb, status: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), bytes: garbageArb }) },
);

/** One direction's SPDY bytes; SYN_STREAM from the client, SYN_REPLY from the server. */
function buildSpdy(ops: SpdyOp[], client: boolean): Buffer {
  const writer = new SpdyWriter();
  let nextId = client ? 1 : 1;
  const out: Buffer[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case 'syn': {
        const id = op.id ?? nextId;
        nextId = id + 2;
        const headers: [string, string][] = [['streamtype', op.type], ['port', op.port]];
        if (op.requestId !== null) headers.push(['requestid', op.requestId]);
        out.push(client ? writer.syn(id, headers, op.fin) : writer.reply(id, [], op.fin));
        break;
      }
      case 'data':
        out.push(encodeDataFrame(op.stream, op.body, op.fin));
        break;
      case 'ctrl':
        out.push(encodeControlFrame(op.type, op.flags, op.body));
        break;
      case 'ping':
        out.push(encodePing(client ? 1 : 2));
        break;
      case 'goaway':
        out.push(encodeGoaway(nextId - 2));
        break;
      case 'rst':
        out.push(encodeRstStream(op.stream, op.status));
        break;
      case 'garbage':
        out.push(op.bytes);
        break;
    }
  }
  return Buffer.concat(out);
}

const spdyOpsArb = fc.array(spdyOpArb, { maxLength: 14 });

/** SPDY bytes cut into WebSocket messages wherever, with the odd text or control frame. */
function tunnelBytesArb(masked: boolean): fc.Arbitrary<Buffer> {
  return fc
    .record({ ops: spdyOpsArb, cuts: fc.array(fc.nat({ max: 4096 }), { maxLength: 16 }), odd: fc.array(fc.tuple(fc.nat({ max: 20 }), fc.constantFrom(1, 9, 10, 0)), { maxLength: 3 }) })
    .map(({ ops, cuts, odd }) => {
      const spdy = buildSpdy(ops, masked);
      const edges = [...new Set([0, ...cuts.map((k) => k % (spdy.length + 1)), spdy.length])].sort((a, b) => a - b);
      const frames: Buffer[] = [];
      const mask = masked ? Buffer.from([9, 8, 7, 6]) : false;
      for (let i = 0; i + 1 < edges.length; i++) frames.push(encodeWsFrame({ opcode: 2, payload: spdy.subarray(edges[i], edges[i + 1]), mask }));
      for (const [at, opcode] of odd) frames.splice(at % (frames.length + 1), 0, encodeWsFrame({ opcode, payload: Buffer.from('x'), mask }));
      return Buffer.concat(frames);
    });
}

function structuredArb(t: Transport, client: boolean): fc.Arbitrary<Buffer> {
  if (t.kind === 'ws') return wsBytesArb(client);
  if (t.kind === 'tunnel') return tunnelBytesArb(client);
  return spdyOpsArb.map((ops) => buildSpdy(ops, client));
}

// -- properties ---------------------------------------------------------------------------------

describe('after a valid upgrade head', () => {
  for (const t of TRANSPORTS) {
    it(`${t.name}: random bytes never throw, and chunking never changes the events`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 1500 }), fc.uint8Array({ maxLength: 1500 }), cutsArb, cutsArb, (c, s, cutsC, cutsS) => {
          checkConnection(Buffer.concat([t.c2sHead, c]), Buffer.concat([t.s2cHead, s]), cutsC, cutsS);
        }),
        { seed: SEED, numRuns: 60 },
      );
    });

    it(`${t.name}: half-structured frames never throw, and chunking never changes the events`, () => {
      fc.assert(
        fc.property(structuredArb(t, true), structuredArb(t, false), cutsArb, cutsArb, (c, s, cutsC, cutsS) => {
          checkConnection(Buffer.concat([t.c2sHead, c]), Buffer.concat([t.s2cHead, s]), cutsC, cutsS);
        }),
        { seed: SEED + 1, numRuns: 120 },
      );
    });
  }

  it('the structured generators do reach the decoders (a sanity check on the generators)', () => {
    const seen = new Set<string>();
    for (const t of TRANSPORTS) {
      const samples = fc.sample(fc.tuple(structuredArb(t, true), structuredArb(t, false)), { seed: SEED, numRuns: 60 });
      for (const [c, s] of samples) for (const e of decodeAll([Buffer.concat([t.c2sHead, c])], [Buffer.concat([t.s2cHead, s])]).events) seen.add(e.type);
    }
    for (const type of ['k8s.data', 'k8s.status', 'k8s.resize', 'k8s.close', 'spdy.stream', 'pf.data', 'pf.error', 'ws.frame', 'decode.anomaly']) expect(seen, type).toContain(type);
  });
});

const MUTATION_VECTORS = [
  'kubectl1.33-exec-ws-v5',
  'kubectl1.33-exec-tty-ws-v5',
  'kubectl1.33-exec-spdy',
  'kubectl1.33-exec-tty-spdy',
  'kubectl1.33-portforward-spdy',
  'kubectl1.33-portforward-ws-tunnel-spdy',
];
const available = vectorsAvailable();

describe.skipIf(!available)('mutated real vectors', () => {
  const names = available ? vectorNames() : [];
  const headEnd = (buf: Buffer): number => {
    const i = buf.indexOf('\r\n\r\n');
    return i < 0 ? buf.length : i + 4;
  };
  const mutationArb = fc.record({
    dir: fc.constantFrom('c2s' as const, 's2c' as const),
    op: fc.constantFrom('flip', 'insert', 'delete', 'set'),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
    bit: fc.integer({ min: 0, max: 7 }),
  });
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

  function mutate(buf: Buffer, ms: Mutation[]): Buffer {
    const from = headEnd(buf);
    let out = Buffer.from(buf);
    for (const m of ms) {
      const room = out.length - from;
      if (room <= 0 && m.op !== 'insert') continue;
      const at = from + (room > 0 ? m.at % room : 0);
      if (m.op === 'flip') out[at] = out[at]! ^ (1 << m.bit);
      else if (m.op === 'set') out[at] = m.byte;
      else if (m.op === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from([m.byte]), out.subarray(at)]);
      else out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    }
    return out;
  }

  for (const name of MUTATION_VECTORS) {
    it.skipIf(!names.includes(name))(`${name}: flipped, inserted and deleted bytes`, () => {
      const v = loadVector(name);
      // Unmutated, the vector decodes to its expected summary: the mutations start from truth.
      expect(decodeAll([v.c2s], [v.s2c]).summary).toEqual(v.expectedSummary);
      fc.assert(
        fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 6 }), cutsArb, cutsArb, (ms, cutsC, cutsS) => {
          const c = mutate(v.c2s, ms.filter((m) => m.dir === 'c2s'));
          const s = mutate(v.s2c, ms.filter((m) => m.dir === 's2c'));
          checkConnection(c, s, cutsC, cutsS);
        }),
        { seed: SEED + 2, numRuns: 150 },
      );
    });
  }
});

// -- bounds ---------------------------------------------------------------------------------------

/** gc() when it can be exposed, so retained memory can be measured rather than guessed. */
const gc: (() => void) | null = (() => {
  try {
    v8.setFlagsFromString('--expose_gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
})();

function retained(): number {
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** With gc, what the decoder holds; without, a loose bound that still catches runaway growth. */
const RETAINED_BOUND = gc ? 16 * 1024 * 1024 : 256 * 1024 * 1024;
/** An event's JSON with payload 'none': headers, notes, a status, a 64 KiB body at most. */
const MAX_EVENT_JSON = PAYLOAD_SEGMENT_BYTES + 16 * 1024;

interface FeedResult {
  peakGrowth: number;
  maxEventJson: number;
  events: number;
}

/**
 * Feeds `chunks` into one direction of a live decoder with payload 'none', as a socket would
 * (every chunk a fresh buffer), and measures what stays reachable while it runs.
 */
function feed(t: Transport, dir: 'c2s' | 's2c', chunks: Iterable<Buffer>): FeedResult {
  let maxEventJson = 0;
  let events = 0;
  const decoder = new ConnectionDecoder(({ body }) => {
    events++;
    maxEventJson = Math.max(maxEventJson, JSON.stringify(body).length);
  }, { payload: 'none' });
  decoder.push('c2s', t.c2sHead);
  decoder.push('s2c', t.s2cHead);
  const before = retained();
  let peakGrowth = 0;
  let n = 0;
  for (const chunk of chunks) {
    decoder.push(dir, Buffer.from(chunk));
    if (++n % 64 === 0) peakGrowth = Math.max(peakGrowth, retained() - before);
  }
  peakGrowth = Math.max(peakGrowth, retained() - before);
  decoder.end('c2s');
  decoder.end('s2c');
  expect(decoder.finished).toBe(true);
  return { peakGrowth, maxEventJson, events };
}

const CHUNK = 64 * 1024;

function* randomStream(total: number, seed: number): Generator<Buffer> {
  const rnd = prng(seed);
  const block = Buffer.alloc(1024 * 1024 + CHUNK);
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(rnd() * 256);
  for (let at = 0; at < total; at += CHUNK) {
    const from = Math.floor(rnd() * (block.length - CHUNK));
    yield block.subarray(from, from + Math.min(CHUNK, total - at));
  }
}

function* chunked(buf: Buffer): Generator<Buffer> {
  for (let at = 0; at < buf.length; at += CHUNK) yield buf.subarray(at, at + CHUNK);
}

describe('bounded memory', () => {
  for (const t of TRANSPORTS) {
    it(`${t.name}: 50 MB of random bytes in 64 KiB chunks`, () => {
      for (const dir of ['c2s', 's2c'] as const) {
        const r = feed(t, dir, randomStream(25 * 1000 * 1000, dir === 'c2s' ? 1 : 2));
        expect(r.maxEventJson).toBeLessThanOrEqual(MAX_EVENT_JSON);
        expect(r.peakGrowth).toBeLessThan(RETAINED_BOUND);
      }
    });
  }

  it('a 48 MiB stdout frame streams through in 64 KiB segments', () => {
    const size = 48 * 1024 * 1024;
    // A frame header announcing the payload, then the payload as it arrives.
    const head = encodeWsFrame({ opcode: 2, payload: Buffer.alloc(0), forceLengthBytes: 8 });
    head.writeUInt32BE(Math.floor((size + 1) / 2 ** 32), 2);
    head.writeUInt32BE((size + 1) >>> 0, 6);
    function* frame(): Generator<Buffer> {
      yield Buffer.concat([head, Buffer.from([1])]);
      yield* randomStream(size, 3);
    }
    const r = feed(TRANSPORTS[0]!, 's2c', frame());
    expect(r.events).toBeGreaterThanOrEqual(size / PAYLOAD_SEGMENT_BYTES);
    expect(r.maxEventJson).toBeLessThanOrEqual(MAX_EVENT_JSON);
    expect(r.peakGrowth).toBeLessThan(RETAINED_BOUND);
  });

  it('a control frame with a 10 MiB payload is neither held whole nor put in an event', () => {
    // RFC 6455 §5.5 caps control payloads at 125 bytes; a hostile peer may announce more.
    const size = 10 * 1024 * 1024;
    const ping = encodeWsFrame({ opcode: 9, payload: Buffer.alloc(size, 0x61) });
    const r = feed(TRANSPORTS[0]!, 's2c', chunked(ping));
    expect.soft(r.maxEventJson).toBeLessThanOrEqual(MAX_EVENT_JSON);
    expect(r.peakGrowth).toBeLessThan(Math.min(RETAINED_BOUND, 4 * 1024 * 1024));
  });

  it('DATA frames for a million streams nobody opened do not grow what the decoder holds', () => {
    const FRAMES_PER_CHUNK = CHUNK / 8;
    function* frames(): Generator<Buffer> {
      let id = 1;
      for (let c = 0; c < 160; c++) {
        const chunk = Buffer.alloc(CHUNK);
        for (let k = 0; k < FRAMES_PER_CHUNK; k++, id += 2) chunk.writeUInt32BE(id, k * 8);
        yield chunk;
      }
    }
    const r = feed(TRANSPORTS[3]!, 'c2s', frames());
    expect(r.events).toBeGreaterThan(160 * FRAMES_PER_CHUNK);
    expect(r.peakGrowth).toBeLessThan(RETAINED_BOUND);
  });
});
