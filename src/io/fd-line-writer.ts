/**
 * Lines written to a file descriptor (the gateway's stdout, fd 1) from the observer's worker
 * thread, so that a log pipeline that stops reading never holds the relay's thread. A worker's
 * own `process.stdout` would not do: Node passes it through the main thread, which writes it.
 * Here each write is an asynchronous `fs.write` (libuv's thread pool), one at a time: a pipe
 * in non-blocking mode (Node's main thread puts its stdout pipe in it) answers EAGAIN when full,
 * and the write is tried again after a pause; a blocking pipe or a slow file holds one pool
 * thread, never this thread's event loop.
 *
 * Memory is bounded: lines wait up to `limit` bytes, and past it are dropped and counted; once
 * everything waiting was written, one line (`droppedLine`) says how many were lost. A reader
 * that went away (EPIPE, EBADF) ends the output quietly, as StdoutOutput does on EPIPE.
 */
import { write as fsWrite } from 'node:fs';
import type { Output } from './output.js';

/** One write takes whole lines up to this much (the pipe's default capacity on Linux). */
const WRITE_BYTES = 64 * 1024;
/** Pauses between tries at a full non-blocking pipe: from the first to the longest. */
const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 200;

export type FdWrite = (fd: number, buffer: Buffer, offset: number, length: number, position: null, callback: (err: NodeJS.ErrnoException | null, written: number) => void) => void;

export interface FdLineWriterOptions {
  fd: number;
  /** Bytes that may wait to be written; a line that would go past it is dropped. */
  limit: number;
  /** The line that says `count` lines were dropped, written once the backlog drained. */
  droppedLine(count: number): string;
  /** fs.write, or a stand-in for tests. */
  write?: FdWrite;
}

export class FdLineWriter implements Output {
  /** Lines waiting, from `head` on (an index, so taking lines off the front is not quadratic). */
  private queue: Buffer[] = [];
  private head = 0;
  private queued = 0;
  private writing = false;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private dropped = 0;
  private droppedEver = 0;
  private closed = false;
  private drained: (() => void)[] = [];
  private readonly write: FdWrite;

  constructor(private readonly opts: FdLineWriterOptions) {
    this.write = opts.write ?? (fsWrite as unknown as FdWrite);
  }

  line(text: string): void {
    if (this.closed) return;
    const bytes = Buffer.from(text + '\n', 'utf8');
    if (this.queued + bytes.length > this.opts.limit) {
      this.dropped++;
      this.droppedEver++;
      return;
    }
    this.enqueue(bytes);
  }

  /** Lines dropped since the start. */
  get droppedLines(): number {
    return this.droppedEver;
  }

  /** Bytes waiting to be written. */
  get backlog(): number {
    return this.queued;
  }

  /** Resolves once nothing waits (or the output ended), or after `ms`, whichever is first. */
  flushed(ms: number): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.drained.push(done);
    });
  }

  /** Nothing more is written; what waits is let go. */
  close(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.end();
  }

  private idle(): boolean {
    return this.closed || (this.waiting() === 0 && this.dropped === 0 && !this.writing);
  }

  private waiting(): number {
    return this.queue.length - this.head;
  }

  private enqueue(bytes: Buffer): void {
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.next();
  }

  private next(): void {
    if (this.writing || this.retry || this.closed) return;
    if (this.waiting() === 0 && this.dropped > 0) {
      // Caught up: the count goes out even if it is itself past the limit, so it is never lost.
      const line = Buffer.from(this.opts.droppedLine(this.dropped) + '\n', 'utf8');
      this.dropped = 0;
      this.queue.push(line);
      this.queued += line.length;
    }
    if (this.waiting() === 0) {
      for (const d of this.drained.splice(0)) d();
      return;
    }
    let end = this.head;
    let bytes = 0;
    while (end < this.queue.length && (end === this.head || bytes + this.queue[end]!.length <= WRITE_BYTES)) bytes += this.queue[end++]!.length;
    const chunk = end === this.head + 1 ? this.queue[this.head]! : Buffer.concat(this.queue.slice(this.head, end), bytes);
    this.writing = true;
    this.write(this.opts.fd, chunk, 0, chunk.length, null, (err, written) => {
      this.writing = false;
      if (err) return this.failed(err);
      this.retryMs = 0;
      this.consume(written);
      this.next();
    });
  }

  private failed(err: NodeJS.ErrnoException): void {
    if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK' || err.code === 'EINTR') {
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs ? this.retryMs * 2 : RETRY_FIRST_MS);
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.next();
      }, this.retryMs);
      return;
    }
    // The reader is gone (EPIPE) or there is no such output: nothing more can be written.
    this.end();
  }

  private end(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    for (const d of this.drained.splice(0)) d();
  }

  /** `written` bytes from the front of the queue are out; a line written in part keeps its rest. */
  private consume(written: number): void {
    let left = written;
    while (left > 0 && this.head < this.queue.length) {
      const first = this.queue[this.head]!;
      if (first.length <= left) {
        left -= first.length;
        this.head++;
      } else {
        this.queue[this.head] = first.subarray(left);
        left = 0;
      }
    }
    this.queued -= written;
    // The written lines leave the array now and then, in one splice: linear over the run.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
