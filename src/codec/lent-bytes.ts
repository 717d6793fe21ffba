/**
 * Lent bytes: a chunk that lies in shared memory belongs to the relay's ring
 * (src/observer/copy-ring.ts) and is the decoder's only for the push it came in; the ring's
 * room is written over once the push returns. The observer decodes straight out of the ring,
 * so copying each batch out of it (and allocating, and collecting, a buffer for it) is
 * paid only for the few bytes a decoder keeps past a push: a header cut in two, a payload
 * segment still growing, client bytes that wait for the server's answer.
 *
 * Every place that keeps a pushed view past the push keeps `keep(view)` instead, and a
 * ByteQueue or a segment's parts copy what they still hold of lent chunks, joined (`joined`),
 * when their decoder's push ends (ByteQueue#keepLent, SegmentParts#keepLent). A chunk in ordinary memory is the caller's to leave alone, as before,
 * and is kept as a view. test/codec/borrowed-input.test.ts holds every decoder to this: each
 * vector pushed from shared memory that is overwritten after every push decodes the same.
 */
/** True when `bytes` lie in shared memory, so are lent for the call only. */
export function isLent(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof SharedArrayBuffer;
}

/** `view` itself, or a copy of it of the caller's own when it is lent. */
export function keep(view: Buffer): Buffer {
  return isLent(view) && view.length > 0 ? joined([view]) : view;
}

/** `pieces` copied, in order, into one buffer of the caller's own. */
export function joined(pieces: readonly Buffer[]): Buffer {
  let n = 0;
  for (const p of pieces) n += p.length;
  const own = Buffer.allocUnsafe(n);
  let at = 0;
  for (const p of pieces) {
    copyInto(own, at, p);
    at += p.length;
  }
  return own;
}

/**
 * `source` into `target` at `at`. Not `copy` or `set`: V8 copies to or from shared memory with
 * relaxed atomic stores, byte by byte when the offsets are not aligned, about 5× slower than a
 * memcpy (260 against 48 µs per MiB here); `fill` with a buffer exactly as long as the span
 * copies it once, with Node's memcpy.
 */
export function copyInto(target: Buffer, at: number, source: Buffer): void {
  if (source.length === 0) return;
  target.fill(source, at, at + source.length);
}
