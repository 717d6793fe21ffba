/**
 * The server side of a SPDY/3.1 session, as spdystream behaves for the kubelet (protocol.md
 * A §2.4), over any Duplex: a TLS socket after the 101, or the byte stream carried in the
 * port-forward WebSocket tunnel.
 *
 * The client creates every stream. Each SYN_STREAM is answered at once with a SYN_REPLY whose
 * header block is empty (count 0) and deflated by the ONE s2c compressor of the connection:
 *
 *   c2s  80 03 00 01 00 00 00 29  00 00 00 01 … 78 f9 e3 c6 a7 c2 …   SYN_STREAM 1 {streamtype: error}
 *   s2c  80 03 00 02 00 00 00 13  00 00 00 01 78 f9 e3 c6 a7 c2 62 00 02 00 00 00 00 ff ff
 *        SYN_REPLY 1, no FIN; the block is count 0, the first of the s2c zlib stream
 *
 * Client PINGs (odd ids) are echoed; SETTINGS and WINDOW_UPDATE are ignored, since spdystream
 * has no flow control and backpressure comes from TCP alone. A GOAWAY from the client ends
 * frame reading (spdystream `Serve`). Frames are parsed by the codec's SpdyFrameDecoder and
 * header blocks inflated by its SpdyHeaderBlockInflater, so every block of the c2s direction is
 * inflated in order, HEADERS included, or the shared zlib context would be lost.
 *
 * Protocol problems and socket errors are reported as 'error' events only when someone listens;
 * nothing here throws at the peer's doing.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { SpdyHeaderBlockDeflater, encodeDataFrame, encodeGoaway, encodePing, encodeRstStream, encodeSynReply } from '../codec/spdy-encode.js';
import { type SpdyControlFrame, SpdyFrameDecoder, type SpdyDataFrameHeader, type SpdyDataSegment } from '../codec/spdy-frame.js';
import { SpdyHeaderBlockInflater, type SpdyHeaders, headerLookup } from '../codec/spdy-header-block.js';
import type { Anomaly } from '../codec/anomaly.js';

export type { SpdyHeaders } from '../codec/spdy-header-block.js';

/** Go's spdystream and client-go write at most 32 KiB per DATA frame. */
export const MAX_DATA_FRAME_PAYLOAD = 32 * 1024;

/** SPDY/3 §2.6.3 RST_STREAM status codes the server sends. */
export const RST_PROTOCOL_ERROR = 1;
export const RST_CANCEL = 5;
/** SPDY/3 §2.6.6 GOAWAY status codes. */
export const GOAWAY_OK = 0;
export const GOAWAY_PROTOCOL_ERROR = 1;

/** After our FIN is flushed, how long the client gets to close before the socket is destroyed. */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export type SpdyServerErrorCode = 'KW_ERR_SPDY_PEER_PROTOCOL' | 'KW_ERR_SPDY_SOCKET';

/** A fault of the peer or the socket, reported for logs; the connection copes on its own. */
export class SpdyServerError extends Error {
  constructor(readonly code: SpdyServerErrorCode, message: string) {
    super(message);
    this.name = 'SpdyServerError';
  }
}

export interface SpdyServerConnectionOptions {
  /** Called on every frame received or sent, for idle timers. */
  onFrame?: () => void;
  /** Bytes that arrived with the upgrade request, decoded before anything the socket reads. */
  head?: Buffer;
  /** After close() has flushed, the socket is destroyed if the client has not closed it by then. */
  closeTimeoutMs?: number;
}

/** One client-created stream. Events: 'data' (Buffer), 'end' (remote FIN), 'reset' (status code). */
export class SpdyServerStream extends EventEmitter {
  private remoteFin = false;
  private localFin = false;
  private wasReset = false;

  constructor(
    private readonly conn: SpdyServerConnection,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    super();
  }

  /** The first value of a header, matched case-insensitively. */
  header(name: string): string | null {
    return headerLookup(this.headers, name);
  }

  get remoteEnded(): boolean {
    return this.remoteFin;
  }

  get localEnded(): boolean {
    return this.localFin;
  }

  /** True once either side reset the stream. */
  get isReset(): boolean {
    return this.wasReset;
  }

  /**
   * Sends `data` in DATA frames of at most 32 KiB. Returns the socket's write() result; false
   * also when nothing could be sent (stream ended or reset, connection closed), so a producer
   * stops instead of spinning, and learns of the end from its own close signal.
   */
  write(data: Buffer): boolean {
    if (!this.writable) return false;
    if (data.length === 0) return true;
    let ok = true;
    for (let at = 0; at < data.length; at += MAX_DATA_FRAME_PAYLOAD) {
      ok = this.conn.sendFrame(encodeDataFrame(this.id, data.subarray(at, at + MAX_DATA_FRAME_PAYLOAD)));
    }
    return ok;
  }

  /** Half-closes our side: an empty DATA frame with FIN, once. */
  end(): void {
    if (!this.writable) return;
    this.localFin = true;
    this.conn.sendFrame(encodeDataFrame(this.id, Buffer.alloc(0), true));
    this.conn.forgetIfDone(this);
  }

