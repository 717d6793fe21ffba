/**
 * `kubewire replay FILE... [--session ID] [--speed N] [--max-idle S]`: plays a recorded
 * `kubectl exec`/`attach` session's terminal output back as it happened: each recorded chunk as
 * one write, the pauses between them from the log's timestamps, and finally the session's exit
 * code as kubewire's own. Replaying a `kubectl exec -it` session writes its stdout bytes exactly.
 *
 * The log is read twice, both times as a stream: once to list the sessions and pick one, once
 * to play it while reading, so a long session never sits in memory. Writes wait for the stream
 * to drain (a slow terminal or a pipe into `less` holds playback back, it never piles up), and
 * a closed pipe ends playback quietly.
 */
import { performance } from 'node:perf_hooks';
import { checkReadable, describeBadLine, readLogEvents, type BadLine } from '../audit/log-reader.js';
import { ReplayScheduler, timingProblem, type ReplayStep } from '../audit/replay-schedule.js';
import { CliError, describeFsError, ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';
import {
  missingOutputWarning,
  pickSession,
  SessionScanner,
  shortId,
  TerminalChunker,
  type SessionInfo,
} from '../audit/terminal-session.js';

export interface ReplayOptions {
  files: string[];
  session?: string;
  speed?: number;
  /** Seconds. */
  maxIdle?: number;
}

/** Bad lines named one by one before the rest are only counted. */
const MAX_BAD_LINES_SHOWN = 10;
/** Behind by more than this (a slow terminal), playback stops trying to catch up. */
const MAX_LAG_MS = 100;

export async function runReplay(
  opts: ReplayOptions,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
  err: Output,
): Promise<number> {
  const problem = timingProblem({ speed: opts.speed, maxIdleSeconds: opts.maxIdle });
  if (problem) throw new CliError('KW_ERR_USAGE', problem, ExitCode.Usage);
  const session = await findTerminalSession(opts.files, opts.session, err);
  const missing = missingOutputWarning(session);
  if (missing) err.line(`kubewire: warning: ${missing}`);

  const chunker = new TerminalChunker(session);
  const scheduler = new ReplayScheduler({ speed: opts.speed, maxIdleSeconds: opts.maxIdle }, session.startUs);
  const player = new Player({ stdout, stderr });
  try {
    for await (const event of readLogEvents(opts.files)) {
      const chunk = chunker.push(event);
      if (chunk?.kind !== 'output') continue;
      const step = scheduler.push(chunk);
      if (step) await player.play(step);
      if (player.closed) break;
    }
  } catch (e) {
    throw logError(opts.files, e);
  } finally {
    player.dispose();
  }

  const id = shortId(session.id);
  if (session.exitCode === null) {
    err.line(`kubewire: session ${id} ended; no exit code was recorded${session.status ? ` (status ${session.status})` : ' (no status arrived)'}, exiting 0`);
    return ExitCode.Ok;
  }
  err.line(`kubewire: session ${id} ended with exit code ${session.exitCode}`);
  return session.exitCode;
}

/**
 * Reads the log once to list its sessions, reports bad lines on `err`, and picks the session
 * to play or export; usage problems become CliErrors (exit 2) that list the sessions.
 */
export async function findTerminalSession(files: readonly string[], wanted: string | undefined, err: Output): Promise<SessionInfo> {
  await assertLogs(files);
  const scanner = new SessionScanner();
  const bad = badLineReporter(err);
  try {
    for await (const event of readLogEvents(files, { onBadLine: bad.report })) scanner.push(event);
  } catch (e) {
    throw logError(files, e);
  }
  bad.finish();
  const choice = pickSession(scanner.sessions(), wanted, logName(files));
  if (!choice.ok) throw new CliError(choice.code, choice.message, ExitCode.Usage);
  return choice.session;
}

export async function assertLogs(files: readonly string[]): Promise<void> {
  if (files.length === 0) throw new CliError('KW_ERR_USAGE', 'name at least one log file (rotated parts in order: log-0001.jsonl log-0002.jsonl …)', ExitCode.Usage);
  const unreadable = await checkReadable(files);
  if (unreadable) throw new CliError('KW_ERR_LOG_UNREADABLE', `cannot read the log ${unreadable.file}: ${describeFsError(unreadable.error)}`, ExitCode.Usage);
}

export function badLineReporter(err: Output): { report: (b: BadLine) => void; finish: () => void } {
  let count = 0;
  return {
    report: (b) => {
      if (++count <= MAX_BAD_LINES_SHOWN) err.line(`kubewire: ${describeBadLine(b)}`);
    },
    finish: () => {
      if (count > MAX_BAD_LINES_SHOWN) err.line(`kubewire: ${count - MAX_BAD_LINES_SHOWN} more bad lines skipped`);
    },
  };
}

export function logName(files: readonly string[]): string {
  return files.join(' ');
}

function logError(files: readonly string[], e: unknown): unknown {
  if (typeof (e as NodeJS.ErrnoException).code === 'string' && !(e instanceof CliError)) {
    return new CliError('KW_ERR_LOG_UNREADABLE', `cannot read the log ${logName(files)}: ${describeFsError(e)}`, ExitCode.Usage);
  }
  return e;
}

/**
 * Writes steps on time. A virtual clock sums the delays, so sub-millisecond gaps and timer
 * lateness do not add up over thousands of chunks; when the output falls far behind (it could
 * not take the bytes as fast), the clock restarts instead of bursting to catch up.
 */
class Player {
  closed = false;
  private clock = performance.now();
  private readonly onError = (): void => {
    // EPIPE and the like: the reader went away; stop playing, quietly.
    this.closed = true;
    this.wake?.();
  };
  private wake: (() => void) | null = null;

  constructor(private readonly streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }) {
    streams.stdout.on('error', this.onError);
    if (streams.stderr !== streams.stdout) streams.stderr.on('error', this.onError);
  }

  async play(step: ReplayStep): Promise<void> {
    this.clock += step.delayMs;
    const now = performance.now();
    const wait = this.clock - now;
    if (wait >= 1) await new Promise<void>((resolve) => setTimeout(resolve, wait));
    else if (wait < -MAX_LAG_MS) this.clock = now;
    if (this.closed) return;
    const stream = this.streams[step.stream];
    if (!stream.write(step.bytes)) await this.drain(stream);
  }

  dispose(): void {
    this.streams.stdout.off('error', this.onError);
    this.streams.stderr.off('error', this.onError);
  }

  private drain(stream: NodeJS.WritableStream): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', closed);
        this.wake = null;
        resolve();
      };
      const closed = (): void => {
        this.closed = true;
        done();
      };
      this.wake = done;
      stream.on('drain', done);
      stream.on('close', closed);
    });
  }
}
