/**
 * Payload bytes as they lie in the pushed chunks: views, still masked, gathered into one
 * unmasked buffer only when someone reads them whole.
 *
 * Most of a bulk payload is never read by the observer: `--payload head` records 256 bytes,
 * notes preview 32, and without digests the summary counts sizes. Copying every segment that
 * spans two socket reads into a buffer of its own, and unmasking every client byte (RFC 6455
 * §5.3), cost more than everything else the decoder does. So a segment is handed on as this:
 * `byteAt` for the channel byte, `head(n)` for what a note or `--payload head` keeps, and
 * `all()` (done once, then cached) for the readers that need every byte (status and resize
 * channels, base64 protocols, the tunnel, `--payload full`, digests).
 *
 * Example: the masked payload `7f 9f 4d 51 58` with key `37 fa 21 3d` (RFC 6455 §5.7), split
 * by TCP after its second byte, is the parts [`7f 9f`, `4d 51 58`] with key index 0:
 * `byteAt(0)` is 0x48 ("H"), `head(2)` is "He", `all()` is "Hello".
 *
 * The parts are read, never written: they may be views of chunks that belong to the relay.
 */
import { byteQueueWork } from './byte-queue.js';
import { copyInto, isLent, joined } from './lent-bytes.js';

const EMPTY = Buffer.alloc(0);

export class PayloadBytes {
  private whole: Buffer | null = null;

  /**
   * The `length` bytes from byte `skip` on of the concatenated `parts`; `key` is the masking
   * key (or null) and `keyIndex` the key byte that applies to the first of them.
   */
  constructor(
    private readonly parts: readonly Buffer[],
    readonly length: number,
    private readonly key: Buffer | null = null,
    private readonly keyIndex = 0,
    private readonly skip = 0,
  ) {
    if (length === 0) this.whole = EMPTY;
  }

  static of(bytes: Buffer): PayloadBytes {
    return new PayloadBytes([bytes], bytes.length);
  }

  /** The unmasked byte at `i` (0 <= i < length). */
  byteAt(i: number): number {
    if (i < 0 || i >= this.length) throw new RangeError(`PayloadBytes.byteAt(${i}) past ${this.length} bytes`);
    let at = i + this.skip;
    for (const p of this.parts) {
      if (at < p.length) return this.key === null ? p[at]! : p[at]! ^ this.key[(this.keyIndex + i) & 3]!;
      at -= p.length;
    }
    throw new RangeError(`PayloadBytes.byteAt(${i}): parts hold fewer bytes than ${this.length}`);
  }

  /** The bytes from `start` on, as a view: nothing is copied or allocated but this object. */
  from(start: number): PayloadBytes {
    if (start === 0) return this;
    return new PayloadBytes(this.parts, Math.max(0, this.length - start), this.key, (this.keyIndex + start) & 3, this.skip + start);
  }

  /** The first `n` bytes (all of them if fewer), unmasked; copies at most those. */
  head(n: number): Buffer {
    if (n >= this.length) return this.all();
    if (this.whole !== null) return this.whole.subarray(0, n);
    const first = this.parts[0]!;
    if (this.key === null && first.length >= this.skip + n) return first.subarray(this.skip, this.skip + n);
    return this.gather(n);
  }

  /**
   * Base64 of the first `n` bytes (all of them if fewer), as `head(n).toString('base64')`
   * gives it. Unmasked bytes that lie in one part are encoded where they lie: no view of them
   * is made, which for a data event's recorded head was a tenth of decoding the frame.
   */
  base64(n: number): string {
    const end = Math.min(n, this.length);
    const first = this.parts[0]!;
    if (this.whole === null && this.key === null && first.length >= this.skip + end) return first.toString('base64', this.skip, this.skip + end);
    return this.head(end).toString('base64');
  }