  /** RST_STREAM (default CANCEL): both directions are done. */
  reset(statusCode: number = RST_CANCEL): void {
    if (this.wasReset || this.conn.isClosed) return;
    this.wasReset = true;
    this.conn.sendFrame(encodeRstStream(this.id, statusCode));
    this.conn.forgetIfDone(this);
  }

  private get writable(): boolean {
    return !this.localFin && !this.wasReset && !this.conn.isClosed;
  }

  /** @internal */
  receiveData(data: Buffer): void {
    if (this.remoteFin || this.wasReset) return;
    this.emit('data', data);
  }

  /** @internal */
  receiveFin(): void {
    if (this.remoteFin || this.wasReset) return;
    this.remoteFin = true;
    this.emit('end');
    this.conn.forgetIfDone(this);
  }

  /** @internal */
  receiveReset(statusCode: number): void {
    if (this.wasReset) return;
    this.wasReset = true;
    this.emit('reset', statusCode);
  }

  /** @internal: close() resets every stream we have not FIN'd; this records it without a frame. */
  markReset(): void {
    this.wasReset = true;
  }
}

/**
 * Events: 'stream' (SpdyServerStream, after its SYN_REPLY was sent), 'goaway' (the client's
 * last-good stream id and status), 'close' (once: the peer can send no more), 'error'
 * (SpdyServerError, only emitted when listened to).
 */
export class SpdyServerConnection extends EventEmitter {
  private readonly socket: Duplex;
  private readonly onFrame: (() => void) | undefined;
  private readonly closeTimeoutMs: number;
  private readonly decoder: SpdyFrameDecoder;
  private readonly inflater = new SpdyHeaderBlockInflater();
  private readonly deflater = new SpdyHeaderBlockDeflater();
  private readonly streams = new Map<number, SpdyServerStream>();
  private readonly drainListeners = new Set<() => void>();
  private lastStreamId = 0;
  private goAwaySent = false;
  private remoteGoneAway = false;
  private closing = false;
  private closed = false;
  private pauses = 0;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(socket: Duplex, options: SpdyServerConnectionOptions = {}) {
    super();
    this.socket = socket;
    this.onFrame = options.onFrame;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.decoder = new SpdyFrameDecoder({
      control: (frame) => this.onControl(frame),
      dataFrame: () => this.onFrame?.(),
      data: (segment) => this.onData(segment),
      dataEnd: (header) => this.onDataEnd(header),
      anomaly: (anomaly) => this.onAnomaly(anomaly),
    });
    // Attached first, so no socket error can go unhandled and kill the process.
    socket.on('error', (err: Error) => {
      this.report('KW_ERR_SPDY_SOCKET', `socket error: ${err.message}`);
      this.markClosed();
    });
    // Go sockets (the kubelet's) have TCP_NODELAY on: each frame leaves at once, which keeps
    // typing in `exec -it` from waiting on Nagle and delayed ACKs.
    const tcp = socket as Duplex & { setNoDelay?: (noDelay?: boolean) => unknown };
    if (typeof tcp.setNoDelay === 'function') tcp.setNoDelay(true);
    const head = options.head;
    // The head goes in on the next tick, after the caller has attached its listeners, and
    // before the socket's own data, whose flowing starts on a later tick.
    if (head !== undefined && head.length > 0) process.nextTick(() => this.push(head));
    socket.on('data', (chunk: Buffer) => this.push(chunk));
    socket.on('end', () => {
      this.decoder.end();
      // spdystream treats EOF as the end of the session; answer the half-close so the socket can go.
      if (socket.writable) socket.end();
      this.markClosed();
    });
    socket.on('close', () => this.markClosed());
    socket.on('drain', () => {
      for (const listener of [...this.drainListeners]) listener();
    });
  }

  /** True once close() or destroy() was called or the peer went away: nothing more is sent. */
  get isClosed(): boolean {
    return this.closing || this.closed;
  }

  /** The highest stream id the client created. */
  get lastClientStreamId(): number {
    return this.lastStreamId;
  }

  /** Calls `listener` on every socket 'drain' (registering the same function twice has no effect). */
  onDrain(listener: () => void): void {
    this.drainListeners.add(listener);
  }

  /**
   * Stops reading the socket until every pause is matched by resumeReading(). Without flow
   * control, this is how a slow consumer holds the client back, as spdystream's blocked frame
   * workers do.
   */
  pauseReading(): void {
    if (this.pauses++ === 0) this.socket.pause();
  }

  resumeReading(): void {
    if (this.pauses === 0) return;
    if (--this.pauses === 0 && !this.closed) this.socket.resume();
  }

  /** GOAWAY, once, naming the highest client stream id as the last good one. */
  goAway(status: number = GOAWAY_OK): void {
    if (this.goAwaySent || this.isClosed) return;
    this.goAwaySent = true;
    this.sendFrame(encodeGoaway(this.lastStreamId, status));
  }

  /**
   * The kubelet's conn.Close(): RST CANCEL on every stream not FIN'd locally, GOAWAY(0), then
   * end the socket. The client closes its side once it has read everything.
   */
  close(): void {
    this.shutdown(GOAWAY_OK);
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
    this.markClosed();
  }

