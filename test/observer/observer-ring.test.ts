/**
 * The observer decodes straight out of the shared ring (observer-core.ts): a batch's chunks are
 * views of it, adjacent chunks of one connection and direction go in one push, a chunk that
 * crosses the ring's end is pushed as two views, and the room is written over as soon as the
 * batch is done. The events must be those of decoding the same bytes from buffers of their own.
 * A small ring makes every vector wrap many times, and the writer fills given-back room with
 * the next batch before anything held from the last one is read again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { ringMemory, RingWriter } from '../../src/observer/copy-ring.js';
import { inFlightMemory } from '../../src/observer/in-flight.js';
import { ObserverCore } from '../../src/observer/observer-core.js';
import type { RelayEntry } from '../../src/observer/observer-messages.js';
import { decodeAll } from '../support/decode.js';
import { randomChunks } from '../support/split.js';
import { loadVector, vectorNames, vectorsAvailable } from '../support/vectors.js';

const available = vectorsAvailable();
const RING = 4096;
/** A batch holds at most this much, as the relay's do, well under the ring. */
const BATCH = 1500;
const dir = mkdtempSync(join(tmpdir(), 'kubewire-observer-ring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What both sides decode alike: the decoder's own fields, without the log's place and time. */
function decoded(events: KubewireEvent[]): unknown[] {
  return events.map(({ seq: _seq, ts: _ts, conn: _conn, session: _session, ...rest }) => rest as unknown);
}

async function throughRing(name: string, c2s: Buffer[], s2c: Buffer[]): Promise<KubewireEvent[]> {
  const ring = ringMemory(RING);
  const writer = new RingWriter(ring);
  const { core } = await ObserverCore.open({ payload: 'full', lossless: false, digests: true, logPath: join(dir, `${name}.jsonl`), audit: null, ring, inFlight: inFlightMemory() }, () => {});
  const events: KubewireEvent[] = [];
  core.bus.subscribe((e) => {
    // Diagnosis findings are the session model's, not the decoder's: decodeAll has none.
    if (e.conn === 'c1' && e.type !== 'finding') events.push(e);
  });
  let entries: RelayEntry[] = [{ k: 'tap', at: 1, conn: 'c1', session: 's1' }];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (!entries.length) return;
    await core.handle({ t: 'batch', entries, ring: bytes ? [writer.startOfLast(bytes), bytes] : null, buffers: [], bytes });
    entries = [];
    bytes = 0;
  };
  for (const [d, chunks] of [['c2s', c2s], ['s2c', s2c]] as const) {
    for (const chunk of chunks) {
      if (bytes + chunk.length > BATCH) await flush();
      expect(writer.write(chunk)).toBe(true);
      entries.push({ k: 'data', at: 1, conn: 'c1', dir: d, buf: -1, off: bytes, len: chunk.length });
      bytes += chunk.length;
    }
    entries.push({ k: 'end', at: 1, conn: 'c1', dir: d });
    await flush();
  }
  await core.handle({ t: 'shutdown', reason: 'test', connections: 1 });
  return events;
}

describe.skipIf(!available)('decoding out of the ring', () => {
  for (const name of available ? vectorNames() : []) {
    it(name, async () => {
      const v = loadVector(name);
      const c2s = randomChunks(v.c2s, 13, 700);
      const s2c = randomChunks(v.s2c, 17, 700);
      const expected = decodeAll(c2s, s2c, { payload: 'full', digests: true }).events;
      expect(decoded(await throughRing(name, c2s, s2c))).toEqual(decoded(expected));
    });
  }
});
