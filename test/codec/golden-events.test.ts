/**
 * Every vector's event log, line for line, against its golden NAME.events.jsonl (written by
 * scripts/golden-events.mjs), so that a changed note, field or offset is a failing test and a
 * reviewable diff rather than a silent change. Decoding goes through runDecode, the code behind
 * `kubewire decode`, with the payload mode the script uses.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDecode } from '../../src/cli/decode-command.js';
import { vectorNames, vectorsAvailable, VECTORS_DIR } from '../support/vectors.js';

const GOLDEN_SUFFIX = '.events.jsonl';
const REGENERATE = 'if the change is intended, run `npm run golden` and review the diff of the golden files';

async function decodedLines(name: string): Promise<string[]> {
  const lines: string[] = [];
  await runDecode({ c2s: join(VECTORS_DIR, `${name}.c2s`), s2c: join(VECTORS_DIR, `${name}.s2c`), payload: 'head' }, { line: (l) => lines.push(l) });
  return lines;
}

/** Where two logs first part, in a message that stands on its own in a test report. */
function firstDifference(name: string, golden: string[], actual: string[]): string | null {
  const n = Math.max(golden.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (golden[i] === actual[i]) continue;
    const show = (l: string | undefined) => l ?? '(end of file)';
    return [
      `${name}: decoded events differ from ${name}${GOLDEN_SUFFIX} at line ${i + 1} (golden ${golden.length} lines, decoded ${actual.length})`,
      `  golden:  ${show(golden[i])}`,
      `  decoded: ${show(actual[i])}`,
      REGENERATE,
    ].join('\n');
  }
  return null;
}

const available = vectorsAvailable();

describe.skipIf(!available)('real kubectl vectors decode to their golden event logs', () => {
  const names = available ? vectorNames() : [];

  for (const name of names) {
    it(name, async () => {
      const path = join(VECTORS_DIR, `${name}${GOLDEN_SUFFIX}`);
      if (!existsSync(path)) expect.fail(`${name}: no golden event log ${path}; run \`npm run golden\` to write it`);
      const golden = readFileSync(path, 'utf8');
      const decoded = await decodedLines(name);
      if (golden === decoded.map((l) => `${l}\n`).join('')) return;
      // `kubewire decode` ends every line with a newline, the last one too.
      const goldenLines = golden.endsWith('\n') ? golden.slice(0, -1).split('\n') : golden.split('\n');
      expect.fail(firstDifference(name, goldenLines, decoded) ?? `${name}${GOLDEN_SUFFIX} does not end with a newline; ${REGENERATE}`);
    });
  }

  it('has no golden event log without its vector', () => {
    const known = new Set(names);
    const stale = readdirSync(VECTORS_DIR).filter((f) => f.endsWith(GOLDEN_SUFFIX) && !known.has(f.slice(0, -GOLDEN_SUFFIX.length)));
    expect(stale, `golden files whose vector is gone; ${REGENERATE}`).toEqual([]);
  });
});
