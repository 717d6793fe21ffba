/**
 * port-forward over SPDY `portforward.k8s.io`, as the kubelet serves it (KL
 * portforward/httpstream.go; protocol.md A §3a, B §7). The same code serves the WebSocket
 * tunnel, whose byte stream is handed in as the connection's Duplex.
 *
 * For each local connection kubectl opens a pair of streams with the same `requestid`:
 *
 *   SYN_STREAM 1 {streamtype: error, port: 80, requestid: 0}   then an empty DATA+FIN on 1
 *   SYN_STREAM 3 {streamtype: data,  port: 80, requestid: 0}   then the payload
 *
 * Once both are there the pod port is dialled and bytes are copied both ways, half-closes
 * passed on: the client's FIN on data ends the pod socket's writing side; the pod socket's end
 * FINs the data and error streams. Whatever the server writes on the error stream is printed
 * by kubectl as `an error occurred forwarding L -> R: <text>`, after which it exits.
 */
import type { Duplex } from 'node:stream';
import type { DemoPod, DialPodPort } from './contracts.js';
import type { SpdyServerConnection, SpdyServerStream } from './spdy-server-connection.js';

/** The kubelet's stream creation timeout, for the second stream of a pair. */
export const DEFAULT_PAIR_TIMEOUT_MS = 30_000;

/** Client bytes held while the pod port is being dialled before the connection stops reading. */
const MAX_PENDING_BYTES = 256 * 1024;

export interface SpdyPortForwardOptions {
  /** How long a pair may wait for its second stream. */
  streamTimeoutMs?: number;
}

/** Serves port-forward streams on an upgraded connection until the client goes; returns at once. */
export function serveSpdyPortForward(
  conn: SpdyServerConnection,
  pod: DemoPod,
  dialPodPort: DialPodPort,
  options: SpdyPortForwardOptions = {},
): void {
  new PortForwardSession(conn, pod, dialPodPort, options.streamTimeoutMs ?? DEFAULT_PAIR_TIMEOUT_MS).serve();
}

/**
 * The port header checked as the kubelet's stream validator does (httpStreamReceived). The
 * kubelet rejects such a stream with a reset and only logs the text; we write it on the error
 * stream, so whoever sent it can read why.
 */
export function parsePortHeader(value: string | null): { ok: true; port: number } | { ok: false; message: string } {
  if (value === null || value.length === 0) return { ok: false, message: '"port" header is required' };
  // strconv.ParseUint(s, 10, 16): ASCII digits only, no sign.
  if (!/^[0-9]+$/.test(value)) {
    return { ok: false, message: `unable to parse ${JSON.stringify(value)} as a port: strconv.ParseUint: parsing ${JSON.stringify(value)}: invalid syntax` };
  }
  const port = Number(value);
  if (port > 0xffff) {
    return { ok: false, message: `unable to parse ${JSON.stringify(value)} as a port: strconv.ParseUint: parsing ${JSON.stringify(value)}: value out of range` };
  }
  if (port < 1) return { ok: false, message: `port ${JSON.stringify(value)} must be > 0` };
  return { ok: true, port };
}

/** The pair key, as the kubelet's requestID(): the header, else derived from the stream id. */
function requestIdOf(stream: SpdyServerStream, type: string): string {
  const id = stream.header('requestid');
  if (id !== null && id !== '') return id;
  // Old clients sent no requestid; their pairs have consecutive odd ids, error first.
  if (type === 'error') return String(stream.id);
  if (type === 'data') return String(stream.id - 2);
  return '';
}

class PortForwardSession {
  private readonly pairs = new Map<string, StreamPair>();
  private readonly live = new Set<StreamPair>();

  constructor(
    private readonly conn: SpdyServerConnection,
    private readonly pod: DemoPod,
    private readonly dialPodPort: DialPodPort,
    private readonly pairTimeoutMs: number,
  ) {}

  serve(): void {
    this.conn.on('stream', (stream: SpdyServerStream) => this.onStream(stream));
    // One drain listener for every pair whose pod socket waits for the client to read.
    this.conn.onDrain(() => {
      for (const pair of this.live) pair.clientDrained();
    });
    // kubectl's SIGINT: GOAWAY, then TCP FIN. Nothing more can be forwarded either way.
    this.conn.on('goaway', () => {
      this.teardownAll();
      this.conn.close();
    });
    this.conn.on('close', () => this.teardownAll());
  }

  private teardownAll(): void {
    for (const pair of [...this.live, ...this.pairs.values()]) pair.teardown();
    this.live.clear();
    this.pairs.clear();
  }

  private onStream(stream: SpdyServerStream): void {
    const type = stream.header('streamtype') ?? '';
    if (type !== 'error' && type !== 'data') return;
    const requestId = requestIdOf(stream, type);
    let pair = this.pairs.get(requestId);
    if (pair === undefined) {
      pair = new StreamPair(requestId, this.conn, (p) => this.live.delete(p));
      this.pairs.set(requestId, pair);
      const created = pair;
      pair.startTimer(this.pairTimeoutMs, () => {
        if (this.pairs.get(requestId) === created) this.pairs.delete(requestId);
      });
    }
    const problem = pair.add(type, stream);
    if (problem !== null) {
      pair.printError(`error processing stream for request ${requestId}: ${problem}`);
      return;
    }
    if (pair.complete) {
      this.pairs.delete(requestId);
      this.live.add(pair);
      pair.forward(this.pod, this.dialPodPort);
    }
  }
}

