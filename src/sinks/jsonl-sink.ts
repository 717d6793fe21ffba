/**
 * The JSONL log, the source of truth (design §1): one event per line, in a file only the user
 * can read (0600, in a 0700 directory when kubewire creates it), since events may carry
 * terminal bytes.
 *
 * Lines wait in a bounded queue and go to an fs write stream only as fast as it takes them;
 * `write` returns false while the bytes not yet written exceed the bound, and drain listeners
 * run once they fell to half of it. The path is opened at start, so a log that cannot be written
 * fails the command before any traffic flows. A write that fails later (disk full) is reported
 * once through `onError`; the sink then discards events and never blocks the relay.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { EventSink } from '../events/event-bus.js';
import type { KubewireEvent } from '../events/types.js';
import { CliError } from '../io/errors.js';
import { describeLogError, LOG_FILE_MODE, makeParents } from './log-files.js';

export interface JsonlSinkOptions {
  /** The sink's name in `sink.dropped` / `sink.backpressure` events. */
  name?: string;
  /** Bytes accepted but not yet written before `write` returns false. */
  maxBytes?: number;
  /** Lines accepted but not yet written before `write` returns false. */
  maxLines?: number;
}

export const JSONL_MAX_QUEUE_BYTES = 8 * 1024 * 1024;
export const JSONL_MAX_QUEUE_LINES = 10_000;
const STREAM_HIGH_WATER_MARK = 256 * 1024;

export class JsonlSink implements EventSink {
  readonly name: string;
  private readonly maxBytes: number;
  private readonly maxLines: number;
  private readonly stream: WriteStream;
  /** Lines the stream has not taken yet (it said "full"); `head` is the next one. */
  private queue: Buffer[] = [];
  private head = 0;
  /** Bytes and lines accepted by `write` and not yet on disk: queued plus inside the stream. */
  private pendingBytes = 0;
  private pendingLines = 0;
  private streamFull = false;
  private behind = false;
  private drainListeners: (() => void)[] = [];
  private error: CliError | undefined;
  private errorReported = false;
  private errorListener: ((error: CliError) => void) | undefined;
  private closing: Promise<void> | undefined;
  private lost = 0;

  /**
   * Creates the parent directory (0700) and opens `path` for appending with mode 0600, also
   * when it existed. Throws `KW_ERR_LOG_UNWRITABLE` when that fails.
   */
  static async open(path: string, options: JsonlSinkOptions = {}): Promise<JsonlSink> {
    let fh: FileHandle | undefined;
    try {
      await makeParents(dirname(path));
      fh = await open(path, 'a', LOG_FILE_MODE);
      const st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      // Devices and pipes (/dev/stdout for a log pipeline) are not ours to chmod.
      if (st.isFile() && (st.mode & 0o777) !== LOG_FILE_MODE) await fh.chmod(LOG_FILE_MODE);
    } catch (e) {
      await fh?.close().catch(() => undefined);
      throw unwritable(path, e);
    }
    return new JsonlSink(path, fh, options);
  }

  private constructor(readonly path: string, private readonly fh: FileHandle, options: JsonlSinkOptions) {
    this.name = options.name ?? 'jsonl';
    this.maxBytes = options.maxBytes ?? JSONL_MAX_QUEUE_BYTES;
    this.maxLines = options.maxLines ?? JSONL_MAX_QUEUE_LINES;
    // autoClose off: close() fsyncs the file before closing it.
    this.stream = fh.createWriteStream({ autoClose: false, highWaterMark: Math.min(STREAM_HIGH_WATER_MARK, this.maxBytes) });
    this.stream.on('error', (e) => this.fail(e));
    this.stream.on('drain', () => this.refill());
  }

