/**
 * `kubewire replay FILE... [--session ID] [--speed N] [--max-idle S]`, or `kubewire replay
 * --store S SESSION` for a session of an audit store (read as a log, store-session.ts): plays a recorded
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
import { ReplayScheduler, timingProblem, type ReplayStep } from '../audit/replay-schedule.js';
import { CliError, ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { missingOutputWarning, shortId, TerminalChunker } from '../audit/terminal-session.js';
import { findSession, logError, type LogSource } from './log-input.js';
import { openSource } from './store-input.js';

export interface ReplayOptions {
  files: string[];
  /** An audit store to read `session` from instead of files. */
  store?: string;
  session?: string;
  speed?: number;
  /** Seconds. */
  maxIdle?: number;
}

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
  const input = await openSource(opts);
  try {
    return await replay(input.source, opts, input.session, { stdout, stderr }, err);
  } finally {
    await input.close();
  }
}

async function replay(source: LogSource, opts: ReplayOptions, wanted: string | undefined, streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }, err: Output): Promise<number> {
  const session = await findSession(source, wanted, 'terminal', err);
  const missing = missingOutputWarning(session);
  if (missing) err.line(`kubewire: warning: ${missing}`);

  const chunker = new TerminalChunker(session);
  const scheduler = new ReplayScheduler({ speed: opts.speed, maxIdleSeconds: opts.maxIdle }, session.startUs);
  const player = new Player(streams);
  try {
    for await (const event of source.events()) {
      const chunk = chunker.push(event);
      if (chunk?.kind !== 'output') continue;
      const step = scheduler.push(chunk);
      if (step) await player.play(step);
      if (player.closed) break;
    }
  } catch (e) {
    throw logError(source, e);
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
