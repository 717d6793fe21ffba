/**
 * The KEP-4006 port-forward tunnel (`SPDY/3.1+portforward.k8s.io`, protocol.md A §3c): an
 * ordinary SPDY/3.1 session carried in WebSocket binary messages whose boundaries mean
 * nothing. kubectl writes each SPDY field as its own message (a DATA frame is 4 + 4 + N bytes,
 * a FIN-only frame ends with an empty message), and the server's messages arrive fragmented.
 * So the payloads of each direction are joined into one byte stream and parsed as SPDY.
 */
import type { Direction } from '../events/types.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { DecodeContext } from './decode-context.js';
import type { SpdyLayer } from './spdy-layer.js';
import { WsOpcode, type WsPayloadSegment } from './websocket-frame.js';
import type { WsMessageConsumer } from './websocket-layer.js';

export class TunnelConsumer implements WsMessageConsumer {
  private text = false;
  private textReported = false;

  constructor(
    private readonly ctx: DecodeContext,
    private readonly dir: Direction,
    private readonly spdy: SpdyLayer,
  ) {}

  messageStart(opcode: number, offset: number): void {
    this.text = opcode !== WsOpcode.Binary;
    if (this.text && !this.textReported) {
      // The server rejects these (client-go tunneling_connection.go: invalid message type).
      this.textReported = true;
      this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset, layer: 'tunnel', code: AnomalyCode.TunnelTextMessage, message: 'text message inside the SPDY tunnel; only binary messages carry SPDY bytes', opaque: false });
    }
  }

  data(s: WsPayloadSegment): void {
    if (!this.text) this.spdy.push(this.dir, s.data);
  }

  messageEnd(): void {}
  close(): void {}

  end(): void {
    this.spdy.end(this.dir);
  }
}
