/**
 * The relay's copies reach the observer's thread through one ring of shared memory
 * (a SharedArrayBuffer): the relay writes each chunk in after writing it onward, the batch
 * message names the span its chunks took, and the observer decodes straight out of that span
 * and gives the room back through a shared counter (Atomics) once the batch is decoded.
 * Nothing is allocated, transferred or freed per batch on either thread: handing over an
 * ArrayBuffer costs both threads tens of microseconds (the detach, the adoption, the sweep of
 * the dead buffer), a copy into the ring one memcpy. The decoders are lent the views for the
 * push only and copy the few bytes they keep past it (src/codec/lent-bytes.ts); copying each
 * 64 KiB span out into a buffer of its own instead cost the observer about 0.3 ms per MiB and
 * left some 12 MiB of dead copies in its malloc arena.
 *
 * One writer (the relay's thread) and one reader (the observer's) in order, so the only shared
 * state is the count of bytes given back; both counts run modulo 2^32 and the ring's size is a
 * power of two, so positions are the counts masked. A chunk that finds no room (the observer is
 * more than the ring behind) is the caller's to copy elsewhere: the ring is the fast path, not
 * a bound.
 */
import { copyInto } from '../codec/lent-bytes.js';

/** 4 MiB: at a few hundred MiB/s, some milliseconds of an observer's lag. */
export const RING_BYTES = 4 * 1024 * 1024;

/** What both threads share: the ring's bytes, and how many of them the reader gave back. */
export interface RingMemory {
  bytes: SharedArrayBuffer;
  freed: SharedArrayBuffer;
}

export function ringMemory(size = RING_BYTES): RingMemory {
  if (size <= 0 || (size & (size - 1)) !== 0) throw new RangeError(`ring size must be a power of two, not ${size}`);
  return { bytes: new SharedArrayBuffer(size), freed: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT) };
}

export class RingWriter {
  private readonly bytes: Buffer;
  private readonly freed: Int32Array;
  private readonly size: number;
  /** Bytes written since the start, modulo 2^32. */
  private head = 0;

  constructor(memory: RingMemory) {
    this.bytes = Buffer.from(memory.bytes);
    this.freed = new Int32Array(memory.freed);
    this.size = this.bytes.length;
  }

  /** Where the next chunk goes. */
  get position(): number {
    return this.head & (this.size - 1);
  }

  /** Where the last `length` bytes written begin. */
  startOfLast(length: number): number {
    return (this.head - length) & (this.size - 1);
  }

  /** Copies `chunk` in, after the last one; false, and nothing copied, when there is no room for it. */
  write(chunk: Buffer): boolean {
    const n = chunk.length;
    const used = (this.head - Atomics.load(this.freed, 0)) >>> 0;
    if (n > this.size - used) return false;
    const at = this.position;
    const first = Math.min(n, this.size - at);
    copyInto(this.bytes, at, first === n ? chunk : chunk.subarray(0, first));
    if (first < n) copyInto(this.bytes, 0, chunk.subarray(first));
    this.head = (this.head + n) >>> 0;
    return true;
  }
}

export class RingReader {
  private readonly bytes: Buffer;
  private readonly freed: Int32Array;

  constructor(memory: RingMemory) {
    this.bytes = Buffer.from(memory.bytes);
    this.freed = new Int32Array(memory.freed);
  }

  /**
   * A view of up to `length` bytes from `position` (taken modulo the ring's size) to the end of
   * the ring at most: a span that wraps is read as two views. The view is lent (lent-bytes.ts):
   * its bytes stay until `release` gives their room back, and are written over after.
   */
  view(position: number, length: number): Buffer {
    const size = this.bytes.length;
    const at = position & (size - 1);
    return this.bytes.subarray(at, at + Math.min(length, size - at));
  }

  /** Gives the oldest `length` bytes' room back to the writer. */
  release(length: number): void {
    Atomics.add(this.freed, 0, length);
  }
}
