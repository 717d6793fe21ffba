/**
 * exec and attach carried from a WebSocket client to SPDY/3.1 upstream, sans-IO: the mirror of
 * remotecommand-bridge.ts. Towards the client the bridge is the WebSocket server (the API
 * server's translator for v5, the kubelet for v4 and v1; protocol.md A §1.3-§1.5), towards the
 * upstream it is kubectl's SPDY executor (A §2.4):
 *
 *   client WebSocket (masked)             upstream SPDY
 *   (the 101)                       →     SYN_STREAM error, stdin, stdout, stderr, resize
 *                                         (those the request asked for, ids 1, 3, 5, …)
 *   empty message on the lowest     ←
 *   output channel (01, 02 or 03)
 *   binary [00] + data              →     DATA on stdin
 *   binary [FF 00] (v5)             →     DATA+FIN on stdin (empty)
 *   binary [04] + data              →     DATA on resize (the JSON stream, verbatim)
 *   ping                            →     pong, answered here
 *   binary [01|02] + data           ←     DATA on stdout|stderr
 *   binary [03] + Status            ←     DATA on error, held (bounded) until its FIN, then sent
 *                                         as one message: verbatim between JSON sides, else
 *                                         converted (status-forms.ts)
 *                                         PING (even id): the same PING back
 *   close 1000, end of TCP          ←     FIN on error (or GOAWAY, or the end of TCP)
 *                                   →     GOAWAY, end of TCP (kubectl's conn.Close())
 *
 * The streams are created at once, without waiting for each SYN_REPLY: spdystream serves
 * them in order either way. A client message is routed by its first byte and streamed through
 * segment by segment; SPDY DATA from upstream becomes one message per segment.
 */
import { encodeDataFrame, encodeDataFrameHead, encodeGoaway, encodePing, encodeRstStream, encodeSynStream, SpdyHeaderBlockDeflater } from '../codec/spdy-encode.js';
import { SpdyFrameDecoder, type SpdyControlFrame, type SpdyDataFrameHeader, type SpdyDataSegment } from '../codec/spdy-frame.js';
import { SpdyHeaderBlockInflater } from '../codec/spdy-header-block.js';
import { MAX_STATUS_BYTES } from '../codec/limits.js';
import { WsOpcode } from '../codec/websocket-frame.js';
import type { Anomaly } from '../codec/anomaly.js';
import { encodeServerFrame, serverFrameHead } from './client-frame.js';
import type { BridgeOutput, Ender, ExpectedStreams, StreamType } from './remotecommand-bridge.js';
import { failureStatus, statusFor } from './status-forms.js';
import { WsMessageReader } from './ws-message-reader.js';

export interface WsToSpdyBridgeOptions {
  /** The subprotocol of the client's 101: v5, v4, `channel.k8s.io`, or '' for none. */
  clientProtocol: string;
  /** The upstream's X-Stream-Protocol-Version: v4..v1. */
  upstreamProtocol: string;
  streams: ExpectedStreams;
  out: BridgeOutput;
}

/** client-go writes at most 32 KiB per DATA frame. */
const MAX_DATA_FRAME = 32 * 1024;
const RST_CANCEL = 5;
const RST_REFUSED = 3;
const GOAWAY_OK = 0;
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_SIGNAL = 255;
const EMPTY = Buffer.alloc(0);
const CHANNEL_STREAM: Record<number, StreamType> = { 0: 'stdin', 4: 'resize' };

export class WebSocketToSpdyBridge {
  private readonly opts: WsToSpdyBridgeOptions;
  private readonly out: BridgeOutput;
  private readonly ws: WsMessageReader;
  private readonly spdy: SpdyFrameDecoder;
  private readonly inflater = new SpdyHeaderBlockInflater();
  private readonly deflater = new SpdyHeaderBlockDeflater();
  private readonly v5: boolean;

  private readonly ids = new Map<StreamType, number>();
  private readonly types = new Map<number, StreamType>();
  private nextPingId = 1;
  private stdinFin = false;

  /** The bytes of the close signal being read (at most 2 are kept). */
  private signal: number[] = [];

  private status: Buffer[] = [];
  private statusBytes = 0;
  private statusSeen = false;

  private upstreamClosed = false;
  private done = false;

  /** The client's WebSocket needs nothing before it carries bytes. */
  readonly ready = true;
  readonly heldUpstreamBytes = 0;
  readonly missingStreams: string[] = [];