/**
 * One local connection of kubectl: its error and data streams and the pod socket. Each
 * direction ends on its own (half-close); the pair is over when the pod socket closes, the
 * client resets the data stream or leaves, or forwarding fails.
 */
class StreamPair {
  private error: SpdyServerStream | null = null;
  private data: SpdyServerStream | null = null;
  private socket: Duplex | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Client bytes that arrived before the pod socket was there. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private clientFin = false;
  private podFin = false;
  private readingPaused = false;
  private waitingForPod = false;
  private socketPaused = false;
  private over = false;

  constructor(
    readonly requestId: string,
    private readonly conn: SpdyServerConnection,
    private readonly onOver: (pair: StreamPair) => void,
  ) {}

  get complete(): boolean {
    return this.error !== null && this.data !== null;
  }

  /** A problem text when the stream cannot join the pair (p.add in the kubelet). */
  add(type: 'error' | 'data', stream: SpdyServerStream): string | null {
    if (type === 'error') {
      if (this.error !== null) return 'error stream already assigned';
      this.error = stream;
      return null;
    }
    if (this.data !== null) return 'data stream already assigned';
    this.data = stream;
    // Listen at once: kubectl writes right after the SYN_STREAM, before the pod port is dialled.
    stream.on('data', (chunk: Buffer) => this.fromClient(chunk));
    stream.on('end', () => this.clientEnded());
    stream.on('reset', () => this.teardown());
    return null;
  }

  startTimer(ms: number, expired: () => void): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.complete || this.over) return;
      expired();
      this.fail(`(request=${this.requestId}) timed out waiting for streams`);
    }, ms);
    this.timer.unref();
  }

  printError(message: string): void {
    this.error?.write(Buffer.from(message, 'utf8'));
  }

  forward(pod: DemoPod, dialPodPort: DialPodPort): void {
    this.clearTimer();
    const parsed = parsePortHeader(this.data!.header('port'));
    if (!parsed.ok) {
      this.fail(parsed.message);
      return;
    }
    let dialing: Promise<Duplex>;
    try {
      dialing = dialPodPort(pod, parsed.port);
    } catch (err) {
      dialing = Promise.reject(err);
    }
    dialing.then(
      (socket) => this.connected(socket),
      (err: unknown) => this.fail(err instanceof Error ? err.message : String(err)),
    );
  }

  /** The client's socket buffer has room again. */
  clientDrained(): void {
    if (!this.socketPaused || this.over) return;
    this.socketPaused = false;
    this.socket?.resume();
  }

  /** The client reset the data stream or left: drop the pod socket. */
  teardown(): void {
    if (this.over) return;
    this.socket?.destroy();
    this.finish();
  }

  private connected(socket: Duplex): void {
    if (this.over) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    socket.on('error', () => this.podEnded());
    socket.on('end', () => this.podEnded());
    socket.on('close', () => {
      this.podEnded();
      this.finish();
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.data!.write(chunk) || this.over) return;
      this.socketPaused = true;
      socket.pause();
    });
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const chunk of pending) this.toPod(chunk);
    if (!this.waitingForPod) this.resumeReading();
    if (this.clientFin) socket.end();
  }

  private fromClient(chunk: Buffer): void {
    if (this.over || this.clientFin) return;
    if (this.socket !== null) {
      this.toPod(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes > MAX_PENDING_BYTES) this.pauseReading();
  }

  /** No flow control in SPDY: a slow pod port holds the whole connection, as in spdystream. */
  private toPod(chunk: Buffer): void {
    const socket = this.socket!;
    if (!socket.writable || socket.write(chunk) || this.waitingForPod) return;
    this.waitingForPod = true;
    this.pauseReading();
    socket.once('drain', () => {
      this.waitingForPod = false;
      this.resumeReading();
    });
  }

  private clientEnded(): void {
    if (this.over || this.clientFin) return;
    this.clientFin = true;
    if (this.socket !== null && this.socket.writable) this.socket.end();
  }

  /**
   * The pod finished sending: FIN the error stream, then data, in the order of the kubelet's
   * deferred Close calls. The client may still be sending; that direction stays open.
   */
  private podEnded(): void {
    if (this.over || this.podFin) return;
    this.podFin = true;
    this.error?.end();
    this.data?.end();
  }

  /** Tells the client why on the error stream and ends the pair (dial failure, bad port, timeout). */
  private fail(message: string): void {
    if (this.over) return;
    this.printError(message);
    this.error?.end();
    this.data?.end();
    this.finish();
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.clearTimer();
    this.pending = [];
    this.pendingBytes = 0;
    this.resumeReading();
    this.onOver(this);
  }

  private pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.conn.pauseReading();
  }

  private resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.conn.resumeReading();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
