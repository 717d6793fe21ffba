/**
 * SPDY/3 frame decoder (SPDY/3 draft §2.2 framing, §2.6 control frames).
 *
 * Every frame starts with 8 bytes; the top bit says which kind:
 *
 *   control  [1|version(15)][type(16)][flags(8)][length(24)] body
 *   data     [0|streamId(31)][flags(8)][length(24)]          payload
 *
 * For example kubectl's stdin EOF on stream 3 is `00 00 00 03 01 00 00 00` (DATA, FIN, no
 * payload) and a PING with id 1 is `80 03 00 06 00 00 00 04 00 00 00 01`.
 *
 * Control frames are small and are held whole, then parsed (bounded by
 * MAX_SPDY_CONTROL_FRAME_BYTES). DATA payload streams through: the handler hears of the frame as
 * soon as its header is read, then gets segments that end at the frame end or at each multiple of
 * PAYLOAD_SEGMENT_BYTES from the start of the payload. Segment edges never depend on how the input
 * was chunked, so the handler calls are the same for any split of the same bytes.
 *
 * The decoder tolerates what an endpoint would reject (bad version, unknown type, odd lengths):
 * it reports an anomaly and carries on. Header blocks are handed on compressed; inflating them
 * needs one zlib context per direction, which is SpdyHeaderBlockInflater's job.
 */
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { Anomaly } from './anomaly.js';
import { ByteQueue } from './byte-queue.js';
import { MAX_SPDY_CONTROL_FRAME_BYTES, PAYLOAD_SEGMENT_BYTES } from './limits.js';
import { PayloadBytes, PayloadSegment, SegmentParts } from './payload-bytes.js';

export const SpdyFrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
  CREDENTIAL: 10,
} as const;

/** SPDY/3 §2.6.3 RST_STREAM status codes. */
export const SPDY_RST_STATUS: Record<number, string> = {
  1: 'PROTOCOL_ERROR',
  2: 'INVALID_STREAM',
  3: 'REFUSED_STREAM',
  4: 'UNSUPPORTED_VERSION',
  5: 'CANCEL',
  6: 'INTERNAL_ERROR',
  7: 'FLOW_CONTROL_ERROR',
  8: 'STREAM_IN_USE',
  9: 'STREAM_ALREADY_CLOSED',
  10: 'INVALID_CREDENTIALS',
  11: 'FRAME_TOO_LARGE',
};

/** SPDY/3 §2.6.6 GOAWAY status codes. */
export const SPDY_GOAWAY_STATUS: Record<number, string> = {
  0: 'OK',
  1: 'PROTOCOL_ERROR',
  2: 'INTERNAL_ERROR',
};

interface ControlBase {
  /** Stream offset of the frame's first byte. */
  offset: number;
  version: number;
  flags: number;
  /** The 24-bit length field: bytes after the 8-byte header. */
  length: number;
}

export type SpdyControlFrame =
  | (ControlBase & {
      type: 'SYN_STREAM';
      streamId: number;
      assocStreamId: number;
      priority: number;
      slot: number;
      fin: boolean;
      unidirectional: boolean;
      headerBlock: Buffer;
    })
  | (ControlBase & { type: 'SYN_REPLY'; streamId: number; fin: boolean; headerBlock: Buffer })
  | (ControlBase & { type: 'RST_STREAM'; streamId: number; statusCode: number })
  | (ControlBase & { type: 'SETTINGS'; clearSettings: boolean; entries: { flags: number; id: number; value: number }[] })
  | (ControlBase & { type: 'PING'; pingId: number })
  | (ControlBase & { type: 'GOAWAY'; lastGoodStreamId: number; statusCode: number })
  | (ControlBase & { type: 'HEADERS'; streamId: number; fin: boolean; headerBlock: Buffer })
  | (ControlBase & { type: 'WINDOW_UPDATE'; streamId: number; deltaWindowSize: number })
  | (ControlBase & { type: 'CREDENTIAL'; body: Buffer })
  | (ControlBase & { type: 'UNKNOWN'; typeCode: number; body: Buffer });

export interface SpdyDataFrameHeader {
  offset: number;
  streamId: number;
  flags: number;
  fin: boolean;
  length: number;
}

export interface SpdyDataSegment {
  readonly frame: SpdyDataFrameHeader;
  /** Stream offset of the segment's first byte. */
  readonly offset: number;
  /** Position of the segment's first byte within the frame payload. */
  readonly position: number;
  /** The payload as views of the pushed chunks, gathered only when read (payload-bytes.ts). */
  readonly bytes: PayloadBytes;
  /** All of `bytes` in one buffer. May be a view of a pushed chunk: read it, do not write it. */
  readonly data: Buffer;
  /** True when the segment ends the frame payload. */
  readonly last: boolean;
}

