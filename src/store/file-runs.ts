/**
 * The runs of a file store's replica (`DIR/<replica>/`, open-store.ts): each run is a chain of
 * `audit-<time>-<pid>.jsonl`, or of its rotated parts `audit-<time>-<pid>-0001.jsonl`, ….
 * One listing for the writer (which links a new run to the last one, run-link.ts) and the
 * readers (store-reader.ts), so both agree on which run comes before which.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** `audit-<time>-<pid>.jsonl`, or a part `audit-<time>-<pid>-0001.jsonl` of a rotated chain. */
const CHAIN_FILE = /^(audit-\d{8}T\d{6}Z-\d+)(?:-(\d{4,}))?\.jsonl$/;

/** The run a chain file belongs to (`audit-<time>-<pid>`), or null for a name the store does not write. */
export function runStem(name: string): string | null {
  return CHAIN_FILE.exec(name)?.[1] ?? null;
}

/** The runs of the replica directory `dir`, oldest first (by name: start time, then pid), each as its files in part order. */
export async function replicaRuns(dir: string): Promise<string[][]> {
  const byStem = new Map<string, { part: number; path: string }[]>();
  for (const f of await readdir(dir)) {
    const m = CHAIN_FILE.exec(f);
    if (!m) continue;
    const path = join(dir, f);
    if (!(await stat(path)).isFile()) continue;
    const parts = byStem.get(m[1]!) ?? [];
    parts.push({ part: m[2] ? Number(m[2]) : 0, path });
    byStem.set(m[1]!, parts);
  }
  return [...byStem.keys()].sort().map((stem) => byStem.get(stem)!.sort((a, b) => a.part - b.part).map((p) => p.path));
}
