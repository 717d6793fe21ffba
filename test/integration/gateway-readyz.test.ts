/**
 * `/readyz` of `kubewire gateway` when the audit trail cannot be written, with a real
 * PostgreSQL: with the database stopped and the spool unwritable (its directory replaced by a
 * file, which holds as root too), the gateway answers 503 with a one-line reason and refuses
 * new sessions (`--audit-fail closed`); once both can be written again it is ready again. With
 * `--audit-fail open` the same outage leaves it ready: it serves, unrecorded, as asked.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/event-log.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl } from '../support/kubectl.js';
import { startGateway, type GatewayProcess } from '../support/kubewire-gateway.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../support/postgres.js';

const V = '1.33';
const found = availableKubectls([V]);
if (found.length === 0) {
  const msg = `kubectl ${V} not found: skipping the gateway readiness tests`;
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(msg);
}
const bin = postgresAvailable();

async function readyz(gw: GatewayProcess): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw.ready.metrics}/readyz`);
  return { status: res.status, text: await res.text() };
}

describe.skipIf(found.length === 0 || !bin)('kubewire gateway: /readyz when the audit trail cannot be written', () => {
  let t: TestCluster;
  let pg: TestPostgres;
  let pgDown = false;
  const stopPg = async (): Promise<void> => {
    await pg.stop();
    pgDown = true;
  };
  const startPg = async (): Promise<void> => {
    if (!pgDown) return;
    await pg.start();
    pgDown = false;
  };
  beforeAll(async () => {
    [t, pg] = await Promise.all([startTestCluster({ users: ['alice=admin'] }), startPostgres(bin!)]);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
  });

  /** A gateway whose state directory (where the spool goes) is its own. */
  async function gateway(name: string, url: string, failMode: 'closed' | 'open') {
    const home = join(t.dir, `home-${name}`);
    mkdirSync(home, { recursive: true });
    const logs = join(home, 'state', 'kubewire', 'logs');
    const kubeconfig = join(t.dir, `${name}.kubeconfig`);
    const gw = await startGateway(['--upstream-kubeconfig', t.kubeconfig, '--store', url, '--name', name, '--audit-fail', failMode, '--write-kubeconfig', kubeconfig], home);
    const kubectl = (args: string[]) => runKubectl(V, ['--context', 'alice', ...args], { kubeconfig, home: t.home, timeoutMs: 30_000 });
    /** The spool's directory becomes a file: no spool can be created there, root or not. */
    const breakSpool = (): void => {
      rmSync(logs, { recursive: true, force: true });
      mkdirSync(dirname(logs), { recursive: true });
      writeFileSync(logs, 'not a directory\n');
    };
    const fixSpool = (): void => {
      rmSync(logs, { force: true });
      mkdirSync(logs, { recursive: true });
    };
    return { gw, kubectl, breakSpool, fixSpool };
  }

  it('--audit-fail closed: the database down and the spool unwritable is 503 with the reason; ready again once they can be written', async () => {
    const url = await pg.createDatabase('readyz_closed');
    const { gw, kubectl, breakSpool, fixSpool } = await gateway('gw-closed', url, 'closed');
    try {
      expect(await readyz(gw)).toEqual({ status: 200, text: 'ok\n' });
      expect((await kubectl(['get', 'pods'])).code).toBe(0);

      breakSpool();
      await stopPg();
      // Records must go somewhere: a command makes some, and neither the database nor the spool takes them.
      await kubectl(['get', 'pods']);
      const down = await waitUntil('/readyz to say not ready', async () => {
        const r = await readyz(gw);
        return r.status === 503 ? r : undefined;
      }, 30_000);
      expect(down.text).toMatch(/^not ready: kubewire cannot write its audit log \(.+\); new sessions are refused until it can \(--audit-fail closed\)\n$/);
      expect(down.text.split('\n')).toHaveLength(2);
      const refused = await kubectl(['get', 'pods']);
      expect(refused.code).not.toBe(0);
      // Liveness is another matter: the process serves.
      expect((await fetch(`${gw.ready.metrics}/healthz`)).status).toBe(200);

      fixSpool();
      await startPg();
      await waitUntil('/readyz to be ready again', async () => ((await readyz(gw)).status === 200 ? true : undefined), 30_000);
      expect((await kubectl(['get', 'pods'])).code).toBe(0);
    } finally {
      await startPg().catch(() => undefined);
      await gw.stop();
    }
  }, 120_000);

  it('--audit-fail open: the same outage leaves it ready, serving unrecorded', async () => {
    const url = await pg.createDatabase('readyz_open');
    const { gw, kubectl, breakSpool, fixSpool } = await gateway('gw-open', url, 'open');
    try {
      breakSpool();
      await stopPg();
      await kubectl(['get', 'pods']);
      await waitUntil('the failure in the log', async () => (gw.lines().some((l) => String(l['msg']).includes('cannot write the audit log')) ? true : undefined), 30_000);
      expect(await readyz(gw)).toEqual({ status: 200, text: 'ok\n' });
      expect((await kubectl(['get', 'pods'])).code).toBe(0);
      fixSpool();
    } finally {
      await startPg().catch(() => undefined);
      await gw.stop();
    }
  }, 120_000);
});