export interface SpdyFrameHandler {
  /** A whole control frame. Buffers in it may be views of the pushed chunks. */
  control(frame: SpdyControlFrame): void;
  /** As soon as the 8-byte DATA header is read. */
  dataFrame(header: SpdyDataFrameHeader): void;
  data(segment: SpdyDataSegment): void;
  /** After the last segment; also for empty DATA frames (FIN-only), which get no `data` call. */
  dataEnd(header: SpdyDataFrameHeader): void;
  anomaly(anomaly: Anomaly): void;
}

const FRAME_HEADER_BYTES = 8;
const CONTROL_FLAG_FIN = 0x01;
const CONTROL_FLAG_UNIDIRECTIONAL = 0x02;
const SETTINGS_FLAG_CLEAR = 0x01;
const DATA_FLAG_FIN = 0x01;
const SPDY_VERSION = 3;
const U31 = 0x7fffffff;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(SpdyFrameType).map(([name, code]) => [code, name]),
);

/** `SYN_STREAM`, …, or `UNKNOWN(5)` for a type SPDY/3 does not define. */
export function spdyFrameTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `UNKNOWN(${type})`;
}

// Parser states, numbered as in the `run` loop.
const FRAME_HEADER = 0;
const CONTROL_BODY = 1;
const SKIP_CONTROL = 2;
const DATA_PAYLOAD = 3;
const OPAQUE = 4;
type State = typeof FRAME_HEADER | typeof CONTROL_BODY | typeof SKIP_CONTROL | typeof DATA_PAYLOAD | typeof OPAQUE;

interface PendingControl {
  offset: number;
  version: number;
  type: number;
  flags: number;
  length: number;
}

export class SpdyFrameDecoder {
  private readonly handler: SpdyFrameHandler;
  private readonly queue = new ByteQueue();
  private state: State = FRAME_HEADER;
  /** Stream offset just past the last byte pushed. */
  private pushedTo: number;
  private control: PendingControl | null = null;
  private skipLeft = 0;
  /** Start offset and total size (header included) of the frame being read, for truncation reports. */
  private frameOffset = 0;
  private frameBytes = 0;
  private dataHeader: SpdyDataFrameHeader | null = null;
  private dataPosition = 0;
  /** A segment that spans pushed chunks, collected as views (as WebSocketFrameDecoder does). */
  private readonly parts = new SegmentParts();

  constructor(handler: SpdyFrameHandler, options: { startOffset?: number } = {}) {
    this.handler = handler;
    this.pushedTo = options.startOffset ?? 0;
  }

  /** Stream offset just past the last byte pushed. */
  get offset(): number {
    return this.pushedTo;
  }

  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** True once the decoder stopped interpreting this direction. */
  get opaque(): boolean {
    return this.state === OPAQUE;
  }

  push(chunk: Uint8Array): void {
    this.pushedTo += chunk.length;
    if (this.state === OPAQUE) return;
    this.queue.push(chunk);
    this.run();
    this.queue.keepLent();
  }

  /** The direction ended. Inside a frame that is a truncation, which makes the decoder opaque. */
  end(): void {
    if (this.state === OPAQUE) return;
    if (this.state === FRAME_HEADER && this.queue.length === 0) return;
    const inHeader = this.state === FRAME_HEADER;
    const offset = inHeader ? this.position : this.frameOffset;
    const seen = this.pushedTo - offset;
    const what = inHeader ? 'an 8-byte frame header' : `a ${this.frameBytes}-byte frame`;
    this.flushPartial();
    this.queue.clear();
    this.goOpaque(AnomalyCode.Truncated, offset, `direction ended ${seen} bytes into ${what}`);
  }

  private run(): void {
    for (;;) {
      let progressed: boolean;
      switch (this.state) {
        case FRAME_HEADER:
          progressed = this.readFrameHeader();
          break;
        case CONTROL_BODY:
          progressed = this.readControlBody();
          break;
        case SKIP_CONTROL:
          progressed = this.skipControl();
          break;
        case DATA_PAYLOAD:
          progressed = this.readDataPayload();
          break;
        default:
          return;
      }
      if (!progressed) return;
    }
  }

  /** Stream offset of the first byte still queued. */
  private get position(): number {
    return this.pushedTo - this.queue.length;
  }

