import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { Deflate, Z_FINISH, Z_SYNC_FLUSH } from 'pako';
import { describe, expect, it } from 'vitest';
import { MAX_SPDY_HEADER_BLOCK_BYTES } from '../../src/codec/limits.js';
import { SPDY3_DICTIONARY } from '../../src/codec/spdy-dictionary.js';
import { SpdyHeaderBlockDeflater, encodeSynReply, encodeSynStream } from '../../src/codec/spdy-encode.js';
import { type SpdyControlFrame, SpdyFrameDecoder } from '../../src/codec/spdy-frame.js';
import {
  type InflateResult,
  SpdyHeaderBlockInflater,
  type SpdyHeaders,
  headerLookup,
  parseHeaderBlock,
} from '../../src/codec/spdy-header-block.js';

import { VECTORS_DIR as VECTORS, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** The plain block bytes, for feeding parseHeaderBlock and for deflating by hand. */
function plainBlock(pairs: [string, string][], count = pairs.length): Buffer {
  const parts = [u32(count)];
  for (const [n, v] of pairs) parts.push(u32(Buffer.byteLength(n)), Buffer.from(n), u32(Buffer.byteLength(v)), Buffer.from(v));
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Control frames of a byte stream, fed at the given cuts. */
function controlFrames(input: Buffer, cuts: number[] = []): SpdyControlFrame[] {
  const frames: SpdyControlFrame[] = [];
  const decoder = new SpdyFrameDecoder({
    control: (f) => frames.push(f),
    dataFrame: () => {},
    data: () => {},
    dataEnd: () => {},
    anomaly: (a) => {
      throw new Error(`unexpected anomaly ${a.code}`);
    },
  });
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    decoder.push(input.subarray(at, cut));
    at = cut;
  }
  return frames;
}

function headersOf(result: InflateResult): SpdyHeaders {
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  return result.headers;
}

describe('SPDY3_DICTIONARY (SPDY/3 §2.6.10.1)', () => {
  it('is the 1423-byte dictionary with Adler-32 0xE3C6A7C2', () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    expect(adler32(SPDY3_DICTIONARY)).toBe(0xe3c6a7c2);
    expect(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1')).toBe('\0\0\0\x07options');
    expect(SPDY3_DICTIONARY.subarray(-7).toString('latin1')).toBe(',enq=0.');
  });
});

describe('parseHeaderBlock (SPDY/3 §2.6.10)', () => {
  it('parses pairs and splits values on NUL, names as on the wire', () => {
    const plain = plainBlock([
      ['streamtype', 'error'],
      ['X-Multi', 'a\0b\0'],
      ['empty', ''],
    ]);
    expect(parseHeaderBlock(plain)).toEqual({
      ok: true,
      headers: [
        ['streamtype', ['error']],
        ['X-Multi', ['a', 'b', '']],
        ['empty', ['']],
      ],
    });
    expect(parseHeaderBlock(u32(0))).toEqual({ ok: true, headers: [] });
  });

  it('rejects blocks whose count or lengths run past the end, without trusting the count', () => {
    const bad = (b: Buffer) => {
      const r = parseHeaderBlock(b);
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.message;
    };
    expect(bad(Buffer.alloc(0))).toMatch(/no pair count/);
    expect(bad(Buffer.alloc(3))).toMatch(/no pair count/);
    expect(bad(Buffer.concat([u32(0xffffffff), Buffer.alloc(16)]))).toMatch(/4294967295 pairs/);
    expect(bad(plainBlock([['a', 'b']], 2))).toMatch(/2 pairs/);
    expect(bad(Buffer.concat([u32(1), u32(0xfffffff0), Buffer.alloc(8)]))).toMatch(/name runs past/);
    expect(bad(Buffer.concat([u32(1), u32(1), Buffer.from('a'), u32(9), Buffer.from('xy')]))).toMatch(/value runs past/);
    expect(bad(Buffer.concat([plainBlock([['a', 'b']]), Buffer.from('zz')]))).toMatch(/2 bytes after the last/);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        parseHeaderBlock(Buffer.from(b));
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});

describe('headerLookup', () => {
  it('matches names case-insensitively and returns the first value', () => {
    const headers: SpdyHeaders = [
      ['streamtype', ['data']],
      ['Port', ['8080', '9090']],
    ];
    expect(headerLookup(headers, 'StreamType')).toBe('data');
    expect(headerLookup(headers, 'port')).toBe('8080');
    expect(headerLookup(headers, 'requestid')).toBeNull();
  });
});

describe('SpdyHeaderBlockInflater', () => {
  it('round-trips several blocks through one deflate context per direction', () => {
    const deflater = new SpdyHeaderBlockDeflater();
    const inflater = new SpdyHeaderBlockInflater();
    const blocks: [string, string | string[]][][] = [
      [['streamtype', 'error']],
      [['streamtype', 'stdin']],
      [
        ['streamtype', 'data'],
        ['port', '8080'],
        ['requestid', '0'],
      ],
      [],
      [['x-values', ['a', 'b', 'ü']]],
    ];
    const wire = blocks.map((b) => deflater.deflate(b));
    // Go-compatible framing: FDICT header with the dictionary's id, then sync-flushed blocks.
    expect(wire[0]!.subarray(0, 6).toString('hex')).toBe('78f9e3c6a7c2');
    for (const w of wire) expect(w.subarray(-4).toString('hex')).toBe('0000ffff');
    expect(wire[1]![0]).not.toBe(0x78);
    // The second block refers back to the first, so it is smaller.
    expect(wire[1]!.length).toBeLessThan(wire[0]!.length);
    const results = wire.map((w) => inflater.inflate(w));
    expect(results.map(headersOf)).toEqual(blocks.map((b) => b.map(([n, v]) => [n, Array.isArray(v) ? v : [v]])));
    expect(results[3]).toEqual({ ok: true, headers: [], inflatedBytes: 4 });
    expect(inflater.broken).toBe(false);
  });

  it('inflates header blocks that span reads, wherever the frames are cut', () => {
    const deflater = new SpdyHeaderBlockDeflater();
    const headerSets: [string, string][][] = [
      [['streamtype', 'error'], ['port', '80'], ['requestid', '0']],
      [['streamtype', 'data'], ['port', '80'], ['requestid', '0']],
      [['streamtype', 'error'], ['port', '443'], ['requestid', '1']],
    ];
    const input = Buffer.concat(headerSets.map((h, i) => encodeSynStream({ streamId: 2 * i + 1, headerBlock: deflater.deflate(h) })));
    for (let cut = 0; cut <= input.length; cut++) {
      for (const cuts of [[cut], [Math.floor(cut / 2), cut]]) {
        const inflater = new SpdyHeaderBlockInflater();
        const got = controlFrames(input, cuts.filter((c) => c > 0 && c < input.length)).map((f) => {
          if (f.type !== 'SYN_STREAM') throw new Error(f.type);
          return headersOf(inflater.inflate(f.headerBlock));
        });
        expect(got).toEqual(headerSets.map((h) => h.map(([n, v]) => [n, [v]])));
      }
    }
  });

  it('fails every block after a skipped one: the zlib stream spans the direction', () => {
    const deflater = new SpdyHeaderBlockDeflater();
    const first = deflater.deflate([['streamtype', 'error']]);
    const second = deflater.deflate([['streamtype', 'stdout']]);
    const inflater = new SpdyHeaderBlockInflater();
    expect(inflater.inflate(second)).toMatchObject({ ok: false, code: 'KW_SPDY_ZLIB' });
    expect(inflater.broken).toBe(true);
    expect(inflater.inflate(first)).toEqual({ ok: false, code: 'KW_SPDY_ZLIB', message: 'header compression context lost' });
  });

  it('reports garbage as KW_SPDY_ZLIB and stays broken', () => {
    const inflater = new SpdyHeaderBlockInflater();
    const garbage = inflater.inflate(Buffer.from('this is not zlib at all'));
    expect(garbage).toMatchObject({ ok: false, code: 'KW_SPDY_ZLIB' });
    expect(inflater.broken).toBe(true);
    const good = new SpdyHeaderBlockDeflater().deflate([['streamtype', 'error']]);
    for (let i = 0; i < 3; i++) {
      expect(inflater.inflate(good)).toEqual({ ok: false, code: 'KW_SPDY_ZLIB', message: 'header compression context lost' });
    }
    expect(inflater.broken).toBe(true);
  });

  it('reports a block deflated with another dictionary as KW_SPDY_ZLIB', () => {
    const other = deflateSync(plainBlock([['a', 'b']]), { dictionary: Buffer.from('not the spdy dictionary') });
    expect(new SpdyHeaderBlockInflater().inflate(other)).toMatchObject({ ok: false, code: 'KW_SPDY_ZLIB' });
  });

  it('reports a block that inflates but does not parse as KW_SPDY_BAD_HEADER_BLOCK, then stays broken', () => {
    const deflater = new Deflate({ level: 9, dictionary: SPDY3_DICTIONARY });
    const pieces: Uint8Array[] = [];
    deflater.onData = (p) => pieces.push(p);
    deflater.push(Buffer.concat([u32(0x7fffffff), u32(3)]), Z_SYNC_FLUSH);
    const inflater = new SpdyHeaderBlockInflater();
    expect(inflater.inflate(Buffer.concat(pieces))).toMatchObject({ ok: false, code: 'KW_SPDY_BAD_HEADER_BLOCK' });
    expect(inflater.broken).toBe(true);
  });

  it('fails the block after a peer ended the zlib stream (SPDY never does)', () => {
    const deflater = new Deflate({ level: 9, dictionary: SPDY3_DICTIONARY });
    const pieces: Uint8Array[] = [];
    deflater.onData = (p) => pieces.push(p);
    deflater.push(plainBlock([['a', 'b']]), Z_FINISH);
    const inflater = new SpdyHeaderBlockInflater();
    expect(headersOf(inflater.inflate(Buffer.concat(pieces)))).toEqual([['a', ['b']]]);
    expect(inflater.inflate(Buffer.from('0000ffff', 'hex'))).toMatchObject({ ok: false, code: 'KW_SPDY_ZLIB' });
    expect(inflater.broken).toBe(true);
  });

  it('stops a zlib bomb (50 MiB of zeros in a SYN_STREAM) quickly, without crashing or holding it', () => {
    const bomb = deflateSync(Buffer.alloc(50 * 1024 * 1024), { dictionary: SPDY3_DICTIONARY, level: 9 });
    const frames = controlFrames(encodeSynStream({ streamId: 1, headerBlock: bomb }));
    expect(frames).toHaveLength(1);
    const inflater = new SpdyHeaderBlockInflater();
    const before = process.memoryUsage();
    const started = performance.now();
    const result = inflater.inflate((frames[0] as { headerBlock: Buffer }).headerBlock);
    const elapsed = performance.now() - started;
    const after = process.memoryUsage();
    expect(result).toMatchObject({ ok: false, code: 'KW_SPDY_HEADER_BOMB' });
    expect(result.ok ? '' : result.message).toContain(`${MAX_SPDY_HEADER_BLOCK_BYTES}`);
    expect(elapsed).toBeLessThan(500);
    // Inflating it all would add 50 MiB; the cap allows a few hundred KiB.
    expect(after.arrayBuffers + after.heapUsed - (before.arrayBuffers + before.heapUsed)).toBeLessThan(16 * 1024 * 1024);
    expect(inflater.broken).toBe(true);
    expect(inflater.inflate(bomb)).toEqual({ ok: false, code: 'KW_SPDY_ZLIB', message: 'header compression context lost' });
  });

  it('applies the cap to a later block of a good context, and honours maxBlockBytes', () => {
    const deflater = new SpdyHeaderBlockDeflater();
    const inflater = new SpdyHeaderBlockInflater({ maxBlockBytes: 1000 });
    expect(headersOf(inflater.inflate(deflater.deflate([['streamtype', 'error']])))).toEqual([['streamtype', ['error']]]);
    const at = inflater.inflate(deflater.deflate([['x', 'y'.repeat(1000 - 4 - 8 - 1)]]));
    expect(at).toMatchObject({ ok: true, inflatedBytes: 1000 });
    expect(inflater.inflate(deflater.deflate([['x', 'y'.repeat(1000)]]))).toMatchObject({ ok: false, code: 'KW_SPDY_HEADER_BOMB' });
    expect(inflater.broken).toBe(true);
  });

  it('never throws on random input, and round-trips random header lists in one context', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 4 }), (blocks) => {
        const inflater = new SpdyHeaderBlockInflater();
        for (const b of blocks) inflater.inflate(b);
      }),
      { numRuns: 200, seed: 11 },
    );
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0'));
    const values = fc.array(fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(name, values), { maxLength: 5 }), { minLength: 1, maxLength: 6 }), (blocks) => {
        const deflater = new SpdyHeaderBlockDeflater();
        const inflater = new SpdyHeaderBlockInflater();
        for (const b of blocks) expect(headersOf(inflater.inflate(deflater.deflate(b)))).toEqual(b);
      }),
      { numRuns: 100, seed: 12 },
    );
  });
});

