/**
 * The lease of a file store's run (`--audit-store DIR`): while kubewire writes a chain
 * `DIR/<replica>/audit-<time>-<pid>.jsonl`, it holds `audit-<time>-<pid>.lock` beside it (its
 * pid and host), touched every HEARTBEAT_MS and removed when the chain is closed. `verify
 * --store DIR` calls a run whose lease is held open, as PostgreSQL's lease row does for a
 * replica (pg-output.ts): its chain has no final seal yet because it is being written.
 *
 * A lease whose file was not touched for LEASE_SECONDS, or whose writer on this host is gone,
 * is not held: a writer that crashed left its chain without a seal, and that is reported.
 */
import { readFile, unlink, utimes, writeFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { HEARTBEAT_MS, LEASE_SECONDS } from './lease-period.js';

/** The lease file of the chain whose first file is `chainPath`. */
export function leasePathOf(chainPath: string): string {
  return chainPath.replace(/(?:-\d{4,})?\.jsonl$/, '.lock');
}

export class FileLease {
  private readonly timer: NodeJS.Timeout;

  private constructor(readonly path: string) {
    this.timer = setInterval(() => {
      const now = new Date();
      void utimes(path, now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Takes the lease of a new chain; a lease that cannot be written only costs `open` in verify. */
  static async take(chainPath: string): Promise<FileLease> {
    const path = leasePathOf(chainPath);
    await writeFile(path, `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`).catch(() => undefined);
    return new FileLease(path);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await unlink(this.path).catch(() => undefined);
  }
}

/** Whether the chain whose first file is `chainPath` is being written now (its lease is held). */
export async function fileLeaseHeld(chainPath: string, nowMs: number = Date.now()): Promise<boolean> {
  const path = leasePathOf(chainPath);
  let mtimeMs: number;
  let text: string;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
    text = await readFile(path, 'utf8');
  } catch {
    return false;
  }
  if (mtimeMs < nowMs - LEASE_SECONDS * 1000) return false;
  try {
    const { pid, host } = JSON.parse(text) as { pid?: unknown; host?: unknown };
    if (host === hostname() && typeof pid === 'number') process.kill(pid, 0);
  } catch (e) {
    // ESRCH: the writer on this host is gone. EPERM: it runs, as another user. Unparsable: held.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  return true;
}
