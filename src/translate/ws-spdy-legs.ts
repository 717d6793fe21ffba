/**
 * The two legs every WebSocket→SPDY bridge has, sans-IO: towards the client kubewire is a
 * WebSocket server of a channel protocol (protocol.md A §1.3; binary, or the base64 variants'
 * text), towards the upstream it is a SPDY/3.1 client (A §2). What a bridge maps between them
 * is its own: exec and attach streams (ws-to-spdy-bridge.ts), or the legacy port-forward's
 * port pairs (ws-portforward-bridge.ts). This holds what they share:
 *
 *   client WebSocket                        upstream SPDY
 *   ping                            →       pong, answered here
 *   close (any code), end of TCP    →       the bridge's streams ended as kubectl ends them,
 *                                           GOAWAY, end of TCP (kubectl's conn.Close())
 *   a frame that cannot be read     →       the same, and close 1002 to the client
 *                                   ←       SYN_STREAM (servers never create streams): RST
 *                                           REFUSED_STREAM; PING (even id): the same PING
 *                                           back; GOAWAY, end of TCP: the bridge's end
 *   keepalive: a WebSocket ping down, a SPDY PING up (odd ids, as a client pings)
 *
 * Client messages are read by the protocol, not the frame type (AM wsstream conn.go), and
 * streamed through segment by segment; SPDY DATA becomes one message per segment.
 */
import { encodeDataFrame, encodeDataFrameHead, encodeGoaway, encodePing, encodeRstStream, encodeSynStream, SpdyHeaderBlockDeflater } from '../codec/spdy-encode.js';
import { SpdyFrameDecoder, type SpdyControlFrame, type SpdyDataFrameHeader, type SpdyDataSegment } from '../codec/spdy-frame.js';
import { SpdyHeaderBlockInflater } from '../codec/spdy-header-block.js';
import { WsOpcode } from '../codec/websocket-frame.js';
import type { Anomaly } from '../codec/anomaly.js';
import { PayloadBytes } from '../codec/payload-bytes.js';
import { isBase64ChannelProtocol } from '../codec/channel-protocols.js';
import { encodeServerChannelMessage, encodeServerFrame, serverFrameHead } from './client-frame.js';
import type { BridgeOutput, Ender } from './remotecommand-bridge.js';
import { WsMessageReader } from './ws-message-reader.js';

/** client-go writes at most 32 KiB per DATA frame. */
const MAX_DATA_FRAME = 32 * 1024;
const RST_REFUSED = 3;
const GOAWAY_OK = 0;
export const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;
const EMPTY = Buffer.alloc(0);

export abstract class WebSocketClientSpdyUpstream {
  protected readonly out: BridgeOutput;
  /** The subprotocol of the client's 101 ('' for none). */
  protected readonly clientProtocol: string;
  protected readonly base64: boolean;
  private readonly ws: WsMessageReader;
  private readonly spdy: SpdyFrameDecoder;
  private readonly inflater = new SpdyHeaderBlockInflater();
  private readonly deflater = new SpdyHeaderBlockDeflater();
  private nextPingId = 1;
  protected upstreamClosed = false;
  protected done = false;

  /** The client's WebSocket needs nothing before it carries bytes. */
  readonly ready = true;
  readonly heldUpstreamBytes = 0;
  readonly missingStreams: string[] = [];

  constructor(clientProtocol: string, out: BridgeOutput) {
    this.out = out;
    this.clientProtocol = clientProtocol;
    this.base64 = isBase64ChannelProtocol(clientProtocol);
    this.ws = new WsMessageReader(
      {
        data: (channel, bytes) => {
          if (!this.done && !this.upstreamClosed) this.onClientData(channel, bytes.all());
        },
        end: (channel) => this.onClientMessageEnd(channel),
        ping: (payload) => {
          // Answered here: the client's pings (kubectl's 5 s heartbeat) are for this leg only.
          if (!this.done) this.out.toClient(encodeServerFrame(WsOpcode.Pong, payload));
        },
        close: (code) => {
          if (code !== null && code !== CLOSE_NORMAL) this.out.problem?.(`the client closed the WebSocket connection with code ${code}`);
          this.clientGone();
        },
        broken: (a) => this.onClientAnomaly(a),
        undecodable: (message) => this.out.notice?.(`the client's ${clientProtocol} message: ${message}, as the kubelet drops it`),
      },
      { masked: true, channelled: true, base64: this.base64 },
    );
    this.spdy = new SpdyFrameDecoder({
      control: (f) => this.onControl(f),
      dataFrame: () => {},
      data: (seg) => {
        if (!this.done) this.onUpstreamData(seg);
      },
      dataEnd: (h) => this.onUpstreamDataEnd(h),
      anomaly: (a) => {
        if (!a.opaque) return;
        this.out.problem?.(`the upstream's SPDY cannot be read on: ${a.message}`);
        this.upstreamGone(`the upstream's SPDY could not be read (${a.message})`);
      },
    });
  }

  get finished(): boolean {
    return this.done;
  }

  fromClient(chunk: Buffer): void {
    if (this.done) return;
    this.ws.push(chunk);
  }

  /** The client's side ended (FIN or close) before the session did. */
  clientEnded(): void {
    this.ws.end();
    this.clientGone();
  }

  fromUpstream(chunk: Buffer): void {
    if (this.done) return;
    this.spdy.push(chunk);
  }