  // State 0: the 8-byte frame header (SPDY/3 §2.2).
  private readFrameHeader(): boolean {
    if (this.queue.length < FRAME_HEADER_BYTES) return false;
    const offset = this.position;
    const h = this.queue.take(FRAME_HEADER_BYTES);
    const flags = h[4]!;
    const length = h.readUIntBE(5, 3);
    this.frameOffset = offset;
    this.frameBytes = FRAME_HEADER_BYTES + length;
    if ((h[0]! & 0x80) === 0) {
      this.startData({ offset, streamId: h.readUInt32BE(0) & U31, flags, fin: (flags & DATA_FLAG_FIN) !== 0, length });
    } else {
      this.startControl({ offset, version: h.readUInt16BE(0) & 0x7fff, type: h.readUInt16BE(2), flags, length });
    }
    return true;
  }

  private startData(header: SpdyDataFrameHeader): void {
    this.handler.dataFrame(header);
    if (header.length === 0) {
      this.handler.dataEnd(header);
      return;
    }
    this.dataHeader = header;
    this.dataPosition = 0;
    this.state = DATA_PAYLOAD;
  }

  private startControl(c: PendingControl): void {
    // §2.2.1 defines version 3 only, but spdystream reads any version; so report and parse anyway.
    if (c.version !== SPDY_VERSION) {
      this.anomaly(AnomalyCode.SpdyBadVersion, c.offset, `control frame version ${c.version}, expected ${SPDY_VERSION}`);
    }
    if (c.length > MAX_SPDY_CONTROL_FRAME_BYTES) {
      this.anomaly(
        AnomalyCode.SpdyBadFrameLength,
        c.offset,
        `${spdyFrameTypeName(c.type)} frame of ${c.length} bytes is over the ${MAX_SPDY_CONTROL_FRAME_BYTES}-byte bound; skipped`,
      );
      this.skipLeft = c.length;
      this.state = SKIP_CONTROL;
      return;
    }
    this.control = c;
    this.state = CONTROL_BODY;
  }

  // State 1: a control frame body, held whole.
  private readControlBody(): boolean {
    const c = this.control!;
    if (this.queue.length < c.length) return false;
    const body = this.queue.take(c.length);
    this.control = null;
    this.state = FRAME_HEADER;
    const frame = this.parseControl(c, body);
    if (frame !== null) this.handler.control(frame);
    return true;
  }

  // State 2: an oversize control frame, dropped as it arrives.
  private skipControl(): boolean {
    if (this.queue.length === 0) return false;
    const n = Math.min(this.skipLeft, this.queue.length);
    this.queue.skip(n);
    this.skipLeft -= n;
    if (this.skipLeft === 0) this.state = FRAME_HEADER;
    return true;
  }

  // State 3: DATA payload, one whole segment at a time so edges are independent of chunking.
  private readDataPayload(): boolean {
    const frame = this.dataHeader!;
    const position = this.dataPosition;
    const segmentEnd = Math.min(frame.length, position - (position % PAYLOAD_SEGMENT_BYTES) + PAYLOAD_SEGMENT_BYTES);
    const need = segmentEnd - position;
    if (this.queue.length < need) return false;
    const offset = this.position;
    // Not copied into one buffer: most readers look at a few bytes of bulk payload, if any.
    const bytes = this.takeBytes(need);
    const last = segmentEnd === frame.length;
    this.dataPosition = segmentEnd;
    this.handler.data(new PayloadSegment(frame, offset, position, bytes, last));
    if (last) {
      this.dataHeader = null;
      this.state = FRAME_HEADER;
      this.handler.dataEnd(frame);
    }
    return true;
  }

