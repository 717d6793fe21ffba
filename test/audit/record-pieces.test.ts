/**
 * Payload events cut into pieces for `--max-size`: every piece's line fits the bound, each piece
 * is a valid event of its own, and readers (PieceJoiner, the view's follower) get the event back
 * as it was published, with a rotation's records between pieces passed through.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PieceJoiner, pieces } from '../../src/audit/record-pieces.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { KubewireEvent } from '../../src/events/types.js';
import { followJsonl } from '../../src/sinks/jsonl-follow.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-pieces-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dataEvent(bytes: Buffer): KubewireEvent {
  return new EventStamper().stamp(
    { type: 'k8s.data', dir: 's2c', offset: 10, channel: 1, stream: 'stdout', size: bytes.length, payload: bytes.toString('base64') },
    'stdout', { ts: timestampMicros(Date.UTC(2026, 10, 21)), session: 's', conn: 'c1' },
  );
}

const bytesOf = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
const lineOf = (e: KubewireEvent): string => JSON.stringify(e);

describe('pieces', () => {
  for (const [n, max] of [[64 * 1024, 62 * 1024], [64 * 1024, 20_000], [100_000, 4096], [5, 400]] as const) {
    it(`cuts ${n} bytes into lines of at most ${max}, and joins them back`, () => {
      const e = dataEvent(bytesOf(n));
      const cut = pieces(e, lineOf(e).length, max);
      if (lineOf(e).length <= max) {
        expect(cut).toBeNull();
        return;
      }
      expect(cut).not.toBeNull();
      for (const [i, p] of cut!.entries()) {
        expect(lineOf(p).length + 200).toBeLessThanOrEqual(max);
        expect(p).toMatchObject({ seq: e.seq, type: 'k8s.data', offset: 10, piece: { index: i, count: cut!.length } });
        expect(Buffer.from((p as { payload: string }).payload, 'base64').length).toBe((p as { size: number }).size);
      }
      const joiner = new PieceJoiner();
      const out = cut!.flatMap((p) => joiner.push(p));
      expect(out).toEqual([{ ...e, note: out[0]!.note }]);
      expect(joiner.flush()).toEqual([]);
    });
  }

  it('leaves alone what has no payload to cut', () => {
    const e = dataEvent(bytesOf(1000));
    expect(pieces({ ...e, payload: undefined } as KubewireEvent, 100_000, 500)).toBeNull();
    expect(pieces({ ...e, truncated: true } as KubewireEvent, 100_000, 500)).toBeNull();
    expect(pieces({ v: 1, seq: 1, type: 'http.request', note: 'GET' } as unknown as KubewireEvent, 100_000, 500)).toBeNull();
  });

  it('keeps a body\'s text preview and Status in its first piece, and joins them back', () => {
    const bytes = bytesOf(20_000);
    const body = new EventStamper().stamp(
      { type: 'http.body', dir: 's2c', offset: 0, contentType: 'application/json', k8sStatus: null, text: 'x'.repeat(4096), size: bytes.length, payload: bytes.toString('base64') },
      'body', { session: 's', conn: 'r1' },
    );
    const cut = pieces(body, lineOf(body).length, 8192)!;
    expect(cut.length).toBeGreaterThan(3);
    expect(cut.map((p) => (p as { text: string | null }).text?.length ?? null)).toEqual([4096, ...cut.slice(1).map(() => null)]);
    for (const p of cut) expect(lineOf(p).length).toBeLessThanOrEqual(8192);
    const joiner = new PieceJoiner();
    const joined = cut.flatMap((p) => joiner.push(p));
    expect(joined).toEqual([{ ...body, note: joined[0]!.note }]);
  });

  it('passes a rotation between pieces through, and hands out pieces that never complete as they are', () => {
    const e = dataEvent(bytesOf(10_000));
    const cut = pieces(e, lineOf(e).length, 4096)!;
    expect(cut.length).toBeGreaterThan(2);
    const seal = { v: 1, seq: e.seq, type: 'audit.seal', scope: 'file', note: 'seal' } as unknown as KubewireEvent;
    const file = { v: 1, seq: e.seq, type: 'audit.file', note: 'file' } as unknown as KubewireEvent;
    const joiner = new PieceJoiner();
    const out = [...joiner.push(cut[0]!), ...joiner.push(seal), ...joiner.push(file), ...cut.slice(1).flatMap((p) => joiner.push(p))];
    expect(out.map((x) => x.type)).toEqual(['audit.seal', 'audit.file', 'k8s.data']);
    expect((out[2] as { payload: string }).payload).toBe((e as { payload: string }).payload);

    const cutShort = new PieceJoiner();
    expect(cut.slice(0, 2).flatMap((p) => cutShort.push(p))).toEqual([]);
    expect(cutShort.flush()).toEqual(cut.slice(0, 2));
  });

  it('reaches the view joined: followJsonl hands out the event once', async () => {
    const e = dataEvent(bytesOf(10_000));
    const cut = pieces(e, lineOf(e).length, 4096)!;
    const file = join(root, 'pieces.jsonl');
    writeFileSync(file, cut.map(lineOf).join('\n') + '\n');
    const seen: KubewireEvent[] = [];
    await followJsonl(file, (x) => seen.push(x), { follow: false }).done;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ seq: e.seq, size: 10_000, payload: (e as { payload: string }).payload });
  });
});
