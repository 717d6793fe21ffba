/**
 * The WebSocket messages of one leg of a translation, read with the project's frame decoder
 * (sans-IO): data messages as their payload segments, with the Kubernetes channel byte taken off
 * first when the leg is channelled (protocol.md A §1.3), and the control frames a bridge answers
 * (a ping's payload, a close's code). Fragmented messages keep their first frame's channel, and
 * control frames may come between the fragments (RFC 6455 §5.4).
 *
 *   channelled: 82 04 01 'h' 'i' '\n'  →  data(1, "hi\n", binary), end(1)
 *   not:        82 03 80 03 00         →  data(-1, 80 03 00, binary), end(-1)
 */
import type { Anomaly } from '../codec/anomaly.js';
import { AnomalyCode } from '../events/anomaly-codes.js';

/** RFC 6455 §5.5. */
const MAX_CONTROL_PAYLOAD = 125;
import { parseClosePayload, WebSocketFrameDecoder, WsOpcode, type WsFrameHeader, type WsPayloadSegment } from '../codec/websocket-frame.js';

export interface WsMessageHandler {
  /** Bytes of a text or binary message (after its channel byte when channelled); never empty. */
  data(channel: number, data: Buffer, opcode: number): void;
  /** A text or binary message ended. */
  end?(channel: number): void;
  ping(payload: Buffer): void;
  /** A close frame; `code` is null when it carried none. */
  close(code: number | null): void;
  /** Only anomalies after which the stream cannot be read on. */
  broken(anomaly: Anomaly): void;
}

export class WsMessageReader {
  private readonly decoder: WebSocketFrameDecoder;
  private channel = -1;
  private control: Buffer[] = [];

  constructor(private readonly handler: WsMessageHandler, opts: { masked: boolean; channelled: boolean }) {
    const channelled = opts.channelled;
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
    if (h.messageStart) this.channel = channelled ? -1 : -2;
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
    let data = seg.data;
    if (this.channel === -1 && channelled) {
      this.channel = data[0]!;
      data = data.subarray(1);
    }
    if (data.length > 0) this.handler.data(channelled ? this.channel : -1, data, h.messageOpcode);
  }

  private onFrameEnd(h: WsFrameHeader): void {
    if (h.opcode === WsOpcode.Ping) this.handler.ping(Buffer.concat(this.control));
    else if (h.opcode === WsOpcode.Close) this.handler.close(parseClosePayload(Buffer.concat(this.control)).code);
    else if (h.messageEnd && (h.messageOpcode === WsOpcode.Binary || h.messageOpcode === WsOpcode.Text)) this.handler.end?.(this.channel < 0 ? -1 : this.channel);
  }
}
