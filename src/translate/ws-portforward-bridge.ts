/**
 * The kubelet's legacy WebSocket port-forward (what python-kubernetes and
 * @kubernetes/client-node speak; protocol.md A §3b, KL portforward/websocket.go) carried to a
 * SPDY `portforward.k8s.io` upstream (A §3a), sans-IO. Towards the client kubewire is the
 * kubelet's WebSocket server: one connection per port of `?ports=P0&ports=P1`, port i on
 * channels 2i (data, both ways) and 2i+1 (error text). Towards the upstream it is kubectl's
 * SPDY port-forward, one pair of streams per port:
 *
 *   client WebSocket                        upstream SPDY
 *   (the 101)                       →       per port i: SYN_STREAM 4i+1 {streamtype: error,
 *                                           port: Pi, requestid: i}, DATA+FIN on it (kubectl
 *                                           never writes there), SYN_STREAM 4i+3 {streamtype:
 *                                           data, port: Pi, requestid: i}
 *   [2i] Pi little-endian,          ←       (first, on each channel, as the kubelet writes them)
 *   [2i+1] Pi little-endian
 *   [2i] + data                     →       DATA on 4i+3
 *   [2i] + data                     ←       DATA on 4i+3
 *   [2i+1] + text                   ←       DATA on 4i+1, held (bounded) until its FIN, then
 *                                           one message, as the kubelet's one Fprint
 *   close 1000, end of TCP          ←       every port's data stream ended (FIN or RST): the
 *                                           kubelet closes once every port's forwarding is over
 *   close, end of TCP               →       per port: FIN and RST CANCEL on its data stream
 *                                           (kubectl's dataStream.Close() and reset), GOAWAY
 *
 * In the base64 protocols every message is text `'0'+channel` + base64 (A §1.3). The legs
 * (pings, GOAWAY, the client's close) are ws-spdy-legs.ts's.
 */
import type { SpdyDataFrameHeader, SpdyDataSegment } from '../codec/spdy-frame.js';
import { encodeDataFrame, encodeRstStream } from '../codec/spdy-encode.js';
import { StatusBytes } from './status-bytes.js';
import type { BridgeOutput } from './remotecommand-bridge.js';
import { WebSocketClientSpdyUpstream } from './ws-spdy-legs.js';

export interface WsPortForwardBridgeOptions {
  /** The subprotocol of the client's 101: v4, v4.base64, `channel.k8s.io`, `base64.channel.k8s.io` or ''. */
  clientProtocol: string;
  /** The ports of the request's query, in order. */
  ports: readonly number[];
  out: BridgeOutput;
}

const RST_CANCEL = 5;
const EMPTY = Buffer.alloc(0);

/** One port of the request: its two streams and what is left of them. */
interface PortPair {
  /** i: the port's place in the query, its channels 2i and 2i+1. */
  index: number;
  port: number;
  errorId: number;
  dataId: number;
  /** Error text held until the error stream's FIN (bounded). */
  error: StatusBytes;
  errorSent: boolean;
  /** The upstream ended the data stream: this port's forwarding is over. */
  over: boolean;
  /** kubewire sent FIN on the data stream. */
  finSent: boolean;
}

export class WsPortForwardToSpdyBridge extends WebSocketClientSpdyUpstream {
  private readonly pairs: PortPair[];
  private readonly byStream = new Map<number, { pair: PortPair; kind: 'error' | 'data' }>();

  constructor(opts: WsPortForwardBridgeOptions) {
    super(opts.clientProtocol, opts.out);
    this.pairs = opts.ports.map((port, i) => ({ index: i, port, errorId: 4 * i + 1, dataId: 4 * i + 3, error: new StatusBytes(), errorSent: false, over: false, finSent: false }));
    for (const pair of this.pairs) {
      this.byStream.set(pair.errorId, { pair, kind: 'error' });
      this.byStream.set(pair.dataId, { pair, kind: 'data' });
    }
  }

