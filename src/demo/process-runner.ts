/**
 * Runs what kubectl exec and attach ask for. exec starts a real local process in the pod's
 * sandbox directory: with pipes, or in a pseudo-terminal (node-pty) when a tty was asked for.
 * attach joins the container's long-running demo process in the AttachHub.
 *
 * Output honours the transport's backpressure: when `out.stdout()` returns false the child's
 * output is paused until `onDrain`. `finish` is called once, after the process has exited and
 * its output has been handed to the transport, with the Status a kubelet would send
 * (protocol.md A §1.4, B §5). After `abort` nothing more is written to `out`: the client is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as pty from 'node-pty';
import type { AttachHandle, AttachHub } from './attach-hub.js';
import type { CommandOutput, CommandRequest, K8sStatus, RunningCommand, StartCommand } from './contracts.js';
import type { PodCommand, PodSandbox } from './sandbox.js';

/** Time a process group gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 1000;
/** Largest piece of output handed to the transport at once. */
const MAX_CHUNK = 64 * 1024;
/** How often a tty command is checked for its exit, and how long its output must then be quiet. */
const PTY_POLL_MS = 25;
const PTY_QUIET_MS = 50;

export function createStartCommand(sandbox: PodSandbox, attachHub: AttachHub): StartCommand {
  return (req, out) => {
    if (req.attach) return attachToHub(req, out, attachHub);
    if (req.command.length === 0 || req.command[0] === '') return finishLater(out, emptyCommandStatus());
    let cmd: PodCommand;
    try {
      cmd = sandbox.mapCommand(req.pod, req.command, { tty: req.tty });
    } catch (err) {
      return finishLater(out, internalError(`error executing command in container: ${(err as Error).message}`));
    }
    return req.tty ? startInPty(req, cmd, out) : startWithPipes(req, cmd, out);
  };
}

// ---------------------------------------------------------------------------------------------
// Statuses

const SUCCESS: K8sStatus = { metadata: {}, status: 'Success' };

