/**
 * PayloadBytes against a plain unmasked copy: every read (byteAt, head, all, from, pieces) of
 * bytes split into any parts, masked with any key index, gives the bytes the reference gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayloadBytes, SegmentParts, xorMask } from '../../src/codec/payload-bytes.js';

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function masked(plain: Buffer, keyIndex: number): Buffer {
  const out = Buffer.from(plain);
  xorMask(out, KEY, keyIndex);
  return out;
}

function split(buf: Buffer, sizes: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= buf.length) break;
    parts.push(buf.subarray(at, at + n));
    at += n;
  }
  if (at < buf.length) parts.push(buf.subarray(at));
  return parts.length ? parts : [buf];
}

describe('PayloadBytes', () => {
  it('reads the RFC 6455 §5.7 masked "Hello" split after two bytes', () => {
    const bytes = new PayloadBytes([Buffer.from([0x7f, 0x9f]), Buffer.from([0x4d, 0x51, 0x58])], 5, KEY, 0);
    expect(String.fromCharCode(bytes.byteAt(0))).toBe('H');
    expect(bytes.head(2).toString()).toBe('He');
    expect(bytes.all().toString()).toBe('Hello');
    expect(bytes.from(1).all().toString()).toBe('ello');
    expect(bytes.from(1).head(2).toString()).toBe('el');
  });

  it('gives the bytes of any split, mask and start', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 210 }),
        fc.integer({ min: 0, max: 210 }),
        (data, sizes, mask, keyIndex, start, n) => {
          const plain = Buffer.from(data);
          const wire = mask ? masked(plain, keyIndex) : plain;
          const parts = split(wire, sizes);
          const bytes = new PayloadBytes(parts, plain.length, mask ? KEY : null, keyIndex);
          const tail = bytes.from(Math.min(start, plain.length));
          const expected = plain.subarray(Math.min(start, plain.length));
          expect(tail.length).toBe(expected.length);
          // Views first, while nothing is cached: unmasked, they are the wire's own bytes.
          const views = tail.views();
          expect(Buffer.concat(views)).toEqual(expected);
          const partBuffers = new Set(parts.map((p) => p.buffer));
          if (!mask && expected.length > 0) for (const v of views) expect(partBuffers.has(v.buffer)).toBe(true);
          // base64 first, while nothing is cached, then again once head or all has built bytes.
          expect(tail.base64(n)).toBe(expected.subarray(0, n).toString('base64'));
          expect(tail.head(n)).toEqual(expected.subarray(0, n));
          for (let i = 0; i < expected.length; i += 7) expect(tail.byteAt(i)).toBe(expected[i]);
          expect(tail.all()).toEqual(expected);
          expect(tail.base64(n)).toBe(expected.subarray(0, n).toString('base64'));
          expect(bytes.all()).toEqual(plain);
          // The wire bytes are never written.
          expect(Buffer.concat(split(wire, sizes))).toEqual(mask ? masked(plain, keyIndex) : plain);
        },
      ),
      { seed: 0x7061_796c, numRuns: 300 },
    );
  });
});

describe('PayloadBytes.pieces', () => {
  it('cuts every byte into pieces of at most max, in order, as views of the parts when unmasked', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 8 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 70 }),
        (data, sizes, mask, max) => {
          const plain = Buffer.from(data);
          const wire = mask ? masked(plain, 1) : plain;
          const parts = split(wire, sizes);
          const pieces = new PayloadBytes(parts, plain.length, mask ? KEY : null, 1).pieces(max);
          const lengths = pieces.map((p) => p.reduce((n, v) => n + v.length, 0));
          // Full pieces, then the rest: as many frames as cutting one buffer would make.
          expect(lengths).toEqual(Array.from({ length: Math.ceil(plain.length / max) }, (_, i) => Math.min(max, plain.length - i * max)));
          expect(Buffer.concat(pieces.flat())).toEqual(plain);
          const partBuffers = new Set(parts.map((p) => p.buffer));
          if (!mask) for (const v of pieces.flat()) expect(partBuffers.has(v.buffer)).toBe(true);
        },
      ),
      { seed: 0x7069_6563, numRuns: 300 },
    );
  });
});

describe('SegmentParts', () => {
  it('keeps large pieces as views and copies small ones together', () => {
    const big = Buffer.alloc(600, 1);
    const parts = new SegmentParts();
    for (let i = 0; i < 10; i++) parts.add(Buffer.from([i]), 1000 - i);
    parts.add(big, 990);
    parts.add(Buffer.from([42]), 390);
    const bytes = parts.take(null, 0);
    expect(bytes.length).toBe(611);
    expect(bytes.all()).toEqual(Buffer.concat([Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), big, Buffer.from([42])]));
  });
});

describe('xorMask', () => {
  it('is the byte-by-byte XOR of RFC 6455 §5.3 at any length, alignment and key index', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 1100 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (bytes, align, keyIndex) => {
      // A view that starts `align` bytes into its ArrayBuffer, as a segment of a pushed chunk does.
      const store = Buffer.alloc(bytes.length + 8);
      const buf = store.subarray(align, align + bytes.length);
      buf.set(bytes);
      xorMask(buf, KEY, keyIndex);
      const want = Buffer.from(bytes.map((b, i) => b ^ KEY[(keyIndex + i) & 3]!));
      expect(buf.equals(want)).toBe(true);
    }), { numRuns: 300 });
    // Both sides of the word loop's threshold, at every alignment and key index.
    for (const n of [0, 3, 33, 256, 511, 512, 513, 1029]) {
      for (let align = 0; align < 4; align++) {
        for (let keyIndex = 0; keyIndex < 4; keyIndex++) {
          const buf = Buffer.alloc(n + 8).subarray(align, align + n);
          for (let i = 0; i < n; i++) buf[i] = (i * 31 + 7) & 0xff;
          xorMask(buf, KEY, keyIndex);
          for (let i = 0; i < n; i++) expect(buf[i]).toBe(((i * 31 + 7) & 0xff) ^ KEY[(keyIndex + i) & 3]!);
        }
      }
    }
  });
});
