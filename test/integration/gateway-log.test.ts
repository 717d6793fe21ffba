/**
 * The gateway's JSON log with a stdout nobody reads: stdout is a FIFO whose reader never reads
 * until the end. The log lines wait (and past `--log-buffer` are dropped) while a 2 MiB
 * `kubectl exec -i cat` through the gateway still comes back byte for byte; once stdout is read
 * again, one `warn` line says how many lines were dropped, and logging goes on.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/event-log.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { availableKubectls, kubectlEnv, kubectlPath, runKubectl } from '../support/kubectl.js';
import { KUBEWIRE_BIN } from '../support/kubewire-run.js';

const V = '1.33';
const found = availableKubectls([V]);
const SAFETY_MS = 60_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Printable bytes that never repeat, so a lost or reordered chunk shows. */
function pattern(bytes: number): Buffer {
  return Buffer.from(randomBytes(Math.ceil(bytes * 3 / 4)).toString('base64').slice(0, bytes));
}

describe.skipIf(found.length === 0)('kubewire gateway with a stdout nobody reads', () => {
  let t: TestCluster;
  beforeAll(async () => {
    t = await startTestCluster({ users: ['alice=admin'] });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('relays a 2 MiB exec byte for byte while log lines wait, drops past --log-buffer, and says how many once read again', async () => {
    const fifo = join(t.dir, 'stdout.fifo');
    execFileSync('mkfifo', [fifo]);
    // The reader end is open (so writes do not fail) and is not read until the end.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY);
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const kubeconfig = join(t.dir, 'team.kubeconfig');
    const child = spawn(process.execPath, [
      KUBEWIRE_BIN, 'gateway', '--upstream-kubeconfig', t.kubeconfig, '--store', join(t.dir, 'store'), '--name', 'gw-log',
      '--listen', `127.0.0.1:${apiPort}`, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--write-kubeconfig', kubeconfig, '--log-buffer', '16K',
    ], { env: { ...process.env, HOME: t.home, XDG_STATE_HOME: join(t.home, 'state') }, stdio: ['ignore', writer, 'pipe'] });
    closeSync(writer);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 3 * SAFETY_MS);
    let log = '';
    const drain = (): number => {
      const buf = Buffer.alloc(64 * 1024);
      let total = 0;
      for (;;) {
        let n: number;
        try {
          n = readSync(reader, buf, 0, buf.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return total;
          throw e;
        }
        if (n === 0) return total;
        log += buf.subarray(0, n).toString('utf8');
        total += n;
      }
    };
    try {
      await waitUntil('the gateway to be ready', async () => {
        if (!existsSync(kubeconfig)) return undefined;
        const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => null);
        return res?.status === 200 ? true : undefined;
      }, 20_000);
      // Enough requests to fill the FIFO (64 KiB) and the gateway's 16 KiB: one session line each.
      const token = t.cluster.users.find((u) => u.name === 'alice')!.token;
      const agent = new Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false });
      const get = (i: number): Promise<number> => new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: apiPort, path: '/api/v1/namespaces/default/pods', agent, headers: { Authorization: `Bearer ${token}`, 'Kubectl-Session': `fill-${i}`, 'Kubectl-Command': 'kubectl get' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      const fill = async (): Promise<void> => {
        const statuses = await Promise.all([...Array(400).keys()].map(get));
        expect(statuses.every((s) => s === 200), JSON.stringify(statuses.filter((s) => s !== 200).slice(0, 3))).toBe(true);
      };
      await fill();
      await fill();
      agent.destroy();

      // Nobody reads stdout: the exec's bytes still flow, both ways, byte for byte.
      const exec = spawn(kubectlPath(V), ['--context', 'alice', 'exec', '-i', 'web', '-c', 'app', '--', 'cat'], { env: kubectlEnv({ kubeconfig, home: t.home }), stdio: ['pipe', 'pipe', 'pipe'] });
      const execKiller = setTimeout(() => exec.kill('SIGKILL'), SAFETY_MS);
      const out: Buffer[] = [];
      let execErr = '';
      exec.stdout.on('data', (d: Buffer) => void out.push(d));
      exec.stderr.on('data', (d: Buffer) => void (execErr += d.toString()));
      const execDone = new Promise<number | null>((resolve) => exec.on('close', resolve));
      const sent = pattern(2 * 1024 * 1024);
      exec.stdin.end(sent);
      expect(await execDone, execErr).toBe(0);
      clearTimeout(execKiller);
      expect(Buffer.concat(out).equals(sent), 'stdout is stdin, byte for byte, with the log stalled').toBe(true);

      // Read again: what waited comes out, then a line with the count of lines dropped (one each
      // time the backlog drained: sessions still settling may fill it again meanwhile).
      const dropped = await waitUntil('the dropped-lines line', () => {
        drain();
        const line = log.split('\n').find((l) => l.includes('"msg":"log lines dropped"'));
        return line ? (JSON.parse(line) as { level: string; dropped: number }) : undefined;
      }, 20_000);
      expect(dropped.level).toBe('warn');
      expect(dropped.dropped).toBeGreaterThan(0);
      const lines = log.split('\n').filter(Boolean);
      for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
      expect(lines[0]).toContain('"msg":"gateway listening"');
      // 64 KiB in the FIFO and at most 16 KiB waiting in the gateway: far fewer than the 800 session lines.
      const before = lines.filter((l) => l.includes('"msg":"session"')).length;
      expect(before).toBeGreaterThan(10);
      expect(before).toBeLessThan(800);

      // Logging goes on: a later command's session line arrives.
      const later = await runKubectl(V, ['--context', 'alice', 'get', 'pod', 'web', '-o', 'name'], { kubeconfig, home: t.home, timeoutMs: SAFETY_MS });
      expect(later.code, later.stderr).toBe(0);
      await waitUntil('the later session line', () => {
        drain();
        return log.split('\n').some((l) => l.includes('"msg":"session"') && l.includes('"pod":"web"') && !l.includes('"session":"fill-')) ? true : undefined;
      }, 20_000);
      // /metrics counts them: as many as the warn lines said.
      await waitUntil('the dropped lines in /metrics', async () => {
        drain();
        const said = log.split('\n').filter((l) => l.includes('"msg":"log lines dropped"')).reduce((n, l) => n + (JSON.parse(l) as { dropped: number }).dropped, 0);
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return new RegExp(`^kubewire_log_dropped_lines_total ${said}$`, 'm').test(text) ? true : undefined;
      }, 20_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      drain();
      expect(log).toContain('"msg":"gateway stopped"');
      expect(stderr).toBe('');
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      closeSync(reader);
    }
  }, 4 * SAFETY_MS);
});
