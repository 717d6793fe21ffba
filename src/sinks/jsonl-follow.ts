/**
 * Reads a JSONL log and, when asked, keeps following it as `tail -f` does: new lines are read
 * as they are appended, a half-written last line waits for its newline, and a file that
 * shrinks (truncated or replaced by rotation) is read again from its start. Lines that are
 * not JSON are counted and skipped, never fatal.
 *
 * A log that ends with `proxy.stop` is finished: nothing more will be written to it, so
 * following stops at its end (`kubewire view log | grep …` in a script must not hang).
 *
 * An event a rotating audit log wrote in pieces (src/audit/record-pieces.ts) is handed on joined.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import type { KubewireEvent } from '../events/types.js';
import { PieceJoiner } from '../audit/record-pieces.js';

export interface FollowOptions {
  follow: boolean;
  /** Poll interval for changes (a watcher also wakes it up). */
  pollMs?: number;
  onBadLine?: (lineNumber: number, text: string) => void;
}

export interface Follower {
  /** Resolves when a read reached the end of a finished log (or of any log, not following), or after stop(). */
  done: Promise<void>;
  stop(): void;
  readonly lines: number;
  /** The log ended with `proxy.stop`: the proxy that wrote it has stopped. */
  readonly finished: boolean;
}

const READ_BYTES = 256 * 1024;
/** A line longer than this is not an event kubewire wrote; it is skipped. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

export function followJsonl(path: string, onEvent: (e: KubewireEvent) => void, options: FollowOptions): Follower {
  let stopped = false;
  let finished = false;
  let lineNumber = 0;
  let wake: (() => void) | null = null;
  let watcher: FSWatcher | null = null;
  const joiner = new PieceJoiner();
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  const run = async (): Promise<void> => {
    let fh: FileHandle = await open(path, 'r');
    if (options.follow) {
      try {
        watcher = watch(path, () => poke());
        watcher.on('error', () => {});
      } catch {
        // Polling alone still works.
      }
    }
    let position = 0;
    let pending = Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(READ_BYTES);
    try {
      while (!stopped) {
        const { bytesRead } = await fh.read(buf, 0, READ_BYTES, position);
        if (bytesRead > 0) {
          position += bytesRead;
          pending = pending.length ? Buffer.concat([pending, buf.subarray(0, bytesRead)]) : Buffer.from(buf.subarray(0, bytesRead));
          let nl: number;
          while ((nl = pending.indexOf(0x0a)) >= 0) {
            const line = pending.subarray(0, nl);
            pending = pending.subarray(nl + 1);
            handleLine(line);
          }
          if (pending.length > MAX_LINE_BYTES) {
            options.onBadLine?.(lineNumber + 1, '(line too long)');
            pending = Buffer.alloc(0);
          }
          continue;
        }
        if (!options.follow || finished) {
          if (pending.length) handleLine(pending);
          return;
        }
        // At the end: wait for more, and notice truncation or replacement.
        await sleep(options.pollMs ?? 250);
        const st = await stat(path).catch(() => null);
        if (st && st.size < position) {
          position = 0;
          pending = Buffer.alloc(0);
          await fh.close();
          fh = await open(path, 'r');
        }
      }
    } finally {
      for (const e of joiner.flush()) onEvent(e);
      await fh.close().catch(() => {});
      watcher?.close();
    }
  };

  const handleLine = (line: Buffer): void => {
    lineNumber++;
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return;
    const text = line.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      options.onBadLine?.(lineNumber, text.slice(0, 80));
      return;
    }
    if (value && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string') {
      const type = (value as { type: string }).type;
      // A later proxy.start (a proxy appending to the same log) means it goes on after all.
      if (type === 'proxy.stop') finished = true;
      else if (type === 'proxy.start') finished = false;
      for (const e of joiner.push(value as KubewireEvent)) onEvent(e);
    } else {
      options.onBadLine?.(lineNumber, text.slice(0, 80));
    }
  };

  const done = run();
  return {
    done,
    stop: () => {
      stopped = true;
      poke();
    },
    get lines() {
      return lineNumber;
    },
    get finished() {
      return finished;
    },
  };
}
