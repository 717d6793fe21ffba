/**
 * `kubewire demo --script`: a short tour with the installed kubectl, so the TUI fills itself:
 * an exec, a tty session with a resize, a cp, a port-forward with a fetch, and a WebSocket
 * upgrade that the demo cluster refuses, so kubectl falls back to SPDY.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DemoCluster } from '../demo/demo-cluster.js';

export interface TourOptions {
  kubectl: string;
  kubeconfig: string;
  cluster: DemoCluster;
  say: (line: string) => void;
}

export async function runTour(o: TourOptions): Promise<void> {
  const env = { ...process.env, KUBECONFIG: o.kubeconfig };
  const kubectl = (args: string[], input?: string, timeoutMs = 30_000): Promise<number | null> =>
    new Promise((resolve) => {
      const child = spawn(o.kubectl, args, { env, stdio: ['pipe', 'ignore', 'ignore'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', () => resolve(null));
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    });

  o.say('exec: kubectl exec web -c app -- sh -c "echo hello from web; cat etc/hostname"');
  await kubectl(['exec', 'web', '-c', 'app', '--', 'sh', '-c', 'echo hello from web; cat etc/hostname']);

  o.say('an -it-like session: kubectl exec -it web -c app -- sh, with a resize');
  await ttySession(o.kubectl, env);

  const dir = await mkdtemp(join(tmpdir(), 'kubewire-tour-'));
  try {
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'copied by the kubewire tour\n'.repeat(200));
    o.say('cp: kubectl cp notes.txt web:/tmp/notes.txt -c app');
    await kubectl(['cp', '-c', 'app', file, 'web:/tmp/notes.txt']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  o.say('port-forward: kubectl port-forward pod/web :80, then an HTTP GET through it');
  await portForward(o.kubectl, env);

  o.say('fallback: the cluster refuses WebSocket (gateway profile no-websocket); kubectl retries over SPDY');
  const before = o.cluster.profiles.list();
  o.cluster.profiles.set(['no-websocket']);
  try {
    await kubectl(['exec', 'worker', '--', 'sh', '-c', 'echo this went over SPDY; exit 3']);
  } finally {
    o.cluster.profiles.set(before);
  }
  o.say('tour done');
}

async function ttySession(kubectl: string, env: NodeJS.ProcessEnv): Promise<void> {
  const pty = await import('node-pty');
  const p = pty.spawn(kubectl, ['exec', '-it', 'web', '-c', 'app', '--', 'sh'], { cols: 80, rows: 24, env: env as Record<string, string> });
  let out = '';
  p.onData((d) => (out += d));
  const exited = new Promise<void>((resolve) => p.onExit(() => resolve()));
  const waitFor = async (re: RegExp): Promise<void> => {
    for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  };
  p.write('printf "\\033[1;32mhello from a tty\\033[0m\\n"; stty size\r');
  await waitFor(/24 80/);
  p.resize(100, 30);
  await new Promise((r) => setTimeout(r, 200));
  p.write('stty size\r');
  await waitFor(/30 100/);
  p.write('exit\r');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function portForward(kubectl: string, env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(kubectl, ['port-forward', 'pod/web', ':80'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    for (let i = 0; i < 200 && !/Forwarding from 127\.0\.0\.1:(\d+)/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const port = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    if (port) await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => '');
  } finally {
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
