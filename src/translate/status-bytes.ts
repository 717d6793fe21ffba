/**
 * A status (the error stream's JSON or text) held by a bridge until it is whole: its first
 * MAX_STATUS_BYTES, copied as they come. What comes past the limit is cut off, never spliced
 * in after a piece that did not fit: a kubelet's status is well under 4 KiB, so a longer one is
 * kept as its head, as the decoders keep it (codec/limits.ts).
 */
import { MAX_STATUS_BYTES } from '../codec/limits.js';

export class StatusBytes {
  private parts: Buffer[] = [];
  private kept = 0;
  private full = false;

  push(data: Uint8Array): void {
    if (this.full || data.length === 0) return;
    const room = MAX_STATUS_BYTES - this.kept;
    if (data.length >= room) this.full = true;
    const take = data.length > room ? data.subarray(0, room) : data;
    if (take.length === 0) return;
    this.parts.push(Buffer.from(take));
    this.kept += take.length;
  }

  /** Bytes kept so far. */
  get length(): number {
    return this.kept;
  }

  /** What was kept, joined; the holder is empty afterwards. */
  take(): Buffer {
    const all = Buffer.concat(this.parts);
    this.parts = [];
    this.kept = 0;
    this.full = false;
    return all;
  }
}
