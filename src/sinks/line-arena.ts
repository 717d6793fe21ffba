/**
 * Memory for log lines on their way to disk: 1 MiB slabs that lines are written into back to
 * back, and that are used again once every line in them was written.
 *
 * Why not a fresh Buffer per line: for a 44 KB line of base64 payload, getting fresh memory (new
 * pages, and the garbage collector's accounting of external memory) costs more than writing the
 * line into it; a slab that was used before is already mapped and, often, still in cache. And
 * lines written one after the other into one slab form one contiguous range, which the writer
 * hands to the kernel as one piece (see `coalesce`).
 *
 * The owner must `release` each line once the write that took it completed (or the line was
 * dropped), and never touch it afterwards: its bytes are then overwritten by later lines.
 */
export const LINE_SLAB_BYTES = 1024 * 1024;
/** Free slabs kept for reuse; more are left to the garbage collector. */
const KEEP_FREE_SLABS = 4;

interface Slab {
  readonly buf: Buffer;
  /** Bytes handed out so far. */
  used: number;
  /** Lines handed out and not yet released. */
  live: number;
}

export class LineArena {
  private current: Slab | null = null;
  private readonly free: Slab[] = [];
  private slabs = new Map<ArrayBufferLike, Slab>();

  constructor(private readonly slabBytes: number = LINE_SLAB_BYTES) {}

  /** `n` bytes to fill, right after the previous line when it fits in the same slab. */
  alloc(n: number): Buffer {
    // A line longer than a slab gets memory of its own, which the garbage collector reclaims.
    if (n > this.slabBytes) return Buffer.allocUnsafeSlow(n);
    let s = this.current;
    // Every line of the current slab is written: start it over, while it is still in cache.
    if (s && s.live === 0) s.used = 0;
    if (!s || s.used + n > s.buf.length) {
      // The old slab comes back through `release` of its last line.
      s = this.free.pop() ?? this.newSlab();
      s.used = 0;
      this.current = s;
    }
    const out = s.buf.subarray(s.used, s.used + n);
    s.used += n;
    s.live++;
    return out;
  }

  /** The line was written (or will never be): its memory may be reused. */
  release(line: Buffer): void {
    const s = this.slabs.get(line.buffer);
    if (!s || s.live === 0) return;
    s.live--;
    if (s.live > 0 || s === this.current) return;
    if (this.free.length < KEEP_FREE_SLABS) this.free.push(s);
    else this.slabs.delete(s.buf.buffer);
  }

  /**
   * Forgets every slab, after the owner dropped the lines it held (a failed log): later
   * `release` calls for them do nothing, and their memory goes to the garbage collector.
   */
  reset(): void {
    this.slabs = new Map();
    this.free.length = 0;
    this.current = null;
  }

  private newSlab(): Slab {
    // allocUnsafeSlow: an ArrayBuffer of its own, never a slice of Node's shared pool, so that
    // `line.buffer` names the slab.
    const slab: Slab = { buf: Buffer.allocUnsafeSlow(this.slabBytes), used: 0, live: 0 };
    this.slabs.set(slab.buf.buffer, slab);
    return slab;
  }
}

/**
 * The buffers of a batch with neighbours merged: lines that lie back to back in one slab become
 * one view, so a batch is one or two ranges for `writev` instead of one per line.
 */
export function coalesce(lines: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let first: Buffer | null = null;
  let end = 0;
  const push = (): void => {
    if (!first) return;
    out.push(end === first.byteOffset + first.length ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset));
  };
  for (const line of lines) {
    if (line.length === 0) continue;
    if (first && first.buffer === line.buffer && end === line.byteOffset) {
      end += line.length;
      continue;
    }
    push();
    first = line;
    end = line.byteOffset + line.length;
  }
  push();
  return out;
}
