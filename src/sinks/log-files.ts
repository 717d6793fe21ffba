/**
 * What every kubewire log file shares: created only for the user (0600 files, 0700
 * directories), with parent directories made as `mkdir -p` would, and file-system errors
 * named in words a user acts on.
 */
// Through the module object, so tests can shorten or fail the writes (test/support/file-writes.ts).
import fs from 'node:fs';
import { mkdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export const LOG_FILE_MODE = 0o600;
export const LOG_DIR_MODE = 0o700;

/**
 * `mkdir -p` with mode 0700 for the directories it creates. Not `mkdir({ recursive: true })`:
 * under /proc, where mkdir fails with ENOENT below a directory that exists, Node's recursive
 * mkdir loops forever.
 */
export async function makeParents(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      if (!(await stat(d)).isDirectory()) throw Object.assign(new Error(`${d} is not a directory`), { code: 'ENOTDIR' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) throw e;
      missing.push(d);
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d, { mode: LOG_DIR_MODE });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Writes all of `buffers`, in order, with one `writev` (one `write` for a single buffer), and
 * again for what a short write left. `position` null: at the file's own position (the end, for
 * a file opened for appending). Throws the write's error; a write that takes nothing is ENOSPC.
 *
 * `sync`: with the thread's own `writev`, for a regular file on the observer's thread. A write
 * handed to libuv's pool costs some 30 µs of CPU across three threads (the request, the pool's
 * wake-up, the completion's), a synchronous one 3 µs: at one write per batch of events that was
 * most of what the observer spent in `--payload none`. Pipes and devices (a log pipeline's
 * /dev/stdout) keep the pool, since a reader that stalls would stall the thread.
 */
export async function writeAll(fh: FileHandle, buffers: readonly Buffer[], position: number | null, sync = false): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  let at = position;
  while (rest.length > 0) {
    let bytesWritten: number;
    if (sync) bytesWritten = rest.length === 1 ? fs.writeSync(fh.fd, rest[0]!, 0, rest[0]!.length, at) : fs.writevSync(fh.fd, rest, at ?? undefined);
    else ({ bytesWritten } = rest.length === 1 ? await fh.write(rest[0]!, 0, rest[0]!.length, at) : await fh.writev(rest, at ?? undefined));
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    if (at !== null) at += bytesWritten;
    let skip = bytesWritten;
    let i = 0;
    while (i < rest.length && skip >= rest[i]!.length) skip -= rest[i++]!.length;
    rest = rest.slice(i);
    if (skip > 0) rest[0] = rest[0]!.subarray(skip);
  }
}

/** The cause of a log write or open failure, with its errno code: "disk full (ENOSPC)". */
export function describeLogError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const cause = ((): string => {
    switch (err.code) {
      case 'ENOENT': return 'no such file or directory';
      case 'EACCES':
      case 'EPERM': return 'permission denied';
      case 'EISDIR': return 'is a directory, not a file';
      case 'ENOTDIR':
      case 'EEXIST': return 'a part of the path is a file, not a directory';
      case 'EROFS': return 'read-only file system';
      case 'ENOSPC': return 'disk full';
      case 'EDQUOT': return 'disk quota exceeded';
      default: return err.message ?? String(e);
    }
  })();
  return err.code ? `${cause} (${err.code})` : cause;
}