describe.skipIf(!available)('SpdyHeaderBlockInflater on real kubectl captures', () => {
  interface Frame {
    dir: string;
    spdy?: string;
    streamId?: number;
    headers?: [string, string[]][];
  }

  /** Inflates every header block of one direction in order, as a session decoder must. */
  function headerBlocks(name: string, dir: 'c2s' | 's2c'): { type: string; streamId: number; headers: SpdyHeaders }[] {
    const raw = readFileSync(join(VECTORS, `${name}.${dir}`));
    const head = raw.indexOf('\r\n\r\n') + 4;
    const inflater = new SpdyHeaderBlockInflater();
    const out: { type: string; streamId: number; headers: SpdyHeaders }[] = [];
    for (const f of controlFramesLenient(raw.subarray(head))) {
      if (f.type === 'SYN_STREAM' || f.type === 'SYN_REPLY' || f.type === 'HEADERS') {
        out.push({ type: f.type, streamId: f.streamId, headers: headersOf(inflater.inflate(f.headerBlock)) });
      }
    }
    return out;
  }

  /** Some captures end inside a final GOAWAY; that truncation is the frame decoder's business. */
  function controlFramesLenient(input: Buffer): SpdyControlFrame[] {
    const frames: SpdyControlFrame[] = [];
    const decoder = new SpdyFrameDecoder({ control: (f) => frames.push(f), dataFrame() {}, data() {}, dataEnd() {}, anomaly() {} });
    decoder.push(input);
    return frames;
  }

  it('gives streamtype for each exec stream (kubectl 1.27 exec)', () => {
    const blocks = headerBlocks('kubectl1.27-exec-spdy', 'c2s');
    expect(blocks.map((b) => [b.streamId, headerLookup(b.headers, 'streamtype')])).toEqual([
      [1, 'error'],
      [3, 'stdout'],
      [5, 'stderr'],
    ]);
    expect(headerBlocks('kubectl1.27-exec-spdy', 's2c').map((b) => [b.type, b.headers])).toEqual([
      ['SYN_REPLY', []],
      ['SYN_REPLY', []],
      ['SYN_REPLY', []],
    ]);
  });

  it('gives streamtype, port and requestid for each port-forward stream (kubectl 1.33)', () => {
    const blocks = headerBlocks('kubectl1.33-portforward-spdy', 'c2s');
    expect(blocks.map((b) => ['streamtype', 'port', 'requestid'].map((n) => headerLookup(b.headers, n)))).toEqual([
      ['error', '80', '0'],
      ['data', '80', '0'],
      ['error', '80', '1'],
      ['data', '80', '1'],
    ]);
  });

  it('matches the headers listed in every SPDY vector', () => {
    const names = (available ? readdirSync(VECTORS) : [])
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5));
    let checked = 0;
    for (const name of names) {
      const meta = JSON.parse(readFileSync(join(VECTORS, `${name}.json`), 'utf8')) as {
        expectedSummary: { transport: string };
        instrumentEvents: Frame[];
      };
      if (meta.expectedSummary.transport !== 'spdy') continue;
      for (const dir of ['c2s', 's2c'] as const) {
        const theirs = meta.instrumentEvents
          .filter((e) => e.dir === dir && e.headers !== undefined)
          .map((e) => ({ type: e.spdy, streamId: e.streamId, headers: e.headers }));
        expect(headerBlocks(name, dir)).toEqual(theirs);
        checked += theirs.length;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});

describe('encodeSynReply with a deflated block', () => {
  it('decodes to the same headers', () => {
    const block = new SpdyHeaderBlockDeflater().deflate([]);
    const [frame] = controlFrames(encodeSynReply({ streamId: 1, headerBlock: block }));
    expect(frame?.type).toBe('SYN_REPLY');
    expect(headersOf(new SpdyHeaderBlockInflater().inflate((frame as { headerBlock: Buffer }).headerBlock))).toEqual([]);
  });
});
