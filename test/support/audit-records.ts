/** Reading audit logs in tests: records one at a time (logs of hundreds of MiB stay out of memory). */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KubewireEvent } from '../../src/events/types.js';

export async function forEachRecord(files: string[], fn: (e: KubewireEvent) => void): Promise<void> {
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) if (line) fn(JSON.parse(line) as KubewireEvent);
  }
}

export async function readRecords(files: string[]): Promise<KubewireEvent[]> {
  const out: KubewireEvent[] = [];
  await forEachRecord(files, (e) => void out.push(e));
  return out;
}

/** The parts of a rotated log in `dir` whose names start with `stem-`, in order. */
export function logParts(dir: string, stem: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(`${stem}-`) && f.endsWith('.jsonl')).sort().map((f) => join(dir, f));
}

/** Per session: SHA-256 and size of the stdout bytes the log recorded. */
export async function stdoutDigests(files: string[]): Promise<Map<string, { bytes: number; sha256: string }>> {
  const hashes = new Map<string, { bytes: number; hash: ReturnType<typeof createHash> }>();
  await forEachRecord(files, (e) => {
    if (e.type !== 'k8s.data' || e.stream !== 'stdout' || e.dir !== 's2c' || !e.session) return;
    let h = hashes.get(e.session);
    if (!h) hashes.set(e.session, (h = { bytes: 0, hash: createHash('sha256') }));
    const bytes = Buffer.from(e.payload ?? '', 'base64');
    h.bytes += bytes.length;
    h.hash.update(bytes);
  });
  return new Map([...hashes].map(([k, v]) => [k, { bytes: v.bytes, sha256: v.hash.digest('hex') }]));
}
