/**
 * RFC 6455 frame decoder for an observer: sans-IO, incremental and tolerant.
 *
 * push() queues whatever TCP delivered; the parser walks numbered states (info byte pair,
 * 16- or 64-bit length, mask key, data) with one small method each, and calls the handler as
 * soon as a piece is known: frame() when the header is complete, payload() per segment,
 * frameEnd() after the last one. Segments end at the frame end or at each multiple of
 * PAYLOAD_SEGMENT_BYTES from the start of the payload, so the calls and every byte they carry
 * are the same however the input was chunked, and a frame of any size is held at most one
 * segment at a time. Where an endpoint would fail the connection this decoder reports an
 * Anomaly and reads on; only a length it cannot trust (§5.2) makes the direction opaque.
 *
 * Example, the masked "Hello" of RFC 6455 §5.7:
 *
 *   81            FIN=1, RSV=000, opcode 1 (text)
 *   85            MASK=1, payload length 5
 *   37 fa 21 3d   masking key
 *   7f 9f 4d 51 58  payload; byte i XOR key[i % 4] gives 48 65 6c 6c 6f, "Hello"
 *
 * → frame({ offset: 0, fin: true, opcode: 1, masked: true, length: 5, headerLength: 6, … }),
 *   payload({ offset: 6, position: 0, data: <"Hello">, last: true }), frameEnd(…).
 *
 * Payload is handed on as PayloadBytes: views of the pushed chunks, however many the segment
 * spans, unmasked only when and as far as a reader asks (`byteAt`, `head`, `all`), into a new
 * buffer, never in place, because the pushed bytes belong to the relay. `data` is all of it.
 */
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { Anomaly } from './anomaly.js';
import { ByteQueue } from './byte-queue.js';
import { PAYLOAD_SEGMENT_BYTES } from './limits.js';
import { PayloadBytes, PayloadSegment, SegmentParts } from './payload-bytes.js';

export const WsOpcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

type OpcodeName = 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong' | 'reserved';

const OPCODE_NAMES: Record<number, OpcodeName> = {
  0: 'continuation',
  1: 'text',
  2: 'binary',
  8: 'close',
  9: 'ping',
  10: 'pong',
};

export function wsOpcodeName(opcode: number): 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong' | 'reserved' {
  return OPCODE_NAMES[opcode] ?? 'reserved';
}

export interface WsFrameHeader {
  /** Offset of the frame's first byte in this decoder's input (startOffset + bytes before it). */
  offset: number;
  fin: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  rsv: number;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | null;
  /** Payload length; 64-bit lengths are accepted up to Number.MAX_SAFE_INTEGER. */
  length: number;
  /** 2..14 */
  headerLength: number;
  /**
   * Data frames: the opcode of the message the frame belongs to (a continuation carries the
   * opcode of its first frame, or Continuation when no message was open). Control and reserved
   * frames: their own opcode.
   */
  messageOpcode: number;
  /** A text or binary frame, which starts a message. */
  messageStart: boolean;
  /** A data frame with FIN, which ends its message. */
  messageEnd: boolean;
}

export interface WsPayloadSegment {
  readonly frame: WsFrameHeader;
  /** Input offset of the segment's first byte. */
  readonly offset: number;
  /** Offset of the segment within the frame payload. */
  readonly position: number;
  /** The payload bytes, unmasked as they are read (see the module note). */
  readonly bytes: PayloadBytes;
  /** All of `bytes`, unmasked. May be a view of a pushed chunk: read it, do not write it. */
  readonly data: Buffer;
  /** The final segment of the frame. */
  readonly last: boolean;
}

export interface WsFrameHandler {
  /** The header (mask key included) is parsed; no payload has been reported yet. */
  frame(header: WsFrameHeader): void;
  payload(segment: WsPayloadSegment): void;
  /** After the last segment; also for length-0 frames, which get no payload call. */
  frameEnd(header: WsFrameHeader): void;
  anomaly(anomaly: Anomaly): void;
}

export interface WebSocketFrameDecoderOptions {
  /** true for client-to-server, false for server-to-client, null or undefined: do not check. */
  expectMasked?: boolean | null;
  /** Offset of the first pushed byte (default 0). */
  startOffset?: number;
}

const GET_INFO = 0;
const GET_PAYLOAD_LENGTH_16 = 1;
const GET_PAYLOAD_LENGTH_64 = 2;
const GET_MASK = 3;
const GET_DATA = 4;
const OPAQUE = 5;

