/**
 * The links between the runs of a file store's replica. Each run is a chain of its own
 * (open-store.ts), so on their own the chains cannot show that a whole run was removed. A new
 * run's `audit.start` therefore carries `previousRun`: the replica's last run so far (its first
 * file's name) and the hash of that run's last complete record (its final seal, or the last
 * whole line of a run that died). The link is a field of a chained record, so it cannot be
 * changed without breaking the new run's chain (with a key, not at all without the key).
 *
 * `verify --store` checks them per replica, its runs in the store's order (file-runs.ts):
 * - every run after the first links to the run right before it, by name and by that run's last
 *   record's hash: a link to a run that is not there is a gap (runs removed between the two
 *   present), a link to another present run or to none is a run put in between, a hash that
 *   is not the run's last is the earlier run's end changed or cut (or the link rewritten);
 * - the oldest run present links to none (the replica's first run), or to a run that is no
 *   longer there: the history starts at it, the earlier runs removed, as a retention job does.
 *   That is said, and is a failure only with `--full-history`;
 * - a run without the field was written by a kubewire before run links: unlinked, said so, not
 *   a failure (a run removed before it cannot be told).
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { MAX_AUDIT_LINE_BYTES } from '../audit/verify.js';
import type { AuditRunLink } from '../events/types.js';
import { readFileLines } from '../sinks/jsonl-lines.js';
import { replicaRuns, runStem } from './file-runs.js';

const TAIL_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The link a new run of the replica whose directory is `replicaDir` carries: to its latest run,
 * or null when it has none (a new replica). Read before the new run's first file is created.
 */
export async function previousRunLink(replicaDir: string): Promise<AuditRunLink | null> {
  const runs = await replicaRuns(replicaDir).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  });
  const last = runs.at(-1);
  return last ? { file: basename(last[0]!), lastHash: await lastRecordHash(last) } : null;
}

/**
 * The hash of the last complete record of a run (its files in part order): the last line that
 * ends with a newline, in the last part that has one (a part just created by a rotation may be
 * empty). Null when there is none, or it cannot be read.
 */
export async function lastRecordHash(files: readonly string[]): Promise<string | null> {
  for (let i = files.length - 1; i >= 0; i--) {
    const line = await lastCompleteLine(files[i]!).catch(() => null);
    if (line === null) continue;
    return hashOf(line);
  }
  return null;
}

/** The last newline-terminated line of a file, read backwards from its end; null when it has none (or it is over the line bound). */
async function lastCompleteLine(path: string): Promise<Buffer | null> {
  const fh = await open(path, 'r');
  try {
    let pos = (await fh.stat()).size;
    // Chunks of the line, last first, once its newline is found.
    const parts: Buffer[] = [];
    let held = 0;
    let found = false;
    while (pos > 0) {
      const n = Math.min(TAIL_CHUNK_BYTES, pos);
      pos -= n;
      const buf = Buffer.alloc(n);
      for (let got = 0; got < n; ) {
        const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
        if (bytesRead === 0) return null; // the file shrank while read
        got += bytesRead;
      }
      let end = n;
      if (!found) {
        // Bytes after the last newline are a line cut short (or being written): not a record.
        const nl = buf.lastIndexOf(NEWLINE);
        if (nl < 0) continue;
        found = true;
        end = nl;
      }
      const start = end > 0 ? buf.lastIndexOf(NEWLINE, end - 1) : -1;
      parts.unshift(buf.subarray(start + 1, end));
      held += end - start - 1;
      if (start >= 0) break;
      if (held > MAX_AUDIT_LINE_BYTES) return null;
    }
    return found ? Buffer.concat(parts) : null;
  } finally {
    await fh.close();
  }
}

function hashOf(line: Buffer): string | null {
  try {
    const r: unknown = JSON.parse(line.toString('utf8'));
    const hash = typeof r === 'object' && r !== null ? (r as { hash?: unknown }).hash : undefined;
    return typeof hash === 'string' && HEX64.test(hash) ? hash : null;
  } catch {
    return null;
  }
}

/** What `verify --store` needs of one run for its links. */
export interface RunEnds {
  /** Its first file's name. */
  name: string;
  /**
   * The `previousRun` of its `audit.start`: absent (undefined) in a run written before runs were
   * linked; 'unknown' when its first record is no `audit.start` (its chain's check says why).
   */
  link: AuditRunLink | null | undefined | 'unknown';
  /** The hash of its last complete record. */
  lastHash: string | null;
}

export type RunLinkKind = 'gap' | 'order' | 'not-first' | 'mismatch' | 'history-start' | 'unlinked';