  write(event: KubewireEvent): boolean {
    if (this.error || this.closing) {
      this.lost++;
      return true;
    }
    const line = Buffer.from(JSON.stringify(event) + '\n', 'utf8');
    this.pendingBytes += line.length;
    this.pendingLines++;
    if (this.streamFull) this.queue.push(line);
    else this.toStream(line);
    if (this.pendingBytes > this.maxBytes || this.pendingLines > this.maxLines) this.behind = true;
    return !this.behind;
  }

  onDrain(listener: () => void): void {
    if (this.behind) this.drainListeners.push(listener);
    else queueMicrotask(listener);
  }

  /**
   * The first write error, once, with the path and the cause. Registered late, the listener
   * still hears an error that already happened.
   */
  onError(listener: (error: CliError) => void): void {
    this.errorListener = listener;
    this.reportError();
  }

  /** Events accepted but not written: after a write error, and after `close`. */
  get lostEvents(): number {
    return this.lost;
  }

  /** Flushes every line accepted so far, fsyncs and closes. Never rejects; errors go to `onError`. */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    if (!this.error) {
      // The queue is already in memory and bounded; the stream may buffer it all now.
      for (const line of this.takeQueue()) this.stream.write(line, (e) => this.written(line.length, e));
      this.stream.end();
      await finished(this.stream).catch((e: unknown) => this.fail(e));
    }
    if (!this.error) {
      try {
        await this.fh.sync();
      } catch (e) {
        // Pipes and character devices cannot be synced; that is no loss.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') this.fail(e);
      }
    }
    this.stream.destroy();
    await this.fh.close().catch(() => undefined);
    this.releaseDrainListeners();
  }

  private toStream(line: Buffer): void {
    if (!this.stream.write(line, (e) => this.written(line.length, e))) this.streamFull = true;
  }

  private refill(): void {
    this.streamFull = false;
    while (this.head < this.queue.length && !this.streamFull && !this.error) {
      const line = this.queue[this.head]!;
      this.queue[this.head++] = EMPTY;
      this.toStream(line);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private written(bytes: number, e: Error | null | undefined): void {
    if (e) {
      this.fail(e);
      return;
    }
    this.pendingBytes -= bytes;
    this.pendingLines--;
    if (this.behind && this.pendingBytes <= this.maxBytes / 2 && this.pendingLines <= this.maxLines / 2) {
      this.behind = false;
      this.releaseDrainListeners();
    }
  }

  private fail(e: unknown): void {
    if (this.error) return;
    this.lost += this.pendingLines;
    this.error = unwritable(this.path, e, true);
    this.takeQueue();
    this.pendingBytes = 0;
    this.pendingLines = 0;
    this.stream.destroy();
    void this.fh.close().catch(() => undefined);
    this.reportError();
    // Nothing more will be written, so nothing need wait for it.
    this.behind = false;
    this.releaseDrainListeners();
  }

  private reportError(): void {
    if (!this.error || this.errorReported || !this.errorListener) return;
    this.errorReported = true;
    this.errorListener(this.error);
  }

  private releaseDrainListeners(): void {
    const listeners = this.drainListeners;
    this.drainListeners = [];
    for (const listener of listeners) listener();
  }

  private takeQueue(): Buffer[] {
    const rest = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    return rest;
  }
}

const EMPTY = Buffer.alloc(0);

/** `<stateDir>/logs/kubewire-YYYYMMDD-HHMMSS-<pid>.jsonl`, in local time (the user's clock). */
export function defaultLogPath(stateDir: string, now: Date, pid: number = process.pid): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const date = `${now.getFullYear()}${p2(now.getMonth() + 1)}${p2(now.getDate())}`;
  const time = `${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}`;
  return join(stateDir, 'logs', `kubewire-${date}-${time}-${pid}.jsonl`);
}

function unwritable(path: string, e: unknown, later = false): CliError {
  return new CliError('KW_ERR_LOG_UNWRITABLE', later
    ? `stopped writing the log ${path}: ${describeLogError(e)}; later events are not logged`
    : `cannot write the log ${path}: ${describeLogError(e)}; pass --log with a file you can write`);
}
