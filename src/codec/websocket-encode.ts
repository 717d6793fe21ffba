/**
 * RFC 6455 §5.2 frame encoder for tests and the demo server. It writes exactly what the spec
 * asks for and nothing it checks: reserved opcodes, RSV bits, unfragmentable control frames
 * and over-long encodings are all allowed, because tests need to send them.
 *
 * Example: { opcode: 1, payload: "Hi", mask: [1, 2, 3, 4] } →
 *   81 82 01 02 03 04 49 6b   (FIN + text, MASK + length 2, key, "Hi" XOR key)
 */
import { randomBytes } from 'node:crypto';

export interface WsFrameSpec {
  opcode: number;
  payload?: Uint8Array;
  /** Default true. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4). */
  rsv?: number;
  /** true: a random 4-byte key; a Uint8Array: that key; false or undefined: unmasked. */
  mask?: Uint8Array | boolean;
  /** Use the 16- or 64-bit length encoding even where a shorter one fits (0: shortest). */
  forceLengthBytes?: 0 | 2 | 8;
}

export function encodeWsFrame(spec: WsFrameSpec): Buffer {
  const payload = spec.payload ?? new Uint8Array(0);
  const rsv = spec.rsv ?? 0;
  if (!Number.isInteger(spec.opcode) || spec.opcode < 0 || spec.opcode > 15) {
    throw new RangeError(`opcode ${spec.opcode} does not fit in 4 bits`);
  }
  if (!Number.isInteger(rsv) || rsv < 0 || rsv > 7) throw new RangeError(`rsv ${rsv} does not fit in 3 bits`);
  const key = spec.mask === true ? randomBytes(4) : spec.mask instanceof Uint8Array ? spec.mask : null;
  if (key !== null && key.length !== 4) throw new RangeError(`a mask key has 4 bytes, not ${key.length}`);

  const length = payload.length;
  const lengthBytes = spec.forceLengthBytes || (length <= 125 ? 0 : length <= 0xffff ? 2 : 8);
  if (lengthBytes === 2 && length > 0xffff) throw new RangeError(`${length} bytes do not fit a 16-bit length`);

  const headerLength = 2 + lengthBytes + (key === null ? 0 : 4);
  const out = Buffer.allocUnsafe(headerLength + length);
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | (rsv << 4) | spec.opcode;
  out[1] = (key === null ? 0 : 0x80) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) out.writeUInt16BE(length, 2);
  if (lengthBytes === 8) {
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  if (key === null) {
    out.set(payload, headerLength);
  } else {
    out.set(key, headerLength - 4);
    for (let i = 0; i < length; i++) out[headerLength + i] = payload[i]! ^ key[i & 3]!;
  }
  return out;
}

/** RFC 6455 §5.5.1: a 2-byte big-endian status code, then the reason as UTF-8. */
export function encodeClosePayload(code: number, reason = ''): Buffer {
  const text = Buffer.from(reason, 'utf8');
  const out = Buffer.allocUnsafe(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}