/** One finding about the links of a replica's runs: a failure, or a line to tell. */
export interface RunLinkFinding {
  kind: RunLinkKind;
  failure: boolean;
  /** The run it is about, and the run before it in the store (null for the oldest). */
  run: string;
  previous: string | null;
  message: string;
}

/** The first record's `previousRun` and the last record's hash of each run (its files in part order). */
export async function readRunEnds(files: readonly string[]): Promise<RunEnds> {
  let link: RunEnds['link'] = 'unknown';
  const lines = readFileLines(files[0]!, MAX_AUDIT_LINE_BYTES);
  try {
    const first = await lines.next();
    if (!first.done && first.value.bytes !== null) {
      const r = JSON.parse(first.value.bytes.toString('utf8')) as Record<string, unknown> | null;
      if (r && r['type'] === 'audit.start') link = isRunLink(r['previousRun']) || r['previousRun'] === null ? r['previousRun'] : r['previousRun'] === undefined ? undefined : 'unknown';
    }
  } catch {
    // Unreadable or not JSON: the run's chain check reports it.
  } finally {
    await lines.return(undefined);
  }
  return { name: basename(files[0]!), link, lastHash: await lastRecordHash(files) };
}

function isRunLink(v: unknown): v is AuditRunLink {
  if (typeof v !== 'object' || v === null) return false;
  const { file, lastHash } = v as Record<string, unknown>;
  return typeof file === 'string' && (lastHash === null || (typeof lastHash === 'string' && HEX64.test(lastHash)));
}

/** Checks the links of a replica's runs, oldest first (sans-IO): every problem, one finding each. */
export function checkRunLinks(runs: readonly RunEnds[], opts: { fullHistory: boolean }): RunLinkFinding[] {
  const out: RunLinkFinding[] = [];
  const stems = new Map(runs.map((r, i) => [runStem(r.name) ?? r.name, i]));
  const indexOf = (file: string): number | undefined => stems.get(runStem(file) ?? file);
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    const prev = i > 0 ? runs[i - 1]! : null;
    const add = (kind: RunLinkKind, failure: boolean, message: string): void => void out.push({ kind, failure, run: run.name, previous: prev?.name ?? null, message });
    const link = run.link;
    if (link === 'unknown') continue;
    if (link === undefined) {
      add('unlinked', false, prev
        ? `run ${run.name} carries no link to the run before it (${prev.name}): it was written by a kubewire that did not link runs, so a run removed before it would not be noticed`
        : `the oldest run ${run.name} carries no link to a run before it: it was written by a kubewire that did not link runs, so whether earlier runs were removed cannot be told`);
      continue;
    }
    const at = link === null ? undefined : indexOf(link.file);
    if (prev === null) {
      if (link === null) continue;
      if (at !== undefined) add('order', true, `run ${run.name}, the oldest, links to ${link.file}, which comes after it in the store: the runs were renamed or moved`);
      else {
        add('history-start', opts.fullHistory, `history starts at run ${run.name}, which links to ${link.file} (not present): the runs before it were removed${opts.fullHistory ? ' (--full-history)' : ' (by a retention job, or otherwise; --full-history makes that a failure)'}`);
      }
      continue;
    }
    if (link === null) {
      add('not-first', true, `run ${run.name} says it is the replica's first run (it links to none), but ${prev.name} comes before it: that run was put in the store afterwards, or ${run.name} was rewritten`);
    } else if (at === undefined) {
      add('gap', true, `runs were removed between ${prev.name} and ${run.name}: ${run.name} links to ${link.file}, which is not in the store`);
    } else if (at !== i - 1) {
      add('order', true, `run ${run.name} links to ${link.file}, but the run before it is ${prev.name}: ${at < i - 1 ? `${prev.name} was put in between` : 'the runs were renamed or moved'}`);
    } else if (link.lastHash !== prev.lastHash) {
      add('mismatch', true, `run ${run.name} links to ${prev.name} as ending with the record ${short(link.lastHash)}, but ${prev.name} ends with ${prev.lastHash === null ? 'no complete record' : `the record ${short(prev.lastHash)}`}: the end of ${prev.name} was changed or cut after ${run.name} began, or the link was rewritten`);
    }
  }
  return out;
}

/** The links of a file store replica's runs (each as its files in part order). */
export async function replicaRunLinks(runs: readonly (readonly string[])[], opts: { fullHistory: boolean }): Promise<RunLinkFinding[]> {
  const ends: RunEnds[] = [];
  for (const files of runs) ends.push(await readRunEnds(files));
  return checkRunLinks(ends, opts);
}

function short(hash: string | null): string {
  return hash === null ? '(none)' : `${hash.slice(0, 12)}…`;
}
