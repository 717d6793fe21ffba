/**
 * The shared ring the relay's copies travel through (src/observer/copy-ring.ts): whatever the
 * chunk sizes and however far the reader lags, what the reader takes out is what the writer put
 * in, in order, across the wrap; a chunk that finds no room is refused whole and leaves the ring
 * as it was; room lent to the reader is not written over until it is given back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ringMemory, RingReader, RingWriter } from '../../src/observer/copy-ring.js';

/** The span's bytes, read as the observer reads them (one view, or two across the wrap), copied, and its room given back. */
function take(reader: RingReader, position: number, length: number): Buffer {
  const views: Buffer[] = [];
  for (let at = position, left = length; left > 0; ) {
    const view = reader.view(at, left);
    views.push(Buffer.from(view));
    at += view.length;
    left -= view.length;
  }
  reader.release(length);
  return Buffer.concat(views);
}

describe('copy ring', () => {
  it('gives back every byte in order, across the wrap, whatever the chunks and the lag', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), fc.boolean()), { minLength: 1, maxLength: 60 }), (steps) => {
        const memory = ringMemory(256);
        const writer = new RingWriter(memory);
        const reader = new RingReader(memory);
        let seed = 0;
        const written: Buffer[] = [];
        const read: Buffer[] = [];
        // Spans not yet taken, as a batch message would name them.
        const pending: [number, number][] = [];
        let used = 0;
        for (const [size, drain] of steps) {
          const chunk = Buffer.from(Array.from({ length: size }, () => seed++ & 0xff));
          const start = writer.position;
          const ok = writer.write(chunk);
          expect(ok, `${size} bytes with ${used} of 256 used`).toBe(size <= 256 - used);
          if (ok) {
            written.push(chunk);
            pending.push([start, size]);
            used += size;
          }
          if (drain || !ok) {
            for (const [at, n] of pending.splice(0)) read.push(take(reader, at, n));
            used = 0;
          }
        }
        for (const [at, n] of pending.splice(0)) read.push(take(reader, at, n));
        expect(Buffer.concat(read).equals(Buffer.concat(written))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('lent room is not written over until the reader gives it back', () => {
    const memory = ringMemory(16);
    const writer = new RingWriter(memory);
    const reader = new RingReader(memory);
    writer.write(Buffer.from('0123456789abcdef'));
    const lent = reader.view(0, 16);
    expect(writer.write(Buffer.from('X'))).toBe(false);
    expect(lent.toString()).toBe('0123456789abcdef');
    reader.release(4);
    expect(writer.write(Buffer.from('XXXX'))).toBe(true);
    expect(lent.toString()).toBe('XXXX456789abcdef');
    expect(reader.view(14, 6).toString()).toBe('ef');
  });

  it('only a power of two is a ring size', () => {
    expect(() => ringMemory(1000)).toThrow(/power of two/);
  });
});
