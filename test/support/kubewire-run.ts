/** Running kubectl through `kubewire run`, as a user would. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ConnectionSummary } from '../../src/events/types.js';
import { runCli } from './cli.js';
import { kubectlEnv, kubectlPath, type KubectlResult } from './kubectl.js';
import { REPO_ROOT } from './vectors.js';
import { waitForText } from './wait.js';

export const KUBEWIRE_BIN = join(REPO_ROOT, 'bin', 'kubewire.js');

export interface RunThroughOptions {
  kubeconfig: string;
  home: string;
  log: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  timeoutMs?: number;
  payload?: string;
  flags?: string[];
}

export function runThroughKubewire(version: string, args: string[], opts: RunThroughOptions): Promise<KubectlResult> {
  return runCommandThroughKubewire(kubectlPath(version), args, opts);
}

/** Any client (a node script with a Kubernetes library, python) through `kubewire run`. */
export function runCommandThroughKubewire(command: string, args: string[], opts: RunThroughOptions): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KUBEWIRE_BIN, 'run', '--kubeconfig', opts.kubeconfig, '--log', opts.log, ...(opts.payload ? ['--payload', opts.payload] : []), ...(opts.flags ?? []), '--', command, ...args], {
      env: kubectlEnv(opts),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** The stderr kubectl wrote, without kubewire's end-of-run lines (each starts `kubewire: `). */
export function kubectlPart(stderr: string): string {
  return stderr.split(/(?<=\n)/).filter((l) => !l.startsWith('kubewire: ')).join('');
}

export function summaries(log: string): ConnectionSummary[] {
  const r = runCli(['summary', log]);
  if (r.status !== 0) throw new Error(`kubewire summary failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ConnectionSummary);
}

/**
 * Starts `kubewire run -- kubectl …` in its own process group and leaves it running; `stop`
 * sends SIGINT to kubewire, which passes it on to kubectl once (with no terminal it cannot tell
 * a group's signal from its own, so a SIGINT to the whole group would reach kubectl twice, and
 * kubectl port-forward dies of the second when it comes after its handler is gone), and resolves
 * with the exit code.
 */
export function startThroughKubewire(version: string, args: string[], opts: { kubeconfig: string; home: string; log: string; env?: Record<string, string>; flags?: string[] }) {
  const child = spawn(process.execPath, [KUBEWIRE_BIN, 'run', '--kubeconfig', opts.kubeconfig, '--log', opts.log, ...(opts.flags ?? []), '--', kubectlPath(version), ...args], {
    env: kubectlEnv(opts),
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {});
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const killer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(killer));
  return {
    child,
    output: () => stdout,
    errors: () => stderr,
    waitFor: (re: RegExp, ms = 15_000): Promise<RegExpMatchArray> => waitForText(() => stdout + '\n' + stderr, re, ms, () => child.exitCode === null),
    stop: async (): Promise<number | null> => {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGINT');
      const t = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 8000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