const NO_MESSAGE = -1;
const MAX_CONTROL_PAYLOAD = 125;
const EMPTY = Buffer.alloc(0);

export class WebSocketFrameDecoder {
  private readonly handler: WsFrameHandler;
  private readonly expectMasked: boolean | null;
  private readonly queue = new ByteQueue();
  private state = GET_INFO;
  private ended = false;
  /** startOffset + every byte pushed so far. */
  private inputEnd: number;
  /** Offset of the first byte of the frame being read (or of the next one). */
  private frameStart: number;

  // The header while it is being read.
  private fin = false;
  private rsv = 0;
  private opcode = 0;
  private masked = false;
  private length = 0;
  private headerLength = 2;

  // The frame whose payload is being read.
  private frame: WsFrameHeader | null = null;
  private position = 0;
  /** Bytes of the current segment taken so far. */
  private readonly held = new SegmentParts();
  private closePayload: Buffer = EMPTY;

  private openMessage = NO_MESSAGE;
  private closeSeen = false;
  private dataAfterCloseReported = false;
  private maskDirectionReported = false;

  constructor(handler: WsFrameHandler, options: WebSocketFrameDecoderOptions = {}) {
    this.handler = handler;
    this.expectMasked = options.expectMasked ?? null;
    this.inputEnd = options.startOffset ?? 0;
    this.frameStart = this.inputEnd;
  }

  /** Input offset of the next byte push() takes in: startOffset plus all bytes pushed. */
  get offset(): number {
    return this.inputEnd;
  }

  /** Pushed bytes not yet reported: an incomplete header or a partial payload segment. */
  get bufferedBytes(): number {
    return this.queue.length + this.held.length;
  }

  get opaque(): boolean {
    return this.state === OPAQUE;
  }

