import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { followJsonl } from '../../src/sinks/jsonl-follow.js';
import type { KubewireEvent } from '../../src/events/types.js';

const line = (seq: number): string => JSON.stringify({ v: 1, seq, type: 'conn.end', dir: 'c2s', offset: seq, note: `n${seq}` }) + '\n';
const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
};

describe('followJsonl', () => {
  it('reads a whole file and stops at its end without follow, skipping bad lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-follow-'));
    const file = join(dir, 'a.jsonl');
    writeFileSync(file, line(1) + 'not json\n' + line(2) + '{"no":"type"}\n' + line(3).trimEnd());
    const seen: number[] = [];
    const bad: number[] = [];
    const f = followJsonl(file, (e) => seen.push(e.seq), { follow: false, onBadLine: (n) => bad.push(n) });
    await f.done;
    expect(seen).toEqual([1, 2, 3]);
    expect(bad).toEqual([2, 4]);
  });

  it('follows appends as tail -f does, waiting for half-written lines, and rereads a truncated file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-follow-'));
    const file = join(dir, 'b.jsonl');
    writeFileSync(file, line(1));
    const seen: KubewireEvent[] = [];
    const f = followJsonl(file, (e) => seen.push(e), { follow: true, pollMs: 30 });
    try {
      await until(() => seen.length === 1);
      const half = line(2);
      appendFileSync(file, half.slice(0, 10));
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toHaveLength(1);
      appendFileSync(file, half.slice(10) + line(3));
      await until(() => seen.length === 3);
      writeFileSync(file, line(7));
      await until(() => seen.at(-1)?.seq === 7);
    } finally {
      f.stop();
      await f.done;
    }
  });

  it('stops following at the end of a finished log (one that ended with proxy.stop), and goes on while it is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubewire-follow-'));
    const file = join(dir, 'c.jsonl');
    const stop = JSON.stringify({ v: 1, seq: 3, type: 'proxy.stop', reason: 'SIGTERM', connections: 0, dropped: 0, note: 'stop' }) + '\n';
    writeFileSync(file, line(1) + line(2) + stop);
    const seen: number[] = [];
    const f = followJsonl(file, (e) => seen.push(e.seq), { follow: true, pollMs: 30 });
    await f.done;
    expect(seen).toEqual([1, 2, 3]);
    expect(f.finished).toBe(true);

    const live = join(dir, 'd.jsonl');
    writeFileSync(live, line(1));
    const g = followJsonl(live, () => {}, { follow: true, pollMs: 30 });
    let over = false;
    void g.done.then(() => (over = true));
    await until(() => g.lines === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(over).toBe(false);
    appendFileSync(live, stop);
    await g.done;
    expect(g.finished).toBe(true);
  });

  it('rejects a file that cannot be opened', async () => {
    const f = followJsonl('/nonexistent/x.jsonl', () => {}, { follow: false });
    await expect(f.done).rejects.toThrow(/ENOENT/);
  });
});
