/**
 * `kubewire run [flags] -- COMMAND...`: a private proxy for one command. COMMAND gets the
 * terminal (stdin, stdout, stderr, tty, signals) and `KUBECONFIG` pointing at the proxy; its
 * exit code is kubewire's. Afterwards one line per kubectl command goes to stderr, each
 * line starting `kubewire: `, so it never mixes with the command's own output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { CliError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { parseListen } from './listen-address.js';
import { startProxy, type ProxyFlags } from './proxy-setup.js';

export interface RunOptions extends ProxyFlags {
  command: string[];
}

/** Lines kept until the command has finished with the terminal. */
class HeldOutput implements Output {
  readonly lines: string[] = [];
  line(text: string): void {
    this.lines.push(text);
  }
}

export async function runCommand(opts: RunOptions, err: Output): Promise<number> {
  if (opts.command.length === 0) throw new CliError('KW_ERR_USAGE', 'kubewire run needs a command after --, for example: kubewire run -- kubectl exec -it web -- sh');
  const bypass = bypassFlag(opts.command);
  if (bypass) err.line(`kubewire: warning: the command sets ${bypass}, so its requests may not go through kubewire (it points KUBECONFIG at the proxy); drop ${bypass} to record them`);
  const dir = await mkdtemp(join(tmpdir(), 'kubewire-run-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const held = new HeldOutput();
  let running;
  try {
    running = await startProxy(opts, parseListen('127.0.0.1:0'), kubeconfig, err);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  running.showConsole(held);
  let code: number;
  try {
    code = await runChild(opts.command, { ...process.env, KUBECONFIG: kubeconfig });
  } finally {
    // Settles every session, so each kubectl command's line is held before it is printed.
    await running.shutdown('command exited');
    await rm(dir, { recursive: true, force: true });
  }
  for (const line of held.lines) err.line(`kubewire: ${line}`);
  if (running.proxy.connections === 0) err.line(`kubewire: no request reached kubewire${bypass ? ` (the command's ${bypass} bypassed it)` : ''}`);
  err.line(`kubewire: ${opts.audit ? 'audit log' : 'log'} ${running.log.path}${opts.audit ? ` (check it with: kubewire verify ${opts.audit.maxSize ? running.log.path.replace(/-0001(\.[^./]*)$/, '-*$1') : running.log.path}${opts.audit.keyFile ? ` --key-file ${opts.audit.keyFile}` : ''})` : ''}`);
  return code;
}

function runChild(command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    // The handlers go in before the command starts: a signal that arrives while it starts is
    // kept for it instead of ending kubewire and leaving the command behind.
    let child: ChildProcess | null = null;
    let early: NodeJS.Signals | null = null;
    const send = (sig: NodeJS.Signals): void => {
      if (child) child.kill(sig);
      else early ??= sig;
    };
    // ^C and ^\ typed at the terminal reach the command already (same foreground group): passing
    // them on would deliver them twice. From anywhere else (`kill -INT PID`, `timeout -s INT`, a
    // supervisor) only kubewire gets them, so they are passed on like TERM and HUP.
    const fromElsewhere = (sig: NodeJS.Signals) => (): void => {
      if (!inForegroundGroup()) send(sig);
    };
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGINT', fromElsewhere('SIGINT')], ['SIGQUIT', fromElsewhere('SIGQUIT')], ['SIGTERM', () => send('SIGTERM')], ['SIGHUP', () => send('SIGHUP')],
    ];
    for (const [sig, h] of handlers) process.on(sig, h);
    const cleanup = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env });
    if (early) child.kill(early);
    child.on('error', (e: NodeJS.ErrnoException) => {
      cleanup();
      if (e.code === 'ENOENT') reject(new CliError('KW_ERR_COMMAND_NOT_FOUND', `cannot run ${command[0]}: command not found`, 127));
      else reject(new CliError('KW_ERR_COMMAND', `cannot run ${command[0]}: ${e.message}`, 126));
    });
    child.on('exit', (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    });
  });
}

/** A flag of the command that points it somewhere else than the proxy's KUBECONFIG. */
export function bypassFlag(command: readonly string[]): string | null {
  for (const arg of command) {
    // After `--` come the pod's command and its arguments.
    if (arg === '--') return null;
    const name = /^(--kubeconfig|--server|-s)(=.*)?$/.exec(arg)?.[1];
    if (name) return name;
    if (/^-s./.test(arg) && !arg.startsWith('--')) return '-s';
  }
  return null;
}

/**
 * kubewire's process group is the terminal's foreground group, so a signal the terminal made
 * reached the whole group. Linux tells it in /proc/self/stat (pgrp, field 5; tpgid, field 8);
 * elsewhere a terminal on stdin is the best guess.
 */
function inForegroundGroup(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5];
  } catch {
    return Boolean(process.stdin.isTTY);
  }
}
