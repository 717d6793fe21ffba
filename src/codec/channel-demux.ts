/**
 * The channel byte of the Kubernetes WebSocket protocols (protocol.md A §1.3): every message is
 * `[channel][payload]`; the base64 variants send a text message `'0'+channel` followed by the
 * standard base64 of the payload. Binary `01 68 69 0a` and text `"1aGkK"` both mean stdout
 * "hi\n". This reads that prefix and hands on plain payload bytes with their offsets; base64 is
 * decoded incrementally, 4 characters at a time, so a long message never has to be held.
 */
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { DecodeContext } from './decode-context.js';
import type { Direction } from '../events/types.js';
import { Base64Stream } from './base64-stream.js';
import { PayloadBytes } from './payload-bytes.js';
import { WsOpcode, type WsPayloadSegment } from './websocket-frame.js';
import type { WsMessageConsumer } from './websocket-layer.js';

export interface ChannelHandler {
  /** A message for `channel` starts; `index` counts this direction's messages from 0. */
  start(channel: number, offset: number, index: number): void;
  /** `bytes` are read only as far as the handler needs (PayloadBytes). */
  payload(channel: number, bytes: PayloadBytes, offset: number): void;
  end(channel: number, offset: number): void;
  /** The direction sent a WebSocket close frame. */
  close(offset: number): void;
  finish(offset: number): void;
}

export class ChannelDemux implements WsMessageConsumer {
  private channel: number | null = null;
  private skip = false;
  private readonly text = new Base64Stream();
  private index = 0;
  private typeReported = false;

  constructor(
    private readonly ctx: DecodeContext,
    private readonly dir: Direction,
    private readonly base64: boolean,
    private readonly handler: ChannelHandler,
  ) {}

  messageStart(opcode: number, offset: number): void {
    this.channel = null;
    this.skip = false;
    this.text.reset();
    // Servers decode either frame type the same way (apimachinery wsstream conn.go), so read on.
    // A text message in a binary protocol is what python-kubernetes sends for stdin and resize,
    // and API servers take it: no anomaly. A binary message in a base64 protocol is one.
    if (this.base64 && opcode !== WsOpcode.Text && !this.typeReported) {
      this.typeReported = true;
      this.anomaly(AnomalyCode.ChannelBadMessageType, offset, 'binary message in a base64 (text) channel protocol');
    }
  }

  data(s: WsPayloadSegment): void {
    if (this.skip) return;
    let bytes = s.bytes;
    let offset = s.offset;
    if (this.channel === null) {
      if (bytes.length === 0) return;
      const first = bytes.byteAt(0);
      const channel = this.base64 ? first - 0x30 : first;
      if (this.base64 && (channel < 0 || channel > 9)) {
        this.skip = true;
        this.anomaly(AnomalyCode.ChannelBadBase64, offset, `base64 message starts with ${JSON.stringify(String.fromCharCode(first))}, not a channel digit`);
        return;
      }
      this.channel = channel;
      bytes = bytes.from(1);
      offset += 1;
      this.handler.start(channel, s.offset, this.index);
    }
    if (!this.base64) {
      if (bytes.length) this.handler.payload(this.channel, bytes, offset);
      return;
    }
    const carried = this.text.carried;
    const decoded = this.text.push(bytes.all().toString('latin1'));
    if (decoded === null) {
      this.skip = true;
      this.anomaly(AnomalyCode.ChannelBadBase64, offset, 'base64 channel message holds characters outside the base64 alphabet');
      return;
    }
    // Whole groups were read (even ones that decode to nothing, such as "====").
    if (carried + bytes.length >= 4) this.handler.payload(this.channel, PayloadBytes.of(decoded), offset - carried);
  }

  messageEnd(offset: number): void {
    const channel = this.channel;
    if (channel !== null && !this.skip) {
      // Only base64 messages carry characters; a binary one has nothing to decode at its end.
      const carried = this.text.carried;
      if (carried > 0) this.handler.payload(channel, PayloadBytes.of(this.text.finish()), offset - carried);
      this.handler.end(channel, offset);
    }
    // A message with no channel byte at all carries nothing; servers skip it too.
    if (channel !== null) this.index++;
    this.channel = null;
    this.text.reset();
  }

  close(offset: number): void {
    this.handler.close(offset);
  }

  end(offset: number): void {
    this.handler.finish(offset);
  }

  private anomaly(code: AnomalyCode, offset: number, message: string): void {
    this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset, layer: 'channel', code, message, opaque: false });
  }
}
