/**
 * Real, unmodified kubectl against `kubewire cluster`: every operation with kubectl 1.27,
 * 1.30, 1.31 and 1.33, each forced to WebSocket and to SPDY where it can choose.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableKubectls, runKubectl, SPDY_ENV, startKubectl, WEBSOCKET_ENV } from '../support/kubectl.js';
import { spawnKubectlInPty } from '../support/pty-kubectl.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';

const versions = availableKubectls(['1.27', '1.30', '1.31', '1.33']);
const modes = [
  { name: 'websocket', env: WEBSOCKET_ENV },
  { name: 'spdy', env: SPDY_ENV },
];

let t: TestCluster;
beforeAll(async () => {
  t = await startTestCluster({ tickMs: 200 });
});
afterAll(async () => {
  await t?.stop();
});

/** kubectl's own choice of transport, per protocol.md B §1 (WebSocket forced where it can). */
const wsExec = (v: string, mode: string): boolean => mode === 'websocket' && v !== '1.27';
const tunnel = (v: string, mode: string): boolean => mode === 'websocket' && (v === '1.30' || v === '1.31' || v === '1.33');

/** What the cluster served while `fn` ran. */
async function servedDuring(fn: () => Promise<void>): Promise<Map<string, number>> {
  const before = new Map(t.cluster.served);
  await fn();
  const delta = new Map<string, number>();
  for (const [k, n] of t.cluster.served) if (n !== (before.get(k) ?? 0)) delta.set(k, n - (before.get(k) ?? 0));
  return delta;
}

const run = (v: string, args: string[], env: Record<string, string>, extra: { input?: string | Buffer; timeoutMs?: number } = {}) =>
  runKubectl(v, args, { kubeconfig: t.kubeconfig, home: t.home, env, ...extra });

describe.skipIf(versions.length === 0)('kubectl against the demo cluster', () => {
  for (const v of versions) {
    it(`kubectl ${v}: get pods, get -o yaml, unknown pod`, async () => {
      const list = await run(v, ['get', 'pods'], {});
      expect(list.stderr).toBe('');
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/NAME\s+READY\s+STATUS/);
      for (const pod of ['web', 'worker', 'done', 'pending']) expect(list.stdout).toContain(pod);
      const yaml = await run(v, ['get', 'pod', 'web', '-o', 'yaml'], {});
      expect(yaml.code).toBe(0);
      expect(yaml.stdout).toContain('name: web');
      const missing = await run(v, ['get', 'pod', 'nope'], {});
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('Error from server (NotFound): pods "nope" not found');
    });

    for (const mode of modes) {
      describe(`kubectl ${v} over ${mode.name}`, () => {
        it('exec echo', async () => {
          const served = await servedDuring(async () => {
            const r = await run(v, ['exec', 'web', '-c', 'app', '--', 'echo', 'hello', 'world'], mode.env);
            expect(r.stderr).toBe('');
            expect(r.stdout).toBe('hello world\n');
            expect(r.code).toBe(0);
          });
          expect([...served.keys()]).toEqual([wsExec(v, mode.name) ? 'websocket exec' : 'spdy v4.channel.k8s.io']);
        });

        it('exit code 3', async () => {
          const r = await run(v, ['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], mode.env);
          expect(r.stdout).toBe('out\n');
          expect(r.stderr).toContain('err\n');
          expect(r.stderr).toContain('command terminated with exit code 3');
          expect(r.code).toBe(3);
        });

        it('stdin through cat', async () => {
          const input = 'line one\nline two\n' + 'x'.repeat(100_000) + '\n';
          const r = await run(v, ['exec', '-i', 'worker', '--', 'cat'], mode.env, { input });
          expect(r.code).toBe(0);
          expect(r.stdout).toBe(input);
        });

        it('exec -it with a resize', async () => {
          const k = spawnKubectlInPty(v, ['exec', '-it', 'web', '--', 'sh'], { kubeconfig: t.kubeconfig, home: t.home, env: mode.env, cols: 80, rows: 24 });
          try {
            k.write('stty size\r');
            await k.waitFor(/24 80/);
            k.resize(100, 30);
            await new Promise((r) => setTimeout(r, 300));
            k.write('stty size\r');
            await k.waitFor(/30 100/);
            k.write('exit 5\r');
            expect(await k.exit()).toBe(5);
          } finally {
            k.kill();
          }
        });

        it('cp of 1 MiB in and out, byte-identical', async () => {
          const data = randomBytes(1024 * 1024);
          const src = join(t.dir, `in-${v}-${mode.name}.bin`);
          const back = join(t.dir, `out-${v}-${mode.name}.bin`);
          writeFileSync(src, data);
          const name = `big-${v}-${mode.name}.bin`;
          const up = await run(v, ['cp', '-c', 'app', src, `web:/tmp/${name}`], mode.env, { timeoutMs: 60_000 });
          expect(up.stderr.replace(/tar: Removing leading .*\n/g, '')).toBe('');
          expect(up.code).toBe(0);
          // Several times: output larger than the transport's window pauses the command more than
          // once, and every pause must be resumed.
          for (let i = 0; i < 4; i++) {
            const down = await run(v, ['cp', '-c', 'app', `web:/tmp/${name}`, back], mode.env, { timeoutMs: 20_000 });
            expect(down.code).toBe(0);
            expect(readFileSync(back).equals(data)).toBe(true);
          }
        });

        it('port-forward, then an HTTP fetch through it', async () => {
          const served = await servedDuring(async () => {
            const k = startKubectl(v, ['port-forward', 'pod/web', ':80'], { kubeconfig: t.kubeconfig, home: t.home, env: mode.env });
            try {
              const m = await k.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 80/);
              for (let i = 0; i < 2; i++) {
                const res = await fetch(`http://127.0.0.1:${m[1]}/`);
                expect(res.status).toBe(200);
                expect(await res.text()).toContain('kubewire demo: web');
              }
            } finally {
              await k.stop();
            }
          });
          // Served as asked, not through kubectl's silent fallback.
          expect([...served.keys()]).toEqual([tunnel(v, mode.name) ? 'tunnel' : 'spdy portforward.k8s.io']);
        });

        it('attach', async () => {
          const k = startKubectl(v, ['attach', '-i', 'worker'], { kubeconfig: t.kubeconfig, home: t.home, env: mode.env });
          try {
            await k.waitFor(/tick/);
            k.child.stdin!.write('hello attach\n');
            await k.waitFor(/echo: hello attach/);
          } finally {
            await k.stop();
          }
        });
      });
    }

    it(`kubectl ${v}: logs -f`, async () => {
      const k = startKubectl(v, ['logs', '-f', 'web', '-c', 'app'], { kubeconfig: t.kubeconfig, home: t.home });
      try {
        const first = await k.waitFor(/tick (\d+)/);
        const n = Number(first[1]);
        await k.waitFor(new RegExp(`tick ${n + 2}\\b`));
      } finally {
        await k.stop();
      }
    });
  }
});
