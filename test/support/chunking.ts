/**
 * The chunking invariant every hand-built connection must satisfy: how TCP cut the bytes never
 * changes the events. A connection is decoded whole, then with the client's bytes split at each
 * offset (server's whole), the server's split at each offset (client's whole), and both fed one
 * byte at a time; every event list must equal the whole one, summary included.
 *
 * Directions longer than `exhaustiveLimit` are split at every offset of their first and last
 * `edgeBytes`, at every `stride`-th offset between, and at seeded random offsets, so a 70 KB
 * frame still has every header byte and a dense sample of its payload covered.
 */
import { expect } from 'vitest';
import type { ConnectionDecoderOptions } from '../../src/codec/connection-decoder.js';
import type { ConnectionSummary, KubewireEvent } from '../../src/events/types.js';
import { decodeAll } from './decode.js';
import { oneByteAtATime, prng, randomChunks, splitAt } from './split.js';

export interface ChunkingOptions {
  decoder?: ConnectionDecoderOptions;
  /** Directions up to this many bytes are split at every offset. */
  exhaustiveLimit?: number;
  /** For longer directions: offsets within this many bytes of either end are all tried. */
  edgeBytes?: number;
  /** For longer directions: every stride-th offset in between. */
  stride?: number;
  /** Feed both directions one byte at a time (default true). */
  byteByByte?: boolean;
  /** Extra runs with seeded random chunkings of both directions. */
  randomRuns?: number;
}

export interface Decoded {
  events: KubewireEvent[];
  summary: ConnectionSummary;
}

/** Offsets at which to split a direction of `length` bytes. */
export function cutPoints(length: number, o: ChunkingOptions = {}): number[] {
  const limit = o.exhaustiveLimit ?? 4096;
  const out: number[] = [];
  if (length <= limit) {
    for (let i = 1; i < length; i++) out.push(i);
    return out;
  }
  const edge = o.edgeBytes ?? 1024;
  const stride = o.stride ?? 251;
  const set = new Set<number>();
  for (let i = 1; i < Math.min(edge, length); i++) set.add(i);
  for (let i = Math.max(1, length - edge); i < length; i++) set.add(i);
  for (let i = edge; i < length - edge; i += stride) set.add(i);
  const rnd = prng(length);
  for (let k = 0; k < 64; k++) set.add(1 + Math.floor(rnd() * (length - 1)));
  return [...set].sort((a, b) => a - b);
}

/**
 * Decodes `c2s` and `s2c` whole and returns that result, after checking that every chunking
 * listed above gives exactly the same events.
 */
export function expectChunkingInvariant(c2s: Buffer, s2c: Buffer, o: ChunkingOptions = {}): Decoded {
  const whole = decodeAll([c2s], [s2c], o.decoder);
  const reference = JSON.stringify(whole.events);
  const check = (label: string, c: Buffer[], s: Buffer[]): void => {
    const got = decodeAll(c, s, o.decoder);
    // Stringify first: far cheaper than a deep diff, which only runs when they differ.
    if (JSON.stringify(got.events) !== reference) expect(got.events, label).toEqual(whole.events);
    expect(got.summary, label).toEqual(whole.summary);
  };
  for (const k of cutPoints(c2s.length, o)) check(`c2s split at ${k}`, splitAt(c2s, [k]), [s2c]);
  for (const k of cutPoints(s2c.length, o)) check(`s2c split at ${k}`, [c2s], splitAt(s2c, [k]));
  if (o.byteByByte ?? true) check('one byte at a time', oneByteAtATime(c2s), oneByteAtATime(s2c));
  for (let seed = 1; seed <= (o.randomRuns ?? 4); seed++) {
    check(`random chunks, seed ${seed}`, randomChunks(c2s, seed, 64), randomChunks(s2c, seed + 1000, 64));
  }
  return whole;
}
