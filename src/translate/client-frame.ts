/**
 * WebSocket frames as kubewire sends them (RFC 6455 §5.2, §5.3): FIN set, never fragmented;
 * a client's masked with a fresh key, a server's unmasked. A Kubernetes data message is its
 * channel byte followed by the payload (protocol.md A §1.3), written here into one buffer
 * without a concat first:
 *
 *   encodeClientFrame(2, "hi", key 01 02 03 04, channel 0)
 *   → 82 83 01 02 03 04 01 6b 6a    (binary, masked, length 3: 00 'h' 'i' XOR the key)
 *
 * encodeWsFrame (src/codec/websocket-encode.ts) is the test encoder that can write anything;
 * this one writes only what a peer must, and masks 32 bits at a time.
 */
import { randomBytes } from 'node:crypto';
import { WsOpcode } from '../codec/websocket-frame.js';

export function encodeClientFrame(opcode: number, payload: Uint8Array, key: Buffer = randomBytes(4), channel?: number): Buffer {
  return encodeFrame(opcode, payload, key, channel);
}

/** A server's frame (§5.1: never masked), for the WebSocket client of a ws-to-spdy translation. */
export function encodeServerFrame(opcode: number, payload: Uint8Array, channel?: number): Buffer {
  return encodeFrame(opcode, payload, null, channel);
}

/**
 * A data message to the WebSocket client of a channel protocol (A §1.3): binary `[channel]`
 * + data, or in the base64 protocols text `'0'+channel` + the standard base64 of the data.
 *
 *   encodeServerChannelMessage(1, "hi\n", true) → 81 05 "1aGkK"
 */
export function encodeServerChannelMessage(channel: number, data: Uint8Array, base64: boolean): Buffer {
  if (!base64) return encodeFrame(WsOpcode.Binary, data, null, channel);
  const text = Buffer.from(Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64'), 'latin1');
  return encodeFrame(WsOpcode.Text, text, null, 0x30 + channel);
}

/**
 * A server's frame without its payload: the head and the channel byte, for a payload the shell
 * writes right after it (shell.ts `writeParts`), not copied into a frame of its own first. A client's
 * frame is masked, so it always needs its own copy.
 */
export function serverFrameHead(opcode: number, payloadLength: number, channel?: number): Buffer {
  const length = payloadLength + (channel === undefined ? 0 : 1);
  const start = headLength(length, null);
  const out = Buffer.allocUnsafe(start + (channel === undefined ? 0 : 1));
  writeHead(out, opcode, length, null);
  if (channel !== undefined) out[start] = channel;
  return out;
}

function headLength(length: number, key: Buffer | null): number {
  return 2 + (length <= 125 ? 0 : length <= 0xffff ? 2 : 8) + (key === null ? 0 : 4);
}

function writeHead(out: Buffer, opcode: number, length: number, key: Buffer | null): void {
  const lengthBytes = length <= 125 ? 0 : length <= 0xffff ? 2 : 8;
  out[0] = 0x80 | opcode;
  out[1] = (key === null ? 0 : 0x80) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) out.writeUInt16BE(length, 2);
  if (lengthBytes === 8) {
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  if (key !== null) key.copy(out, 2 + lengthBytes, 0, 4);
}

function encodeFrame(opcode: number, payload: Uint8Array, key: Buffer | null, channel: number | undefined): Buffer {
  const length = payload.length + (channel === undefined ? 0 : 1);
  const start = headLength(length, key);
  const out = Buffer.allocUnsafe(start + length);
  writeHead(out, opcode, length, key);
  let at = start;
  if (channel !== undefined) out[at++] = channel;
  out.set(payload, at);
  if (key !== null) mask(out.subarray(start), key);
  return out;
}

/** XOR in place with the key from key byte 0 (§5.3), as words over the aligned middle. */
function mask(buf: Buffer, key: Buffer): void {
  const end = buf.length;
  let i = 0;
  const head = Math.min(end, (4 - (buf.byteOffset & 3)) & 3);
  for (; i < head; i++) buf[i] = buf[i]! ^ key[i & 3]!;
  const words = (end - i) >>> 2;
  if (words > 0) {
    const k = Uint8Array.of(key[i & 3]!, key[(i + 1) & 3]!, key[(i + 2) & 3]!, key[(i + 3) & 3]!);
    const word = new Uint32Array(k.buffer)[0]!;
    const view = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ word;
    i += words * 4;
  }
  for (; i < end; i++) buf[i] = buf[i]! ^ key[i & 3]!;
}
