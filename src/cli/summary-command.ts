/**
 * `kubewire summary LOG`: one line per upgraded connection of a JSONL log, the `summary` object
 * of its `conn.summary` event as compact JSON (the object `kubewire decode --summary` prints).
 * With `--sessions`, one line per kubectl command instead (src/cli/session-lines.ts).
 *
 * The log is read as a stream, line by line, and a line is never held beyond a bound. Logs are
 * read while they grow and after crashes, so a line that is not JSON (most often a last line
 * cut short) is named on stderr with its number and skipped.
 */
import { CliError, describeFsError, ExitCode } from '../io/errors.js';
import { StdoutOutput, type Output } from '../io/output.js';
import { assertReadableFile, readFileLines } from '../sinks/jsonl-lines.js';
import type { KubewireEvent } from '../events/types.js';
import { assertKubewireLog } from '../sinks/log-head.js';
import { PieceJoiner } from '../audit/record-pieces.js';
import { SessionLines } from './session-lines.js';

export interface SummaryOptions {
  file: string;
  /** One line per kubectl command instead of one per upgraded connection. */
  sessions?: boolean;
}

/** Longer lines are skipped unread; a summary line is a few KiB. */
export const MAX_LOG_LINE_BYTES = 64 * 1024 * 1024;

export async function runSummary(opts: SummaryOptions, out: Output, err: Output = new StdoutOutput(process.stderr)): Promise<number> {
  await assertReadable(opts.file);
  await assertKubewireLog(opts.file);
  const sessions = opts.sessions ? new SessionLines((l) => out.line(JSON.stringify(l))) : null;
  // An event a rotating audit log wrote in pieces is one event to the session model.
  const joiner = new PieceJoiner();
  const onEvent = (event: unknown): void => {
    if (!sessions) {
      const summary = upgradedSummary(event);
      if (summary) out.line(JSON.stringify(summary));
    } else if (isEvent(event)) {
      for (const e of joiner.push(event)) sessions.ingest(e);
    }
  };
  const onLine = (line: Buffer, lineNo: number, last: boolean): void => {
    const text = line.toString('utf8').trim();
    if (text === '') return;
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      err.line(`kubewire: ${opts.file}:${lineNo}: ${last ? 'last line is cut short' : 'line is not JSON'}, skipped`);
      return;
    }
    onEvent(event);
  };
  const tooLong = (lineNo: number): void =>
    err.line(`kubewire: ${opts.file}:${lineNo}: line longer than ${MAX_LOG_LINE_BYTES / 1024 / 1024} MiB, skipped`);
  try {
    for await (const l of readFileLines(opts.file, MAX_LOG_LINE_BYTES)) {
      if (l.bytes === null) tooLong(l.lineNo);
      else onLine(l.bytes, l.lineNo, !l.newline);
    }
  } catch (e) {
    if (typeof (e as NodeJS.ErrnoException).code === 'string') throw unreadable(opts.file, e);
    throw e;
  }
  if (sessions) {
    for (const e of joiner.flush()) sessions.ingest(e);
    sessions.finish();
  }
  return ExitCode.Ok;
}

/** The `summary` of a `conn.summary` event of a connection that asked for an upgrade. */
function upgradedSummary(event: unknown): Record<string, unknown> | null {
  if (!isObject(event) || event['type'] !== 'conn.summary') return null;
  const summary = event['summary'];
  if (!isObject(summary) || !isObject(summary['request'])) return null;
  const upgrade = summary['request']['upgrade'];
  return typeof upgrade === 'string' ? summary : null;
}

/** What the view takes for an event (src/sinks/jsonl-follow.ts): an object with a type. */
function isEvent(v: unknown): v is KubewireEvent {
  return isObject(v) && typeof v['type'] === 'string';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function assertReadable(path: string): Promise<void> {
  try {
    await assertReadableFile(path);
  } catch (e) {
    throw unreadable(path, e);
  }
}

function unreadable(path: string, e: unknown): CliError {
  return new CliError('KW_ERR_LOG_UNREADABLE', `cannot read the log ${path}: ${describeFsError(e)}`, ExitCode.Usage);
}
