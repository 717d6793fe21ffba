/**
 * The gateway's `/readyz` when its audit recorder stopped: the proxy and its observer started
 * in-process (the worker runs the built dist/) against the demo cluster, the health port on
 * loopback. With `--audit-fail closed`, a dead recorder is 503 with a one-line reason while
 * `/healthz` stays 200; with `--audit-fail open` it stays ready.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditFailMode } from '../../src/audit/audit-sink.js';
import { parseListen } from '../../src/cli/listen-address.js';
import { startProxy } from '../../src/cli/proxy-setup.js';
import { HealthServer, readiness } from '../../src/gateway/health-server.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { Lines } from '../support/lines-output.js';

let cluster: TestCluster;
let dir: string;
beforeAll(async () => {
  cluster = await startTestCluster();
  dir = mkdtempSync(join(tmpdir(), 'kubewire-readiness-'));
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

async function withRecorder(failMode: AuditFailMode, check: (health: HealthServer, kill: () => Promise<void>) => Promise<void>): Promise<void> {
  const audit = { failMode, keyFile: null, redactStdin: 'none' as const, maxSize: null, store: { kind: 'files' as const, dir: join(dir, `store-${failMode}`) }, replica: 'gw-0' };
  const running = await startProxy({ kubeconfig: cluster.kubeconfig, log: join(dir, `${failMode}.jsonl`), payload: 'full', audit }, parseListen('127.0.0.1:0'), null, new Lines());
  const health = await HealthServer.start('127.0.0.1', 0, { notReady: readiness(running.observer), metrics: () => '' });
  try {
    await check(health, () => running.observer.kill());
  } finally {
    await health.close();
    await running.shutdown('test done');
  }
}

describe('/readyz and the audit recorder', () => {
  it('--audit-fail closed: ready while recording; a stopped recorder is 503 with the reason, /healthz still 200', async () => {
    await withRecorder('closed', async (health, kill) => {
      expect(await get(`${health.url}/readyz`)).toEqual({ status: 200, text: 'ok\n' });
      await kill();
      const r = await get(`${health.url}/readyz`);
      expect(r.status).toBe(503);
      expect(r.text).toMatch(/^not ready: kubewire's audit recorder stopped \(.+\); new sessions are refused \(--audit-fail closed\)\n$/);
      expect(await get(`${health.url}/healthz`)).toEqual({ status: 200, text: 'ok\n' });
    });
  });

  it('--audit-fail open: a stopped recorder leaves it ready (it serves unrecorded, as asked)', async () => {
    await withRecorder('open', async (health, kill) => {
      await kill();
      expect(await get(`${health.url}/readyz`)).toEqual({ status: 200, text: 'ok\n' });
    });
  });
});
