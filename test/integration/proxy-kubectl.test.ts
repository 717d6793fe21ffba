/**
 * Real kubectl, directly against `kubewire cluster` and through `kubewire run`: the same
 * stdout, stderr and exit code each time, and `kubewire summary` reports what happened.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKubectls, runKubectl, withoutReaderRace } from '../support/kubectl.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { kubectlPart, runThroughKubewire, summaries } from '../support/kubewire-run.js';

const versions = availableKubectls(['1.27', '1.30', '1.31', '1.33', '1.34']);

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  t = await startTestCluster({ tickMs: 200 });
});
afterAll(async () => {
  await t?.stop();
});

/** Runs one kubectl command both ways; returns the via-kubewire log's summaries. */
async function both(v: string, args: string[], extra: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {}) {
  const env = extra.env ?? {};
  const direct = await runKubectl(v, args, { kubeconfig: t.kubeconfig, home: t.home, env, ...extra });
  const log = join(t.dir, `run-${++n}.jsonl`);
  const via = await runThroughKubewire(v, args, { kubeconfig: t.kubeconfig, home: t.home, log, env, ...extra });
  expect(via.stdoutBytes.equals(direct.stdoutBytes), `stdout of kubectl ${args.join(' ')}`).toBe(true);
  expect(withoutReaderRace(kubectlPart(via.stderr))).toBe(withoutReaderRace(direct.stderr));
  expect(via.code).toBe(direct.code);
  return { direct, via, summaries: summaries(log).filter((s) => s.response.status === 101) };
}

describe.skipIf(versions.length === 0)('kubectl through kubewire run', () => {
  for (const v of versions) {
    describe(`kubectl ${v}`, () => {
      it('exec echo', async () => {
        const r = await both(v, ['exec', 'web', '-c', 'app', '--', 'echo', 'hello']);
        expect(r.direct.stdout).toBe('hello\n');
        expect(r.summaries).toHaveLength(1);
        expect(r.summaries[0]).toMatchObject({ exitCode: 0, status: 'Success', streams: { stdout: { bytes: 6, sha256: null } } });
      });

      it('exit code 3', async () => {
        const r = await both(v, ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'exit 3']);
        expect(r.direct.code).toBe(3);
        expect(r.summaries[0]).toMatchObject({ exitCode: 3, statusReason: 'NonZeroExitCode' });
      });

      it('exec -i with stdin', async () => {
        const input = 'one\ntwo\n' + 'z'.repeat(50_000) + '\n';
        const r = await both(v, ['exec', '-i', 'worker', '--', 'cat'], { input });
        expect(r.direct.stdout).toBe(input);
        expect(r.summaries[0]).toMatchObject({ exitCode: 0, stdinClosed: true, streams: { stdin: { bytes: input.length, sha256: null }, stdout: { bytes: input.length } } });
      });

      it('cp of 1 MiB in and out', async () => {
        const data = randomBytes(1024 * 1024);
        const src = join(t.dir, `via-${v}.bin`);
        writeFileSync(src, data);
        const up = await both(v, ['cp', '-c', 'app', src, `web:/tmp/via-${v}.bin`], { timeoutMs: 60_000 });
        expect(up.direct.code).toBe(0);
        const tarIn = up.summaries.find((s) => (s.streams['stdin']?.bytes ?? 0) > 1024 * 1024);
        expect(tarIn).toBeDefined();
        const back = join(t.dir, `via-${v}-back.bin`);
        const down = await both(v, ['cp', '-c', 'app', `web:/tmp/via-${v}.bin`, back], { timeoutMs: 60_000 });
        expect(down.direct.code).toBe(0);
        expect(readFileSync(back).equals(data)).toBe(true);
        expect(down.summaries.some((s) => (s.streams['stdout']?.bytes ?? 0) > 1024 * 1024)).toBe(true);
      });
    });
  }
});
