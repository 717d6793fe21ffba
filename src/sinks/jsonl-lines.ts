/**
 * The lines of a JSONL file, read as a stream with a bound per line: logs of many GiB pass
 * through a fixed amount of memory, and a line longer than the bound (a corrupt file without
 * newlines) is reported instead of held.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

export interface FileLine {
  /** 1-based. */
  lineNo: number;
  /** The line without its newline, or null when it was longer than the bound. */
  bytes: Buffer | null;
  /** False for a last line with no newline after it (cut short, or still being written). */
  newline: boolean;
  /** The byte offset in the file just past the line (and its newline): where the next one starts. */
  end: number;
}

const READ_CHUNK_BYTES = 256 * 1024;
const NEWLINE = 0x0a;

/**
 * Yields every line of `path`, from byte `start` on (the start of a line: line numbers count
 * from there); a stream error (unreadable file) is thrown from the iteration. Empty lines are
 * yielded too, so line numbers match an editor's.
 */
export async function* readFileLines(path: string, maxLineBytes: number, start = 0): AsyncGenerator<FileLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let oversized = false;
  let lineNo = 0;
  const take = (newline: boolean, end: number): FileLine => {
    const bytes = oversized ? null : parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    oversized = false;
    return { lineNo: ++lineNo, bytes, newline, end };
  };
  const add = (piece: Buffer): void => {
    if (oversized || piece.length === 0) return;
    if (size + piece.length > maxLineBytes) {
      oversized = true;
      parts = [];
      size = 0;
      return;
    }
    parts.push(piece);
    size += piece.length;
  };
  let offset = start;
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES, start }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
      add(chunk.subarray(from, nl));
      from = nl + 1;
      yield take(true, offset + from);
    }
    // Copied, so that a held tail does not pin the whole chunk.
    if (from < chunk.length) add(Buffer.from(chunk.subarray(from)));
    offset += chunk.length;
  }
  if (size > 0 || oversized) yield take(false, offset);
}

/**
 * Throws the file-system error (EISDIR for a directory) when `path` cannot be read, so a
 * command names a bad file before it writes anything.
 */
export async function assertReadableFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    if ((await fh.stat()).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } finally {
    await fh.close();
  }
}
