/**
 * A queue of received chunks with a running byte count.
 *
 * Decoders push whatever the socket handed them and take exactly the bytes a parser state
 * needs. Bytes are copied only when a request spans two chunks (the habit of ws's
 * `Receiver#consume`), so a 32 KiB payload that arrived in one read is handed on as a view.
 *
 * Every operation costs O(1) amortised plus the chunks it actually reads, however many chunks
 * are queued. Consumed chunks are not removed one at a time (`Array#shift` moves every slot
 * behind the first, so draining 40,000 queued one-byte chunks moved some 800 million slots): a
 * head index steps past them, and the array is compacted once the consumed prefix is at least
 * half of it, so every slot moved is paid for by one consumed before it.
 *
 * Lent chunks (lent-bytes.ts) are queued as views too, and copied only if they are still
 * queued when the push that lent them ends (keepLent).
 */
import { copyInto, isLent, joined } from './lent-bytes.js';

/**
 * Work done by every ByteQueue in the process, for tests that check decoding cost without a
 * clock: `chunkVisits` counts each chunk a method reads or moves, `bytesCopied` each byte copied
 * into a new buffer. Two integer increments per chunk read cost nothing next to the read.
 */
export const byteQueueWork = { chunkVisits: 0, bytesCopied: 0 };

const EMPTY = Buffer.alloc(0);

export class ByteQueue {
  /** Slots before `first` are consumed (and hold EMPTY, so their bytes can be collected). */
  private chunks: Buffer[] = [];
  private first = 0;
  /** Bytes of chunks[first] already taken. */
  private offset = 0;
  private total = 0;
  /** Index of the first chunk that may be lent (lent-bytes.ts), or -1 when none is queued. */
  private lentFrom = -1;

  get length(): number {
    return this.total;
  }

  /** Bytes that can be taken as one view of the first chunk. */
  get headLength(): number {
    const head = this.chunks[this.first];
    return head === undefined ? 0 : head.length - this.offset;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.lentFrom < 0 && isLent(chunk)) this.lentFrom = this.chunks.length;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.total += chunk.length;
  }

  /** The byte at `index` from the front, without taking it; reads the chunks up to it. */
  peekByte(index: number): number {
    if (index < 0 || index >= this.total) throw new RangeError(`ByteQueue.peekByte(${index}) past ${this.total} queued bytes`);
    let i = index + this.offset;
    for (let k = this.first; ; k++) {
      const c = this.chunks[k]!;
      byteQueueWork.chunkVisits++;
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
  }

  /** The first `n` bytes as one buffer, without taking them (copies only across chunks). */
  peek(n: number): Buffer {
    if (n > this.total) throw new RangeError(`ByteQueue.peek(${n}) past ${this.total} queued bytes`);
    const head = this.chunks[this.first];
    if (head !== undefined && head.length - this.offset >= n) {
      byteQueueWork.chunkVisits++;
      return head.subarray(this.offset, this.offset + n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let skip = this.offset;
    for (let k = this.first; filled < n; k++) {
      const c = this.chunks[k]!;
      const take = Math.min(c.length - skip, n - filled);
      copyInto(out, filled, skip === 0 && take === c.length ? c : c.subarray(skip, skip + take));
      filled += take;
      skip = 0;
      byteQueueWork.chunkVisits++;
    }
    byteQueueWork.bytesCopied += n;
    return out;
  }

  /** Takes the first `n` bytes off the queue and returns them. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /**
   * Takes the first `n` bytes without copying them: `piece` gets each as a view of the chunk
   * it lies in, in order.
   */
  takeEach(n: number, piece: (view: Buffer) => void): void {
    if (n > this.total) throw new RangeError(`ByteQueue.takeEach(${n}) past ${this.total} queued bytes`);
    let left = n;
    let skip = this.offset;
    for (let k = this.first; left > 0; k++) {
      const c = this.chunks[k]!;
      const take = Math.min(c.length - skip, left);
      piece(skip === 0 && take === c.length ? c : c.subarray(skip, skip + take));
      left -= take;
      skip = 0;
    }
    this.skip(n);
  }

  /** Drops the first `n` bytes. */
  skip(n: number): void {
    if (n > this.total) throw new RangeError(`ByteQueue.skip(${n}) past ${this.total} queued bytes`);
    this.total -= n;
    while (n > 0) {
      const c = this.chunks[this.first]!;
      byteQueueWork.chunkVisits++;
      const left = c.length - this.offset;
      if (n < left) {
        this.offset += n;
        break;
      }
      n -= left;
      this.chunks[this.first++] = EMPTY;
      this.offset = 0;
    }
    this.compact();
  }

  /** Takes everything queued. */
  takeAll(): Buffer {
    const out = this.peek(this.total);
    this.clear();
    return out;
  }

  clear(): void {
    this.chunks.length = 0;
    this.first = 0;
    this.offset = 0;
    this.total = 0;
    this.lentFrom = -1;
  }

  /**
   * Called when the push that lent chunks ends: what is still queued of them is copied into
   * one buffer of the queue's own. Chunks before the first lent one are not looked at, and each
   * byte is copied at most once, so this stays linear however many pushes a byte waits through.
   */
  keepLent(): void {
    if (this.lentFrom < 0) return;
    const from = Math.max(this.lentFrom, this.first);
    this.lentFrom = -1;
    const chunks = this.chunks;
    if (from >= chunks.length) return;
    const held = chunks.splice(from);
    // The first chunk's bytes already taken are not kept.
    if (from === this.first && this.offset > 0) {
      held[0] = held[0]!.subarray(this.offset);
      this.offset = 0;
    }
    const own = joined(held);
    byteQueueWork.chunkVisits += held.length;
    byteQueueWork.bytesCopied += own.length;
    chunks.push(own);
  }

  /**
   * Drops the consumed prefix once it is at least half the array: the live slots moved are no
   * more than the consumed ones, so the moves are paid for by the skips that consumed them.
   */
  private compact(): void {
    const live = this.chunks.length - this.first;
    if (live === 0) {
      this.chunks.length = 0;
      this.first = 0;
      this.lentFrom = -1;
    } else if (this.first >= live) {
      this.chunks.copyWithin(0, this.first);
      this.chunks.length = live;
      if (this.lentFrom >= 0) this.lentFrom = Math.max(0, this.lentFrom - this.first);
      this.first = 0;
      byteQueueWork.chunkVisits += live;
    }
  }
}
