/**
 * The relay's young generation stays at the size V8 starts it with (src/proxy/relay-heap.ts),
 * also after a worker started, which sets V8's flag back. Each case runs in a fresh process:
 * the built module, a worker, then objects that survive scavenges, as socket write queues do.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/vectors.js';

const MiB = 1024 * 1024;

/** The largest new space (both semi-spaces, bytes) a fresh process reaches; `hold`: call holdRelayYoungGeneration before it; afterIsolateStart follows the worker's start either way. */
function peakNewSpace(hold: boolean): number {
  const module = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'proxy', 'relay-heap.js')).href;
  const script = `
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
const { holdRelayYoungGeneration, afterIsolateStart } = await import(${JSON.stringify(module)});
if (${hold}) holdRelayYoungGeneration();
const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
await new Promise((resolve) => worker.once('online', resolve));
afterIsolateStart();
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const kept = [];
let peak = newSpace();
for (let i = 0; i < 3_000_000; i++) {
  kept.push({ i, bytes: [i] });
  if (kept.length > 20_000) kept.splice(0, 10_000);
  if (i % 100_000 === 0) peak = Math.max(peak, newSpace());
}
await worker.terminate();
process.stdout.write(String(Math.max(peak, newSpace())));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout);
}

describe('the relay thread\'s young generation', () => {
  it('grows under surviving objects by default, and stays at its first 1 MiB semi-spaces when held', () => {
    const grown = peakNewSpace(false);
    const held = peakNewSpace(true);
    // V8 starts a young generation at 1 MiB semi-spaces (2 MiB of new space) and grows it to 16.
    expect(grown).toBeGreaterThan(4 * MiB);
    expect(held).toBeLessThanOrEqual(2 * MiB);
  });
});