  /**
   * Every byte, unmasked, as views of the parts they lie in, in order: nothing is copied unless
   * the bytes are masked (then one buffer, as `all`). For a writer that can take pieces (a
   * translation bridge's frames), where `all` would join a payload that came in several reads.
   */
  views(): Buffer[] {
    if (this.whole !== null || this.key !== null) return [this.all()];
    return this.rawViews(this.length);
  }

  /**
   * Every byte, unmasked, in pieces of at most `max` bytes, each as views of the parts it lies in
   * (as `views` gives them): a writer that must cut a payload into smaller frames (a translation
   * bridge's SPDY DATA frames) copies nothing, where cutting `all()` joined every payload that
   * came in several reads into fresh memory first.
   */
  pieces(max: number): Buffer[][] {
    const out: Buffer[][] = [];
    let piece: Buffer[] = [];
    let room = max;
    for (const view of this.views()) {
      for (let at = 0; at < view.length; ) {
        const n = Math.min(room, view.length - at);
        piece.push(at === 0 && n === view.length ? view : view.subarray(at, at + n));
        at += n;
        room -= n;
        if (room === 0) {
          out.push(piece);
          piece = [];
          room = max;
        }
      }
    }
    if (piece.length > 0) out.push(piece);
    return out;
  }

  /** Every byte, unmasked, in one buffer (a view when it already is one), kept once built. */
  all(): Buffer {
    if (this.whole === null) {
      const first = this.parts[0]!;
      this.whole = this.key === null && first.length >= this.skip + this.length
        ? first.subarray(this.skip, this.skip + this.length)
        : this.gather(this.length);
    }
    return this.whole;
  }

  private gather(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const v of this.rawViews(n)) filled += v.copy(out, filled);
    byteQueueWork.bytesCopied += n;
    if (this.key !== null) xorMask(out, this.key, this.keyIndex);
    return out;
  }

  /** The first `n` bytes as they lie in the parts (still masked, if they are), as views. */
  private rawViews(n: number): Buffer[] {
    const out: Buffer[] = [];
    let skip = this.skip;
    let left = n;
    for (const p of this.parts) {
      if (left === 0) break;
      if (skip >= p.length) {
        skip -= p.length;
        continue;
      }
      const take = Math.min(p.length - skip, left);
      out.push(skip === 0 && take === p.length ? p : p.subarray(skip, skip + take));
      left -= take;
      skip = 0;
    }
    return out;
  }
}

/**
 * One payload segment of a frame (a WebSocket frame, a SPDY DATA frame) as the frame decoders
 * hand it on: where it lies, its bytes as views, and `data`, all of them in one buffer, built
 * only when read.
 */
export class PayloadSegment<F> {
  constructor(
    readonly frame: F,
    /** Input offset of the segment's first byte. */
    readonly offset: number,
    /** Offset of the segment within the frame payload. */
    readonly position: number,
    readonly bytes: PayloadBytes,
    /** The final segment of the frame. */
    readonly last: boolean,
  ) {}

  get data(): Buffer {
    return this.bytes.all();
  }
}

/**
 * Collects one segment's bytes as they arrive. Pieces of at least MIN_VIEW_BYTES are kept as
 * views; smaller ones (a peer that writes a few bytes at a time) are copied together, so a
 * segment fed one byte at a time is a few buffers, not a view per byte.
 */
export class SegmentParts {
  private parts: Buffer[] = [];
  private small: Buffer | null = null;
  private smallUsed = 0;
  /** Index of the first part that may be lent (lent-bytes.ts), or -1. */
  private lentFrom = -1;
  length = 0;

