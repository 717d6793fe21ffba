/** Decoding helpers shared by the codec tests. */
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import type { ConnectionDecoderOptions } from '../../src/codec/connection-decoder.js';
import { EventStamper } from '../../src/events/stamp.js';
import type { ConnectionSummary, KubewireEvent } from '../../src/events/types.js';

export function decodeAll(
  c2s: Iterable<Uint8Array>,
  s2c: Iterable<Uint8Array>,
  options: ConnectionDecoderOptions = {},
): { events: KubewireEvent[]; summary: ConnectionSummary } {
  const stamper = new EventStamper();
  const events: KubewireEvent[] = [];
  const summary = decodeCaptureSync(c2s, s2c, ({ body, note }) => events.push(stamper.stamp(body, note)), options);
  return { events, summary };
}

/** Splits `buf` into pieces at the given offsets (sorted, within bounds). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    if (c <= prev || c >= buf.length) continue;
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** A small seeded PRNG (mulberry32), so random chunkings are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random chunking of `buf` with pieces of 1..maxPiece bytes. */
export function randomChunks(buf: Buffer, seed: number, maxPiece = 4096): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(rnd() * Math.min(maxPiece, buf.length - i));
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}