  constructor(opts: WsToSpdyBridgeOptions) {
    this.opts = opts;
    this.out = opts.out;
    this.v5 = opts.clientProtocol === 'v5.channel.k8s.io';
    this.ws = new WsMessageReader(
      {
        data: (channel, data) => this.onClientData(channel, data),
        end: (channel) => {
          if (channel === CLOSE_SIGNAL) this.onCloseSignal();
        },
        ping: (payload) => {
          // Answered here: the client's pings (kubectl's 5 s heartbeat) are for this leg only.
          if (!this.done) this.out.toClient(encodeServerFrame(WsOpcode.Pong, payload));
        },
        close: (code) => {
          if (code !== null && code !== CLOSE_NORMAL) this.out.problem?.(`the client closed the WebSocket connection with code ${code}`);
          this.clientGone();
        },
        broken: (a) => this.onClientAnomaly(a),
      },
      { masked: true, channelled: true },
    );
    this.spdy = new SpdyFrameDecoder({
      control: (f) => this.onControl(f),
      dataFrame: () => {},
      data: (seg) => this.onUpstreamData(seg),
      dataEnd: (h) => this.onUpstreamDataEnd(h),
      anomaly: (a) => this.onUpstreamAnomaly(a),
    });
  }

  get finished(): boolean {
    return this.done;
  }

  /** After the client's 101: the streams upstream in kubectl's order, the first message down. */
  start(): void {
    const s = this.opts.streams;
    const wanted: StreamType[] = ['error', ...(s.stdin ? ['stdin' as const] : []), ...(s.stdout ? ['stdout' as const] : []), ...(s.stderr ? ['stderr' as const] : []), ...(s.resize ? ['resize' as const] : [])];
    let id = 1;
    for (const type of wanted) {
      this.ids.set(type, id);
      this.types.set(id, type);
      this.out.toUpstream(encodeSynStream({ streamId: id, headerBlock: this.deflater.deflate([['streamtype', type]]) }));
      id += 2;
    }
    // One empty message on the lowest writable channel, as both servers send it (A §1.3).
    this.out.toClient(encodeServerFrame(WsOpcode.Binary, EMPTY, s.stdout ? 1 : s.stderr ? 2 : 3));
  }

  fromClient(chunk: Buffer): void {
    if (this.done) return;
    this.ws.push(chunk);
  }

  /** The client's side ended (FIN or close) before the command did. */
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
    this.finish('the upstream ended the SPDY connection');
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

  abort(message: string): void {
    if (this.done) return;
    this.out.problem?.(message);
    this.closeUpstream('proxy');
    this.endClientSession(this.clientForm(failureStatus(message)), 'proxy');
  }

  // -- the client's WebSocket --------------------------------------------------------------

  // The protocol, not the frame type, says how a message is read (AM wsstream conn.go).
  private onClientData(channel: number, data: Buffer): void {
    if (this.done || this.upstreamClosed) return;
    if (channel === CLOSE_SIGNAL) {
      for (let i = 0; i < data.length && this.signal.length < 2; i++) this.signal.push(data[i]!);
      return;
    }
    const type = CHANNEL_STREAM[channel];
    if (type === 'stdin' && this.stdinFin) return;
    const id = type === undefined ? undefined : this.ids.get(type);
    if (id === undefined) return;
    for (let at = 0; at < data.length; at += MAX_DATA_FRAME) {
      const piece = data.subarray(at, at + MAX_DATA_FRAME);
      this.out.toUpstream(encodeDataFrameHead(id, piece.length), piece);
    }
  }

  /** v5's `[FF, channel]` (A §1.3): the end of stdin, carried as its stream's FIN. */
  private onCloseSignal(): void {
    const signal = this.signal;
    this.signal = [];
    if (this.done || this.upstreamClosed) return;
    if (!this.v5) {
      this.out.notice?.(`the client sent a close signal, which ${this.opts.clientProtocol || 'its protocol'} does not have: not carried`);
      return;
    }
    if (signal.length !== 1) {
      // The API server drops a connection whose close signal is not 2 bytes long.
      this.out.problem?.('the client sent a close signal that is not 2 bytes long');
      this.closeUpstream('proxy');
      this.endClientSession(null, 'proxy', CLOSE_PROTOCOL_ERROR);
      return;
    }
    const id = signal[0] === 0 ? this.ids.get('stdin') : undefined;
    if (id === undefined || this.stdinFin) return;
    this.stdinFin = true;
    this.out.toUpstream(encodeDataFrame(id, EMPTY, true));
  }

