/**
 * SPDY/3 name/value header blocks (SPDY/3 draft §2.6.10).
 *
 * A plain block is a count followed by length-prefixed names and values, all big-endian u32:
 *
 *   00 00 00 01  00 00 00 0a "streamtype"  00 00 00 05 "error"
 *
 * A value holding several values joins them with NUL. On the wire the block is deflated with
 * the SPDY/3 dictionary (§2.6.10.1) by ONE zlib stream per direction that lives as long as the
 * connection: each block is sync-flushed (it ends `00 00 FF FF`) and later blocks refer back to
 * earlier ones. So the inflater must see every block of its direction, in order, and once one
 * block fails nothing after it can be trusted.
 *
 * Node's zlib keeps no context across its synchronous calls, so this uses pako's streaming
 * `Inflate`, which is synchronous and keeps its window between `push` calls.
 */
import { Inflate, Z_SYNC_FLUSH } from 'pako';
import { AnomalyCode } from '../events/anomaly-codes.js';
import { MAX_SPDY_HEADER_BLOCK_BYTES } from './limits.js';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';

/** Names as on the wire; values split on NUL (SPDY/3 §2.6.10). */
export type SpdyHeaders = [name: string, values: string[]][];

export type InflateResult =
  | { ok: true; headers: SpdyHeaders; inflatedBytes: number }
  | { ok: false; code: AnomalyCode; message: string };

/** Inflate output arrives in pieces of this size, so a bomb overshoots the cap by at most this. */
const INFLATE_CHUNK_BYTES = 16 * 1024;

/** Thrown from `onData` to stop pako in the middle of a block that inflates past the cap. */
class BlockTooLarge extends Error {}

/**
 * Inflates the header blocks of one direction of one connection, in order.
 * Use one per direction: the zlib stream spans all header blocks of that direction.
 */
export class SpdyHeaderBlockInflater {
  private readonly maxBlockBytes: number;
  private readonly inflater: Inflate;
  private pieces: Uint8Array[] = [];
  private blockBytes = 0;
  private failed = false;

  constructor(options: { maxBlockBytes?: number } = {}) {
    this.maxBlockBytes = options.maxBlockBytes ?? MAX_SPDY_HEADER_BLOCK_BYTES;
    // windowBits 15 without +32: zlib format only (§2.6.10.1), no gzip auto-detection.
    this.inflater = new Inflate({ windowBits: 15, dictionary: SPDY3_DICTIONARY, chunkSize: INFLATE_CHUNK_BYTES });
    this.inflater.onData = (piece) => {
      this.blockBytes += piece.length;
      if (this.blockBytes > this.maxBlockBytes) throw new BlockTooLarge();
      this.pieces.push(piece);
    };
  }

  /** True after any failure: the shared zlib context is gone, so every later block fails too. */
  get broken(): boolean {
    return this.failed;
  }

  inflate(block: Uint8Array): InflateResult {
    if (this.failed) return this.fail(AnomalyCode.SpdyZlib, 'header compression context lost');
    // A stream that ended (a Z_FINISH from the peer) cannot continue: SPDY never ends it.
    if (this.inflater.ended) return this.fail(AnomalyCode.SpdyZlib, 'header compression stream already ended');
    const plain = this.inflateBlock(block);
    if (!Buffer.isBuffer(plain)) return plain;
    const parsed = parseHeaderBlock(plain);
    // A block that does not parse most likely means we are out of step with the compressor.
    if (!parsed.ok) return this.fail(AnomalyCode.SpdyBadHeaderBlock, parsed.message);
    return { ok: true, headers: parsed.headers, inflatedBytes: plain.length };
  }

  private inflateBlock(block: Uint8Array): Buffer | InflateResult {
    this.pieces = [];
    this.blockBytes = 0;
    let ok: boolean;
    try {
      ok = this.inflater.push(block, Z_SYNC_FLUSH);
    } catch (err) {
      this.pieces = [];
      if (err instanceof BlockTooLarge) {
        return this.fail(
          AnomalyCode.SpdyHeaderBomb,
          `a ${block.length}-byte header block inflates past ${this.maxBlockBytes} bytes; stopped`,
        );
      }
      return this.fail(AnomalyCode.SpdyZlib, `header block does not inflate: ${String(err)}`);
    }
    if (!ok) return this.fail(AnomalyCode.SpdyZlib, `header block does not inflate: ${this.inflater.msg}`);
    const plain = Buffer.concat(this.pieces, this.blockBytes);
    this.pieces = [];
    return plain;
  }

  private fail(code: AnomalyCode, message: string): InflateResult {
    this.failed = true;
    return { ok: false, code, message };
  }
}

/**
 * Parses a plain (inflated) block: count(32), then count × [len(32) name len(32) value]
 * (SPDY/3 §2.6.10). Lengths are checked against the bytes present before anything is read,
 * so a hostile count or length costs nothing.
 */
export function parseHeaderBlock(plain: Buffer): { ok: true; headers: SpdyHeaders } | { ok: false; message: string } {
  if (plain.length < 4) return { ok: false, message: `header block of ${plain.length} bytes has no pair count` };
  const count = plain.readUInt32BE(0);
  // Every pair takes at least 8 bytes (two empty lengths); never trust the count beyond that.
  if (count > (plain.length - 4) / 8) {
    return { ok: false, message: `header block claims ${count} pairs but has only ${plain.length - 4} bytes for them` };
  }
  const headers: SpdyHeaders = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const name = readString(plain, at);
    if (name === null) return { ok: false, message: `header ${i}: name runs past the end of the block` };
    const value = readString(plain, name.next);
    if (value === null) return { ok: false, message: `header ${i} (${name.text}): value runs past the end of the block` };
    headers.push([name.text, value.text.split('\0')]);
    at = value.next;
  }
  if (at !== plain.length) return { ok: false, message: `${plain.length - at} bytes after the last of ${count} headers` };
  return { ok: true, headers };
}

function readString(buf: Buffer, at: number): { text: string; next: number } | null {
  if (at + 4 > buf.length) return null;
  const length = buf.readUInt32BE(at);
  const end = at + 4 + length;
  if (end > buf.length) return null;
  return { text: buf.toString('utf8', at + 4, end), next: end };
}

/** The first value of `name`, matched case-insensitively (Go canonicalises, spdystream lower-cases). */
export function headerLookup(headers: SpdyHeaders, name: string): string | null {
  const wanted = name.toLowerCase();
  for (const [n, values] of headers) {
    if (n.toLowerCase() === wanted) return values[0] ?? null;
  }
  return null;
}