  private parseControl(c: PendingControl, body: Buffer): SpdyControlFrame | null {
    const base = { offset: c.offset, version: c.version, flags: c.flags, length: c.length };
    const fin = (c.flags & CONTROL_FLAG_FIN) !== 0;
    const short = (min: number, exact: boolean): boolean => {
      if (exact ? body.length === min : body.length >= min) return false;
      const want = exact ? `exactly ${min}` : `at least ${min}`;
      this.anomaly(
        AnomalyCode.SpdyBadFrameLength,
        c.offset,
        `${spdyFrameTypeName(c.type)} length ${c.length}, the type needs ${want}; frame skipped`,
      );
      return true;
    };
    switch (c.type) {
      case SpdyFrameType.SYN_STREAM: // §2.6.1: stream, assoc, pri(3)+unused(5), slot, header block
        if (short(10, false)) return null;
        return {
          ...base,
          type: 'SYN_STREAM',
          streamId: body.readUInt32BE(0) & U31,
          assocStreamId: body.readUInt32BE(4) & U31,
          priority: body[8]! >> 5,
          slot: body[9]!,
          fin,
          unidirectional: (c.flags & CONTROL_FLAG_UNIDIRECTIONAL) !== 0,
          headerBlock: body.subarray(10),
        };
      case SpdyFrameType.SYN_REPLY: // §2.6.2
        if (short(4, false)) return null;
        return { ...base, type: 'SYN_REPLY', streamId: body.readUInt32BE(0) & U31, fin, headerBlock: body.subarray(4) };
      case SpdyFrameType.RST_STREAM: // §2.6.3: "this value is always 8"
        if (short(8, true)) return null;
        return { ...base, type: 'RST_STREAM', streamId: body.readUInt32BE(0) & U31, statusCode: body.readUInt32BE(4) };
      case SpdyFrameType.SETTINGS:
        return this.parseSettings(c, body);
      case SpdyFrameType.PING: // §2.6.5: "always 4"
        if (short(4, true)) return null;
        return { ...base, type: 'PING', pingId: body.readUInt32BE(0) };
      case SpdyFrameType.GOAWAY: // §2.6.6: "always 8" (SPDY/2's was 4)
        if (short(8, true)) return null;
        return { ...base, type: 'GOAWAY', lastGoodStreamId: body.readUInt32BE(0) & U31, statusCode: body.readUInt32BE(4) };
      case SpdyFrameType.HEADERS: // §2.6.7
        if (short(4, false)) return null;
        return { ...base, type: 'HEADERS', streamId: body.readUInt32BE(0) & U31, fin, headerBlock: body.subarray(4) };
      case SpdyFrameType.WINDOW_UPDATE: // §2.6.8: "always 8"; the delta is 31 bits
        if (short(8, true)) return null;
        return {
          ...base,
          type: 'WINDOW_UPDATE',
          streamId: body.readUInt32BE(0) & U31,
          deltaWindowSize: body.readUInt32BE(4) & U31,
        };
      case SpdyFrameType.CREDENTIAL: // §2.6.9: slot, proof and certificates; kept raw
        return { ...base, type: 'CREDENTIAL', body };
      default:
        this.anomaly(AnomalyCode.SpdyUnknownFrame, c.offset, `control frame type ${c.type} is not defined by SPDY/3`);
        return { ...base, type: 'UNKNOWN', typeCode: c.type, body };
    }
  }

  // §2.6.4: count(32), then count × [flags(8) | id(24)][value(32)]; the length must match the count.
  private parseSettings(c: PendingControl, body: Buffer): SpdyControlFrame | null {
    const count = body.length >= 4 ? body.readUInt32BE(0) : -1;
    if (count < 0 || (body.length - 4) / 8 !== count) {
      const what = count < 0 ? 'no entry count' : `${count} entries`;
      this.anomaly(AnomalyCode.SpdyBadFrameLength, c.offset, `SETTINGS length ${c.length} does not fit ${what}; frame skipped`);
      return null;
    }
    const entries: { flags: number; id: number; value: number }[] = [];
    for (let at = 4; at < body.length; at += 8) {
      entries.push({ flags: body[at]!, id: body.readUIntBE(at + 1, 3), value: body.readUInt32BE(at + 4) });
    }
    const clearSettings = (c.flags & SETTINGS_FLAG_CLEAR) !== 0;
    return { offset: c.offset, version: c.version, flags: c.flags, length: c.length, type: 'SETTINGS', clearSettings, entries };
  }

  /** At end of input, hands on a held partial DATA segment so no received byte goes unreported. */
  private flushPartial(): void {
    if (this.state !== DATA_PAYLOAD || this.queue.length === 0) return;
    const frame = this.dataHeader!;
    const offset = this.position;
    const position = this.dataPosition;
    const bytes = this.takeBytes(this.queue.length);
    this.dataPosition += bytes.length;
    this.handler.data(new PayloadSegment(frame, offset, position, bytes, false));
  }

  /** The next `n` queued bytes (n <= queued) as views of the chunks they lie in. */
  private takeBytes(n: number): PayloadBytes {
    if (this.queue.headLength >= n) return new PayloadBytes([this.queue.take(n)], n);
    const parts = this.parts;
    let room = n;
    this.queue.takeEach(n, (piece) => {
      parts.add(piece, room);
      room -= piece.length;
    });
    return parts.take(null, 0);
  }

  private anomaly(code: AnomalyCode, offset: number, message: string): void {
    this.handler.anomaly({ offset, code, message, opaque: false });
  }

  private goOpaque(code: AnomalyCode, offset: number, message: string): void {
    this.state = OPAQUE;
    this.handler.anomaly({ offset, code, message, opaque: true });
  }
}