  /** @internal: every frame goes through here. False when the socket cannot take it. */
  sendFrame(frame: Buffer): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return false;
    this.onFrame?.();
    return this.socket.write(frame);
  }

  /** @internal: streams done in both directions are dropped, so long sessions hold only live ones. */
  forgetIfDone(stream: SpdyServerStream): void {
    if (stream.isReset || (stream.localEnded && stream.remoteEnded)) this.streams.delete(stream.id);
  }

  private shutdown(status: number): void {
    if (this.isClosed) return;
    for (const stream of this.streams.values()) {
      if (!stream.localEnded && !stream.isReset) {
        this.sendFrame(encodeRstStream(stream.id, RST_CANCEL));
        stream.markReset();
      }
    }
    this.streams.clear();
    if (!this.goAwaySent) {
      this.goAwaySent = true;
      this.sendFrame(encodeGoaway(this.lastStreamId, status));
    }
    this.closing = true;
    if (!this.socket.writable) return;
    this.socket.once('finish', () => {
      if (this.closed) return;
      this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeoutMs);
      this.closeTimer.unref();
    });
    this.socket.end();
  }

  private push(chunk: Buffer): void {
    if (this.closed) return;
    this.decoder.push(chunk);
  }

  /** Frames are ignored once the session is over, either way: spdystream stops at a GOAWAY. */
  private get reading(): boolean {
    return !this.remoteGoneAway && !this.isClosed;
  }

  private onControl(frame: SpdyControlFrame): void {
    this.onFrame?.();
    // Header blocks are inflated whatever the state, to keep the c2s zlib context in step.
    switch (frame.type) {
      case 'SYN_STREAM':
        this.onSynStream(frame.streamId, frame.headerBlock, frame.fin);
        return;
      case 'SYN_REPLY':
      case 'HEADERS':
        this.inflate(frame.headerBlock, frame.type);
        return;
      case 'RST_STREAM':
        if (this.reading) this.onRstStream(frame.streamId, frame.statusCode);
        return;
      case 'PING':
        // spdystream echoes pings of the other parity; ours would be even, and we never ping.
        if (this.reading && frame.pingId % 2 === 1) this.sendFrame(encodePing(frame.pingId));
        return;
      case 'GOAWAY':
        if (!this.reading) return;
        this.remoteGoneAway = true;
        this.emit('goaway', frame.lastGoodStreamId, frame.statusCode);
        return;
      default:
        // SETTINGS, WINDOW_UPDATE, CREDENTIAL, unknown types: spdystream ignores them.
        return;
    }
  }

  private onSynStream(streamId: number, block: Buffer, fin: boolean): void {
    const headers = this.inflate(block, 'SYN_STREAM');
    if (headers === null || !this.reading) return;
    // SPDY/3 §2.3.2: ids must increase; spdystream answers a reused id with PROTOCOL_ERROR.
    if (streamId === 0 || streamId <= this.lastStreamId) {
      this.report('KW_ERR_SPDY_PEER_PROTOCOL', `SYN_STREAM ${streamId} after stream ${this.lastStreamId}: ids must increase`);
      this.sendFrame(encodeRstStream(streamId, RST_PROTOCOL_ERROR));
      return;
    }
    this.lastStreamId = streamId;
    const stream = new SpdyServerStream(this, streamId, headers);
    this.streams.set(streamId, stream);
    this.sendFrame(encodeSynReply({ streamId, headerBlock: this.deflater.deflate([]) }));
    this.emit('stream', stream);
    if (fin) stream.receiveFin();
  }

  private onRstStream(streamId: number, statusCode: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.streams.delete(streamId);
    stream.receiveReset(statusCode);
  }

  private onData(segment: SpdyDataSegment): void {
    if (!this.reading) return;
    this.streams.get(segment.frame.streamId)?.receiveData(segment.data);
  }

  private onDataEnd(header: SpdyDataFrameHeader): void {
    if (!header.fin || !this.reading) return;
    this.streams.get(header.streamId)?.receiveFin();
  }

  private onAnomaly(anomaly: Anomaly): void {
    this.report('KW_ERR_SPDY_PEER_PROTOCOL', `${anomaly.code} at byte ${anomaly.offset}: ${anomaly.message}`);
  }

  /** A block that does not inflate leaves the c2s context lost for good: the session ends. */
  private inflate(block: Buffer, what: string): SpdyHeaders | null {
    if (this.inflater.broken) return null;
    const result = this.inflater.inflate(block);
    if (result.ok) return result.headers;
    this.report('KW_ERR_SPDY_PEER_PROTOCOL', `${what} header block: ${result.message} (${result.code}); closing the session`);
    this.shutdown(GOAWAY_PROTOCOL_ERROR);
    return null;
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.streams.clear();
    this.emit('close');
  }

  private report(code: SpdyServerErrorCode, message: string): void {
    if (this.listenerCount('error') > 0) this.emit('error', new SpdyServerError(code, message));
  }
}
