/**
 * `--translate auto` with real kubectl through `kubewire proxy`: silent and byte-exact where
 * nothing is refused, and translating a transport only after the upstream refused it as not
 * served there, saying so once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl, SPDY_ENV, WEBSOCKET_ENV } from '../support/kubectl.js';
import { startProxyProcess, stopStartedProxies } from '../support/kubewire-proxy.js';
import { waitUntil } from '../support/event-log.js';

const [spdyKubectl] = availableKubectls(['1.29']);
const [wsKubectl] = availableKubectls(['1.33']);
const AUTO = ['--translate', 'auto'];
const EXEC = ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo out; exit 3'];

let noSpdy: TestCluster;
let healthy: TestCluster;
let n = 0;
beforeAll(async () => {
  if (!spdyKubectl || !wsKubectl) return;
  [noSpdy, healthy] = await Promise.all([startTestCluster({ gateway: ['no-spdy'] }), startTestCluster()]);
});
afterAll(async () => {
  await stopStartedProxies();
  await Promise.all([noSpdy?.stop(), healthy?.stop()]);
});

interface LoggedEvent { type: string; conn?: string; code?: string; translated?: unknown; status?: number }
const events = (log: string): LoggedEvent[] => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LoggedEvent);

describe.skipIf(!spdyKubectl || !wsKubectl)('kubewire proxy --translate auto', () => {
  it('a healthy cluster: every upgrade relayed as it is, no notice', async () => {
    const log = join(healthy.dir, `auto-${++n}.jsonl`);
    const p = await startProxyProcess({ kubeconfig: healthy.kubeconfig, log, writeKubeconfig: join(healthy.dir, `auto-${n}.kubeconfig`), home: healthy.home, extraArgs: AUTO });
    try {
      for (const [v, env] of [[wsKubectl!, WEBSOCKET_ENV], [spdyKubectl!, SPDY_ENV]] as const) {
        const r = await runKubectl(v, EXEC, { kubeconfig: p.kubeconfig, home: healthy.home, env });
        expect([r.code, r.stdout]).toEqual([3, 'out\n']);
      }
    } finally {
      await p.stop();
    }
    const all = events(log);
    expect(all.filter((e) => e.type === 'conn.open' && e.translated)).toEqual([]);
    expect(all.filter((e) => e.code === 'KW_NOTE_TRANSLATE_AUTO')).toEqual([]);
    expect(p.stderr()).not.toMatch(/--translate auto/);
  });

  it('a gateway that refuses SPDY and kubectl 1.29 on SPDY: the first exec is refused, the next ones are translated, the notice comes once', async () => {
    const log = join(noSpdy.dir, `auto-${++n}.jsonl`);
    const p = await startProxyProcess({ kubeconfig: noSpdy.kubeconfig, log, writeKubeconfig: join(noSpdy.dir, `auto-${n}.kubeconfig`), home: noSpdy.home, extraArgs: AUTO });
    try {
      const run = () => runKubectl(spdyKubectl!, EXEC, { kubeconfig: p.kubeconfig, home: noSpdy.home, env: SPDY_ENV });
      const first = await run();
      expect(first.code).toBe(1);
      expect(first.stderr).toContain('Upgrade request required');
      // The verdict is taken once the refused connection's facts are complete.
      await waitUntil('the verdict', () => (p.stderr().includes('--translate auto') ? true : undefined), 10_000);
      for (let i = 0; i < 2; i++) {
        const r = await run();
        expect([r.code, r.stdout, r.stderr]).toEqual([3, 'out\n', 'command terminated with exit code 3\n']);
      }
    } finally {
      await p.stop();
    }
    expect(p.stderr().match(/kubewire: the upstream refuses SPDY streaming \(400 Upgrade request required\): --translate auto speaks WebSocket upstream/g)).toHaveLength(1);
    const all = events(log);
    expect(all.filter((e) => e.code === 'KW_NOTE_TRANSLATE_AUTO')).toHaveLength(1);
    expect(all.filter((e) => e.type === 'conn.open' && e.translated)).toHaveLength(4);
  });
});
