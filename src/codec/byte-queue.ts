/**
 * A queue of received chunks with a running byte count.
 *
 * Decoders push whatever the socket handed them and take exactly the bytes a parser state
 * needs. Bytes are copied only when a request spans two chunks (the habit of ws's
 * `Receiver#consume`), so a 32 KiB payload that arrived in one read is handed on as a view.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0; // bytes of chunks[0] already taken
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.total += chunk.length;
  }

  /** The byte at `index` from the front, without taking it. */
  peekByte(index: number): number {
    let i = index + this.head;
    for (const c of this.chunks) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    throw new RangeError(`ByteQueue.peekByte(${index}) past ${this.total} queued bytes`);
  }

  /** The first `n` bytes as one buffer, without taking them (copies only across chunks). */
  peek(n: number): Buffer {
    if (n > this.total) throw new RangeError(`ByteQueue.peek(${n}) past ${this.total} queued bytes`);
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let skip = this.head;
    for (const c of this.chunks) {
      if (filled === n) break;
      const take = Math.min(c.length - skip, n - filled);
      c.copy(out, filled, skip, skip + take);
      filled += take;
      skip = 0;
    }
    return out;
  }

  /** Takes the first `n` bytes off the queue and returns them. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Drops the first `n` bytes. */
  skip(n: number): void {
    if (n > this.total) throw new RangeError(`ByteQueue.skip(${n}) past ${this.total} queued bytes`);
    this.total -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const left = first.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Takes everything queued. */
  takeAll(): Buffer {
    return this.take(this.total);
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }
}
