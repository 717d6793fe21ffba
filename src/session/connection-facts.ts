/**
 * What kubewire knows of one connection (an upgrade) or one plain request, kept up to date in
 * O(1) per event: the request and its answer, the decoder stack, the status, how it ended, and
 * the counters that diagnosis reads (frames, pings, close frames, SPDY stream replies). Every
 * view reads these facts; none keeps its own copy of them.
 *
 * Events are held by reference only where they are few (the request, the answer, the status,
 * the close); for the many (data frames, pings) only a mark (seq and time) is kept, so a
 * connection costs the same whatever flows through it.
 *
 * Complete facts: `ended` turns true only once every fact of the connection is in. A live
 * connection (it began with `conn.open`) ends with `conn.close`, which the proxy emits after
 * both directions' `conn.end` and the decoder's `conn.summary`; a decoded capture has no
 * `conn.close` and ends with its `conn.summary`.
 */
import type {
  ConnCloseEvent, ConnEndEvent, ConnOpenEvent, ConnectionSummary, DecodeAnomalyEvent, DecodeStackEvent, Direction, Envelope, EventBody,
  HttpBodyEvent, HttpRequestEvent, HttpResponseEvent, K8sDataEvent, K8sStatusEvent, KubewireEvent, PfErrorEvent, ProxyErrorEvent,
  SessionUser, SpdyFrameEvent, WsFrameEvent,
} from '../events/types.js';
import { frameOf } from '../events/frames.js';
import { parseTsMillis } from '../events/stamp.js';
import { handshakeVerdict, type Handshake } from './handshake.js';
import { upgradeKindOf, type UpgradeKind } from './upgrade-kind.js';

/** A stamped event of one type. */
export type Ev<T extends EventBody> = Envelope & T;

/** Where and when something happened, for evidence and clocks, without holding its payload. */
export interface EventMark {
  readonly seq: number;
  readonly ts?: string;
  readonly type: string;
}

/** The per-frame limit of the x/net WebSocket servers Kubernetes runs (DefaultMaxPayloadBytes). */
export const MAX_SERVER_FRAME_BYTES = 32 * 1024 * 1024;
/** Kept per connection of the lists that could grow (anomalies, port-forward errors, proxy errors). */
const MAX_LISTED = 20;
/** Client SPDY streams waiting for a reply that are remembered (kubectl waits for each in turn). */
const MAX_UNREPLIED = 256;
/** Ports remembered per connection (kubectl port-forward takes a handful). */
const MAX_PORTS = 64;

interface PerDir<T> {
  c2s: T;
  s2c: T;
}

const markOf = (e: KubewireEvent): EventMark => (e.ts === undefined ? { seq: e.seq, type: e.type } : { seq: e.seq, ts: e.ts, type: e.type });

