/**
 * Decoding costs a bounded amount of work per byte, however the bytes are chunked. Work is
 * counted, never timed: every chunk a ByteQueue reads or moves and every byte it copies
 * (byteQueueWork), and every byte Buffer.concat produces. A decoder that goes back over what it
 * holds on each push or message (shifting a chunk array, re-joining a growing buffer) does work
 * that grows with what is held, so its work per byte has no bound and these checks fail.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { byteQueueWork } from '../../src/codec/byte-queue.js';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import { ConnectionDecoder } from '../../src/codec/connection-decoder.js';
import type { DecodedEvent } from '../../src/codec/decode-context.js';
import { oneByteAtATime, splitBySizes } from '../support/split.js';
import { loadVector, vectorNames, vectorsAvailable, type Vector } from '../support/vectors.js';
import { EXEC_TARGET, OP, chan, cframe, sframe, wsRequest, wsResponse } from '../support/wire.js';

const SEED = 0x6c_69_6e_65;
const V5 = 'v5.channel.k8s.io';

/**
 * Queue and join work allowed per input byte. Reading a one-byte chunk costs a visit or two and
 * a one-byte copy, so any chunking stays near 3; work that grows with what is held exceeds any
 * constant once enough is held.
 */
const WORK_PER_BYTE = 8;
/**
 * Total work (each byte looked at once, plus queue and join work) of the worst chunking, one
 * byte at a time, over that of the whole input in one chunk.
 */
const BYTEWISE_OVER_WHOLE = 8;

interface Work {
  bytes: number;
  chunkVisits: number;
  bytesCopied: number;
  bytesJoined: number;
}

/** Queue and join work per input byte. */
const perByte = (w: Work): number => (w.chunkVisits + w.bytesCopied + w.bytesJoined) / w.bytes;
/** All work, the first look at every byte included. */
const total = (w: Work): number => w.bytes + w.chunkVisits + w.bytesCopied + w.bytesJoined;

let bytesJoined = 0;

beforeEach(() => {
  const concat = Buffer.concat.bind(Buffer);
  vi.spyOn(Buffer, 'concat').mockImplementation((list, totalLength) => {
    const out = concat(list, totalLength);
    bytesJoined += out.length;
    return out;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The work `decode` does on `bytes` input bytes. */
function measure(bytes: number, decode: () => void): Work {
  byteQueueWork.chunkVisits = 0;
  byteQueueWork.bytesCopied = 0;
  bytesJoined = 0;
  decode();
  return { bytes, chunkVisits: byteQueueWork.chunkVisits, bytesCopied: byteQueueWork.bytesCopied, bytesJoined };
}

/** A capture fed as decodeCapture feeds it: the client's chunks, then the server's. */
function captureWork(c2s: Uint8Array[], s2c: Uint8Array[]): Work {
  const bytes = [...c2s, ...s2c].reduce((n, c) => n + c.length, 0);
  return measure(bytes, () => decodeCaptureSync(c2s, s2c, () => {}, { payload: 'none' }));
}

const available = vectorsAvailable();

describe.skipIf(!available)('the 1 MiB vectors', () => {
  const loaded: Vector[] = available ? vectorNames().filter((n) => n.includes('big')).map(loadVector) : [];
  // One whose megabyte is held before the 101 (client to server), one whose megabyte streams
  // after it (server to client): the two paths bytes take through the queues.
  const big = [loaded.find((v) => v.c2s.length >= 1 << 20), loaded.find((v) => v.s2c.length >= 1 << 20)].filter((v) => v !== undefined);

  it('are there', () => {
    expect(big).toHaveLength(2);
  });

  for (const v of big) {
    it(`${v.name}: one byte at a time costs a bounded multiple of one chunk`, () => {
      const whole = captureWork([v.c2s], [v.s2c]);
      const bytewise = captureWork(oneByteAtATime(v.c2s), oneByteAtATime(v.s2c));
      expect(perByte(whole), JSON.stringify(whole)).toBeLessThanOrEqual(WORK_PER_BYTE);
      expect(perByte(bytewise), JSON.stringify(bytewise)).toBeLessThanOrEqual(WORK_PER_BYTE);
      expect(total(bytewise) / total(whole), `${JSON.stringify(bytewise)} over ${JSON.stringify(whole)}`).toBeLessThanOrEqual(BYTEWISE_OVER_WHOLE);
    });
  }

  it('any chunking costs a bounded amount of work per byte', () => {
    const sizes = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(fc.constantFrom(...big), sizes, sizes, (v, c2sSizes, s2cSizes) => {
        const w = captureWork(splitBySizes(v.c2s, c2sSizes), splitBySizes(v.s2c, s2cSizes));
        expect(perByte(w), `${v.name}: ${JSON.stringify(w)}`).toBeLessThanOrEqual(WORK_PER_BYTE);
      }),
      { seed: SEED, numRuns: 20 },
    );
  });
});

describe('held and collected bytes', () => {
  it('40,000 client chunks held until the 101 are read once', () => {
    const frames = Array.from({ length: 40_000 }, (_, i) => cframe(OP.binary, chan(0, [i & 0xff])));
    const request = wsRequest(EXEC_TARGET, [V5]);
    const response = wsResponse(V5);
    const bytes = request.length + response.length + frames.reduce((n, f) => n + f.length, 0);
    let stdin = 0;
    let held = false;
    const w = measure(bytes, () => {
      const decoder = new ConnectionDecoder(({ body }: DecodedEvent) => {
        if (body.type === 'k8s.data' && body.dir === 'c2s') stdin++;
      }, { payload: 'none' });
      decoder.push('c2s', request);
      for (const f of frames) decoder.push('c2s', f);
      held = decoder.awaitingAnswer;
      decoder.push('s2c', response);
      decoder.end('c2s');
      decoder.end('s2c');
    });
    expect(held).toBe(true);
    expect(stdin).toBe(frames.length);
    expect(perByte(w), JSON.stringify(w)).toBeLessThanOrEqual(WORK_PER_BYTE);
  });

  it('a status collected over 20,000 messages is joined once, not once a message', () => {
    // Whitespace keeps the status open (it might still become a JSON object) to the very end.
    const messages = Array.from({ length: 20_000 }, () => sframe(OP.binary, chan(3, ' ')));
    const w = captureWork([wsRequest(EXEC_TARGET, [V5])], [wsResponse(V5), ...messages]);
    expect(perByte(w), JSON.stringify(w)).toBeLessThanOrEqual(WORK_PER_BYTE);
  });
});