  /** `room`: the bytes this segment may still take, this piece included. */
  add(piece: Buffer, room: number): void {
    this.length += piece.length;
    if (piece.length >= MIN_VIEW_BYTES) {
      this.closeSmall();
      if (this.lentFrom < 0 && isLent(piece)) this.lentFrom = this.parts.length;
      this.parts.push(piece);
      return;
    }
    if (this.small === null || this.small.length - this.smallUsed < piece.length) {
      this.closeSmall();
      this.small = Buffer.allocUnsafe(Math.min(SMALL_BLOCK_BYTES, Math.max(room, piece.length)));
    }
    copyInto(this.small, this.smallUsed, piece);
    this.smallUsed += piece.length;
    byteQueueWork.bytesCopied += piece.length;
  }

  /** The collected bytes, and a fresh start. */
  take(key: Buffer | null, keyIndex: number): PayloadBytes {
    this.closeSmall();
    const out = new PayloadBytes(this.parts, this.length, key, keyIndex);
    this.parts = [];
    this.length = 0;
    this.lentFrom = -1;
    return out;
  }

  clear(): void {
    this.parts = [];
    this.small = null;
    this.smallUsed = 0;
    this.length = 0;
    this.lentFrom = -1;
  }

  /**
   * Called when the push that lent pieces ends with the segment still open: its lent parts are
   * copied into one buffer of its own. A segment that a push completes is handed on as views
   * and never copied; one that waits across pushes has each byte copied once at most.
   */
  keepLent(): void {
    if (this.lentFrom < 0) return;
    const own = joined(this.parts.splice(this.lentFrom));
    this.lentFrom = -1;
    byteQueueWork.bytesCopied += own.length;
    this.parts.push(own);
  }

  private closeSmall(): void {
    if (this.small === null) return;
    if (this.smallUsed > 0) this.parts.push(this.small.subarray(0, this.smallUsed));
    // What is left of the block stays usable for the next small pieces of this segment.
    this.small = this.smallUsed < this.small.length ? this.small.subarray(this.smallUsed) : null;
    this.smallUsed = 0;
  }
}

const MIN_VIEW_BYTES = 512;
const SMALL_BLOCK_BYTES = 4096;

/**
 * XORs `buf` in place with `key`, starting at key byte `keyIndex` (§5.3). Short buffers (what
 * `--payload head` and notes read: 33 or 256 bytes) go byte by byte, four at a time with the
 * key bytes in locals: the typed-array views the word loop needs cost more than such a buffer's
 * XOR (1.1 µs for 33 bytes, most of a masked frame's decoding). Longer ones run as 32-bit
 * words on an aligned view, the key word built for the machine's byte order.
 */
export function xorMask(buf: Buffer, key: Buffer, keyIndex: number): void {
  const end = buf.length;
  let i = 0;
  if (end >= WORD_XOR_MIN_BYTES) {
    const head = (4 - (buf.byteOffset & 3)) & 3;
    for (; i < head; i++) buf[i] = buf[i]! ^ key[(keyIndex + i) & 3]!;
    const k = keyIndex + i;
    const b0 = key[k & 3]!, b1 = key[(k + 1) & 3]!, b2 = key[(k + 2) & 3]!, b3 = key[(k + 3) & 3]!;
    // The word whose bytes in memory are b0 b1 b2 b3.
    const keyWord = LITTLE_ENDIAN ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0 : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
    const words = (end - i) >>> 2;
    const view = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ keyWord;
    i += words * 4;
  } else {
    const k0 = key[keyIndex & 3]!, k1 = key[(keyIndex + 1) & 3]!, k2 = key[(keyIndex + 2) & 3]!, k3 = key[(keyIndex + 3) & 3]!;
    for (; i + 3 < end; i += 4) {
      buf[i] = buf[i]! ^ k0;
      buf[i + 1] = buf[i + 1]! ^ k1;
      buf[i + 2] = buf[i + 2]! ^ k2;
      buf[i + 3] = buf[i + 3]! ^ k3;
    }
  }
  for (; i < end; i++) buf[i] = buf[i]! ^ key[(keyIndex + i) & 3]!;
}

/** From this length on, xorMask works on 32-bit words. */
const WORD_XOR_MIN_BYTES = 512;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
