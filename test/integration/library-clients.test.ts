/**
 * Library clients through kubewire: python-kubernetes (Debian's python3-kubernetes) and
 * @kubernetes/client-node, against the demo cluster. Each operation must give the same result
 * through kubewire as directly, the session facts kubewire decoded, and no finding at all: these
 * clients send channel data in text frames, close streams themselves and offer other
 * subprotocols than kubectl, and none of that is a fault.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { kubectlEnv } from '../support/kubectl.js';
import { runCommandThroughKubewire, summaries } from '../support/kubewire-run.js';
import { REPO_ROOT } from '../support/vectors.js';

const PYTHON = '/usr/bin/python3';
const PY_SCRIPT = join(REPO_ROOT, 'test', 'fixtures', 'clients', 'python-kubernetes.py');
const hasPython = spawnSync(PYTHON, ['-c', 'import kubernetes'], { stdio: 'ignore' }).status === 0;
if (!hasPython) {
  const msg = `python-kubernetes not importable by ${PYTHON} (Debian package python3-kubernetes)`;
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(`skipping tests that need ${msg}`);
}

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  t = await startTestCluster();
});
afterAll(async () => {
  await t?.stop();
});

/** Runs the client directly against the demo cluster (killed at 30 s). */
function direct(command: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: kubectlEnv({ kubeconfig: t.kubeconfig, home: t.home }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

async function through(command: string, args: string[]) {
  const log = join(t.dir, `lib-${++n}.jsonl`);
  const r = await runCommandThroughKubewire(command, args, { kubeconfig: t.kubeconfig, home: t.home, log });
  const events = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const findings = events.filter((e) => e.type === 'finding').map((e) => `${e.rule}: ${e.title}`);
  const upgrades = summaries(log).filter((s) => s.request.upgrade !== null);
  return { code: r.code, stdout: r.stdout, findings, upgrades, anomalies: events.filter((e) => e.type === 'decode.anomaly').map((e) => e.code) };
}

describe.skipIf(!hasPython)('python-kubernetes through kubewire', () => {
  const cases: [op: string, operation: string, check: (out: Record<string, unknown>) => void][] = [
    ['exec', 'exec', (o) => expect(o['stdout']).toBe('ok\n')],
    ['stdin', 'exec', (o) => expect(o['stdout']).toBe('hello from python\n')],
    ['tty', 'exec', (o) => expect(o['stdout']).toBe('30 100')],
    ['attach', 'attach', (o) => expect(o['ticks']).toBe(true)],
    ['portforward', 'portforward', (o) => expect(o['status']).toBe('HTTP/1.1 200 OK')],
  ];
  /**
   * python-kubernetes polls its raw socket for the next frame without asking its TLS layer for
   * data it already holds (ws_client.py `update`): output, status and close frames in one TLS
   * record would leave it waiting forever. kubewire writes each chunk on in a write of its own
   * (upgrade-tunnel.ts `ownRecords`), so they reach it as separate records, as directly.
   */
  for (const [op, operation, check] of cases) {
    it(`${op}: the same result as directly, decoded, with no finding`, async () => {
      const d = await direct(PYTHON, [PY_SCRIPT, op]);
      expect(d.code).toBe(0);
      const out = JSON.parse(d.stdout) as Record<string, unknown>;
      check(out);
      const k = await through(PYTHON, [PY_SCRIPT, op]);
      expect(k.code).toBe(0);
      expect(JSON.parse(k.stdout.trim().split('\n').pop()!)).toEqual(out);
      expect(k.findings).toEqual([]);
      expect(k.anomalies).toEqual([]);
      expect(k.upgrades.map((s) => [s.request.operation, s.transport, s.response.status])).toEqual([[operation, 'websocket', 101]]);
      if (op === 'tty') expect(k.upgrades[0]!.resizes).toEqual([[100, 30]]);
      if (op === 'stdin') expect(k.upgrades[0]!.streams['stdin']?.bytes).toBe('hello from python\n'.length);
      if (op === 'portforward') expect(k.upgrades[0]!.portForward.map((p) => p.port)).toEqual([80]);
    });
  }
});

describe('@kubernetes/client-node through kubewire', () => {
  const clientNode = pathToFileURL(join(REPO_ROOT, 'node_modules', '@kubernetes', 'client-node', 'dist', 'index.js')).href;
  function script(): string {
    const file = join(t.dir, 'client-node.mjs');
    writeFileSync(file, `
import { PassThrough } from 'node:stream';
import net from 'node:net';
const k8s = await import(${JSON.stringify(clientNode)});
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const op = process.argv[2];
const timer = setTimeout(() => { console.error('timeout'); process.exit(3); }, 15000);
const done = (result) => { clearTimeout(timer); console.log(JSON.stringify(result)); process.exit(0); };
const collect = () => { const s = new PassThrough(); s.text = ''; s.on('data', (d) => (s.text += d)); return s; };
if (op === 'exec' || op === 'stdin' || op === 'tty') {
  const out = collect();
  const stdin = op === 'exec' ? null : new PassThrough();
  const command = op === 'exec' ? ['echo', 'ok'] : op === 'stdin' ? ['head', '-n', '1'] : ['sh', '-c', 'sleep 1; stty size'];
  // client-node takes the terminal size from stdout (rows, columns and its 'resize' events).
  if (op === 'tty') { out.rows = 30; out.columns = 100; }
  await new k8s.Exec(kc).exec('default', 'web', 'app', command, out, op === 'tty' ? null : process.stderr, stdin, op === 'tty', (status) => {
    setTimeout(() => done({ stdout: out.text.trim(), status: status.status }), 100);
  });
  if (op === 'stdin') stdin.write('hello from node\\n');
} else if (op === 'attach') {
  const out = collect();
  const ws = await new k8s.Attach(kc).attach('default', 'worker', 'worker', out, null, null, false);
  setTimeout(() => { ws.close(); done({ ticks: out.text.includes('\\n') }); }, 2500);
} else if (op === 'portforward') {
  const server = net.createServer((sock) => new k8s.PortForward(kc).portForward('default', 'web', [80], sock, null, sock));
  server.listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1', () => c.write('GET / HTTP/1.1\\r\\nHost: web\\r\\nConnection: close\\r\\n\\r\\n'));
    let data = '';
    c.on('data', (d) => { data += d; if (data.includes('\\r\\n')) done({ status: data.split('\\r\\n')[0] }); });
  });
}
`);
    return file;
  }

  const cases: [op: string, operation: string, want: Record<string, unknown>][] = [
    ['exec', 'exec', { stdout: 'ok', status: 'Success' }],
    ['stdin', 'exec', { stdout: 'hello from node', status: 'Success' }],
    ['tty', 'exec', { stdout: '30 100', status: 'Success' }],
    ['attach', 'attach', { ticks: true }],
    ['portforward', 'portforward', { status: 'HTTP/1.1 200 OK' }],
  ];
  for (const [op, operation, want] of cases) {
    it(`${op}: the same result as directly, decoded, with no finding`, async () => {
      const file = script();
      const d = await direct(process.execPath, [file, op]);
      expect(d.code).toBe(0);
      expect(JSON.parse(d.stdout)).toEqual(want);
      const k = await through(process.execPath, [file, op]);
      expect(k.code).toBe(0);
      expect(JSON.parse(k.stdout.trim().split('\n').pop()!)).toEqual(want);
      expect(k.findings).toEqual([]);
      expect(k.anomalies).toEqual([]);
      expect(k.upgrades.map((s) => [s.request.operation, s.transport, s.response.status])).toEqual([[operation, 'websocket', 101]]);
    });
  }
});
