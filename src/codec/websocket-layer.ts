/**
 * One direction of a WebSocket connection: frames become `ws.frame` events (plain data frames
 * fold into the data event above them, see DecodeContext), and the payload of
 * data messages goes to the layer above (a k8s channel protocol, the port-forward tunnel, or
 * nothing) as a start, segments and an end. Control frames may sit between the fragments of a
 * message (RFC 6455 §5.4); they are reported whole and never reach the layer above.
 */
import type { Direction, WsFrameEvent } from '../events/types.js';
import type { Anomaly } from './anomaly.js';
import type { DecodeContext } from './decode-context.js';
import {
  parseClosePayload,
  WebSocketFrameDecoder,
  WsOpcode,
  wsOpcodeName,
  type WsFrameHeader,
  type WsPayloadSegment,
} from './websocket-frame.js';
import { keep } from './lent-bytes.js';

/** What sits above WebSocket in one direction. */
export interface WsMessageConsumer {
  messageStart(opcode: number, offset: number): void;
  data(segment: WsPayloadSegment): void;
  messageEnd(offset: number): void;
  /** This direction sent a close frame: its peer will read nothing more. */
  close(offset: number): void;
  /** This direction's bytes ended. */
  end(offset: number): void;
}

const isControl = (opcode: number): boolean => opcode >= 8;

/** RFC 6455 §5.5: a control payload is at most 125 bytes; more is reported and not kept. */
const MAX_CONTROL_PAYLOAD = 125;

export class WebSocketDirection {
  private readonly decoder: WebSocketFrameDecoder;
  private control: Buffer[] = [];
  private controlBytes = 0;
  private messageOpen = false;

  constructor(
    private readonly ctx: DecodeContext,
    private readonly dir: Direction,
    private readonly consumer: WsMessageConsumer,
    startOffset: number,
  ) {
    this.decoder = new WebSocketFrameDecoder(
      {
        frame: (h) => this.onFrame(h),
        payload: (s) => this.onPayload(s),
        frameEnd: (h) => this.onFrameEnd(h),
        anomaly: (a) => this.onAnomaly(a),
      },
      { expectMasked: dir === 'c2s', startOffset },
    );
  }

  get bufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  push(chunk: Uint8Array): void {
    this.decoder.push(chunk);
  }

  end(): void {
    this.decoder.end();
    this.ctx.flushFrame();
    this.consumer.end(this.decoder.offset);
  }

  private onFrame(h: WsFrameHeader): void {
    if (isControl(h.opcode)) {
      this.control = [];
      this.controlBytes = 0;
      return;
    }
    const frame: WsFrameEvent = {
      type: 'ws.frame', dir: this.dir, offset: h.offset, opcode: h.opcode, kind: wsOpcodeName(h.opcode),
      fin: h.fin, rsv: h.rsv, masked: h.masked, length: h.length,
    };
    // A whole text or binary message in one frame, flagged as RFC 6455 §5.1-5.2 expect, rides in
    // the data event its payload yields (DecodeContext); fragments and odd frames stay events.
    const plain = (h.opcode === WsOpcode.Text || h.opcode === WsOpcode.Binary) && h.fin && h.rsv === 0 && h.masked === (this.dir === 'c2s');
    if (plain) this.ctx.holdFrame(frame);
    else this.ctx.emit(frame);
    if (h.messageStart) {
      this.messageOpen = true;
      this.consumer.messageStart(h.opcode, h.offset);
    }
  }

  private onPayload(s: WsPayloadSegment): void {
    if (isControl(s.frame.opcode)) {
      const room = MAX_CONTROL_PAYLOAD - this.controlBytes;
      if (room > 0) {
        const kept = s.data.length > room ? s.data.subarray(0, room) : s.data;
        this.control.push(keep(kept));
        this.controlBytes += kept.length;
      }
    }
    else if (this.messageOpen && s.frame.messageOpcode !== WsOpcode.Continuation && s.frame.opcode <= WsOpcode.Binary) this.consumer.data(s);
  }

  private onFrameEnd(h: WsFrameHeader): void {
    if (!isControl(h.opcode)) {
      if (h.messageEnd && this.messageOpen) {
        this.messageOpen = false;
        this.consumer.messageEnd(h.offset + h.headerLength + h.length);
      }
      this.ctx.flushFrame();
      return;
    }
    const payload = Buffer.concat(this.control);
    this.control = [];
    const kind = wsOpcodeName(h.opcode);
    const close = h.opcode === WsOpcode.Close ? parseClosePayload(payload) : null;
    this.ctx.emit({
      type: 'ws.frame', dir: this.dir, offset: h.offset, opcode: h.opcode, kind,
      fin: h.fin, rsv: h.rsv, masked: h.masked, length: h.length,
      payload: payload.toString('base64'),
      ...(close ? { closeCode: close.code, closeReason: close.reason } : {}),
    });
    if (close) this.consumer.close(h.offset);
  }

  private onAnomaly(a: Anomaly): void {
    this.ctx.emit({ type: 'decode.anomaly', dir: this.dir, offset: a.offset, layer: 'websocket', code: a.code, message: a.message, opaque: a.opaque });
  }
}

/** Messages of an unknown subprotocol: reported as bytes, nothing more. */
export class WsDataConsumer implements WsMessageConsumer {
  private messageType: 'text' | 'binary' | 'continuation' = 'binary';

  constructor(private readonly ctx: DecodeContext, private readonly dir: Direction) {}

  messageStart(opcode: number): void {
    this.messageType = opcode === WsOpcode.Text ? 'text' : opcode === WsOpcode.Binary ? 'binary' : 'continuation';
  }

  data(s: WsPayloadSegment): void {
    this.ctx.emit(this.ctx.withPayload({ type: 'ws.data', dir: this.dir, offset: s.offset, messageType: this.messageType }, s.bytes), s.bytes);
  }

  messageEnd(): void {}
  close(): void {}
  end(): void {}
}