  push(chunk: Uint8Array): void {
    this.inputEnd += chunk.length;
    if (this.ended || this.state === OPAQUE) return;
    this.queue.push(chunk);
    this.run();
    this.queue.keepLent();
    this.held.keepLent();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.state === OPAQUE || (this.state === GET_INFO && this.queue.length === 0)) return;
    if (this.state !== GET_DATA) {
      const seen = this.inputEnd - this.frameStart;
      this.becomeOpaque(AnomalyCode.Truncated, `input ended inside a frame header, after ${seen} bytes of it`);
      return;
    }
    const frame = this.frame!;
    if (this.held.length > 0) {
      const end = this.position + this.held.length;
      this.emit(this.held.take(frame.maskKey, this.position & 3), end, false);
    }
    this.becomeOpaque(
      AnomalyCode.Truncated,
      `input ended after ${this.position} of ${frame.length} payload bytes of a ${wsOpcodeName(frame.opcode)} frame`,
    );
  }

  private run(): void {
    let more = true;
    while (more) {
      switch (this.state) {
        case GET_INFO:
          more = this.getInfo();
          break;
        case GET_PAYLOAD_LENGTH_16:
          more = this.getPayloadLength16();
          break;
        case GET_PAYLOAD_LENGTH_64:
          more = this.getPayloadLength64();
          break;
        case GET_MASK:
          more = this.getMask();
          break;
        case GET_DATA:
          more = this.getData();
          break;
        default:
          return;
      }
    }
  }

  private getInfo(): boolean {
    if (this.queue.length < 2) return false;
    const b0 = this.queue.peekByte(0);
    const b1 = this.queue.peekByte(1);
    this.queue.skip(2);
    this.fin = (b0 & 0x80) !== 0;
    this.rsv = (b0 >> 4) & 0x07;
    this.opcode = b0 & 0x0f;
    this.masked = (b1 & 0x80) !== 0;
    this.length = b1 & 0x7f;
    this.headerLength = this.masked ? 6 : 2;
    if (this.length === 126) {
      this.headerLength += 2;
      this.state = GET_PAYLOAD_LENGTH_16;
    } else if (this.length === 127) {
      this.headerLength += 8;
      this.state = GET_PAYLOAD_LENGTH_64;
    } else {
      this.afterLength();
    }
    return true;
  }

  private getPayloadLength16(): boolean {
    if (this.queue.length < 2) return false;
    // Two byte reads: no view or copy of them is needed.
    this.length = (this.queue.peekByte(0) << 8) | this.queue.peekByte(1);
    this.queue.skip(2);
    this.afterLength();
    return true;
  }

  private getPayloadLength64(): boolean {
    if (this.queue.length < 8) return false;
    const bytes = this.queue.take(8);
    const high = bytes.readUInt32BE(0);
    const low = bytes.readUInt32BE(4);
    // §5.2: "the most significant bit MUST be 0". Past 2^53 - 1 a number cannot count the
    // payload exactly. Either way the next frame's start is unknown, so framing stops here.
    if (high > 0x1fffff) {
      const value = (BigInt(high) << 32n) | BigInt(low);
      const why = high >= 0x80000000 ? 'has its most significant bit set (RFC 6455 §5.2)' : 'exceeds 2^53 - 1';
      this.becomeOpaque(
        AnomalyCode.WsBadLength,
        `64-bit payload length 0x${value.toString(16)} ${why}; the rest of this direction cannot be framed`,
      );
      return false;
    }
    this.length = high * 0x1_0000_0000 + low;
    this.afterLength();
    return true;
  }

  private afterLength(): void {
    if (this.masked) this.state = GET_MASK;
    else this.startFrame(null);
  }

  private getMask(): boolean {
    if (this.queue.length < 4) return false;
    this.startFrame(Buffer.from(this.queue.take(4)));
    return true;
  }

  private getData(): boolean {
    const frame = this.frame!;
    const length = frame.length;
    // Segment edges depend on the payload position only, never on how the input was cut.
    const segmentEnd = Math.min(length, this.position - (this.position % PAYLOAD_SEGMENT_BYTES) + PAYLOAD_SEGMENT_BYTES);
    const held = this.held;
    const need = segmentEnd - this.position - held.length;
    if (held.length === 0 && this.queue.headLength >= need) {
      // The whole segment lies in one chunk: one view, nothing to collect.
      this.emit(new PayloadBytes([this.queue.take(need)], need, frame.maskKey, this.position & 3), segmentEnd, segmentEnd === length);
      return true;
    }
    if (this.queue.length === 0) return false;
    const n = Math.min(this.queue.length, need);
    let room = need;
    this.queue.takeEach(n, (piece) => {
      held.add(piece, room);
      room -= piece.length;
    });
    if (n < need) return false;
    this.emit(held.take(frame.maskKey, this.position & 3), segmentEnd, segmentEnd === length);
    return true;
  }

  private startFrame(maskKey: Buffer | null): void {
    const opcode = this.opcode;
    const header: WsFrameHeader = {
      offset: this.frameStart,
      fin: this.fin,
      rsv: this.rsv,
      opcode,
      masked: this.masked,
      maskKey,
      length: this.length,
      headerLength: this.headerLength,
      messageOpcode: opcode,
      messageStart: false,
      messageEnd: false,
    };
    this.checkHeader(header);
    if (opcode <= WsOpcode.Binary) this.placeInMessage(header);
    if (this.closeSeen && !this.dataAfterCloseReported) {
      this.dataAfterCloseReported = true;
      this.report(AnomalyCode.DataAfterClose, `${wsOpcodeName(opcode)} frame after this direction sent a close frame`);
    }
    if (opcode === WsOpcode.Close) this.closeSeen = true;

    this.frame = header;
    this.position = 0;
    this.closePayload = EMPTY;
    this.handler.frame(header);
    if (header.length === 0) this.finishFrame();
    else this.state = GET_DATA;
  }

  private checkHeader(h: WsFrameHeader): void {
    const name = wsOpcodeName(h.opcode);
    // §5.2: RSV bits are only meaningful with a negotiated extension; kubectl negotiates none.
    if (h.rsv !== 0) {
      this.report(AnomalyCode.WsRsvBits, `${name} frame has RSV bits ${h.rsv.toString(2).padStart(3, '0')} set without an extension that defines them`);
    }
    if (name === 'reserved') {
      this.report(AnomalyCode.WsReservedOpcode, `reserved opcode 0x${h.opcode.toString(16)}; its ${h.length} payload bytes are passed on unread`);
    }
    // §5.5: control frames are those with the opcode's high bit set, reserved ones included.
    if ((h.opcode & 0x08) !== 0) {
      if (h.length > MAX_CONTROL_PAYLOAD) {
        this.report(AnomalyCode.WsBadControlFrame, `${name} frame (opcode 0x${h.opcode.toString(16)}) carries ${h.length} payload bytes; control frames carry at most 125`);
      }
      if (!h.fin) {
        this.report(AnomalyCode.WsBadControlFrame, `${name} frame (opcode 0x${h.opcode.toString(16)}) has FIN clear; control frames cannot be fragmented`);
      }
    }
    // §5.1: a client masks every frame, a server masks none.
    if (this.expectMasked !== null && h.masked !== this.expectMasked && !this.maskDirectionReported) {
      this.maskDirectionReported = true;
      const what = this.expectMasked ? 'is not masked, but clients must mask every frame' : 'is masked, but servers must not mask';
      this.report(AnomalyCode.WsMaskDirection, `${name} frame ${what} (reported once per direction)`);
    }
  }

  /** §5.4: fragments of one message come in order, with only control frames between them. */
  private placeInMessage(h: WsFrameHeader): void {
    const open = this.openMessage;
    if (h.opcode === WsOpcode.Continuation) {
      if (open === NO_MESSAGE) {
        this.report(AnomalyCode.WsBadFragmentation, 'continuation frame with no fragmented message open');
      }
      // A stray continuation without FIN opens a message of unknown type, so the rest of it
      // is not reported again.
      h.messageOpcode = open === NO_MESSAGE ? WsOpcode.Continuation : open;
    } else {
      if (open !== NO_MESSAGE) {
        this.report(
          AnomalyCode.WsBadFragmentation,
          `${wsOpcodeName(h.opcode)} frame starts a new message while a fragmented ${wsOpcodeName(open)} message is still open`,
        );
      }
      h.messageStart = true;
    }
    h.messageEnd = h.fin;
    this.openMessage = h.fin ? NO_MESSAGE : h.messageOpcode;
  }

  /** Reports payload up to `segmentEnd` and, when `last`, ends the frame. */
  private emit(bytes: PayloadBytes, segmentEnd: number, last: boolean): void {
    const frame = this.frame!;
    const position = this.position;
    this.position = segmentEnd;
    // A close payload of at most 125 bytes always arrives as one segment.
    if (last && frame.opcode === WsOpcode.Close) this.closePayload = bytes.all();
    this.handler.payload(new PayloadSegment(frame, frame.offset + frame.headerLength + position, position, bytes, last));
    if (last) this.finishFrame();
  }

  private finishFrame(): void {
    const frame = this.frame!;
    // §5.5.1 / §7.4: a longer close was already reported as a bad control frame.
    if (frame.opcode === WsOpcode.Close && frame.length <= MAX_CONTROL_PAYLOAD) {
      const close = parseClosePayload(this.closePayload);
      if (!close.valid) this.report(AnomalyCode.WsBadClose, `close frame payload is invalid: ${close.problem}`);
    }
    this.closePayload = EMPTY;
    this.frameStart = frame.offset + frame.headerLength + frame.length;
    this.frame = null;
    this.state = GET_INFO;
    this.handler.frameEnd(frame);
  }

  private becomeOpaque(code: AnomalyCode, message: string): void {
    this.state = OPAQUE;
    this.queue.clear();
    this.held.clear();
    this.frame = null;
    this.report(code, message, true);
  }

  private report(code: AnomalyCode, message: string, opaque = false): void {
    this.handler.anomaly({ offset: this.frameStart, code, message, opaque });
  }
}

