/**
 * exec and attach carried from a SPDY/3.1 client to a WebSocket channel upstream, sans-IO: the
 * shell (spdy-to-ws.ts) pushes each leg's bytes in and writes what comes out; no sockets, no
 * timers. Towards the client the bridge is the kubelet (protocol.md A §2.4), towards the
 * upstream it is kubectl's WebSocket executor (A §1.3-§1.5):
 *
 *   client SPDY                         upstream WebSocket (masked frames, one message each)
 *   SYN_STREAM {streamtype: …}    →     SYN_REPLY (empty block), nothing upstream
 *   DATA on stdin                 →     binary [00] + data
 *   DATA+FIN on stdin             →     binary [FF 00]  (v5 only; v4 has no stdin half-close)
 *   DATA on resize                →     binary [04] + data  (the JSON stream, verbatim)
 *   PING (odd id)                 →     the same PING back
 *                                 ←     binary [01|02] + data: DATA on stdout|stderr
 *                                 ←     binary [03] + Status: DATA on error (v4/v5 verbatim;
 *                                       v1-v3 get the kubelet's text: nothing on success,
 *                                       the message otherwise)
 *   PONG back                     ←     PING
 *   FIN stdout, stderr, error;    ←     close: echoed (1000), then the kubelet's conn.Close():
 *   RST CANCEL the rest; GOAWAY         FINs, RST CANCEL on what is left, GOAWAY, end of TCP
 *
 * The WebSocket side starts before the client has created its streams (kubectl creates them
 * one by one), so upstream bytes are held, undecoded, until every stream the request asked for
 * exists. A WebSocket message is routed by its first byte and streamed through segment by
 * segment, never held whole; a stdin DATA segment becomes one whole WebSocket message, because
 * the API server reads each frame as a message (A §7).
 */
import { encodeDataFrame, encodeDataFrameHead, encodeGoaway, encodePing, encodeRstStream, encodeSynReply, SpdyHeaderBlockDeflater } from '../codec/spdy-encode.js';
import { type SpdyControlFrame, SpdyFrameDecoder, type SpdyDataFrameHeader, type SpdyDataSegment } from '../codec/spdy-frame.js';
import { headerLookup, SpdyHeaderBlockInflater, type SpdyHeaders } from '../codec/spdy-header-block.js';
import { StatusBytes } from './status-bytes.js';
import { WsOpcode } from '../codec/websocket-frame.js';
import type { Anomaly } from '../codec/anomaly.js';
import type { PayloadBytes } from '../codec/payload-bytes.js';
import { encodeClientFrame } from './client-frame.js';
import { failureStatus, jsonStatusProtocol, statusAsText } from './status-forms.js';
import { WsMessageReader } from './ws-message-reader.js';

export type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

/** The streams one request needs, as the kubelet counts them (KL remotecommand/httpstream.go). */
export interface ExpectedStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  resize: boolean;
}

/** Who ended the session: a leg's peer, or kubewire itself (a timeout, a protocol fault). */
export type Ender = 'client' | 'upstream' | 'proxy';

/** A frame's payload after its head: a view of what was read, or the views of its pieces in order. */
export type FrameBody = Buffer | readonly Buffer[];

/** The pieces of a body, none when there is none. */
export function frameBodyParts(body: FrameBody | undefined): readonly Buffer[] {
  return body === undefined ? [] : Buffer.isBuffer(body) ? [body] : body;
}

export interface BridgeOutput {
  /**
   * Bytes for the client; false when its socket is full. A frame's payload may come as `body`,
   * views of what was read (one, or the pieces of a payload that came in several reads), after
   * its head: the shell writes them at once (shell.ts `writeParts`) rather than copying them
   * into a buffer of their own.
   */
  toClient(bytes: Buffer, body?: FrameBody): boolean;
  /** Bytes for the upstream, the same way; false when its socket is full. */
  toUpstream(bytes: Buffer, body?: FrameBody): boolean;
  /** Everything for the client is written: end its socket. `by`: whose end ended the session. */
  endClient(by: Ender): void;
  /** Everything for the upstream is written: end its socket. */
  endUpstream(by: Ender): void;
  /** Every stream the request needs exists; held upstream bytes were decoded. */
  ready?(): void;
  /** Something went wrong on a leg, in plain words (for the log). */
  problem?(message: string): void;
  /** Something the translation could not carry although nothing failed (for the log). */
  notice?(message: string): void;
}

