/**
 * The same events, byte for byte, however TCP cut the stream: every small vector split at
 * every offset of each direction and fed one byte at a time, every large one at seeded random
 * chunkings. Full event lists are compared, not only summaries.
 */
import { describe, expect, it } from 'vitest';
import { decodeAll } from '../support/decode.js';
import { oneByteAtATime, randomChunks, splitAt } from '../support/split.js';
import { loadVector, vectorNames, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();
/** Each direction at most this long gets every split point. */
const EVERY_SPLIT_MAX_BYTES = 1500;

describe.skipIf(!available)('vector events do not depend on chunking', () => {
  const names = available ? vectorNames() : [];
  for (const name of names) {
    it(name, () => {
      const v = loadVector(name);
      const whole = decodeAll([v.c2s], [v.s2c]).events;
      const small = v.c2s.length <= EVERY_SPLIT_MAX_BYTES && v.s2c.length <= EVERY_SPLIT_MAX_BYTES;
      if (small) {
        for (let i = 1; i < v.c2s.length; i++) {
          expect(decodeAll(splitAt(v.c2s, [i]), [v.s2c]).events, `c2s split at ${i}`).toEqual(whole);
        }
        for (let i = 1; i < v.s2c.length; i++) {
          expect(decodeAll([v.c2s], splitAt(v.s2c, [i])).events, `s2c split at ${i}`).toEqual(whole);
        }
        expect(decodeAll(oneByteAtATime(v.c2s), oneByteAtATime(v.s2c)).events, 'one byte at a time').toEqual(whole);
      }
      const seeds = small ? 4 : 8;
      for (let seed = 1; seed <= seeds; seed++) {
        const maxPiece = seed % 2 ? 64 : 70_000;
        expect(decodeAll(randomChunks(v.c2s, seed, maxPiece), randomChunks(v.s2c, seed * 7919, maxPiece)).events, `seed ${seed}`).toEqual(whole);
      }
    });
  }
});
