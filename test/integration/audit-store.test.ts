/**
 * `--audit-store` end to end, with real kubectl through `kubewire run` against the demo
 * cluster: the records go to PostgreSQL (or a file store), `kubewire sessions --store` finds the
 * command and `kubewire verify --store` checks the replica's chain.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls } from '../support/kubectl.js';
import { runThroughKubewire } from '../support/kubewire-run.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../support/postgres.js';

const found = availableKubectls(['1.33']);
if (found.length === 0) {
  const msg = 'kubectl 1.33 not found: skipping the audit store tests with real kubectl';
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(msg);
}
const bin = postgresAvailable();

describe.skipIf(found.length === 0 || !bin)('kubewire --audit-store with real kubectl', () => {
  let t: TestCluster;
  let pg: TestPostgres;
  let dir: string;
  beforeAll(async () => {
    [t, pg] = await Promise.all([startTestCluster(), startPostgres(bin!)]);
    dir = mkdtempSync(join(tmpdir(), 'kubewire-store-e2e-'));
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['postgres', 'files'])('%s: sessions finds the exec command, verify --store checks the replica', async (kind) => {
    const store = kind === 'postgres' ? pg.url : join(dir, 'store');
    const r = await runThroughKubewire(found[0]!, ['exec', 'web', '--', 'sh', '-c', 'echo stored; exit 4'], {
      kubeconfig: t.kubeconfig, home: t.home, log: join(dir, `${kind}-spool.jsonl`), flags: ['--audit', '--audit-store', store, '--audit-replica', 'e2e'],
    });
    expect(r.stdout).toBe('stored\n');
    expect(r.code).toBe(4);
    const s = runCli(['sessions', '--store', store, '--command', 'echo stored', '--json']);
    expect(s.stderr).toBe('');
    const rows = s.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ replica: 'e2e', verb: 'exec', pod: 'web', user: 'kubewire-demo-admin', exitCode: 4, command: 'sh -c echo stored; exit 4' });
    expect(runCli(['sessions', '--store', store, '--user', 'nobody']).stdout).toBe('');
    const v = runCli(['verify', '--store', store]);
    expect(v.stdout).toMatch(/^consistent, unauthenticated: replica e2e: 1 run/);
    expect(v.status).toBe(0);
  }, 60_000);
});