  /** After the client's 101: kubectl's stream pairs upstream, the port prefixes down. */
  start(): void {
    for (const pair of this.pairs) {
      const headers = (type: string): [string, string][] => [['streamtype', type], ['port', String(pair.port)], ['requestid', String(pair.index)]];
      this.openStream(pair.errorId, headers('error'));
      this.sendUpstream(pair.errorId, EMPTY, true);
      this.openStream(pair.dataId, headers('data'));
    }
    // "We are using little endian here because that's what Go uses." (KL portforward/websocket.go)
    for (const pair of this.pairs) {
      const prefix = Buffer.of(pair.port & 0xff, pair.port >> 8);
      this.sendClient(2 * pair.index, prefix);
      this.sendClient(2 * pair.index + 1, prefix);
    }
  }

  abort(message: string): void {
    if (this.done) return;
    this.out.problem?.(message);
    this.closeUpstream('proxy');
    this.endAll(`kubewire: ${message}`, 'proxy');
  }

  // -- the client's WebSocket --------------------------------------------------------------

  protected onClientData(channel: number, data: Buffer): void {
    // Only the data channels are read; the kubelet drops what comes on an error channel or on
    // a channel it did not open (AM wsstream conn.go `handle`).
    const pair = channel % 2 === 0 ? this.pairs[channel / 2] : undefined;
    if (pair === undefined || pair.finSent) return;
    this.sendUpstream(pair.dataId, data);
  }

  // -- the upstream's SPDY -----------------------------------------------------------------

  protected onUpstreamData(seg: SpdyDataSegment): void {
    const s = this.byStream.get(seg.frame.streamId);
    if (s === undefined) return;
    if (s.kind === 'data') {
      this.sendClient(2 * s.pair.index, seg.data);
    } else {
      s.pair.error.push(seg.data);
    }
  }

  protected onUpstreamDataEnd(h: SpdyDataFrameHeader): void {
    if (!h.fin || this.done) return;
    const s = this.byStream.get(h.streamId);
    if (s === undefined) return;
    if (s.kind === 'error') this.sendError(s.pair);
    else this.portOver(s.pair);
  }

  protected override onUpstreamReset(streamId: number): void {
    const s = this.byStream.get(streamId);
    if (s?.kind === 'data') this.portOver(s.pair);
  }

  protected upstreamGone(why: string): void {
    if (this.done) return;
    this.closeUpstream('upstream');
    const cut = this.pairs.some((p) => !p.over) ? `kubewire: ${why} (translating WebSocket to SPDY)` : null;
    if (cut !== null) this.out.problem?.(`${why} while ports were forwarded`);
    this.endAll(cut, 'upstream');
  }

  /** kubectl at the end of each connection: FIN on the data stream, then RST CANCEL. */
  protected endingFrames(): Buffer[] {
    const out: Buffer[] = [];
    for (const pair of this.pairs) {
      if (!pair.finSent) out.push(encodeDataFrame(pair.dataId, EMPTY, true));
      pair.finSent = true;
      out.push(encodeRstStream(pair.dataId, RST_CANCEL));
    }
    return out;
  }

  private portOver(pair: PortPair): void {
    pair.over = true;
    this.sendError(pair);
    if (this.pairs.every((p) => p.over)) {
      this.closeUpstream('upstream');
      this.closeClient('upstream');
    }
  }

  /** The error text, once, as one message (none when the upstream wrote nothing). */
  private sendError(pair: PortPair, fallback: string | null = null): void {
    if (pair.errorSent || this.done) return;
    const text = pair.error.length > 0 ? pair.error.take() : fallback === null ? null : Buffer.from(fallback, 'utf8');
    if (text === null) return;
    pair.errorSent = true;
    this.sendClient(2 * pair.index + 1, text);
  }

  /** What is held goes down (`cut` on the ports still forwarded), then close 1000. */
  private endAll(cut: string | null, by: 'upstream' | 'proxy'): void {
    for (const pair of this.pairs) this.sendError(pair, pair.over ? null : cut);
    this.closeClient(by);
  }
}
