/**
 * `--audit-store` end to end, with real kubectl through `kubewire run` against the demo
 * cluster: the records go to PostgreSQL (or a file store), `kubewire sessions --store` finds the
 * command and `kubewire verify --store` checks the replica's chain; `replay`/`export --store`
 * play the session back; `kubewire watch --store` follows a session of a running proxy live.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, startKubectl } from '../support/kubectl.js';
import { proxyArgs, startProxyProcess, stopStartedProxies } from '../support/kubewire-proxy.js';
import { KUBEWIRE_BIN, runThroughKubewire } from '../support/kubewire-run.js';
import pgClient from 'pg';
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
    await stopStartedProxies();
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

    // replay and export --store take the id as sessions prints it, or a unique prefix of it.
    const id = rows[0]!['session'] as string;
    const replay = runCli(['replay', '--store', store, id.slice(0, 8), '--speed', '1000']);
    expect(replay.stdout).toBe('stored\n');
    expect(replay.stderr).toMatch(/ended with exit code 4/);
    expect(replay.status).toBe(4);
    const cast = runCli(['export', '--store', store, id, '--format', 'asciicast']);
    expect(cast.status).toBe(0);
    const lines = cast.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines[0]).toMatchObject({ version: 2 });
    expect(lines.slice(1)).toContainEqual([expect.any(Number), 'o', 'stored\r\n']);
    const har = runCli(['export', '--store', store, id, '--format', 'har']);
    expect(har.status).toBe(0);
    expect((JSON.parse(har.stdout) as { log: { entries: unknown[] } }).log.entries.length).toBeGreaterThan(0);
    const unknown = runCli(['replay', '--store', store, 'no-such-session']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/session no-such-session is not in the audit store/);
  }, 60_000);

  it.each(['postgres', 'files'])('%s: watch follows a session of a running proxy as it happens, and ends with its status', async (kind) => {
    const store = kind === 'postgres' ? pg.url : join(dir, 'live-store');
    const p = await startProxyProcess({
      kubeconfig: t.kubeconfig, home: t.home, log: join(dir, `${kind}-live.jsonl`), writeKubeconfig: join(dir, `${kind}-live.kubeconfig`),
      extraArgs: ['--audit', '--audit-store', store, '--audit-replica', `live-${kind}`],
    });
    const k = startKubectl(found[0]!, ['exec', 'web', '--', 'sh', '-c', 'for i in 1 2 3; do echo $i; sleep 1; done'], { kubeconfig: p.kubeconfig, home: t.home });
    await k.waitFor(/^1$/m);
    const id = await waitForValue(() => liveSessionId(kind, store, `live-${kind}`), 10_000);
    expect(k.child.exitCode).toBeNull();
    const w = spawn(process.execPath, [KUBEWIRE_BIN, 'watch', '--store', store, id.slice(0, 10)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    w.stdout.on('data', (d: Buffer) => (out += d.toString()));
    w.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const killer = setTimeout(() => w.kill('SIGKILL'), 40_000);
    const code = await new Promise<number | null>((res) => w.on('close', (c) => res(c)));
    clearTimeout(killer);
    expect(await k.stop()).toBe(0);
    expect(out).toBe('1\n2\n3\n');
    const status = err.trim().split('\n');
    expect(status).toContainEqual(expect.stringMatching(/kubewire watch: kubewire-demo-admin {2}default\/web\/app {2}sh -c for i in 1 2 3; do echo \$i; sleep 1; done {2}\d+ B out, 0 B in {2}live$/));
    expect(status.at(-1)).toMatch(/kubewire watch: kubewire-demo-admin {2}default\/web\/app {2}sh -c .* {2}6 B out, 0 B in {2}ended, exit 0$/);
    expect(code).toBe(0);
    await p.stop('SIGTERM');
  }, 90_000);

  it('postgres: a proxy killed with SIGKILL mid-session leaves its replica free at once: restarted, it writes a new run; a second live one is refused', async () => {
    const options = (n: number) => ({
      kubeconfig: t.kubeconfig, home: t.home, log: join(dir, `crash-${n}.jsonl`), writeKubeconfig: join(dir, `crash-${n}.kubeconfig`),
      extraArgs: ['--audit', '--audit-store', pg.url, '--audit-replica', 'crash'],
    });
    const first = await startProxyProcess(options(1));
    const k = startKubectl(found[0]!, ['exec', 'web', '--', 'sh', '-c', 'echo up; sleep 30'], { kubeconfig: first.kubeconfig, home: t.home });
    await k.waitFor(/^up$/m);
    await waitForValue(() => liveSessionId('postgres', pg.url, 'crash'), 10_000);
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await k.stop();

    // At once, the same replica: it takes the lease the dead process never gave back.
    const second = await startProxyProcess(options(2));
    try {
      expect(second.stderr()).toMatch(/replica crash was held by a process that is gone/);
      const k2 = startKubectl(found[0]!, ['exec', 'web', '--', 'sh', '-c', 'echo after restart'], { kubeconfig: second.kubeconfig, home: t.home });
      await k2.waitFor(/^after restart$/m);
      expect(await k2.stop()).toBe(0);

      // A second live process with the same name is refused, with one line.
      const third = spawn(process.execPath, proxyArgs(options(3)), { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: t.home }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err3 = '';
      third.stderr.on('data', (d: Buffer) => (err3 += d.toString()));
      const killer = setTimeout(() => third.kill('SIGKILL'), 30_000);
      const code3 = await new Promise<number | null>((res) => third.on('close', (c) => res(c)));
      clearTimeout(killer);
      expect(err3).toMatch(/replica crash is being written by another kubewire right now: give each replica its own --audit-replica name/);
      expect(code3).toBe(1);
    } finally {
      await second.stop('SIGTERM');
    }

    // Two runs: the killed one is cut short (no final seal), the restarted one follows it.
    const runs = await pg.query<{ pos: string }>("SELECT pos FROM audit_records WHERE replica = 'crash' AND type = 'audit.start' ORDER BY pos");
    expect(runs.rows).toHaveLength(2);
    const before = await pg.query<{ n: string }>("SELECT count(*) AS n FROM audit_records WHERE replica = 'crash' AND pos < $1", [runs.rows[1]!.pos]);
    expect(Number(runs.rows[1]!.pos)).toBe(Number(before.rows[0]!.n) + 1);
    const v = runCli(['verify', '--store', pg.url]);
    expect(v.stdout).toMatch(/^tampered: replica crash: replica crash, pos \d+ \(seq \d+\): .*without the seal that closes every file/m);
    expect(v.status).toBe(1);
    const s = runCli(['sessions', '--store', pg.url, '--command', 'after restart', '--json']);
    expect(s.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { replica: string }).replica)).toEqual(['crash']);
  }, 120_000);
});

/** The session of the replica's k8s.data records, once there is one. */
async function liveSessionId(kind: string, store: string, replica: string): Promise<string | null> {
  if (kind === 'postgres') {
    const c = new pgClient.Client({ connectionString: store });
    await c.connect();
    try {
      const r = await c.query<{ session: string }>("SELECT session FROM audit_records WHERE replica = $1 AND type = 'k8s.data' AND session IS NOT NULL LIMIT 1", [replica]);
      return r.rows[0]?.session ?? null;
    } finally {
      await c.end();
    }
  }
  const d = join(store, replica);
  for (const f of readdirSync(d)) {
    const m = /"type":"k8s\.data".*?"session":"([^"]+)"|"session":"([^"]+)"[^\n]*"type":"k8s\.data"/.exec(readFileSync(join(d, f), 'utf8'));
    if (m) return m[1] ?? m[2] ?? null;
  }
  return null;
}

async function waitForValue<T>(get: () => Promise<T | null>, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await get().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > until) throw new Error('timed out waiting for the live session in the store');
    await new Promise((r) => setTimeout(r, 200));
  }
}
