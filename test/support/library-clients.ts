/**
 * The library clients the integration tests drive: python-kubernetes (Debian's
 * python3-kubernetes, test/fixtures/clients/python-kubernetes.py) and @kubernetes/client-node
 * (a script written per test directory). Each runs one operation and prints its result as JSON.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { kubectlEnv } from './kubectl.js';
import { REPO_ROOT } from './vectors.js';

export const PYTHON = '/usr/bin/python3';
export const PY_SCRIPT = join(REPO_ROOT, 'test', 'fixtures', 'clients', 'python-kubernetes.py');

/**
 * Whether python-kubernetes can be imported; when not, a warning on a user's machine (the
 * tests that need it skip) and an error under CI=true.
 */
export function pythonKubernetesAvailable(): boolean {
  const ok = spawnSync(PYTHON, ['-c', 'import kubernetes'], { stdio: 'ignore' }).status === 0;
  if (!ok) {
    const msg = `python-kubernetes not importable by ${PYTHON} (Debian package python3-kubernetes)`;
    if (process.env['CI'] === 'true') throw new Error(msg);
    console.warn(`skipping tests that need ${msg}`);
  }
  return ok;
}

/** Runs a client against the cluster of `kubeconfig` (killed at 30 s). */
export function runClient(command: string, args: string[], o: { kubeconfig: string; home: string }): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: kubectlEnv({ kubeconfig: o.kubeconfig, home: o.home }), stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Writes the client-node script into `dir`: `node FILE exec|stdin|tty|attach|portforward`. */
export function writeClientNodeScript(dir: string): string {
  const clientNode = pathToFileURL(join(REPO_ROOT, 'node_modules', '@kubernetes', 'client-node', 'dist', 'index.js')).href;
  const file = join(dir, 'client-node.mjs');
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
