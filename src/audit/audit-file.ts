/**
 * One file of an audit log, written append-only. A chain starts in a file of its own: the file
 * is created exclusively (an existing file would put a second chain after the first, and an
 * attacker's symlink would redirect the log), except for devices and pipes such as
 * /dev/stdout, which a log pipeline reads.
 *
 * A write either lands whole or is undone: after a failed write (disk full) the file is cut back
 * to where the last complete write ended, so the file never ends inside a record and the chain
 * can continue after the failure.
 */
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { coalesce } from '../sinks/line-arena.js';
import { LOG_FILE_MODE, makeParents, writeAll } from '../sinks/log-files.js';

export class AuditFile {
  private constructor(readonly path: string, private readonly fh: FileHandle, readonly regular: boolean, private size: number) {}

  /** Creates `path` (and its parents, 0700) as a new 0600 file; throws the fs error. */
  static async create(path: string): Promise<AuditFile> {
    await makeParents(dirname(path));
    const existing = await stat(path).catch(() => null);
    if (existing && !existing.isFile() && !existing.isDirectory()) {
      return new AuditFile(path, await open(path, 'a'), false, 0);
    }
    if (existing?.isFile()) {
      throw new Error('the file already exists; an audit chain starts in a new file');
    }
    return new AuditFile(path, await open(path, 'wx', LOG_FILE_MODE), true, 0);
  }

  /** Bytes written to this file by this writer. */
  get bytes(): number {
    return this.size;
  }

  /**
   * Writes all of `data` (one `writev` for a batch of lines, when the kernel takes it whole) or
   * throws, leaving the file as it was before the call.
   */
  async append(data: Buffer | readonly Buffer[]): Promise<void> {
    const parts = Buffer.isBuffer(data) ? [data] : coalesce(data);
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    try {
      // At an explicit offset: after a failed write is cut back, the descriptor's own position
      // still points past the cut, and writing there would leave a hole of NUL bytes.
      await writeAll(this.fh, parts, this.regular ? this.size : null, this.regular);
    } catch (e) {
      // A short write may have left part of a record behind: cut the file back (best effort;
      // if even that fails, verify reports the cut line).
      if (this.regular) await this.fh.truncate(this.size).catch(() => undefined);
      throw e;
    }
    this.size += bytes;
  }

  /**
   * Whether the directory takes `bytes` more: a scratch file written and removed. A failing log
   * comes back only when the disk has room for more than the one record that says so, or the
   * first record after a failure would fit in the slack of the last block and the next fail.
   */
  static async hasRoom(dir: string, bytes: number): Promise<boolean> {
    const scratch = join(dir, `.kubewire-space-check-${process.pid}`);
    let fh: FileHandle | undefined;
    try {
      fh = await open(scratch, 'wx', LOG_FILE_MODE);
      const zeros = Buffer.alloc(Math.min(bytes, 64 * 1024));
      for (let done = 0; done < bytes; ) {
        const { bytesWritten } = await fh.write(zeros, 0, Math.min(zeros.length, bytes - done), done);
        if (bytesWritten === 0) return false;
        done += bytesWritten;
      }
      await fh.sync();
      return true;
    } catch {
      return false;
    } finally {
      await fh?.close().catch(() => undefined);
      await unlink(scratch).catch(() => undefined);
    }
  }

  async sync(): Promise<void> {
    try {
      await this.fh.sync();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/**
 * The file of part `part` of a log given as `base`: the base itself without rotation; with
 * rotation `audit.jsonl` becomes `audit-0001.jsonl`, `audit-0002.jsonl`, … so that a shell glob
 * lists the parts in order.
 */
export function partPath(base: string, part: number, rotating: boolean): string {
  if (!rotating) return base;
  const ext = extname(base) || '.jsonl';
  const stem = basename(base, extname(base));
  return join(dirname(base), `${stem}-${String(part).padStart(4, '0')}${ext}`);
}
