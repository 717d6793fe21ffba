/**
 * Whether a file is a kubewire log at all, told from its head before a reader prints anything:
 * `summary`, `view`, `replay` and `export` given a file of something else say so and exit 2,
 * as `verify` does, instead of warning about every line of it. A log with a few bad lines is
 * still a log: its readers warn about them and go on.
 *
 * As verify does (src/audit/verify.ts `readHead`), the first two lines decide, so that one
 * damaged first line is reported as damage: the file is a log when one of them is a kubewire
 * event, an object with `v`, `seq` and `type` (every line kubewire writes is one). An empty
 * file is a log not yet written. At most HEAD_BYTES are read: the first line of a log is never
 * that long (it is `proxy.start`, `audit.start` or `audit.file`; a log cut by hand starts with an
 * event of at most about 90 KB), so a file with no newline that early is not a log.
 */
import { open } from 'node:fs/promises';
import { CliError, describeFsError, ExitCode } from '../io/errors.js';

const HEAD_LINES = 2;
const HEAD_BYTES = 4 * 1024 * 1024;

/** A line kubewire wrote, parsed: what `v`, `seq` and `type` make an event. */
export function isKubewireEvent(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return typeof r['v'] === 'number' && typeof r['seq'] === 'number' && typeof r['type'] === 'string';
}

/** Why `path` is not a kubewire log ("notes.txt is not a kubewire log: …"), or null when it may be one. */
export async function notAKubewireLog(path: string): Promise<string | null> {
  const { lines, complete } = await headLines(path);
  if (lines.length === 0) {
    return complete ? null : `${path} is not a kubewire log: its first ${HEAD_BYTES / 1024 / 1024} MiB hold no line break, and every kubewire log is JSON lines`;
  }
  const parsed = lines.map(parse);
  if (parsed.some(isKubewireEvent)) return null;
  const what = lines.length === 1 ? 'its only line is not' : `none of its first ${lines.length} lines is`;
  const json = parsed.some((p) => p !== undefined);
  return `${path} is not a kubewire log: ${what} a kubewire event (${json ? 'a kubewire event is a JSON object with v, seq and type' : lines.length === 1 ? 'it is not JSON' : 'they are not JSON'})`;
}

/** A file of something else is refused whole (exit 2), rather than warned about line by line. */
export async function assertKubewireLog(file: string): Promise<void> {
  let why: string | null;
  try {
    why = await notAKubewireLog(file);
  } catch (e) {
    throw new CliError('KW_ERR_LOG_UNREADABLE', `cannot read the log ${file}: ${describeFsError(e)}`, ExitCode.Usage);
  }
  if (why) throw new CliError('KW_ERR_NOT_A_LOG', why, ExitCode.Usage);
}

/** The first non-blank lines, and whether the file ended within the bytes read. */
async function headLines(path: string): Promise<{ lines: string[]; complete: boolean }> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    let filled = 0;
    let eof = false;
    for (;;) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) {
        eof = true;
        break;
      }
      filled += bytesRead;
      if (countLines(buf.subarray(0, filled)) >= HEAD_LINES || filled === buf.length) break;
    }
    const text = buf.subarray(0, filled).toString('utf8');
    const pieces = text.split('\n');
    // The piece after the last newline is a line only at the end of the file.
    if (!eof) pieces.pop();
    const lines = pieces.map((l) => l.trim()).filter((l) => l !== '').slice(0, HEAD_LINES);
    return { lines, complete: eof || lines.length > 0 };
  } finally {
    await fh.close();
  }
}

/** Non-blank lines ended by a newline. */
function countLines(bytes: Buffer): number {
  let n = 0;
  let start = 0;
  for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
    if (bytes.subarray(start, nl).toString('utf8').trim() !== '') n++;
    start = nl + 1;
  }
  return n;
}

function parse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
