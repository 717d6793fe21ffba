/**
 * The JSONL log, the source of truth (design §1): one event per line, in a file only the user
 * can read (0600, in a 0700 directory when kubewire creates it), since events may carry
 * terminal bytes.
 *
 * Each event is serialized once, into reused memory (event-line.ts, line-arena.ts), and waits in
 * a bounded queue. One write at a time takes everything queued since the last one completed, up
 * to BATCH_BYTES, with a single `writev`: at 64 KiB reads a busy session makes thousands of
 * events a second, and a write request per event cost more than the writing. Short lines
 * linger a moment first (LINGER_MS), so that a stream's few lines per batch share a write.
 * `write` returns false while the bytes (or lines) not yet written exceed the bound, and drain
 * listeners run once
 * they fell to half of it. The path is opened at start, so a log that cannot be written fails
 * the command before any traffic flows. A write that fails later (disk full) is reported once
 * through `onError`; the sink then discards events and never blocks the relay.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { EventSink } from '../events/event-bus.js';
import type { KubewireEvent } from '../events/types.js';
import { CliError } from '../io/errors.js';
import { encodeEventLine } from './event-line.js';
import { coalesce, LineArena } from './line-arena.js';
import { describeLogError, LOG_FILE_MODE, makeParents, writeAll } from './log-files.js';

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
/** At most this much per write (more only for a single longer line). */
const BATCH_BYTES = 1024 * 1024;
/**
 * Short of this much waiting, the writer starts LINGER_MS after the first line, not at once.
 * `--payload head` and `none` make a few short lines per relay batch (32 per MiB streamed),
 * and each of those writes was an append to the file system of its own: a synchronous write
 * took 15% of the observer's thread while 128 MiB streamed through `--payload head`, in
 * writes of about 4 KiB. Lingering, they leave in writes of tens of KiB. A line waits at most
 * that long more; `--payload full` lines (a 64 KiB payload is 87 KiB of base64) go at once.
 */
export const LINGER_BYTES = 64 * 1024;
export const LINGER_MS = 20;

export class JsonlSink implements EventSink {
  readonly name: string;
  private readonly maxBytes: number;
  private readonly maxLines: number;
  private readonly arena = new LineArena();
  private readonly alloc = (n: number): Buffer => this.arena.alloc(n);
  /** Lines not yet handed to a write; `head` is the next one. */
  private queue: Buffer[] = [];
  private head = 0;
  /** Bytes and lines accepted by `write` and not yet on disk: queued plus being written. */
  private pendingBytes = 0;
  private pendingLines = 0;
  /** The writer runs (a write in flight, or about to start). */
  private writing = false;
  private idleWaiters: (() => void)[] = [];
  private behind = false;
  private drainListeners: (() => void)[] = [];
  private error: CliError | undefined;
  private errorReported = false;
  private errorListener: ((error: CliError) => void) | undefined;
  private closing: Promise<void> | undefined;
  private fhClosed = false;
  private lost = 0;
  /** The writer's start, while it lingers for more lines (LINGER_MS). */
  private lingering: NodeJS.Timeout | null = null;
  private readonly startNow = (): void => {
    if (this.lingering === null) return;
    clearTimeout(this.lingering);
    this.lingering = null;
    void this.drain();
  };

  /**
   * Creates the parent directory (0700) and opens `path` for appending with mode 0600, also
   * when it existed. Throws `KW_ERR_LOG_UNWRITABLE` when that fails.
   */
  static async open(path: string, options: JsonlSinkOptions = {}): Promise<JsonlSink> {
    let fh: FileHandle | undefined;
    let regular = false;
    try {
      await makeParents(dirname(path));
      fh = await open(path, 'a', LOG_FILE_MODE);
      const st = await fh.stat();
      regular = st.isFile();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      // Devices and pipes (/dev/stdout for a log pipeline) are not ours to chmod.
      if (regular && (st.mode & 0o777) !== LOG_FILE_MODE) await fh.chmod(LOG_FILE_MODE);
    } catch (e) {
      await fh?.close().catch(() => undefined);
      throw unwritable(path, e);
    }
    return new JsonlSink(path, fh, regular, options);
  }

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly regular: boolean, options: JsonlSinkOptions) {
    this.name = options.name ?? 'jsonl';
    this.maxBytes = options.maxBytes ?? JSONL_MAX_QUEUE_BYTES;
    this.maxLines = options.maxLines ?? JSONL_MAX_QUEUE_LINES;
  }

  write(event: KubewireEvent): boolean {
    if (this.error || this.closing) {
      this.lost++;
      return true;
    }
    const line = encodeEventLine(event, '', this.alloc);
    this.queue.push(line);
    this.pendingBytes += line.length;
    this.pendingLines++;
    this.kick();
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
    // `write` takes nothing more, so the writer only has the queue left to finish, now.
    this.startNow();
    await this.idle();
    if (!this.error) {
      try {
        await this.fh.sync();
      } catch (e) {
        // Pipes and character devices cannot be synced; that is no loss.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') this.fail(e);
      }
    }
    await this.closeFile();
    this.releaseDrainListeners();
  }

  /**
   * Starts the writer unless it runs: in a microtask, so that the events published in one go
   * (one socket read decodes into several) leave in one write, or LINGER_MS later while less
   * than LINGER_BYTES waits. A writer that lingers starts once that much has come.
   */
  private kick(): void {
    if (!this.writing) {
      this.writing = true;
      if (this.pendingBytes < LINGER_BYTES) return void (this.lingering = setTimeout(this.startNow, LINGER_MS));
    } else {
      if (this.lingering === null || this.pendingBytes < LINGER_BYTES) return;
      // Enough came while it lingered: it starts now, once (later lines find it no longer lingering).
      clearTimeout(this.lingering);
      this.lingering = null;
    }
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    while (this.head < this.queue.length && !this.error) {
      const batch = this.takeBatch();
      let bytes = 0;
      for (const line of batch) bytes += line.length;
      try {
        await writeAll(this.fh, coalesce(batch), null, this.regular);
      } catch (e) {
        this.fail(e);
        break;
      }
      for (const line of batch) this.arena.release(line);
      this.written(bytes, batch.length);
    }
    this.writing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private idle(): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The next lines in order, up to BATCH_BYTES (at least one line). */
  private takeBatch(): Buffer[] {
    let end = this.head;
    let bytes = 0;
    while (end < this.queue.length && (end === this.head || bytes + this.queue[end]!.length <= BATCH_BYTES)) bytes += this.queue[end++]!.length;
    const batch = this.queue.slice(this.head, end);
    this.queue.fill(EMPTY, this.head, end);
    this.head = end;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private written(bytes: number, lines: number): void {
    this.pendingBytes -= bytes;
    this.pendingLines -= lines;
    if (this.behind && this.pendingBytes <= this.maxBytes / 2 && this.pendingLines <= this.maxLines / 2) {
      this.behind = false;
      this.releaseDrainListeners();
    }
  }

  private fail(e: unknown): void {
    if (this.error) return;
    this.lost += this.pendingLines;
    this.error = unwritable(this.path, e, true);
    this.queue = [];
    this.head = 0;
    this.arena.reset();
    this.pendingBytes = 0;
    this.pendingLines = 0;
    // The writer is between writes (this runs when one failed, or after the last), so the file
    // can go now.
    void this.closeFile();
    this.reportError();
    // Nothing more will be written, so nothing need wait for it.
    this.behind = false;
    this.releaseDrainListeners();
  }

  private async closeFile(): Promise<void> {
    if (this.fhClosed) return;
    this.fhClosed = true;
    await this.fh.close().catch(() => undefined);
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