export class ConnectionFacts {
  open: Ev<ConnOpenEvent> | null = null;
  /** The first request (`upgrade.request` for an upgrade, `http.request` for plain HTTP). */
  request: Ev<HttpRequestEvent> | null = null;
  /** The first final response (1xx other than 101 skipped). */
  response: Ev<HttpResponseEvent> | null = null;
  /** The first server-to-client body (a refusal's body). */
  body: Ev<HttpBodyEvent> | null = null;
  stack: Ev<DecodeStackEvent> | null = null;
  /** The first decoded status (channel 3 / the SPDY error stream). */
  status: Ev<K8sStatusEvent> | null = null;
  /** The last status payload from the server (before it is decoded), as a mark. */
  statusData: EventMark | null = null;
  close: Ev<ConnCloseEvent> | null = null;
  summary: ConnectionSummary | null = null;
  readonly ends: PerDir<Ev<ConnEndEvent> | null> = { c2s: null, s2c: null };
  readonly proxyErrors: Ev<ProxyErrorEvent>[] = [];
  readonly anomalies: Ev<DecodeAnomalyEvent>[] = [];
  anomalyCount = 0;
  readonly pfErrors: Ev<PfErrorEvent>[] = [];
  /** WebSocket frames (not the SPDY frames inside the tunnel) and SPDY frames, per direction. */
  readonly frames = { c2s: 0, s2c: 0 };
  firstServerFrame: Ev<WsFrameEvent | SpdyFrameEvent> | null = null;
  /** The first WebSocket close frame each way. */
  readonly closeFrames: PerDir<Ev<WsFrameEvent> | null> = { c2s: null, s2c: null };
  readonly goaway: PerDir<Ev<SpdyFrameEvent> | null> = { c2s: null, s2c: null };
  /** The first server frame that ends a SPDY exec: GOAWAY, RST_STREAM, or FIN on the error stream. */
  spdyServerEnd: Ev<SpdyFrameEvent> | null = null;
  readonly wsPings = { c2s: 0, s2c: 0 };
  readonly wsPongs = { c2s: 0, s2c: 0 };
  readonly spdyPings = { c2s: 0, s2c: 0 };
  /** Client WebSocket pings since the server's last pong. */
  readonly unansweredPings: { count: number; first: EventMark | null; last: EventMark | null } = { count: 0, first: null, last: null };
  lastPong: EventMark | null = null;
  /** The client's last keepalive (WebSocket ping or SPDY PING, tunnel included) and the server's last answer to one. */
  lastClientPing: EventMark | null = null;
  lastPingAnswer: EventMark | null = null;
  /** Server frames after the last status payload, and how many of them were pings or pongs. */
  readonly afterStatus: { frames: number; keepalive: number; first: EventMark | null } = { frames: 0, keepalive: 0, first: null };
  /** Client SYN_STREAMs with no SYN_REPLY (or RST_STREAM) from the server yet, by stream id. */
  readonly unrepliedStreams = new Map<number, Ev<SpdyFrameEvent>>();
  spdyStreamsOpened = 0;
  /** The client's error stream (SPDY exec/attach) and whether the server replied to it. */
  readonly errorStream: { syn: Ev<SpdyFrameEvent> | null; replied: boolean } = { syn: null, replied: false };
  /** The last payload-bearing frame or message, either way. */
  lastData: EventMark | null = null;
  /** WebSocket frames larger than the Kubernetes servers accept (32 MiB), first one each way. */
  readonly oversizeFrames: PerDir<Ev<WsFrameEvent> | null> = { c2s: null, s2c: null };
  firstEvent: EventMark | null = null;
  lastEvent: EventMark | null = null;
  /** Payload bytes per k8s stream (stdin, stdout, stderr, …), whatever the recording mode kept. */
  readonly streamBytes = new Map<string, number>();
  /** The furthest byte offset seen per direction, for the bytes of a connection still open. */
  readonly seen = { c2s: 0, s2c: 0 };
  firstResize: { width: number; height: number } | null = null;
  /** Ports seen in port-forward streams and data, as they come (bounded). */
  readonly ports = new Set<number>();
  private verdict: Handshake | undefined;

  constructor(readonly conn: string) {}

  /** Takes one event of this connection; returns true when it completed the facts. */
  add(e: KubewireEvent): boolean {
    const was = this.ended;
    this.take(e);
    return !was && this.ended;
  }

  private take(e: KubewireEvent): void {
    const mark = markOf(e);
    this.firstEvent ??= mark;
    this.lastEvent = mark;
    const at = e as { dir?: Direction; offset?: number; size?: number; length?: number; tunnel?: boolean };
    if (at.dir !== undefined && typeof at.offset === 'number' && !at.tunnel) {
      // Tunnel offsets count the joined SPDY stream, not the connection's bytes.
      const end = at.offset + (at.size ?? at.length ?? 0);
      if (end > this.seen[at.dir]) this.seen[at.dir] = end;
    }
    // A plain data frame rides in its data event (schema version 2); on the wire it came first.
    const folded = e.type === 'k8s.data' || e.type === 'pf.data' || e.type === 'ws.data' ? frameOf(e) : null;
    if (folded !== null) this.frame(folded, mark);
    switch (e.type) {
      case 'conn.open':
        this.open ??= e;
        return;
      case 'http.request':
      case 'upgrade.request':
        if (this.request === null) {
          this.request = e;
          this.verdict = undefined;
        }
        return;
      case 'http.response':
      case 'upgrade.response':
        if (this.response === null && (e.status >= 200 || e.status === 101)) {
          this.response = e;
          this.verdict = undefined;
        }
        return;
      case 'http.body':
        if (e.dir === 's2c') this.body ??= withoutPayload(e);
        return;
      case 'decode.stack':
        this.stack ??= e;
        return;
      case 'k8s.status':
        this.status ??= e;
        return;
      case 'k8s.data':
        this.k8sData(e, mark);
        return;
      case 'k8s.resize':
        this.firstResize ??= { width: e.width, height: e.height };
        return;
      case 'pf.data':
        this.port(e.port);
        if (e.size > 0) this.lastData = mark;
        return;
      case 'ws.data':
        if (e.size > 0) this.lastData = mark;
        return;
      case 'spdy.stream':
        this.port(e.port);
        return;
      case 'conn.close':
        this.close ??= e;
        return;
      case 'conn.end':
        this.ends[e.dir] ??= e;
        return;
      case 'conn.summary':
        this.summary ??= e.summary;
        return;
      case 'proxy.error':
        if (this.proxyErrors.length < MAX_LISTED) this.proxyErrors.push(e);
        return;
      case 'decode.anomaly':
        this.anomalyCount++;
        if (this.anomalies.length < MAX_LISTED) this.anomalies.push(e);
        return;
      case 'pf.error':
        this.port(e.port);
        if (this.pfErrors.length < MAX_LISTED) this.pfErrors.push(e);
        return;
      case 'ws.frame':
      case 'spdy.frame':
        this.frame(e, mark);
        return;
      default:
        return;
    }
  }

