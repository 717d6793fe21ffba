/**
 * The decoders own nothing they are pushed: a chunk is theirs only for the length of the call.
 * The observer decodes straight out of the relay's shared ring (src/observer/copy-ring.ts),
 * whose room is written over once it is given back, so whatever a decoder keeps past a push (a
 * frame header cut in two, a payload still growing, client bytes waiting for the server's
 * answer) must be copied before the push returns.
 *
 * Each chunk is pushed from a scratch buffer that is then overwritten with garbage; the events
 * must be those of decoding the same chunks from buffers left alone. A decoder that kept a view
 * of the scratch buffer reads the garbage later and decodes something else.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionDecoder, type ConnectionDecoderOptions } from '../../src/codec/connection-decoder.js';
import { EventStamper } from '../../src/events/stamp.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { decodeAll } from '../support/decode.js';
import { oneByteAtATime, randomChunks } from '../support/split.js';
import { loadVector, vectorNames, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();
const MODES: ConnectionDecoderOptions[] = [{ payload: 'full', digests: true }, { payload: 'head' }, { payload: 'none' }];
/** Directions at most this long are also fed one byte at a time. */
const BYTEWISE_MAX_BYTES = 20_000;

/** Decodes the chunks, each pushed from one scratch buffer that is overwritten after the push. */
function decodeBorrowed(c2s: Buffer[], s2c: Buffer[], options: ConnectionDecoderOptions): { events: KubewireEvent[]; summary: unknown } {
  const stamper = new EventStamper();
  const events: KubewireEvent[] = [];
  const decoder = new ConnectionDecoder(({ body, note }) => events.push(stamper.stamp(body, note)), options);
  let scratch: Buffer = Buffer.alloc(0);
  let poison = 0;
  const feed = (dir: 'c2s' | 's2c', chunk: Buffer): void => {
    if (chunk.length === 0) return decoder.push(dir, chunk);
    // Shared memory, as the ring is: that is how a decoder tells a lent chunk from one it may keep.
    if (scratch.length < chunk.length) scratch = Buffer.from(new SharedArrayBuffer(Math.max(chunk.length, 2 * scratch.length)));
    const view = scratch.subarray(0, chunk.length);
    view.fill(chunk);
    decoder.push(dir, view);
    // Not one fixed byte: a decoder that kept a view must not happen to read what it expects.
    scratch.fill((poison = (poison + 0x5b) & 0xff));
  };
  for (const c of c2s) feed('c2s', c);
  decoder.end('c2s');
  for (const c of s2c) feed('s2c', c);
  decoder.end('s2c');
  return { events, summary: decoder.summary() };
}

describe.skipIf(!available)('decoders keep no view of a pushed chunk', () => {
  for (const name of available ? vectorNames() : []) {
    it(name, () => {
      const v = loadVector(name);
      const cuts: [string, Buffer[], Buffer[]][] = [
        ['whole', [v.c2s], [v.s2c]],
        ['up to 64 bytes', randomChunks(v.c2s, 3, 64), randomChunks(v.s2c, 5, 64)],
        ['up to 70000 bytes', randomChunks(v.c2s, 7, 70_000), randomChunks(v.s2c, 11, 70_000)],
      ];
      if (v.c2s.length <= BYTEWISE_MAX_BYTES && v.s2c.length <= BYTEWISE_MAX_BYTES) cuts.push(['one byte at a time', oneByteAtATime(v.c2s), oneByteAtATime(v.s2c)]);
      for (const options of MODES) {
        for (const [how, c2s, s2c] of cuts) {
          const expected = decodeAll(c2s, s2c, options);
          const got = decodeBorrowed(c2s, s2c, options);
          expect(got.events, `${options.payload}, ${how}`).toEqual(expected.events);
          expect(got.summary, `${options.payload}, ${how}: summary`).toEqual(expected.summary);
        }
      }
    });
  }
});
