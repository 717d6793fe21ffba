/** A stdout for commands that stream (export, replay): keeps what was written. */
import { Writable } from 'node:stream';

/** stdout for runExport: keeps what was written; optionally slow to take it, with a small buffer. */
export class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  /** The most bytes ever waiting in the stream's buffer. */
  maxBuffered = 0;
  constructor(private readonly delayMs = 0, highWaterMark = 16 * 1024) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    if (this.delayMs > 0) setTimeout(cb, this.delayMs);
    else cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
  /** The lines written, each without its newline. */
  get lines(): string[] {
    return this.text.split('\n').slice(0, -1);
  }
}