  private onClientAnomaly(a: Anomaly): void {
    this.out.problem?.(`the client's WebSocket cannot be read on: ${a.message}`);
    this.closeUpstream('proxy');
    this.endClientSession(null, 'proxy', CLOSE_PROTOCOL_ERROR);
  }

  /** The client left (close frame, FIN, GOAWAY of its socket) before the command ended. */
  private clientGone(): void {
    if (this.done) return;
    this.closeUpstream('client');
    this.done = true;
    this.out.endClient('client');
  }

  // -- the upstream's SPDY -----------------------------------------------------------------

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
        this.finish('the upstream sent GOAWAY');
        return;
      default:
        // RST_STREAM (the kubelet's at the end), SETTINGS, WINDOW_UPDATE: nothing to carry.
        return;
    }
  }

  private inflate(block: Buffer): void {
    if (this.inflater.broken) return;
    const r = this.inflater.inflate(block);
    if (!r.ok) this.out.problem?.(`the upstream's header block: ${r.message}`);
  }

  private onUpstreamData(seg: SpdyDataSegment): void {
    if (this.done) return;
    const type = this.types.get(seg.frame.streamId);
    if (type === 'stdout' || type === 'stderr') {
      this.out.toClient(serverFrameHead(WsOpcode.Binary, seg.data.length, type === 'stdout' ? 1 : 2), seg.data);
    } else if (type === 'error') {
      this.statusSeen = true;
      if (this.statusBytes + seg.data.length <= MAX_STATUS_BYTES) {
        this.status.push(Buffer.from(seg.data));
        this.statusBytes += seg.data.length;
      }
    }
  }

  private onUpstreamDataEnd(h: SpdyDataFrameHeader): void {
    // The error stream's FIN: the status is whole, and the kubelet closes the session next.
    if (h.fin && this.types.get(h.streamId) === 'error') this.finish(null);
  }

  private onUpstreamAnomaly(a: Anomaly): void {
    if (!a.opaque) return;
    this.out.problem?.(`the upstream's SPDY cannot be read on: ${a.message}`);
    this.finish(`the upstream's SPDY could not be read (${a.message})`);
  }

  /**
   * The command is over: its status goes to the client, then close 1000. `cut` says why when
   * the error stream did not end first; with no status at all that becomes a failure, so the
   * client does not report a silent success.
   */
  private finish(cut: string | null): void {
    if (this.done) return;
    this.closeUpstream('upstream');
    let status: Buffer | null = this.statusSeen ? statusFor(this.opts.clientProtocol, this.opts.upstreamProtocol, Buffer.concat(this.status)) : null;
    if (!this.statusSeen && cut !== null) {
      this.out.problem?.(`${cut} before any status`);
      status = this.clientForm(failureStatus(`kubewire: ${cut} before any status (translating WebSocket to SPDY)`));
    }
    this.endClientSession(status, 'upstream');
  }

  /** A JSON Status as the client's protocol carries it. */
  private clientForm(json: Buffer): Buffer {
    return statusFor(this.opts.clientProtocol, 'v4.channel.k8s.io', json);
  }

  /** The status on channel 3 (one message; none when empty, as v1 success), close, end. */
  private endClientSession(status: Buffer | null, by: Ender, code = CLOSE_NORMAL): void {
    if (this.done) return;
    this.done = true;
    if (status !== null && status.length > 0) this.out.toClient(encodeServerFrame(WsOpcode.Binary, status, 3));
    const payload = Buffer.allocUnsafe(2);
    payload.writeUInt16BE(code, 0);
    this.out.toClient(encodeServerFrame(WsOpcode.Close, payload));
    this.out.endClient(by);
  }

  /** kubectl's conn.Close(): RST CANCEL on the streams it still writes to, GOAWAY, end of TCP. */
  private closeUpstream(by: Ender): void {
    if (this.upstreamClosed) return;
    this.upstreamClosed = true;
    for (const type of ['stdin', 'resize'] as const) {
      const id = this.ids.get(type);
      if (id !== undefined) this.out.toUpstream(encodeRstStream(id, RST_CANCEL));
    }
    this.out.toUpstream(encodeGoaway(0, GOAWAY_OK));
    this.out.endUpstream(by);
  }
}
