/**
 * `kubewire proxy` as a user runs it: the built bin/kubewire.js in its own process, ready once
 * it printed its `export KUBECONFIG=` line. Every process started here is tracked, and
 * `stopStartedProxies` ends the ones still running, by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { KUBEWIRE_BIN } from './kubewire-run.js';

export interface ProxyProcessOptions {
  kubeconfig: string;
  log: string;
  writeKubeconfig: string;
  home: string;
  payload?: 'full' | 'head' | 'none';
  listen?: string;
  context?: string;
  /** How long to wait for the `export KUBECONFIG=` line. */
  readyMs?: number;
  /** More flags for `kubewire proxy` (e.g. --audit). */
  extraArgs?: string[];
  /** A command that runs node with the proxy's arguments, by exec (keeps the PID): e.g. unshare. */
  wrap?: string[];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProxyProcess {
  child: ChildProcess;
  pid: number;
  /** The https URL the proxy printed. */
  url: string;
  /** The file named by the printed `export KUBECONFIG=` line. */
  kubeconfig: string;
  stdout(): string;
  stderr(): string;
  alive(): boolean;
  exited: Promise<Exit>;
  /** Sends `signal`, then SIGKILL after `ms`; resolves with how the process ended. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<Exit>;
}

const started = new Set<ChildProcess>();

export function proxyArgs(o: ProxyProcessOptions): string[] {
  return [
    KUBEWIRE_BIN, 'proxy', '--kubeconfig', o.kubeconfig, '--log', o.log, '--no-tui', '--write-kubeconfig', o.writeKubeconfig,
    ...(o.payload ? ['--payload', o.payload] : []),
    ...(o.listen ? ['--listen', o.listen] : []),
    ...(o.context ? ['--context', o.context] : []),
    ...(o.extraArgs ?? []),
  ];
}

export function startProxyProcess(o: ProxyProcessOptions): Promise<ProxyProcess> {
  const [file, ...prefix] = o.wrap ?? [process.execPath];
  const args = o.wrap ? [...prefix, process.execPath, ...proxyArgs(o)] : proxyArgs(o);
  const child = spawn(file!, args, {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: o.home, XDG_STATE_HOME: `${o.home}/.local/state` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    }),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', ms = 10_000): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), ms);
    const r = await exited;
    clearTimeout(killer);
    return r;
  };
  const readyMs = o.readyMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + readyMs;
    const poll = (): void => {
      const exp = /export KUBECONFIG=(\S+)/.exec(out);
      const url = /listening on (https:\/\/[^\s,]+),/.exec(out);
      if (exp && url) {
        resolve({
          child, pid: child.pid!, url: url[1]!, kubeconfig: exp[1]!, exited, stop,
          stdout: () => out, stderr: () => err,
          alive: () => child.exitCode === null && child.signalCode === null,
        });
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        void stop('SIGKILL').then(() => reject(new Error(`kubewire proxy did not start (exit ${child.exitCode}); stdout: ${out} stderr: ${err}`)));
        return;
      }
      setTimeout(poll, 25);
    };
    poll();
  });
}

/** Ends every proxy process started here that still runs (SIGTERM, then SIGKILL), by PID. */
export async function stopStartedProxies(): Promise<void> {
  await Promise.all([...started].map(async (child) => {
    const done = new Promise<void>((r) => child.once('close', () => r()));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  }));
}