export interface BridgeOptions {
  /** The protocol of the client's 101 (v1..v5). */
  clientProtocol: string;
  /** The upstream's subprotocol: v5 or v4. */
  upstreamProtocol: string;
  streams: ExpectedStreams;
  out: BridgeOutput;
  /** The 4-byte masking keys of client frames (random unless a test fixes them). */
  maskKey?: () => Buffer;
}

/** spdystream and client-go write at most 32 KiB per DATA frame. */
const MAX_DATA_FRAME = 32 * 1024;
const RST_CANCEL = 5;
const RST_PROTOCOL_ERROR = 1;
const GOAWAY_OK = 0;
const GOAWAY_PROTOCOL_ERROR = 1;
const CLOSE_NORMAL = 1000;
const STREAM_TYPES: readonly string[] = ['error', 'stdin', 'stdout', 'stderr', 'resize'];
const CHANNEL_STREAM: Record<number, StreamType> = { 1: 'stdout', 2: 'stderr', 3: 'error' };
const EMPTY = Buffer.alloc(0);

export { jsonStatusProtocol, statusAsText } from './status-forms.js';

export class SpdyToWebSocketBridge {
  private readonly opts: BridgeOptions;
  private readonly out: BridgeOutput;
  private readonly spdy: SpdyFrameDecoder;
  private readonly ws: WsMessageReader;
  private readonly inflater = new SpdyHeaderBlockInflater();
  private readonly deflater = new SpdyHeaderBlockDeflater();
  private readonly maskKey: (() => Buffer) | undefined;
  private readonly jsonStatus: boolean;
  private readonly v5: boolean;

  /** Stream id per type, and the client's streams by id. */
  private readonly byType = new Map<StreamType, number>();
  private readonly types = new Map<number, StreamType>();
  private readonly wanted: StreamType[];
  private lastStreamId = 0;
  private stdinFin = false;

  /** Upstream bytes held until the client's streams exist. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private heldEnd = false;
  private isReady = false;

  private statusSeen = false;
  /** v1-v3: the Status JSON, converted to text at the end (bounded). */
  private readonly statusJson = new StatusBytes();

  private closeSent = false;
  private done = false;

  constructor(opts: BridgeOptions) {
    this.opts = opts;
    this.out = opts.out;
    this.maskKey = opts.maskKey;
    this.jsonStatus = jsonStatusProtocol(opts.clientProtocol);
    this.v5 = opts.upstreamProtocol === 'v5.channel.k8s.io';
    const s = opts.streams;
    this.wanted = ['error', ...(s.stdin ? ['stdin' as const] : []), ...(s.stdout ? ['stdout' as const] : []), ...(s.stderr ? ['stderr' as const] : []), ...(s.resize ? ['resize' as const] : [])];
    this.spdy = new SpdyFrameDecoder({
      control: (f) => this.onControl(f),
      dataFrame: () => {},
      data: (seg) => this.onClientData(seg),
      dataEnd: (h) => this.onClientDataEnd(h),
      anomaly: (a) => this.onClientAnomaly(a),
    });
    this.ws = new WsMessageReader(
      {
        data: (channel, bytes) => this.toStream(channel, bytes),
        ping: (payload) => {
          // Answered here: the upstream's pings are for this leg only.
          if (!this.closeSent && !this.done) this.out.toUpstream(encodeClientFrame(WsOpcode.Pong, payload, this.key()));
        },
        close: (code) => this.finish(code ?? CLOSE_NORMAL),
        broken: (a) => this.onUpstreamAnomaly(a),
      },
      { masked: false, channelled: true },
    );
  }

  /** Every stream the request needs exists. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Upstream bytes held while the client creates its streams. */
  get heldUpstreamBytes(): number {
    return this.heldBytes;
  }

  /** The session is over: both legs were told to end. */
  get finished(): boolean {
    return this.done;
  }

  /** The streams the request needs that the client has not created. */
  get missingStreams(): StreamType[] {
    return this.wanted.filter((t) => !this.byType.has(t));
  }

  fromClient(chunk: Buffer): void {
    if (this.done) return;
    this.spdy.push(chunk);
  }

  /** The client's side ended (FIN or close). */
  clientEnded(): void {
    this.spdy.end();
    this.clientGone();
  }

