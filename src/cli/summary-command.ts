/**
 * `kubewire summary LOG`: one line per upgraded connection of a JSONL log, the `summary` object
 * of its `conn.summary` event as compact JSON (the object `kubewire decode --summary` prints).
 *
 * The log is read as a stream, line by line, and a line is never held beyond a bound. Logs are
 * read while they grow and after crashes, so a line that is not JSON (most often a last line
 * cut short) is named on stderr with its number and skipped.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { CliError, describeFsError, ExitCode } from './errors.js';
import { StdoutOutput, type Output } from './output.js';

export interface SummaryOptions {
  file: string;
}

const READ_CHUNK_BYTES = 64 * 1024;
/** Longer lines are skipped unread; a summary line is a few KiB. */
export const MAX_LOG_LINE_BYTES = 64 * 1024 * 1024;
const NEWLINE = 0x0a;

export async function runSummary(opts: SummaryOptions, out: Output, err: Output = new StdoutOutput(process.stderr)): Promise<number> {
  await assertReadable(opts.file);
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
    const summary = upgradedSummary(event);
    if (summary) out.line(JSON.stringify(summary));
  };
  const tooLong = (lineNo: number): void =>
    err.line(`kubewire: ${opts.file}:${lineNo}: line longer than ${MAX_LOG_LINE_BYTES / 1024 / 1024} MiB, skipped`);
  try {
    await readLines(opts.file, onLine, tooLong);
  } catch (e) {
    if (typeof (e as NodeJS.ErrnoException).code === 'string') throw unreadable(opts.file, e);
    throw e;
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Calls `onLine` for every line (1-based numbers, without the newline; `last` for a final line
 * with no newline after it) and `onTooLong` instead for lines over the bound.
 */
async function readLines(
  path: string,
  onLine: (line: Buffer, lineNo: number, last: boolean) => void,
  onTooLong: (lineNo: number) => void,
): Promise<void> {
  let parts: Buffer[] = [];
  let size = 0;
  let oversized = false;
  let lineNo = 1;
  const endLine = (last: boolean): void => {
    if (oversized) onTooLong(lineNo);
    else onLine(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), lineNo, last);
    parts = [];
    size = 0;
    oversized = false;
    lineNo++;
  };
  const add = (piece: Buffer): void => {
    if (oversized || piece.length === 0) return;
    if (size + piece.length > MAX_LOG_LINE_BYTES) {
      oversized = true;
      parts = [];
      size = 0;
      return;
    }
    parts.push(piece);
    size += piece.length;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      add(chunk.subarray(start, nl));
      endLine(false);
      start = nl + 1;
    }
    // Copied, so that a held tail does not pin the whole chunk.
    if (start < chunk.length) add(Buffer.from(chunk.subarray(start)));
  }
  if (size > 0 || oversized) endLine(true);
}

async function assertReadable(path: string): Promise<void> {
  try {
    const fh = await open(path, 'r');
    try {
      if ((await fh.stat()).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw unreadable(path, e);
  }
}

function unreadable(path: string, e: unknown): CliError {
  return new CliError('KW_ERR_LOG_UNREADABLE', `cannot read the log ${path}: ${describeFsError(e)}`, ExitCode.Usage);
}
