/**
 * readFileLines: the byte offset past each line, and reading from a line's start (how a spool
 * upload resumes, pg-output.ts), across the reader's 256 KiB chunks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFileLines } from '../../src/sinks/jsonl-lines.js';

const dir = mkdtempSync(join(tmpdir(), 'kubewire-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(path: string, max: number, start?: number): Promise<{ text: string | null; newline: boolean; end: number; lineNo: number }[]> {
  const out = [];
  for await (const l of readFileLines(path, max, start)) out.push({ text: l.bytes?.toString() ?? null, newline: l.newline, end: l.end, lineNo: l.lineNo });
  return out;
}

describe('readFileLines offsets', () => {
  // Lines of varied length, some crossing a chunk boundary, and a last line cut short.
  const lines = [...Array(3000).keys()].map((i) => `{"n":${i},"pad":"${'x'.repeat((i * 37) % 400)}"}`);
  const path = join(dir, 'a.jsonl');
  const content = `${lines.join('\n')}\n{"cut`;
  writeFileSync(path, content);

  it('gives the byte past each line, the file size for a last line without a newline', async () => {
    const got = await read(path, 1 << 20);
    expect(got.map((l) => l.text)).toEqual([...lines, '{"cut']);
    let offset = 0;
    for (const [i, line] of lines.entries()) {
      offset += Buffer.byteLength(line) + 1;
      expect(got[i]!.end).toBe(offset);
    }
    expect(got.at(-1)).toMatchObject({ newline: false, end: Buffer.byteLength(content) });
  });

  it('reads from a line\'s start: the lines from there, with the same ends, numbered from 1', async () => {
    const all = await read(path, 1 << 20);
    const from = all[1999]!.end;
    const rest = await read(path, 1 << 20, from);
    expect(rest.map((l) => l.text)).toEqual([...lines.slice(2000), '{"cut']);
    expect(rest.map((l) => l.end)).toEqual(all.slice(2000).map((l) => l.end));
    expect(rest[0]!.lineNo).toBe(1);
    expect(await read(path, 1 << 20, Buffer.byteLength(content))).toEqual([]);
  });

  it('counts the bytes of a line too long to hold', async () => {
    const long = join(dir, 'b.jsonl');
    writeFileSync(long, `short\n${'y'.repeat(300_000)}\nnext\n`);
    const got = await read(long, 1000);
    expect(got).toEqual([
      { text: 'short', newline: true, end: 6, lineNo: 1 },
      { text: null, newline: true, end: 6 + 300_001, lineNo: 2 },
      { text: 'next', newline: true, end: 6 + 300_001 + 5, lineNo: 3 },
    ]);
  });
});
