/**
 * SPDY/3 frame and header block encoders, for tests and the demo server.
 *
 * Frames are the 8-byte header of SPDY/3 draft §2.2 plus a body; for example
 * `encodeRstStream(1, 5)` is `80 03 00 03 00 00 00 08 00 00 00 01 00 00 00 05`
 * (control, version 3, RST_STREAM, no flags, length 8, stream 1, CANCEL).
 *
 * Header blocks (§2.6.10) are deflated by one persistent zlib stream per direction with the
 * SPDY/3 dictionary, sync-flushed after each block, exactly as spdystream does.
 */
import { Deflate, Z_SYNC_FLUSH } from 'pako';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';
import { SpdyFrameType } from './spdy-frame.js';

const MAX_LENGTH = 0xffffff;
const U31 = 0x7fffffff;
const FLAG_FIN = 0x01;
const FLAG_UNIDIRECTIONAL = 0x02;
const FLAG_CLEAR_SETTINGS = 0x01;

/** One per direction: later blocks refer back to earlier ones through the shared zlib window. */
export class SpdyHeaderBlockDeflater {
  private readonly deflater: Deflate;
  private pieces: Uint8Array[] = [];

  constructor() {
    // Level 9 as Go's BestCompression in spdystream, so the first block opens `78 F9 E3 C6 A7 C2`.
    this.deflater = new Deflate({ level: 9, dictionary: SPDY3_DICTIONARY });
    this.deflater.onData = (piece) => {
      this.pieces.push(piece);
    };
  }

  deflate(headers: [string, string | string[]][]): Buffer {
    this.pieces = [];
    if (!this.deflater.push(encodePlainHeaderBlock(headers), Z_SYNC_FLUSH)) {
      throw new Error(`header block deflate failed: ${this.deflater.msg}`);
    }
    const out = Buffer.concat(this.pieces);
    this.pieces = [];
    return out;
  }
}

/** The plain block: count, then length-prefixed names and NUL-joined values (§2.6.10). */
function encodePlainHeaderBlock(headers: [string, string | string[]][]): Buffer {
  const parts: Buffer[] = [u32(headers.length)];
  for (const [name, value] of headers) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(Array.isArray(value) ? value.join('\0') : value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

export function encodeControlFrame(type: number, flags: number, body: Uint8Array, version = 3): Buffer {
  if (body.length > MAX_LENGTH) throw new RangeError(`control frame body of ${body.length} bytes exceeds 24 bits`);
  const frame = Buffer.allocUnsafe(8 + body.length);
  frame.writeUInt16BE(0x8000 | (version & 0x7fff), 0);
  frame.writeUInt16BE(type & 0xffff, 2);
  frame[4] = flags & 0xff;
  frame.writeUIntBE(body.length, 5, 3);
  frame.set(body, 8);
  return frame;
}

export function encodeSynStream(o: {
  streamId: number;
  assocStreamId?: number;
  priority?: number;
  slot?: number;
  fin?: boolean;
  unidirectional?: boolean;
  headerBlock: Uint8Array;
  version?: number;
}): Buffer {
  const head = Buffer.alloc(10);
  head.writeUInt32BE(o.streamId & U31, 0);
  head.writeUInt32BE((o.assocStreamId ?? 0) & U31, 4);
  head[8] = ((o.priority ?? 0) & 0x07) << 5;
  head[9] = (o.slot ?? 0) & 0xff;
  const flags = (o.fin ? FLAG_FIN : 0) | (o.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
  return encodeControlFrame(SpdyFrameType.SYN_STREAM, flags, Buffer.concat([head, o.headerBlock]), o.version);
}

export function encodeSynReply(o: { streamId: number; fin?: boolean; headerBlock: Uint8Array }): Buffer {
  const body = Buffer.concat([u32(o.streamId & U31), o.headerBlock]);
  return encodeControlFrame(SpdyFrameType.SYN_REPLY, o.fin ? FLAG_FIN : 0, body);
}

export function encodeRstStream(streamId: number, statusCode: number): Buffer {
  return encodeControlFrame(SpdyFrameType.RST_STREAM, 0, Buffer.concat([u32(streamId & U31), u32(statusCode)]));
}

export function encodeSettings(entries: { flags?: number; id: number; value: number }[], clear = false): Buffer {
  const body = Buffer.allocUnsafe(4 + 8 * entries.length);
  body.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    body[4 + 8 * i] = (e.flags ?? 0) & 0xff;
    body.writeUIntBE(e.id & 0xffffff, 5 + 8 * i, 3);
    body.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
  });
  return encodeControlFrame(SpdyFrameType.SETTINGS, clear ? FLAG_CLEAR_SETTINGS : 0, body);
}

export function encodePing(pingId: number): Buffer {
  return encodeControlFrame(SpdyFrameType.PING, 0, u32(pingId));
}

export function encodeGoaway(lastGoodStreamId: number, statusCode = 0): Buffer {
  return encodeControlFrame(SpdyFrameType.GOAWAY, 0, Buffer.concat([u32(lastGoodStreamId & U31), u32(statusCode)]));
}

export function encodeHeaders(o: { streamId: number; fin?: boolean; headerBlock: Uint8Array }): Buffer {
  const body = Buffer.concat([u32(o.streamId & U31), o.headerBlock]);
  return encodeControlFrame(SpdyFrameType.HEADERS, o.fin ? FLAG_FIN : 0, body);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  return encodeControlFrame(SpdyFrameType.WINDOW_UPDATE, 0, Buffer.concat([u32(streamId & U31), u32(delta & U31)]));
}

export function encodeDataFrame(streamId: number, payload: Uint8Array, fin = false): Buffer {
  const frame = Buffer.allocUnsafe(8 + payload.length);
  writeDataHead(frame, streamId, payload.length, fin);
  frame.set(payload, 8);
  return frame;
}

/** The 8 bytes of a DATA frame's header alone, for a payload sent after it as it is. */
export function encodeDataFrameHead(streamId: number, length: number, fin = false): Buffer {
  const head = Buffer.allocUnsafe(8);
  writeDataHead(head, streamId, length, fin);
  return head;
}

function writeDataHead(out: Buffer, streamId: number, length: number, fin: boolean): void {
  if (length > MAX_LENGTH) throw new RangeError(`DATA payload of ${length} bytes exceeds 24 bits`);
  out.writeUInt32BE(streamId & U31, 0);
  out[4] = fin ? FLAG_FIN : 0;
  out.writeUIntBE(length, 5, 3);
}
