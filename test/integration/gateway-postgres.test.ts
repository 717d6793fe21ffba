/**
 * `kubewire gateway` recording into PostgreSQL, end to end with real kubectl 1.33 and a real
 * PostgreSQL server: two replicas (gw-a, gw-b) share one database in front of the demo cluster
 * with two users (alice an admin, bob a viewer). Each session is recorded under its user in
 * both identity modes; `sessions --user alice --command rm` finds alice's tty `rm` and nothing
 * of bob's; `verify --store` says intact for both replicas (HMAC chains), and names the replica
 * and sequence of a row changed in the database; with the database stopped while an exec
 * streams, the session spools (seen in `/metrics`), nothing is lost once it is back and the
 * chain verifies; no user's token is in the logs, the metrics or a dump of the database; and
 * a small load (40 sessions from 8 users through both replicas) loses nothing.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, runKubectl } from '../support/kubectl.js';
import { startGateway, type GatewayProcess } from '../support/kubewire-gateway.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../support/postgres.js';
import { spawnKubectlInPty } from '../support/pty-kubectl.js';

const V = '1.33';
const found = availableKubectls([V]);
if (found.length === 0) {
  const msg = `kubectl ${V} not found: skipping the gateway tests with PostgreSQL`;
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(msg);
}
const bin = postgresAvailable();
const LOAD_USERS = [...Array(8).keys()].map((i) => `u${String(i + 1).padStart(2, '0')}`);

interface SessionRow { session: string; replica: string; user: string; verb: string; command: string; typed: string[]; tty: boolean; exitCode: number | null }

function sessions(url: string, filters: string[]): SessionRow[] {
  const r = runCli(['sessions', '--store', url, ...filters, '--json']);
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as SessionRow);
}

async function metrics(gw: GatewayProcess): Promise<string> {
  return (await fetch(`${gw.ready.metrics}/metrics`)).text();
}

function gauge(text: string, name: string): number {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `tasks` at most `limit` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all([...Array(Math.min(limit, tasks.length))].map(async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  }));
  return results;
}

describe.skipIf(found.length === 0 || !bin)('kubewire gateway: two replicas on one PostgreSQL, with real kubectl', () => {
  let t: TestCluster;
  let pg: TestPostgres;
  let keyFile: string;
  beforeAll(async () => {
    [t, pg] = await Promise.all([startTestCluster({ users: ['alice=admin', 'bob=view', ...LOAD_USERS.map((u) => `${u}=admin`)] }), startPostgres(bin!)]);
    keyFile = join(t.dir, 'audit.key');
    writeFileSync(keyFile, createHash('sha256').update('the gateway test key').digest('base64') + '\n', { mode: 0o600 });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
  });

  const tokens = (): string[] => [t.cluster.token, ...t.cluster.users.map((u) => u.token)];

  /** Two replicas of one identity mode on the database `url`; kubectl through either. */
  async function replicas(url: string, identity: 'passthrough' | 'impersonate', names: [string, string]) {
    const start = (name: string) => startGateway([
      '--upstream-kubeconfig', t.kubeconfig, '--identity', identity, '--store', url, '--name', name, '--audit-key-file', keyFile,
      '--write-kubeconfig', join(t.dir, `${name}.kubeconfig`),
    ], t.home);
    const gws = await Promise.all(names.map(start));
    const kubectl = (gw: 0 | 1, user: string, args: string[]) => runKubectl(V, ['--context', user, ...args], { kubeconfig: gws[gw]!.ready.kubeconfig!, home: t.home, timeoutMs: 60_000 });
    return { gws, kubectl, stop: () => Promise.all(gws.map((g) => g.stop())) };
  }

  it('passthrough: each session under its user, bob\'s exec denied by the API server, alice\'s tty rm found, both replicas intact, a changed row named, no token anywhere', async () => {
    const url = await pg.createDatabase('passthrough');
    const { gws, kubectl, stop } = await replicas(url, 'passthrough', ['gw-a', 'gw-b']);
    try {
      // alice through gw-a, bob through gw-b, and some of each through the other.
      const a = await kubectl(0, 'alice', ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo alice via a; exit 3']);
      expect(a.stdout).toContain('alice via a');
      expect(a.code).toBe(3);
      expect((await kubectl(1, 'alice', ['exec', 'web', '-c', 'app', '--', 'echo', 'alice via b'])).code).toBe(0);
      const b = await kubectl(1, 'bob', ['exec', 'web', '-c', 'app', '--', 'echo', 'bob via b']);
      expect(b.code).not.toBe(0);
      expect(b.stderr).toMatch(/Error from server \(Forbidden\): pods "web" is forbidden: User "bob" cannot (get|create) resource "pods\/exec"/);
      const b2 = await kubectl(0, 'bob', ['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'rm -f gone']);
      expect(b2.stderr).toMatch(/Forbidden/);
      expect((await kubectl(0, 'bob', ['get', 'pods'])).code).toBe(0);

      // alice types rm in a tty through gw-a.
      const k = spawnKubectlInPty(V, ['--context', 'alice', 'exec', '-it', 'web', '-c', 'app', '--', 'sh'], { kubeconfig: gws[0]!.ready.kubeconfig!, home: t.home });
      await k.waitFor(/# $/);
      for (const ch of 'touch x && rm -f x\r') {
        k.write(ch);
        await new Promise((r) => setTimeout(r, 5));
      }
      await k.waitFor(/rm -f x\r?\n[\s\S]*# $/);
      k.write('exit\r');
      expect(await k.exit()).toBe(0);

      // While running: the database takes records, nothing is behind.
      const live = await metrics(gws[0]!);
      expect(live).toMatch(/^kubewire_store_spool_bytes 0$/m);
      expect(gauge(live, 'kubewire_store_lag_seconds')).toBeLessThan(5);
      expect((await fetch(`${gws[0]!.ready.metrics}/readyz`)).status).toBe(200);
      const scraped = live + (await metrics(gws[1]!));
      await stop();

      const all = sessions(url, ['--since', '1h']);
      const execs = all.filter((s) => s.verb === 'exec');
      const by = (text: string) => execs.find((s) => s.command.includes(text));
      expect(by('alice via a')).toMatchObject({ replica: 'gw-a', user: 'alice', exitCode: 3 });
      expect(by('alice via b')).toMatchObject({ replica: 'gw-b', user: 'alice', exitCode: 0 });
      expect(by('bob via b')).toMatchObject({ replica: 'gw-b', user: 'bob', exitCode: null });
      expect(by('rm -f gone')).toMatchObject({ replica: 'gw-a', user: 'bob' });
      for (const s of all) expect(s.user, JSON.stringify(s)).toMatch(/^(alice|bob)$/);

      const rms = sessions(url, ['--user', 'alice', '--command', 'rm']);
      expect(rms).toHaveLength(1);
      expect(rms[0]).toMatchObject({ replica: 'gw-a', user: 'alice', tty: true });
      expect(rms[0]!.typed.join('\n')).toContain('rm -f x');
      expect(sessions(url, ['--user', 'bob', '--command', 'rm']).map((s) => s.command)).toEqual(['sh -c rm -f gone']);

      const v = runCli(['verify', '--store', url, '--key-file', keyFile]);
      expect(v.stdout).toMatch(/^intact: replica gw-a: 1 run/m);
      expect(v.stdout).toMatch(/^intact: replica gw-b: 1 run/m);
      expect(v.status).toBe(0);

      // No user's token in the logs, the metrics or the database.
      const dump = pg.dump(url);
      expect(dump).toContain('alice via a');
      const logged = gws.map((g) => g.stdout() + g.stderr()).join('');
      for (const token of tokens()) {
        expect(logged).not.toContain(token);
        expect(scraped).not.toContain(token);
        expect(dump).not.toContain(token);
        expect(dump).not.toContain(Buffer.from(token).toString('base64'));
      }

      // A row changed in the database: named by replica and sequence.
      const row = await pg.query<{ pos: string; seq: string; line: string }>("SELECT pos, seq, line FROM audit_records WHERE replica = 'gw-b' AND type = 'k8s.data' ORDER BY pos LIMIT 1", [], url);
      const { pos, seq, line } = row.rows[0]!;
      await pg.query('UPDATE audit_records SET line = $1 WHERE replica = $2 AND pos = $3', [line.replace('"size":', '"size": '), 'gw-b', pos], url);
      const tampered = runCli(['verify', '--store', url, '--key-file', keyFile]);
      expect(tampered.status).toBe(1);
      expect(tampered.stdout).toContain(`tampered: replica gw-b: replica gw-b, pos ${pos} (seq ${seq})`);
      expect(tampered.stdout).toMatch(/^intact: replica gw-a/m);
    } finally {
      await stop();
    }
  }, 180_000);

  it('impersonate: each session under its user through either replica', async () => {
    const url = await pg.createDatabase('impersonate');
    const { gws, kubectl, stop } = await replicas(url, 'impersonate', ['gw-ia', 'gw-ib']);
    try {
      expect((await kubectl(0, 'alice', ['exec', 'web', '-c', 'app', '--', 'echo', 'alice via ia'])).code).toBe(0);
      expect((await kubectl(1, 'alice', ['exec', 'web', '-c', 'app', '--', 'echo', 'alice via ib'])).code).toBe(0);
      expect((await kubectl(1, 'bob', ['exec', 'web', '-c', 'app', '--', 'echo', 'bob via ib'])).stderr).toMatch(/Forbidden/);
      await stop();
      const execs = sessions(url, ['--since', '1h']).filter((s) => s.verb === 'exec');
      const by = (text: string) => execs.find((s) => s.command.includes(text));
      expect(by('alice via ia')).toMatchObject({ replica: 'gw-ia', user: 'alice' });
      expect(by('alice via ib')).toMatchObject({ replica: 'gw-ib', user: 'alice' });
      expect(by('bob via ib')).toMatchObject({ replica: 'gw-ib', user: 'bob' });
      const v = runCli(['verify', '--store', url, '--key-file', keyFile]);
      expect(v.stdout).toMatch(/^intact: replica gw-ia/m);
      expect(v.stdout).toMatch(/^intact: replica gw-ib/m);
      const dump = pg.dump(url);
      for (const token of tokens()) expect(dump + gws.map((g) => g.stdout() + g.stderr()).join('')).not.toContain(token);
    } finally {
      await stop();
    }
  }, 120_000);

  it('the database stopped while an exec streams: the session spools (in /metrics), nothing is lost once it is back, the chain verifies', async () => {
    const url = await pg.createDatabase('outage');
    const { gws, kubectl, stop } = await replicas(url, 'passthrough', ['gw-a', 'gw-b']);
    try {
      const lines = 40;
      const streaming = kubectl(0, 'alice', ['exec', 'web', '-c', 'app', '--', 'sh', '-c', `i=1; while [ $i -le ${lines} ]; do echo line-$i; i=$((i+1)); sleep 0.1; done`]);
      // The first lines are in the database before it stops.
      await until('the first lines in the database', async () => (await pg.query("SELECT 1 FROM audit_records WHERE replica = 'gw-a' AND type = 'k8s.data' AND line LIKE '%\"stdout\"%'", [], url)).rowCount! > 0);
      await pg.stop();
      let spooled = 0;
      await until('the spool in /metrics', async () => (spooled = gauge(await metrics(gws[0]!), 'kubewire_store_spool_bytes')) > 0);
      expect(gauge(await metrics(gws[0]!), 'kubewire_store_lag_seconds')).toBeGreaterThan(0);
      // The spool takes records: still ready.
      expect((await fetch(`${gws[0]!.ready.metrics}/readyz`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1000));
      await pg.start();
      const r = await streaming;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(lines);
      await until('the spool uploaded', async () => gauge(await metrics(gws[0]!), 'kubewire_store_spool_bytes') === 0, 30_000);
      expect(gauge(await metrics(gws[0]!), 'kubewire_store_lag_seconds')).toBeLessThan(5);
      await stop();
      // The gateway's lines for the user are JSON on stdout.
      expect(gws[0]!.stdout()).toMatch(/spooled records were uploaded in order/);

      const rows = await pg.query<{ line: string }>("SELECT line FROM audit_records WHERE replica = 'gw-a' AND type = 'k8s.data' ORDER BY pos", [], url);
      const stdout = rows.rows.map((x) => JSON.parse(x.line) as { stream?: string; payload?: string }).filter((d) => d.stream === 'stdout')
        .map((d) => Buffer.from(d.payload ?? '', 'base64').toString()).join('');
      expect(stdout).toBe(r.stdout);
      expect(sessions(url, ['--user', 'alice', '--command', 'line-'])).toHaveLength(1);
      const v = runCli(['verify', '--store', url, '--key-file', keyFile]);
      expect(v.stdout).toMatch(/^intact: replica gw-a: 1 run/m);
      expect(v.status).toBe(0);
      expect(spooled).toBeGreaterThan(0);
    } finally {
      await stop();
      await pg.start().catch(() => undefined);
    }
  }, 180_000);

  it('load: 40 sessions from 8 users through both replicas, nothing lost', async () => {
    const url = await pg.createDatabase('load');
    const { gws, kubectl, stop } = await replicas(url, 'passthrough', ['gw-a', 'gw-b']);
    try {
      const jobs = [...Array(40).keys()].map((i) => {
        const user = LOAD_USERS[i % LOAD_USERS.length]!;
        return async () => ({ i, user, r: await kubectl((i % 2) as 0 | 1, user, ['exec', 'web', '-c', 'app', '--', 'echo', `load-${user}-${i}`]) });
      });
      const results = await pool(jobs, 10);
      for (const { i, user, r } of results) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe(`load-${user}-${i}\n`);
      }
      await stop();
      const rows = sessions(url, ['--command', 'load-']);
      expect(rows).toHaveLength(40);
      for (const { i, user } of results) {
        expect(rows.find((s) => s.command === `echo load-${user}-${i}`), `load-${user}-${i}`).toMatchObject({ user, replica: i % 2 ? 'gw-b' : 'gw-a', exitCode: 0 });
      }
      const out = await pg.query<{ n: string }>("SELECT count(*) AS n FROM audit_records WHERE type = 'k8s.data' AND line LIKE '%\"stdout\"%'", [], url);
      expect(Number(out.rows[0]!.n)).toBeGreaterThanOrEqual(40);
      const v = runCli(['verify', '--store', url, '--key-file', keyFile]);
      expect(v.stdout).toMatch(/^intact: replica gw-a/m);
      expect(v.stdout).toMatch(/^intact: replica gw-b/m);
      expect(v.status).toBe(0);
      void gws;
    } finally {
      await stop();
    }
  }, 240_000);
});
