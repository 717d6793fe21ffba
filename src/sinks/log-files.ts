/**
 * What every kubewire log file shares: created only for the user (0600 files, 0700
 * directories), with parent directories made as `mkdir -p` would, and file-system errors
 * named in words a user acts on.
 */
import { mkdir, stat } from 'node:fs/promises';
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
