/**
 * Following a file store's chain as it is written (src/store/file-follow.ts): lines count once
 * complete, a rotation's seal leads to the next part, a final seal ends the chain, and a chain
 * without a seal ends once a later run started and it stopped growing.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubewireEvent } from '../../src/events/types.js';
import { followChain, nextPart } from '../../src/store/file-follow.js';
import { pickSession } from '../../src/store/store-session.js';

const dir = mkdtempSync(join(tmpdir(), 'kubewire-follow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (e: Record<string, unknown>): string => `${JSON.stringify(e)}\n`;
const data = (seq: number, text: string): string => line({ type: 'k8s.data', seq, session: 's', dir: 's2c', stream: 'stdout', size: text.length, payload: Buffer.from(text).toString('base64') });

async function collect(first: string, newerRun: () => Promise<boolean>, until?: (seen: KubewireEvent[]) => void): Promise<KubewireEvent[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 10_000);
  const seen: KubewireEvent[] = [];
  for await (const e of followChain(first, { signal: stop.signal, newerRun, pollMs: 20 })) {
    seen.push(e);
    until?.(seen);
  }
  clearTimeout(timer);
  return seen;
}

describe('followChain', () => {
  it('follows a growing file, a line only once its newline is written, into the next part after a rotation, to the final seal', async () => {
    const p1 = join(dir, 'audit-20261121T100000Z-1-0001.jsonl');
    writeFileSync(p1, line({ type: 'audit.start', seq: 0 }) + data(1, 'a'));
    let step = 0;
    const types = await collect(p1, async () => false, (seen) => {
      // Each time the reader caught up, the writer adds the next bit.
      if (seen.length === 2 && step === 0) {
        step = 1;
        appendFileSync(p1, data(2, 'b').slice(0, 10));
        setTimeout(() => appendFileSync(p1, data(2, 'b').slice(10) + line({ type: 'audit.seal', seq: 3, scope: 'file', part: 1, final: false })), 100);
        setTimeout(() => writeFileSync(nextPart(p1, 1)!, line({ type: 'audit.file', seq: 4, part: 2 }) + data(5, 'c') + line({ type: 'audit.seal', seq: 6, scope: 'file', part: 2, final: true })), 300);
      }
    });
    expect(types.map((e) => `${e.type}:${e.seq}`)).toEqual(['audit.start:0', 'k8s.data:1', 'k8s.data:2', 'audit.seal:3', 'audit.file:4', 'k8s.data:5', 'audit.seal:6']);
  });

  it('ends a chain without a seal once a later run has started and the file stopped growing', async () => {
    const p = join(dir, 'audit-20261121T110000Z-2.jsonl');
    writeFileSync(p, line({ type: 'audit.start', seq: 0 }) + data(1, 'x'));
    const seen = await collect(p, async () => true);
    expect(seen.map((e) => e.seq)).toEqual([0, 1]);
  });

  it('names the next part of a rotated chain, and none of an unrotated one', () => {
    expect(nextPart('/s/r/audit-20261121T100000Z-1-0009.jsonl', 9)).toBe('/s/r/audit-20261121T100000Z-1-0010.jsonl');
    expect(nextPart('/s/r/audit-20261121T100000Z-1.jsonl', 1)).toBeNull();
  });
});

describe('pickSession', () => {
  const row = (session: string, replica = 'r1') => ({ session, replica, start: '2026-11-21T10:00:00Z' });
  it('takes the id, or a prefix of one id; refuses an unknown id, a prefix of several, and one id in two places', () => {
    expect(pickSession([row('abc-1'), row('abc-12')], 'abc-1', 'S').session).toBe('abc-1');
    expect(pickSession([row('abc-12')], 'abc', 'S').session).toBe('abc-12');
    expect(() => pickSession([], 'zz', 'S')).toThrow(/session zz is not in the audit store S/);
    expect(() => pickSession([row('abc-1'), row('abc-2')], 'abc', 'S')).toThrow(/matches 2 sessions in S \(abc-1, abc-2\); give more of the id/);
    expect(() => pickSession([row('abc-1'), row('abc-1', 'r2')], 'abc-1', 'S')).toThrow(/recorded 2 times in S \(replica r1 at .*, replica r2 at .*\)/);
  });
});