  /** `kubewire gateway`: who made the connection, from its `conn.open`. */
  get user(): SessionUser | null {
    return this.open?.user ?? null;
  }

  /** A live connection (it began with `conn.open`), as opposed to a decoded capture. */
  get live(): boolean {
    return this.open !== null;
  }

  /** See the module note: every fact of the connection is in. */
  get ended(): boolean {
    if (this.close !== null) return true;
    return this.open === null && (this.summary !== null || (this.ends.c2s !== null && this.ends.s2c !== null));
  }

  get kind(): 'http' | 'upgrade' | null {
    if (this.open) return this.open.kind;
    if (this.request) return this.request.type === 'upgrade.request' ? 'upgrade' : 'http';
    return null;
  }

  /** The transport the request asked for (WebSocket or SPDY), or null for a plain request. */
  get upgradeKind(): UpgradeKind | null {
    return upgradeKindOf(this.request?.upgrade);
  }

  get isUpgrade(): boolean {
    return this.kind === 'upgrade' || this.upgradeKind !== null;
  }

  /** The one handshake verdict (src/session/handshake.ts). */
  get handshake(): Handshake {
    this.verdict ??= handshakeVerdict(this.request, this.response);
    return this.verdict;
  }

  /** kubectl accepted the upgrade's answer and used the stream. */
  get accepted(): boolean {
    return this.isUpgrade && this.handshake.ok;
  }

  /** An upgrade kubectl gave up on: answered with something it rejects, or ended unanswered. */
  get failedUpgrade(): boolean {
    if (!this.isUpgrade || this.accepted) return false;
    return this.response !== null || this.ended || this.proxyErrors.length > 0;
  }

  get exitCode(): number | null {
    return this.status?.exitCode ?? null;
  }

  /** Bytes each way: from `conn.close`, else the ends, else as far as seen. */
  get bytes(): { c2s: number; s2c: number } {
    if (this.close) return this.close.bytes;
    return { c2s: this.ends.c2s?.offset ?? this.seen.c2s, s2c: this.ends.s2c?.offset ?? this.seen.s2c };
  }

  get startMs(): number | null {
    return parseTsMillis(this.open?.ts ?? this.request?.ts ?? this.firstEvent?.ts);
  }

  get endMs(): number | null {
    return this.ended ? parseTsMillis(this.close?.ts ?? this.lastEvent?.ts) : null;
  }

  get durationMs(): number | null {
    if (this.close) return this.close.durationMs;
    const start = this.startMs;
    const end = this.endMs;
    return start !== null && end !== null ? Math.max(0, end - start) : null;
  }

  /**
   * The client ended the stream itself: its close frame (or GOAWAY) came before any from the
   * server and before a status, or it closed the connection with nothing from the server's
   * side. Clients such as client-node's `ws.close()` or python's `resp.close()` do this
   * (RFC 6455 §5.5.1: the other side answers with a close frame of its own), and no status is
   * due then.
   */
  get clientEnded(): boolean {
    const mine = this.closeFrames.c2s ?? this.goaway.c2s;
    const theirs = this.closeFrames.s2c ?? this.goaway.s2c ?? this.spdyServerEnd;
    // Only a live connection orders the two directions: a capture decodes the client's side
    // first, so there the client's close always seems to come first.
    if (this.live && mine && (!theirs || mine.seq < theirs.seq) && (!this.status || mine.seq < this.status.seq)) return true;
    return this.close?.closedBy === 'client' && !theirs && !this.status && this.statusData === null;
  }

