/**
 * exec and attach carried from a WebSocket client to SPDY/3.1 upstream, sans-IO: the mirror of
 * remotecommand-bridge.ts. Towards the client the bridge is the WebSocket server (the API
 * server's translator for v5, the kubelet for v4, v1 and the base64 variants; protocol.md
 * A §1.3-§1.5), towards the
 * upstream it is kubectl's SPDY executor (A §2.4):
 *
 *   client WebSocket (masked)             upstream SPDY
 *   (the 101)                       →     SYN_STREAM error, stdin, stdout, stderr, resize
 *                                         (those the request asked for, ids 1, 3, 5, …)
 *   empty message on the lowest     ←
 *   output channel (01, 02 or 03)
 *   binary [00] + data              →     DATA on stdin (text "0" + base64 in the base64
 *                                         protocols, and so on for every channel)
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
 * The base64 protocols (`base64.channel.k8s.io`, `v4.base64.channel.k8s.io`, what browsers
 * and web consoles speak) are the same channels as their binary twins, in text messages
 * `'0'+channel` + base64 both ways (A §1.3): `"1aGkK"` is stdout "hi\n". Of the two only
 * v4.base64 reads resize (channel 4); `base64.channel.k8s.io`'s channel 4 is not carried.
 *
 * The streams are created at once, without waiting for each SYN_REPLY: spdystream serves
 * them in order either way. The legs themselves (pings, the client's close, the upstream's
 * GOAWAY, the base64 text) are ws-spdy-legs.ts's.
 */
import type { SpdyDataFrameHeader, SpdyDataSegment } from '../codec/spdy-frame.js';
import { encodeRstStream } from '../codec/spdy-encode.js';
import type { BridgeOutput, Ender, ExpectedStreams, StreamType } from './remotecommand-bridge.js';
import { failureStatus, statusFor } from './status-forms.js';
import { StatusBytes } from './status-bytes.js';
import { CLOSE_NORMAL, WebSocketClientSpdyUpstream } from './ws-spdy-legs.js';

export interface WsToSpdyBridgeOptions {
  /** The subprotocol of the client's 101: v5, v4, `channel.k8s.io`, a base64 one, or '' for none. */
  clientProtocol: string;
  /** The upstream's X-Stream-Protocol-Version: v4..v1. */
  upstreamProtocol: string;
  streams: ExpectedStreams;
  out: BridgeOutput;
}

const RST_CANCEL = 5;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_SIGNAL = 255;
const EMPTY = Buffer.alloc(0);
const CHANNEL_STREAM: Record<number, StreamType> = { 0: 'stdin', 4: 'resize' };

export class WebSocketToSpdyBridge extends WebSocketClientSpdyUpstream {
  private readonly opts: WsToSpdyBridgeOptions;
  private readonly v5: boolean;
  private readonly streams: ExpectedStreams;

  private readonly ids = new Map<StreamType, number>();
  private readonly types = new Map<number, StreamType>();
  private stdinFin = false;

  /** The bytes of the close signal being read (at most 2 are kept). */
  private signal: number[] = [];

  private readonly status = new StatusBytes();
  private statusSeen = false;

  constructor(opts: WsToSpdyBridgeOptions) {
    super(opts.clientProtocol, opts.out);
    this.opts = opts;
    this.v5 = opts.clientProtocol === 'v5.channel.k8s.io';
    // base64.channel.k8s.io has no resize channel (KL remotecommand/websocket.go serves it
    // only from v4.base64 on among the text protocols).
    this.streams = { ...opts.streams, resize: opts.streams.resize && opts.clientProtocol !== 'base64.channel.k8s.io' };
  }

  /** After the client's 101: the streams upstream in kubectl's order, the first message down. */
  start(): void {
    const s = this.streams;
    const wanted: StreamType[] = ['error', ...(s.stdin ? ['stdin' as const] : []), ...(s.stdout ? ['stdout' as const] : []), ...(s.stderr ? ['stderr' as const] : []), ...(s.resize ? ['resize' as const] : [])];
    let id = 1;
    for (const type of wanted) {
      this.ids.set(type, id);
      this.types.set(id, type);
      this.openStream(id, [['streamtype', type]]);
      id += 2;
    }
    // One empty message on the lowest writable channel, as both servers send it (A §1.3).
    this.sendClient(s.stdout ? 1 : s.stderr ? 2 : 3, EMPTY);
  }

  abort(message: string): void {
    if (this.done) return;
    this.out.problem?.(message);
    this.closeUpstream('proxy');
    this.endClientSession(this.clientForm(failureStatus(message)), 'proxy');
  }

  // -- the client's WebSocket --------------------------------------------------------------

  // The protocol, not the frame type, says how a message is read (AM wsstream conn.go).
  protected onClientData(channel: number, data: Buffer): void {
    if (channel === CLOSE_SIGNAL) {
      for (let i = 0; i < data.length && this.signal.length < 2; i++) this.signal.push(data[i]!);
      return;
    }
    const type = CHANNEL_STREAM[channel];
    if (type === 'stdin' && this.stdinFin) return;
    const id = type === undefined ? undefined : this.ids.get(type);
    if (id !== undefined) this.sendUpstream(id, data);
  }

  protected override onClientMessageEnd(channel: number): void {
    if (channel === CLOSE_SIGNAL) this.onCloseSignal();
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
    this.sendUpstream(id, EMPTY, true);
  }

  // -- the upstream's SPDY -----------------------------------------------------------------

  protected onUpstreamData(seg: SpdyDataSegment): void {
    const type = this.types.get(seg.frame.streamId);
    if (type === 'stdout' || type === 'stderr') {
      // As read: a 32 KiB DATA frame that came in two TLS records goes on as two views, not joined.
      this.sendClient(type === 'stdout' ? 1 : 2, seg.bytes);
    } else if (type === 'error') {
      this.statusSeen = true;
      this.status.push(seg.data);
    }
  }

  protected onUpstreamDataEnd(h: SpdyDataFrameHeader): void {
    // The error stream's FIN: the status is whole, and the kubelet closes the session next.
    if (h.fin && this.types.get(h.streamId) === 'error') this.finish(null);
  }

  protected upstreamGone(why: string): void {
    this.finish(why);
  }

  /**
   * The command is over: its status goes to the client, then close 1000. `cut` says why when
   * the error stream did not end first; with no status at all that becomes a failure, so the
   * client does not report a silent success.
   */
  private finish(cut: string | null): void {
    if (this.done) return;
    this.closeUpstream('upstream');
    let status: Buffer | null = this.statusSeen ? statusFor(this.opts.clientProtocol, this.opts.upstreamProtocol, this.status.take()) : null;
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
    if (status !== null && status.length > 0) this.sendClient(3, status);
    this.closeClient(by, code);
  }

  /** kubectl's conn.Close(): RST CANCEL on the streams it still writes to. */
  protected endingFrames(): Buffer[] {
    const out: Buffer[] = [];
    for (const type of ['stdin', 'resize'] as const) {
      const id = this.ids.get(type);
      if (id !== undefined) out.push(encodeRstStream(id, RST_CANCEL));
    }
    return out;
  }
}