/** exit N, or 128+signo for a signal, as the kubelet reports a command's end. */
export function exitStatus(argv: readonly string[], code: number | null, signal: NodeJS.Signals | number | null): K8sStatus {
  const signo = typeof signal === 'number' ? signal : signal ? (osConstants.signals[signal] ?? 0) : 0;
  const exitCode = signo > 0 ? 128 + signo : (code ?? 1);
  if (exitCode === 0) return { ...SUCCESS };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** `apierrors.NewInternalError(err)`: the message gains the "Internal error occurred" prefix. */
function internalError(cause: string): K8sStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${cause}`,
    reason: 'InternalError',
    details: { causes: [{ reason: '', message: cause }] },
    code: 500,
  };
}

/** The container runtime's words for a command that cannot be started. */
export function execFailureStatus(file: string, err: NodeJS.ErrnoException): K8sStatus {
  let why: string;
  if (err.code === 'ENOENT') {
    why = file.includes('/') ? `stat ${file}: no such file or directory` : 'executable file not found in $PATH';
  } else if (err.code === 'EACCES' || err.code === 'EPERM') {
    why = 'permission denied';
  } else {
    why = err.message;
  }
  return internalError(`error executing command in container: failed to exec in container: exec: "${file}": ${why}`);
}

function emptyCommandStatus(): K8sStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: 'you must specify at least one command for the container (kubectl exec POD -- COMMAND)',
    reason: 'BadRequest',
    code: 400,
  };
}

function finishLater(out: CommandOutput, status: K8sStatus): RunningCommand {
  let aborted = false;
  // The transport gets its RunningCommand before the status, as with a started process.
  setImmediate(() => {
    if (!aborted) out.finish(status);
  });
  return { stdin() {}, stdinEnd() {}, resize() {}, abort: () => void (aborted = true) };
}

// ---------------------------------------------------------------------------------------------
// Process groups: every command runs in its own group, so a kill reaches its children too.

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const g of liveGroups) signalGroup(g, 'SIGKILL');
    });
  }
}

/**
 * SIGTERM now, SIGKILL after the grace period, unless the group is gone by then. Also used
 * after a normal exit: background jobs left in the group must not outlive the command.
 */
function terminateGroup(pgid: number): void {
  if (!signalGroup(pgid, 'SIGTERM')) {
    liveGroups.delete(pgid);
    return;
  }
  setTimeout(() => {
    signalGroup(pgid, 'SIGKILL');
    liveGroups.delete(pgid);
  }, KILL_GRACE_MS);
}

/** After the command's exit: whatever it left running in its group is stopped too. */
function reapGroup(pgid: number): void {
  if (signalGroup(pgid, 0)) terminateGroup(pgid);
  else liveGroups.delete(pgid);
}

// ---------------------------------------------------------------------------------------------
// exec with pipes

function startWithPipes(req: CommandRequest, cmd: PodCommand, out: CommandOutput): RunningCommand {
  let child: ChildProcess;
  try {
    child = spawn(cmd.file, cmd.args, {
      cwd: cmd.cwd,
      env: cmd.env,
      // A group of its own, so abort reaches everything the command starts.
      detached: true,
      stdio: [req.stdin ? 'pipe' : 'ignore', req.stdout ? 'pipe' : 'ignore', req.stderr ? 'pipe' : 'ignore'],
    });
  } catch (err) {
    // Arguments Node refuses outright, such as a NUL byte.
    return finishLater(out, execFailureStatus(cmd.file, err as NodeJS.ErrnoException));
  }
  const pgid = child.pid;
  if (pgid !== undefined) trackGroup(pgid);
  let done = false;
  let aborted = false;
  let paused = false;

  // Paused-mode reading ('readable' + read()): Node resumes flowing stdio streams when the
  // child exits, which would push the rest of the output past a full transport.
  const pump = (stream: Readable | null, write: (data: Buffer) => boolean): (() => void) => () => {
    while (stream && !paused) {
      const chunk = (stream.readableLength > MAX_CHUNK ? stream.read(MAX_CHUNK) : stream.read()) as Buffer | null;
      if (chunk === null) return;
      if (!aborted && !write(chunk)) paused = true;
    }
  };
  const pumpStdout = pump(child.stdout, (data) => out.stdout(data));
  const pumpStderr = pump(child.stderr, (data) => out.stderr(data));
  const resumeOutput = (): void => {
    if (!paused) return;
    paused = false;
    pumpStdout();
    pumpStderr();
  };
  out.onDrain(resumeOutput);
  child.stdout?.on('readable', pumpStdout);
  child.stderr?.on('readable', pumpStderr);
  // EPIPE when the command exits without reading all of its input; the exit status tells.
  child.stdin?.on('error', () => {});

  const finish = (status: K8sStatus): void => {
    if (done) return;
    done = true;
    if (!aborted) out.finish(status);
  };
  child.once('error', (err: NodeJS.ErrnoException) => {
    if (child.pid === undefined) finish(execFailureStatus(cmd.file, err));
  });
  // 'close' comes after the exit and after stdout and stderr have ended, i.e. were delivered.
  child.once('close', (code, signal) => {
    if (pgid !== undefined && !aborted) reapGroup(pgid);
    finish(exitStatus(req.command, code, signal));
  });

  return {
    stdin: (data) => {
      if (child.stdin && !child.stdin.writableEnded && !child.stdin.destroyed) child.stdin.write(data);
    },
    stdinEnd: () => {
      if (child.stdin && !child.stdin.writableEnded) child.stdin.end();
    },
    resize: () => {},
    abort: () => {
      if (aborted || done) return;
      aborted = true;
      // Keep reading so the pipes drain and 'close' can fire; the data goes nowhere.
      resumeOutput();
      if (pgid !== undefined) terminateGroup(pgid);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// exec in a pseudo-terminal

/**
 * node-pty forks before exec, so a missing program would show up as output and exit 1;
 * look it up first, as the runtime does, to answer with the runtime's Status instead.
 */
function findExecutable(file: string, cmd: PodCommand): NodeJS.ErrnoException | null {
  const isExecutableFile = (p: string): NodeJS.ErrnoException | null => {
    try {
      if (!statSync(p).isFile()) return Object.assign(new Error('not a file'), { code: 'EACCES' });
      accessSync(p, fsConstants.X_OK);
      return null;
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  };
  if (file.includes('/')) return isExecutableFile(path.resolve(cmd.cwd, file));
  for (const dir of (cmd.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && isExecutableFile(path.join(dir, file)) === null) return null;
  }
  return Object.assign(new Error(`${file}: not found`), { code: 'ENOENT' });
}

function startInPty(req: CommandRequest, cmd: PodCommand, out: CommandOutput): RunningCommand {
  const missing = findExecutable(cmd.file, cmd);
  if (missing) return finishLater(out, execFailureStatus(cmd.file, missing));
  let term: pty.IPty;
  try {
    term = pty.spawn(cmd.file, cmd.args, {
      name: 'xterm-256color',
      cols: req.size?.width || 80,
      rows: req.size?.height || 24,
      cwd: cmd.cwd,
      env: cmd.env,
      // Raw bytes: the transport carries bytes, and a UTF-8 sequence may be split.
      encoding: null,
    });
  } catch (err) {
    return finishLater(out, execFailureStatus(cmd.file, err as NodeJS.ErrnoException));
  }
  const pgid = term.pid;
  trackGroup(pgid);
  let done = false;
  let aborted = false;
  let paused = false;
  const resume = (): void => {
    if (!paused) return;
    paused = false;
    term.resume();
  };
  // After the exit, what is left is bounded by the kernel's pty buffer: read it regardless of
  // backpressure, because node-pty closes the terminal 200 ms after the exit.
  const guard = new PtyExitGuard(term, resume);

  out.onDrain(resume);
  // Typed as string, but with `encoding: null` node-pty hands over Buffers.
  term.onData((data: string | Buffer) => {
    guard.sawData();
    if (aborted || !req.stdout) return;
    if (!out.stdout(Buffer.isBuffer(data) ? data : Buffer.from(data)) && !paused && !guard.exited) {
      paused = true;
      term.pause();
    }
  });
  // node-pty reports the exit once the terminal has hung up and been read to its end.
  term.onExit(({ exitCode, signal }) => {
    guard.release();
    if (done) return;
    done = true;
    if (aborted) return;
    reapGroup(pgid);
    out.finish(exitStatus(req.command, exitCode, signal ?? null));
  });

  return {
    stdin: (data) => {
      if (!done && req.stdin) term.write(data);
    },
    // The terminal's EOF character: a shell at its prompt ends, `cat` sees end of input.
    stdinEnd: () => {
      if (!done && req.stdin) term.write('\x04');
    },
    resize: (width, height) => {
      if (done || width <= 0 || height <= 0) return;
      try {
        term.resize(width, height);
      } catch {
        // The terminal closed between the check and the call.
      }
    },
    abort: () => {
      if (aborted || done) return;
      aborted = true;
      guard.release();
      resume();
      terminateGroup(pgid);
    },
  };
}

/**
 * node-pty on Linux can lose the last output of a command that exits right after writing it
 * (microsoft/node-pty#72, #726): when the slave side hangs up, the kernel drops what the
 * master has not read yet. The guard holds its own descriptor on the slave, so the exit causes
 * no hangup; once the process is gone (node-pty reaps it at once) and the terminal has been
 * quiet for a moment, it closes the descriptor, and node-pty sees the hangup and reports the
 * exit. Without the descriptor (no `ptsName`), node-pty's own behaviour applies.
 */
class PtyExitGuard {
  exited = false;
  private fd: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastData = Date.now();

  constructor(
    private readonly term: pty.IPty,
    private readonly onExited: () => void,
  ) {
    const ptsName = (term as pty.IPty & { ptsName?: string }).ptsName;
    if (!ptsName) return;
    try {
      this.fd = openSync(ptsName, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
    } catch {
      return;
    }
    this.timer = setInterval(() => this.check(), PTY_POLL_MS);
  }

  sawData(): void {
    this.lastData = Date.now();
  }

  release(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private check(): void {
    if (!this.exited) {
      if (processExists(this.term.pid)) return;
      this.exited = true;
      this.lastData = Date.now();
      this.onExited();
    }
    if (Date.now() - this.lastData >= PTY_QUIET_MS) this.release();
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// attach

function attachToHub(req: CommandRequest, out: CommandOutput, hub: AttachHub): RunningCommand {
  let ended = false;
  let handle: AttachHandle;
  // With a tty, the client's terminal is raw: newlines need a CR, as the tty's ONLCR would add.
  const write = (data: Buffer): void => {
    if (!ended && req.stdout) out.stdout(req.tty ? toCrLf(data) : data);
  };
  try {
    handle = hub.attach(req.pod, req.container, {
      output: write,
      end: () => {
        if (ended) return;
        ended = true;
        out.finish({ ...SUCCESS });
      },
    });
  } catch (err) {
    return finishLater(out, { metadata: {}, status: 'Failure', message: (err as Error).message, reason: 'BadRequest', code: 400 });
  }
  return {
    stdin: (data) => {
      if (ended || !req.stdin) return;
      // A tty echoes what is typed; the demo process has no tty, so echo it here.
      if (req.tty) write(ttyEcho(data));
      handle.write(data);
    },
    stdinEnd: () => {
      if (!ended) handle.endInput();
    },
    resize: () => {},
    abort: () => {
      if (ended) return;
      ended = true;
      handle.detach();
    },
  };
}

function toCrLf(data: Buffer): Buffer {
  return Buffer.from(data.toString('utf8').replace(/\r?\n/g, '\r\n'));
}

/** What a cooked tty would echo for typed bytes: CR and LF as a new line, DEL as an erase. */
function ttyEcho(data: Buffer): Buffer {
  let s = '';
  for (const ch of data.toString('utf8').replace(/\r\n?|\n/g, '\n')) {
    if (ch === '\n') s += '\r\n';
    else if (ch === '\x7f' || ch === '\b') s += '\b \b';
    else if (ch >= ' ' || ch === '\t') s += ch;
  }
  return Buffer.from(s);
}
