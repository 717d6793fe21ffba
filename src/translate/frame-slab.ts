/**
 * Frames the translation writes, carved out of shared slabs. A frame is its head and a payload
 * read a moment ago; joined in a buffer of its own, each message cost a JS allocation with a
 * backing store of its own (a Buffer above 4 KiB bypasses Node's pool), and those were most of
 * a translated stream's garbage collection. A slab is dropped once every frame carved from it
 * has been written and let go, as Node's own pool is.
 *
 * The frame stays one write, so it leaves in TLS records of its own: python-kubernetes needs
 * each message apart from the next (src/proxy/socket-sides.ts `ownRecords`).
 */
const SLAB_BYTES = 256 * 1024;
/** Larger frames get a buffer of their own: a slab would hold few of them. */
const MAX_CARVED = SLAB_BYTES / 4;

let slab: Buffer | null = null;
let used = 0;

/** `head` then `body` in one buffer, carved from the current slab when it fits. */
export function joinFrame(head: Buffer, body: Uint8Array): Buffer {
  const n = head.length + body.length;
  let out: Buffer;
  if (n > MAX_CARVED) {
    out = Buffer.allocUnsafeSlow(n);
  } else {
    if (slab === null || SLAB_BYTES - used < n) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      used = 0;
    }
    out = slab.subarray(used, used + n);
    // Eight-byte aligned, as Node's pool keeps its slices.
    used += (n + 7) & ~7;
  }
  head.copy(out, 0);
  out.set(body, head.length);
  return out;
}
