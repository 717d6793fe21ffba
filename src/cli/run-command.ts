/**
 * `kubewire run [flags] -- COMMAND...`: a private proxy for one command. COMMAND gets the
 * terminal (stdin, stdout, stderr, tty, signals) and `KUBECONFIG` pointing at the proxy; its
 * exit code is kubewire's. Afterwards one line per kubectl command goes to stderr, each
 * line starting `kubewire: `, so it never mixes with the command's own output.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { ConsoleSink } from '../sinks/console-sink.js';
import { CliError } from './errors.js';
import { parseListen } from './listen-address.js';
import type { Output } from './output.js';
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
  running.sessions.add(new ConsoleSink(held));
  let code: number;
  try {
    code = await runChild(opts.command, { ...process.env, KUBECONFIG: kubeconfig });
  } finally {
    // Settles every session, so each kubectl command's line is held before it is printed.
    await running.shutdown('command exited');
    await rm(dir, { recursive: true, force: true });
  }
  for (const line of held.lines) err.line(`kubewire: ${line}`);
  err.line(`kubewire: ${opts.audit ? 'audit log' : 'log'} ${running.log.path}${opts.audit ? ` (check it with: kubewire verify ${opts.audit.maxSize ? running.log.path.replace(/-0001(\.[^./]*)$/, '-*$1') : running.log.path}${opts.audit.keyFile ? ` --key-file ${opts.audit.keyFile}` : ''})` : ''}`);
  return code;
}

function runChild(command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env });
    // The terminal sends ^C and ^\ to the whole foreground group; the command decides what
    // they mean, kubewire only waits for it. Signals sent to kubewire alone are passed on.
    const ignore = (): void => {};
    const forward = (sig: NodeJS.Signals) => (): void => void child.kill(sig);
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const cleanup = (): void => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    };
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
