/**
 * Real kubectl binaries for integration tests. A missing binary skips the test with a clear
 * message on a user's machine and fails under CI (CI=true).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchedToolPath } from './tools.js';
import { waitForText } from './wait.js';

export const KUBECTL_DIR = process.env['KUBEWIRE_KUBECTL_DIR'] ?? '/usr/lib/google-cloud-sdk/bin';

/** 1.27-1.33 sit beside the system kubectl; 1.34 comes from scripts/fetch-tools. */
export function kubectlPath(version: string): string {
  if (version === '1.34') return fetchedToolPath('kubectl');
  return join(KUBECTL_DIR, `kubectl.${version}`);
}

/** The versions present; under CI every wanted version must be. */
export function availableKubectls(wanted: string[]): string[] {
  const present = wanted.filter((v) => existsSync(kubectlPath(v)));
  const missing = wanted.filter((v) => !present.includes(v));
  if (missing.length) {
    const where = missing.includes('1.34') ? `${KUBECTL_DIR} (set KUBEWIRE_KUBECTL_DIR; 1.34: run scripts/fetch-tools kubectl)` : `${KUBECTL_DIR} (set KUBEWIRE_KUBECTL_DIR)`;
    const msg = `kubectl ${missing.join(', ')} not found in ${where}`;
    if (process.env['CI'] === 'true') throw new Error(msg);
    console.warn(`skipping tests that need ${msg}`);
  }
  return present;
}

export interface KubectlResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface KubectlRunOptions {
  kubeconfig: string;
  home: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  timeoutMs?: number;
}

export function kubectlEnv(opts: { kubeconfig: string; home: string; env?: Record<string, string> }): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: opts.home,
    KUBECONFIG: opts.kubeconfig,
    ...opts.env,
  };
}

/** Runs kubectl to completion (killed by PID at the timeout). */
export function runKubectl(version: string, args: string[], opts: KubectlRunOptions): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath(version), args, { env: kubectlEnv(opts), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Starts kubectl and leaves it running (port-forward, logs -f, attach); the caller stops it. */
export function startKubectl(version: string, args: string[], opts: KubectlRunOptions): { child: ChildProcess; output: () => string; errors: () => string; waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray>; stop: () => Promise<number | null> } {
  const child = spawn(kubectlPath(version), args, { env: kubectlEnv(opts), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  exited.then(() => clearTimeout(killer));
  return {
    child,
    output: () => stdout,
    errors: () => stderr,
    waitFor: (re, ms = 15_000) => waitForText(() => stdout + '\n' + stderr, re, ms, () => child.exitCode === null),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export function tempHome(prefix = 'kubewire-kubectl-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** kubectl 1.30+ forced onto WebSocket (exec, attach, cp, and port-forward's tunnel). */
export const WEBSOCKET_ENV = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'true', KUBECTL_PORT_FORWARD_WEBSOCKETS: 'true' } as const;
/** kubectl forced onto SPDY/3.1 (its fallback, and the only transport before 1.30). */
export const SPDY_ENV = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false', KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' } as const;

/**
 * kubectl's WebSocket client (seen with 1.30 and 1.33) logs `websocket.go:296] Unknown stream id
 * 1, discarding message` when a frame comes in for a stream its reader already closed: a race
 * inside client-go, which a direct run can lose as well; the bytes and the exit code are unchanged.
 */
export function withoutReaderRace(stderr: string): string {
  return stderr.replace(/^E\d{4} [\d:.]+\s+\d+ websocket\.go:\d+\] Unknown stream id \d+, discarding message\n/gm, '');
}
