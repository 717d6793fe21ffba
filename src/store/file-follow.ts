/**
 * Following a chain of a file store as it is written (`kubewire watch`): the chain's files are
 * append-only (open-store.ts, audit-sink.ts), so each is read from where the last read ended,
 * polled while it does not grow. A line counts once its newline is there (the writer may be in
 * the middle of one). A file ends with its seal: a seal that is not `final` names the part the
 * chain rotated to (`…-0002.jsonl` after `…-0001.jsonl`, audit-file.ts `partPath`), which is
 * followed next; a `final` one ends the chain. A chain whose writer died has no seal: it is over
 * once a later run of the replica has started and the file has stopped growing.
 *
 * Memory is bounded: a chunk at a time, one line at a time, a line over MAX_LOG_LINE_BYTES
 * skipped.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MAX_LOG_LINE_BYTES } from '../audit/log-reader.js';
import { PieceJoiner } from '../audit/record-pieces.js';
import type { KubewireEvent } from '../events/types.js';

export interface FollowOptions {
  signal: AbortSignal;
  /** Whether no more records will come (a later run of the replica started, or its writer is gone): the chain is then over once quiet. */
  newerRun(): Promise<boolean>;
  /** How long to wait before looking again at a file that did not grow, ms. */
  pollMs?: number;
}

const CHUNK = 64 * 1024;
/** Quiet polls between two looks for a later run. */
const POLLS_PER_RUN_CHECK = 4;

export async function* followChain(first: string, opts: FollowOptions): AsyncGenerator<KubewireEvent> {
  const joiner = new PieceJoiner();
  let path: string | null = first;
  while (path !== null && !opts.signal.aborted) {
    let next: string | null = null;
    for await (const e of followFile(path, opts)) {
      yield* joiner.push(e);
      if (e.type === 'audit.seal' && e.scope === 'file') {
        next = e.final === false && typeof e.part === 'number' ? nextPart(path, e.part) : null;
        break;
      }
    }
    path = next;
  }
  yield* joiner.flush();
}

/** The file part `part + 1` of a rotated chain, beside `path` (`…-0001.jsonl` → `…-0002.jsonl`). */
export function nextPart(path: string, part: number): string | null {
  const m = /^(.*)-\d{4,}\.jsonl$/.exec(basename(path));
  return m ? join(dirname(path), `${m[1]}-${String(part + 1).padStart(4, '0')}.jsonl`) : null;
}

/** The events of one file as lines are completed, until the caller stops or the run is over. */
async function* followFile(path: string, opts: FollowOptions): AsyncGenerator<KubewireEvent> {
  const fh = await openWhenThere(path, opts);
  if (!fh) return;
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let skipping = false;
    let quiet = 0;
    while (!opts.signal.aborted) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, offset);
      if (bytesRead === 0) {
        if (++quiet % POLLS_PER_RUN_CHECK === 0 && (await opts.newerRun())) {
          // Read once more: the last lines may have come in since.
          if ((await fh.stat()).size === offset) return;
        }
        await pause(opts.pollMs ?? 250, opts.signal);
        continue;
      }
      quiet = 0;
      offset += bytesRead;
      const chunk = buf.subarray(0, bytesRead);
      let from = 0;
      for (let nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
        const part = chunk.subarray(from, nl);
        from = nl + 1;
        const line = pendingBytes === 0 ? part : Buffer.concat([...pending, part]);
        const skip = skipping;
        pending = [];
        pendingBytes = 0;
        skipping = false;
        if (skip) continue;
        const e = parse(line);
        if (e) yield e;
      }
      if (from < bytesRead && !skipping) {
        pending.push(Buffer.from(chunk.subarray(from)));
        pendingBytes += bytesRead - from;
        if (pendingBytes > MAX_LOG_LINE_BYTES) {
          pending = [];
          pendingBytes = 0;
          skipping = true;
        }
      }
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function openWhenThere(path: string, opts: FollowOptions): Promise<FileHandle | null> {
  for (let polls = 1; !opts.signal.aborted; polls++) {
    try {
      return await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (polls % POLLS_PER_RUN_CHECK === 0 && (await opts.newerRun())) return null;
    await pause(opts.pollMs ?? 250, opts.signal);
  }
  return null;
}

function parse(line: Buffer): KubewireEvent | null {
  try {
    const v = JSON.parse(line.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' ? (v as KubewireEvent) : null;
  } catch {
    return null;
  }
}

/** Waits `ms`, or less when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