  private port(port: number | null): void {
    if (port !== null && this.ports.size < MAX_PORTS) this.ports.add(port);
  }

  private k8sData(e: Ev<K8sDataEvent>, mark: EventMark): void {
    this.streamBytes.set(e.stream, (this.streamBytes.get(e.stream) ?? 0) + e.size);
    if (e.dir === 's2c' && e.stream === 'error' && e.size > 0) {
      this.statusData = mark;
      this.afterStatus.frames = 0;
      this.afterStatus.keepalive = 0;
      this.afterStatus.first = null;
    }
    if (e.size > 0) this.lastData = mark;
  }

  private serverFrame(mark: EventMark, e: Ev<WsFrameEvent | SpdyFrameEvent>, keepalive: boolean): void {
    this.firstServerFrame ??= e;
    if (this.statusData === null) return;
    this.afterStatus.frames++;
    if (keepalive) this.afterStatus.keepalive++;
    this.afterStatus.first ??= mark;
  }

  private frame(e: Ev<WsFrameEvent | SpdyFrameEvent>, mark: EventMark): void {
    if (e.type === 'ws.frame') this.wsFrame(e, mark);
    else this.spdyFrame(e, mark);
  }

  private wsFrame(e: Ev<WsFrameEvent>, mark: EventMark): void {
    this.frames[e.dir]++;
    if (e.length > MAX_SERVER_FRAME_BYTES) this.oversizeFrames[e.dir] ??= e;
    switch (e.kind) {
      case 'close':
        this.closeFrames[e.dir] ??= e;
        break;
      case 'ping':
        this.wsPings[e.dir]++;
        if (e.dir === 'c2s') {
          this.lastClientPing = mark;
          this.unansweredPings.count++;
          this.unansweredPings.first ??= mark;
          this.unansweredPings.last = mark;
        }
        break;
      case 'pong':
        this.wsPongs[e.dir]++;
        if (e.dir === 's2c') {
          this.lastPong = mark;
          this.lastPingAnswer = mark;
          this.unansweredPings.count = 0;
          this.unansweredPings.first = null;
          this.unansweredPings.last = null;
        }
        break;
      default:
        if (e.length > 0) this.lastData = mark;
    }
    if (e.dir === 's2c') this.serverFrame(mark, e, e.kind === 'ping' || e.kind === 'pong');
  }

  private spdyFrame(e: Ev<SpdyFrameEvent>, mark: EventMark): void {
    this.frames[e.dir]++;
    const id = e.streamId;
    switch (e.frame) {
      case 'SYN_STREAM':
        if (e.dir === 'c2s' && id !== undefined) {
          this.spdyStreamsOpened++;
          if (this.unrepliedStreams.size < MAX_UNREPLIED) this.unrepliedStreams.set(id, e);
          if (e.streamType === 'error' && !e.tunnel) this.errorStream.syn ??= e;
        }
        break;
      case 'SYN_REPLY':
        if (e.dir === 's2c' && id !== undefined) {
          this.unrepliedStreams.delete(id);
          if (id === this.errorStream.syn?.streamId) this.errorStream.replied = true;
        }
        break;
      case 'RST_STREAM':
        if (e.dir === 's2c') {
          if (id !== undefined) this.unrepliedStreams.delete(id);
          if (!e.tunnel) this.spdyServerEnd ??= e;
        }
        break;
      case 'GOAWAY':
        this.goaway[e.dir] ??= e;
        if (e.dir === 's2c' && !e.tunnel) this.spdyServerEnd ??= e;
        break;
      case 'PING':
        this.spdyPings[e.dir]++;
        // Only clients ping (odd ids); the server echoes them (protocol.md A §2.4).
        if (e.dir === 'c2s') this.lastClientPing = mark;
        else this.lastPingAnswer = mark;
        break;
      case 'DATA':
        if (e.length > 0) this.lastData = mark;
        if (e.dir === 's2c' && e.fin && !e.tunnel && id !== undefined && id === this.errorStream.syn?.streamId) this.spdyServerEnd ??= e;
        break;
      default:
        break;
    }
    if (e.dir === 's2c') this.serverFrame(mark, e, e.frame === 'PING');
  }
}

/** A copy without the payload bytes (the facts never read them). */
export function withoutPayload<T extends KubewireEvent>(e: T): T {
  if ('payload' in e && e.payload !== undefined) {
    const { payload: _payload, ...rest } = e as T & { payload?: string };
    return rest as T;
  }
  return e;
}
