/**
 * The WebSocket messages of one leg of a translation, read with the project's frame decoder
 * (sans-IO): data messages as their payload segments, with the Kubernetes channel byte taken off
 * first when the leg is channelled (protocol.md A §1.3), and the control frames a bridge answers
 * (a ping's payload, a close's code). Fragmented messages keep their first frame's channel, and
 * control frames may come between the fragments (RFC 6455 §5.4).
 *
 *   channelled: 82 04 01 'h' 'i' '\n'  →  data(1, "hi\n", binary), end(1)
 *   base64:     81 05 "1aGkK"          →  data(1, "hi\n", text), end(1)
 *   not:        82 03 80 03 00         →  data(-1, 80 03 00, binary), end(-1)
 *
 * In the base64 protocols the channel is the digit '0'+channel and the rest standard base64,
 * decoded as it comes (codec/base64-stream.ts); the protocol, not the frame type, says how a
 * message is read (AM wsstream conn.go). A message that is not base64 is dropped from there
 * on, as the servers drop it (`DataFromSocket` fails), and reported.
 */
import type { Anomaly } from '../codec/anomaly.js';
import { PayloadBytes } from '../codec/payload-bytes.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import { Base64Stream } from '../codec/base64-stream.js';

/** RFC 6455 §5.5. */
const MAX_CONTROL_PAYLOAD = 125;
import { parseClosePayload, WebSocketFrameDecoder, WsOpcode, type WsFrameHeader, type WsPayloadSegment } from '../codec/websocket-frame.js';

export interface WsMessageHandler {
  /**
   * Bytes of a text or binary message (after its channel byte when channelled); never empty.
   * As they were read, in one piece or several: `all()` joins them, `views()` does not.
   */
  data(channel: number, bytes: PayloadBytes, opcode: number): void;
  /** A text or binary message ended. */
  end?(channel: number): void;
  ping(payload: Buffer): void;
  /** A close frame; `code` is null when it carried none. */
  close(code: number | null): void;
  /** Only anomalies after which the stream cannot be read on. */
  broken(anomaly: Anomaly): void;
  /** A base64 message that cannot be decoded: the rest of it is dropped. */
  undecodable?(message: string): void;
}

export class WsMessageReader {
  private readonly decoder: WebSocketFrameDecoder;
  private channel = -1;
  private control: Buffer[] = [];
  private readonly base64: Base64Stream | null;
  /** The rest of the current message is not read (undecodable base64). */
  private skip = false;

  constructor(private readonly handler: WsMessageHandler, opts: { masked: boolean; channelled: boolean; base64?: boolean }) {
    const channelled = opts.channelled;
    this.base64 = channelled && opts.base64 ? new Base64Stream() : null;
    this.decoder = new WebSocketFrameDecoder(
      {
        frame: (h) => this.onFrame(h, channelled),
        payload: (seg) => this.onPayload(seg, channelled),
        frameEnd: (h) => this.onFrameEnd(h),
        anomaly: (a) => void (a.opaque && this.handler.broken(a)),
      },
      { expectMasked: opts.masked },
    );
  }

  push(chunk: Buffer): void {
    this.decoder.push(chunk);
  }

  end(): void {
    this.decoder.end();
  }

  private onFrame(h: WsFrameHeader, channelled: boolean): void {
    if (h.messageStart) {
      this.channel = channelled ? -1 : -2;
      this.skip = false;
      this.base64?.reset();
    }
    this.control = [];
  }

  private onPayload(seg: WsPayloadSegment, channelled: boolean): void {
    const h = seg.frame;
    if ((h.opcode & 0x08) !== 0) {
      // §5.5: a control frame carries at most 125 bytes. The decoder only reports a longer one;
      // a bridge that collected it and echoed it back would hold and send whatever it claimed.
      if (h.length > MAX_CONTROL_PAYLOAD) {
        if (seg.position === 0) this.handler.broken({ code: AnomalyCode.WsBadControlFrame, message: `a control frame of ${h.length} bytes (at most ${MAX_CONTROL_PAYLOAD})`, offset: seg.offset, opaque: true });
        return;
      }
      this.control.push(seg.data);
      return;
    }
    if (h.messageOpcode !== WsOpcode.Binary && h.messageOpcode !== WsOpcode.Text) return;
    if (this.skip || seg.bytes.length === 0) return;
    let bytes = seg.bytes;
    if (this.channel === -1 && channelled) {
      const first = bytes.byteAt(0);
      // '0'+channel: the server takes any byte from '0' on (channel - '0' in AM conn.go `handle`).
      if (this.base64 !== null && first < 0x30) return this.drop(`a base64 message starts with ${JSON.stringify(String.fromCharCode(first))}, not a channel digit`);
      this.channel = this.base64 === null ? first : first - 0x30;
      bytes = bytes.from(1);
    }
    if (bytes.length === 0) return;
    const channel = channelled ? this.channel : -1;
    if (this.base64 !== null) {
      const decoded = this.base64.push(bytes.all().toString('latin1'));
      if (decoded === null) return this.drop('a base64 message holds characters outside the base64 alphabet');
      if (decoded.length > 0) this.handler.data(channel, PayloadBytes.of(decoded), h.messageOpcode);
    } else this.handler.data(channel, bytes, h.messageOpcode);
  }

  private drop(why: string): void {
    this.skip = true;
    this.base64?.reset();
    this.handler.undecodable?.(`${why}: dropped`);
  }

  private onFrameEnd(h: WsFrameHeader): void {
    if (h.opcode === WsOpcode.Ping) this.handler.ping(Buffer.concat(this.control));
    else if (h.opcode === WsOpcode.Close) this.handler.close(parseClosePayload(Buffer.concat(this.control)).code);
    else if (h.messageEnd && (h.messageOpcode === WsOpcode.Binary || h.messageOpcode === WsOpcode.Text)) {
      if (this.skip) return;
      const rest = this.base64?.finish();
      if (rest !== undefined && rest.length > 0) this.handler.data(this.channel, PayloadBytes.of(rest), h.messageOpcode);
      this.handler.end?.(this.channel < 0 ? -1 : this.channel);
    }
  }
}