  fromUpstream(chunk: Buffer): void {
    if (this.done) return;
    if (!this.isReady) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return;
    }
    this.ws.push(chunk);
  }

  /** The upstream's side ended (FIN or close). */
  upstreamEnded(): void {
    if (!this.isReady) {
      this.heldEnd = true;
      return;
    }
    this.ws.end();
    this.finish(null);
  }

  /** A WebSocket ping upstream, so kubectl-style idle timers and gateways see traffic. */
  keepalive(): void {
    if (this.done || this.closeSent) return;
    this.out.toUpstream(encodeClientFrame(WsOpcode.Ping, EMPTY, this.key()));
  }

  /** Ends both legs now: the client gets `message` as a failure Status (the stream timeout). */
  abort(message: string): void {
    if (this.done) return;
    this.out.problem?.(message);
    this.closeUpstream('proxy');
    this.endClientSession(this.clientForm(failureStatus(message)), GOAWAY_OK, 'proxy');
  }

  // -- the client's SPDY -------------------------------------------------------------------

  private onControl(f: SpdyControlFrame): void {
    switch (f.type) {
      case 'SYN_STREAM':
        this.onSynStream(f.streamId, f.headerBlock);
        return;
      case 'SYN_REPLY':
      case 'HEADERS':
        // Only to keep the c2s zlib context in step.
        this.inflate(f.headerBlock);
        return;
      case 'PING':
        // spdystream echoes pings of the other parity; clients ping with odd ids.
        if (f.pingId % 2 === 1 && !this.done) this.out.toClient(encodePing(f.pingId));
        return;
      case 'GOAWAY':
        this.clientGone();
        return;
      default:
        // RST_STREAM (kubectl's at exit), SETTINGS, WINDOW_UPDATE: nothing to carry.
        return;
    }
  }

  private onSynStream(id: number, block: Buffer): void {
    const headers = this.inflate(block);
    if (headers === null || this.done) return;
    if (id === 0 || id <= this.lastStreamId) {
      this.out.problem?.(`the client's SYN_STREAM ${id} came after stream ${this.lastStreamId}: ids must increase`);
      this.out.toClient(encodeRstStream(id, RST_PROTOCOL_ERROR));
      return;
    }
    this.lastStreamId = id;
    const type = headerLookup(headers, 'streamtype') ?? '';
    if (STREAM_TYPES.includes(type) && !this.byType.has(type as StreamType)) {
      this.byType.set(type as StreamType, id);
      this.types.set(id, type as StreamType);
    }
    this.out.toClient(encodeSynReply({ streamId: id, headerBlock: this.deflater.deflate([]) }));
    if (!this.isReady && this.missingStreams.length === 0) this.becomeReady();
  }

  private onClientData(seg: SpdyDataSegment): void {
    if (this.done || this.closeSent) return;
    const type = this.types.get(seg.frame.streamId);
    if (type === 'stdin' && !this.stdinFin) this.sendChannel(0, seg.data);
    else if (type === 'resize') this.sendChannel(4, seg.data);
  }

  private onClientDataEnd(h: SpdyDataFrameHeader): void {
    if (!h.fin || this.done || this.closeSent) return;
    if (this.types.get(h.streamId) !== 'stdin' || this.stdinFin) return;
    this.stdinFin = true;
    // v5's CLOSE signal for channel 0 (A §1.3); v4 has none, so the command's stdin stays open.
    if (this.v5) this.out.toUpstream(encodeClientFrame(WsOpcode.Binary, Buffer.of(0xff, 0), this.key()));
    else this.out.notice?.("the end of stdin was not carried: the upstream speaks v4.channel.k8s.io, which has no close signal, so the command's stdin stays open");
  }

  private onClientAnomaly(a: Anomaly): void {
    if (a.opaque) {
      this.out.problem?.(`the client's SPDY cannot be read on: ${a.message}`);
      this.closeUpstream('proxy');
      this.endClientSession(null, GOAWAY_PROTOCOL_ERROR, 'proxy');
    }
  }

  private inflate(block: Buffer): SpdyHeaders | null {
    if (this.inflater.broken) return null;
    const r = this.inflater.inflate(block);
    if (r.ok) return r.headers;
    this.out.problem?.(`the client's header block: ${r.message}`);
    this.closeUpstream('proxy');
    this.endClientSession(null, GOAWAY_PROTOCOL_ERROR, 'proxy');
    return null;
  }

  /** The client went away (GOAWAY, FIN, close) before the command ended. */
  private clientGone(): void {
    if (this.done) return;
    this.closeUpstream('client');
    this.done = true;
    this.out.endClient('client');
  }

  private becomeReady(): void {
    this.isReady = true;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const chunk of held) {
      if (this.done) break;
      this.ws.push(chunk);
    }
    this.out.ready?.();
    if (this.heldEnd) this.upstreamEnded();
  }

  // -- the upstream's WebSocket ------------------------------------------------------------

  private onUpstreamAnomaly(a: Anomaly): void {
    this.out.problem?.(`the upstream's WebSocket cannot be read on: ${a.message}`);
    this.finish(null);
  }

  private toStream(channel: number, bytes: PayloadBytes): void {
    const type = CHANNEL_STREAM[channel];
    if (type === undefined || this.done) return;
    if (type === 'error') {
      this.statusSeen = true;
      if (!this.jsonStatus) {
        this.statusJson.push(bytes.all());
        return;
      }
    }
    const id = this.byType.get(type);
    if (id === undefined) return;
    // As read: a message that came in two TLS records goes on as two views, not joined, and one
    // longer than a DATA frame (the API server writes at most 32 KiB) is cut, still as views: a
    // fresh 64 KiB buffer per message joined for the cut made the relay's thread mark-compact
    // every 40 ms once its heap had been shrunk while idle (91 mark-compacts in 512 MiB).
    for (const piece of bytes.pieces(MAX_DATA_FRAME)) {
      let n = 0;
      for (const v of piece) n += v.length;
      this.out.toClient(encodeDataFrameHead(id, n), piece);
    }
  }

  /**
   * The upstream ended: with a close frame (`code`), or without one (null). A status that came
   * is delivered; none with a normal close means the server sent none, and none after a cut
   * connection becomes a failure, so kubectl does not report a silent success.
   */
  private finish(code: number | null): void {
    if (this.done) return;
    this.closeUpstream('upstream');
    let status: Buffer | null = null;
    if (!this.jsonStatus && this.statusSeen) status = statusAsText(this.statusJson.take());
    if (!this.statusSeen && code !== CLOSE_NORMAL) {
      const why = code === null ? 'the upstream ended the WebSocket connection without a close frame' : `the upstream closed the WebSocket connection with code ${code}`;
      this.out.problem?.(`${why}, before any status`);
      status = this.clientForm(failureStatus(`kubewire: ${why} (translating SPDY to WebSocket)`));
    }
    this.endClientSession(status, GOAWAY_OK, 'upstream');
  }

  /** A JSON Status as the client's protocol carries it. */
  private clientForm(json: Buffer): Buffer {
    return this.jsonStatus ? json : statusAsText(json);
  }

  /**
   * The kubelet's end of a session: FIN stdout and stderr, the status (already in the client's
   * form), FIN error, RST CANCEL the rest, GOAWAY.
   */
  private endClientSession(status: Buffer | null, goaway: number, by: Ender): void {
    if (this.done) return;
    this.done = true;
    for (const type of ['stdout', 'stderr'] as const) {
      const id = this.byType.get(type);
      if (id !== undefined) this.out.toClient(encodeDataFrame(id, EMPTY, true));
    }
    const errorId = this.byType.get('error');
    if (errorId !== undefined) {
      const text = status ?? EMPTY;
      for (let at = 0; at < text.length; at += MAX_DATA_FRAME) this.out.toClient(encodeDataFrame(errorId, text.subarray(at, at + MAX_DATA_FRAME)));
      this.out.toClient(encodeDataFrame(errorId, EMPTY, true));
    }
    for (const type of ['stdin', 'resize'] as const) {
      const id = this.byType.get(type);
      if (id !== undefined) this.out.toClient(encodeRstStream(id, RST_CANCEL));
    }
    this.out.toClient(encodeGoaway(this.lastStreamId, goaway));
    this.out.endClient(by);
  }

  /** Close 1000 upstream (once), then the end of that socket. */
  private closeUpstream(by: Ender): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const payload = Buffer.allocUnsafe(2);
    payload.writeUInt16BE(CLOSE_NORMAL, 0);
    this.out.toUpstream(encodeClientFrame(WsOpcode.Close, payload, this.key()));
    this.out.endUpstream(by);
  }

  private sendChannel(channel: number, data: Buffer): void {
    this.out.toUpstream(encodeClientFrame(WsOpcode.Binary, data, this.key(), channel));
  }

  private key(): Buffer | undefined {
    return this.maskKey?.();
  }
}
