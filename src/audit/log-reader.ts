/**
 * Reads kubewire JSONL logs (ordinary or `--audit`) as one stream of events, for the commands
 * that look back at a recording (`replay`, `export`). Rotated audit parts are given in order
 * (`log-0001.jsonl log-0002.jsonl …`) and read as one log; the audit records (`audit.*`) and the
 * `prev`/`hash` fields pass through untouched, since readers other than `verify` only skip them.
 *
 * Memory stays bounded: files are read in chunks, one line is held at a time, and a line over
 * MAX_LOG_LINE_BYTES is skipped unread. Logs are read after crashes and while they grow, so a
 * line that is not a JSON event (most often a last line cut short) is reported through
 * `onBadLine` with its file and line number, then skipped; it never ends the read.
 */
import type { KubewireEvent } from '../events/types.js';
import { assertReadableFile, readFileLines } from '../sinks/jsonl-lines.js';
import { PieceJoiner } from './record-pieces.js';

/** Longer lines are not events kubewire wrote (a 64 MiB line would be a 48 MiB payload). */
export const MAX_LOG_LINE_BYTES = 64 * 1024 * 1024;

export type BadLineReason = 'not-json' | 'not-event' | 'cut-short' | 'too-long';

export interface BadLine {
  file: string;
  /** 1-based. */
  line: number;
  reason: BadLineReason;
}

export interface LogReadOptions {
  onBadLine?: (bad: BadLine) => void;
  /** For tests: the line bound. */
  maxLineBytes?: number;
}

/** Why a bad line was skipped, for a message on stderr. */
export function describeBadLine(bad: BadLine): string {
  const why: Record<BadLineReason, string> = {
    'not-json': 'line is not JSON',
    'not-event': 'line is JSON but not a kubewire event (no "type")',
    'cut-short': 'last line is cut short',
    'too-long': `line longer than ${MAX_LOG_LINE_BYTES / 1024 / 1024} MiB`,
  };
  return `${bad.file}:${bad.line}: ${why[bad.reason]}, skipped`;
}

/**
 * The events of `files`, in file order, then line order; an event a rotating audit log wrote
 * in pieces (record-pieces.ts) comes joined, as it was published.
 */
export async function* readLogEvents(files: readonly string[], options: LogReadOptions = {}): AsyncGenerator<KubewireEvent> {
  const joiner = new PieceJoiner();
  for (const file of files) {
    for await (const event of readOneFile(file, options)) yield* joiner.push(event);
  }
  yield* joiner.flush();
}

/**
 * Fails with the file and the reason before any output is written, so a typo in the second
 * of three rotated parts is named at once rather than after a minute of replay.
 */
export async function checkReadable(files: readonly string[]): Promise<{ file: string; error: unknown } | null> {
  for (const file of files) {
    try {
      await assertReadableFile(file);
    } catch (error) {
      return { file, error };
    }
  }
  return null;
}

async function* readOneFile(file: string, options: LogReadOptions): AsyncGenerator<KubewireEvent> {
  for await (const l of readFileLines(file, options.maxLineBytes ?? MAX_LOG_LINE_BYTES)) {
    if (l.bytes === null) {
      options.onBadLine?.({ file, line: l.lineNo, reason: 'too-long' });
      continue;
    }
    const event = parseLine(l.bytes, file, l.lineNo, !l.newline, options);
    if (event) yield event;
  }
}

function parseLine(line: Buffer, file: string, lineNo: number, last: boolean, options: LogReadOptions): KubewireEvent | null {
  const text = line.toString('utf8').trim();
  if (text === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    options.onBadLine?.({ file, line: lineNo, reason: last ? 'cut-short' : 'not-json' });
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { type?: unknown }).type !== 'string') {
    options.onBadLine?.({ file, line: lineNo, reason: 'not-event' });
    return null;
  }
  return value as KubewireEvent;
}
