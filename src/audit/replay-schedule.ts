/**
 * When `kubewire replay` writes what: one step per recorded output chunk, in order, each written
 * as one write (so a program reading the replay sees the sizes the server sent), after a delay
 * taken from the events' `ts`. Sans-IO: the shell owns the timers and the streams.
 *
 * delay = (this chunk's time − the previous written chunk's time) / speed, then capped at
 * maxIdle seconds, as `asciinema play --speed/--idle-time-limit` shape a cast. The first delay
 * counts from the session's start (kubectl's first request), capped the same way. Chunks whose
 * bytes the log does not hold (`--payload none`) are not written; their time still passes, since
 * the delay of the next chunk counts from the last one written.
 */
import type { TerminalChunk } from './terminal-session.js';

export interface ReplayStep {
  delayMs: number;
  stream: 'stdout' | 'stderr';
  bytes: Buffer;
}

export interface ReplayTiming {
  /** Playback speed factor (> 0); 2 plays twice as fast. Default 1. */
  speed?: number;
  /** Longest pause in seconds (≥ 0); default none. */
  maxIdleSeconds?: number;
}

type OutputChunk = Extract<TerminalChunk, { kind: 'output' }>;

/** Checks timing options; a message saying what is wrong, or null. */
export function timingProblem(t: ReplayTiming): string | null {
  if (t.speed !== undefined && !(Number.isFinite(t.speed) && t.speed > 0)) return `--speed must be a number above 0 (got ${t.speed})`;
  if (t.maxIdleSeconds !== undefined && !(Number.isFinite(t.maxIdleSeconds) && t.maxIdleSeconds >= 0)) return `--max-idle must be a number of seconds, 0 or more (got ${t.maxIdleSeconds})`;
  return null;
}

/** Steps one chunk at a time, so a replay can play while it reads. */
export class ReplayScheduler {
  private lastUs: number | null;
  private readonly speed: number;
  private readonly capMs: number;

  constructor(timing: ReplayTiming, startUs: number | null) {
    const problem = timingProblem(timing);
    if (problem) throw new RangeError(problem);
    this.speed = timing.speed ?? 1;
    this.capMs = timing.maxIdleSeconds === undefined ? Infinity : timing.maxIdleSeconds * 1000;
    this.lastUs = startUs;
  }

  push(chunk: OutputChunk): ReplayStep | null {
    if (chunk.bytes.length === 0) return null;
    const gapUs = this.lastUs === null ? 0 : Math.max(0, chunk.tsUs - this.lastUs);
    this.lastUs = chunk.tsUs;
    const delayMs = Math.min(gapUs / 1000 / this.speed, this.capMs);
    return { delayMs, stream: chunk.stream, bytes: chunk.bytes };
  }
}

/** The whole schedule of a list of chunks (the non-output chunks are ignored). */
export function replaySchedule(chunks: Iterable<TerminalChunk>, timing: ReplayTiming, startUs: number | null): ReplayStep[] {
  const scheduler = new ReplayScheduler(timing, startUs);
  const steps: ReplayStep[] = [];
  for (const c of chunks) {
    if (c.kind !== 'output') continue;
    const step = scheduler.push(c);
    if (step) steps.push(step);
  }
  return steps;
}
