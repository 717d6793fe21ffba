/** Ways to cut a buffer into the chunks a decoder is fed: at given offsets, bytewise, at random. */

/** `buf` cut at each of `cuts` (any order; repeats and offsets outside 1..length-1 are ignored). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const sorted = [...new Set(cuts)].filter((c) => c > 0 && c < buf.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...sorted, buf.length]) {
    out.push(buf.subarray(from, c));
    from = c;
  }
  return out;
}

export function oneByteAtATime(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

/** `buf` in pieces of sizes[0], sizes[1], … bytes (each at least 1), cycling through `sizes`. */
export function splitBySizes(buf: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** A small seeded PRNG (mulberry32), so random chunkings are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random chunking of `buf` with pieces of 1..maxPiece bytes. */
export function randomChunks(buf: Buffer, seed: number, maxPiece = 4096): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(rnd() * Math.min(maxPiece, buf.length - i));
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}