export interface WsClosePayload {
  code: number | null;
  reason: string;
  valid: boolean;
  problem: string | null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** RFC 6455 §5.5.1 and §7.4: the status code and UTF-8 reason of a close frame. */
export function parseClosePayload(data: Buffer): WsClosePayload {
  if (data.length === 0) return { code: null, reason: '', valid: true, problem: null };
  if (data.length === 1) {
    return { code: null, reason: '', valid: false, problem: 'a 1-byte payload; a status code takes 2 bytes' };
  }
  const code = data.readUInt16BE(0);
  const raw = data.subarray(2);
  let problem = closeCodeProblem(code);
  let reason: string;
  try {
    reason = strictUtf8.decode(raw);
  } catch {
    reason = raw.toString('utf8');
    problem ??= 'the reason is not valid UTF-8';
  }
  return { code, reason, valid: problem === null, problem };
}

/**
 * §7.4.1 and §7.4.2: below 1000 is unused, 1004 is reserved, 1005, 1006 and 1015 must never be
 * sent, 1016-2999 are kept for the protocol, 3000-4999 belong to libraries and applications.
 * 1012-1014 were registered with IANA after the RFC.
 */
function closeCodeProblem(code: number): string | null {
  if (code < 1000) return `status code ${code} is below 1000, which is not used`;
  if ((code >= 1004 && code <= 1006) || code === 1015) return `status code ${code} is reserved and must not be sent in a close frame`;
  if (code >= 1016 && code <= 2999) return `status code ${code} is reserved for future versions of the protocol`;
  if (code > 4999) return `status code ${code} is above 4999, outside every defined range`;
  return null;
}