  upstreamEnded(): void {
    this.spdy.end();
    this.upstreamGone('the upstream ended the SPDY connection');
  }

  /** A SPDY PING upstream (odd ids, as a client pings) and a WebSocket ping to the client. */
  keepalive(): void {
    if (this.done) return;
    if (!this.upstreamClosed) {
      this.out.toUpstream(encodePing(this.nextPingId));
      this.nextPingId = (this.nextPingId + 2) % 0x80000000;
    }
    this.out.toClient(encodeServerFrame(WsOpcode.Ping, EMPTY));
  }

  abstract abort(message: string): void;

  // -- what a bridge maps --------------------------------------------------------------------

  /** Bytes of a client message on `channel` (never empty; decoded in the base64 protocols). */
  protected abstract onClientData(channel: number, data: Buffer): void;
  protected onClientMessageEnd(_channel: number): void {}
  protected abstract onUpstreamData(seg: SpdyDataSegment): void;
  protected abstract onUpstreamDataEnd(h: SpdyDataFrameHeader): void;
  /** The upstream reset one of the bridge's streams. */
  protected onUpstreamReset(_streamId: number): void {}
  /** The upstream is gone (GOAWAY, end of TCP, unreadable): `why`, in plain words. */
  protected abstract upstreamGone(why: string): void;
  /** kubectl's frames before its GOAWAY: the FINs and RSTs of the streams it still writes to. */
  protected abstract endingFrames(): Buffer[];

  // -- for the bridges -----------------------------------------------------------------------

  protected openStream(id: number, headers: [string, string][]): void {
    this.out.toUpstream(encodeSynStream({ streamId: id, headerBlock: this.deflater.deflate(headers) }));
  }

  /** DATA on `id`, 32 KiB per frame as client-go writes it; `fin` with an empty frame. */
  protected sendUpstream(id: number, data: Buffer, fin = false): void {
    for (let at = 0; at < data.length; at += MAX_DATA_FRAME) {
      const piece = data.subarray(at, at + MAX_DATA_FRAME);
      this.out.toUpstream(encodeDataFrameHead(id, piece.length), piece);
    }
    if (fin) this.out.toUpstream(encodeDataFrame(id, EMPTY, true));
  }

  /** One message on `channel` in the client's protocol's form; `data` as read, in one piece or several. */
  protected sendClient(channel: number, data: Buffer | PayloadBytes): void {
    const bytes = Buffer.isBuffer(data) ? PayloadBytes.of(data) : data;
    if (this.base64) this.out.toClient(encodeServerChannelMessage(channel, bytes.all(), true));
    else this.out.toClient(serverFrameHead(WsOpcode.Binary, bytes.length, channel), bytes.views());
  }

  /** The close frame, then the end of the client's socket. */
  protected closeClient(by: Ender, code = CLOSE_NORMAL): void {
    if (this.done) return;
    this.done = true;
    const payload = Buffer.allocUnsafe(2);
    payload.writeUInt16BE(code, 0);
    this.out.toClient(encodeServerFrame(WsOpcode.Close, payload));
    this.out.endClient(by);
  }

  /** kubectl's conn.Close(): its streams ended, GOAWAY, end of TCP. */
  protected closeUpstream(by: Ender): void {
    if (this.upstreamClosed) return;
    this.upstreamClosed = true;
    for (const frame of this.endingFrames()) this.out.toUpstream(frame);
    this.out.toUpstream(encodeGoaway(0, GOAWAY_OK));
    this.out.endUpstream(by);
  }

  /** The client left (close frame, FIN) before the session ended: no close frame back. */
  private clientGone(): void {
    if (this.done) return;
    this.closeUpstream('client');
    this.done = true;
    this.out.endClient('client');
  }

  private onClientAnomaly(a: Anomaly): void {
    this.out.problem?.(`the client's WebSocket cannot be read on: ${a.message}`);
    this.closeUpstream('proxy');
    this.closeClient('proxy', CLOSE_PROTOCOL_ERROR);
  }

  private onControl(f: SpdyControlFrame): void {
    switch (f.type) {
      case 'SYN_REPLY':
      case 'HEADERS':
        // Only to keep the s2c zlib context in step.
        this.inflate(f.headerBlock);
        return;
      case 'SYN_STREAM':
        // A server never creates streams here (A §2.4): refused.
        this.inflate(f.headerBlock);
        if (!this.upstreamClosed) this.out.toUpstream(encodeRstStream(f.streamId, RST_REFUSED));
        return;
      case 'PING':
        // A peer echoes pings of the other parity (SS handlePingFrame); odd ids are ours.
        if (f.pingId % 2 === 0 && !this.upstreamClosed) this.out.toUpstream(encodePing(f.pingId));
        return;
      case 'GOAWAY':
        this.upstreamGone('the upstream sent GOAWAY');
        return;
      case 'RST_STREAM':
        if (!this.done) this.onUpstreamReset(f.streamId);
        return;
      default:
        // SETTINGS, WINDOW_UPDATE: nothing to carry.
        return;
    }
  }

  private inflate(block: Buffer): void {
    if (this.inflater.broken) return;
    const r = this.inflater.inflate(block);
    if (!r.ok) this.out.problem?.(`the upstream's header block: ${r.message}`);
  }
}
