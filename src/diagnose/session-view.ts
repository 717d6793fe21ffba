/**
 * Building a `SessionView` as events arrive: each connection's tracker updates its summary fields
 * in O(1) per event, and stores the event unless the session is over its bound. Payload bytes
 * are never kept (the rules read sizes, statuses and texts, not data), so a session costs at
 * most its bound in small objects whatever flows through it.
 */
import type {
  ConnCloseEvent, ConnEndEvent, ConnOpenEvent, DecodeAnomalyEvent, DecodeStackEvent, HttpBodyEvent, HttpRequestEvent,
  HttpResponseEvent, K8sDataEvent, K8sStatusEvent, KubewireEvent, PfErrorEvent, ProxyErrorEvent, SpdyFrameEvent, WsFrameEvent,
} from '../events/types.js';
import type { ConnView, Ev, SessionView } from './types.js';

/** The per-frame limit of the x/net WebSocket servers Kubernetes runs (DefaultMaxPayloadBytes). */
export const MAX_SERVER_FRAME_BYTES = 32 * 1024 * 1024;
/** Kept per connection of the lists that could grow (anomalies, port-forward errors, proxy errors). */
const MAX_LISTED = 20;
/** Client SPDY streams waiting for a reply that are remembered (kubectl waits for each in turn). */
const MAX_UNREPLIED = 256;

/** Events that carry payload, or are one of many frames: left out once a session is over its bound. */
export function isBulk(e: KubewireEvent): boolean {
  switch (e.type) {
    case 'k8s.data':
    case 'pf.data':
    case 'ws.data':
      return true;
    case 'ws.frame':
      return e.kind !== 'close' && e.length <= MAX_SERVER_FRAME_BYTES;
    case 'spdy.frame':
      return e.frame === 'DATA' || e.frame === 'PING';
    default:
      return false;
  }
}

/** A copy without the payload bytes (the rules never read them). */
export function withoutPayload(e: KubewireEvent): KubewireEvent {
  if ((e.type === 'k8s.data' || e.type === 'pf.data' || e.type === 'ws.data' || e.type === 'http.body') && e.payload !== undefined) {
    const { payload: _payload, ...rest } = e;
    return rest as KubewireEvent;
  }
  return e;
}

/** Two values, one per direction. */
interface PerDir<T> {
  c2s: T;
  s2c: T;
}

export class ConnTracker implements ConnView {
  readonly events: KubewireEvent[] = [];
  omitted = 0;
  open: Ev<ConnOpenEvent> | null = null;
  request: Ev<HttpRequestEvent> | null = null;
  response: Ev<HttpResponseEvent> | null = null;
  body: Ev<HttpBodyEvent> | null = null;
  stack: Ev<DecodeStackEvent> | null = null;
  status: Ev<K8sStatusEvent> | null = null;
  statusData: Ev<K8sDataEvent> | null = null;
  close: Ev<ConnCloseEvent> | null = null;
  readonly ends: PerDir<Ev<ConnEndEvent> | null> = { c2s: null, s2c: null };
  readonly proxyErrors: Ev<ProxyErrorEvent>[] = [];
  readonly anomalies: Ev<DecodeAnomalyEvent>[] = [];
  anomalyCount = 0;
  readonly pfErrors: Ev<PfErrorEvent>[] = [];
  readonly frames = { c2s: 0, s2c: 0 };
  firstServerFrame: Ev<WsFrameEvent | SpdyFrameEvent> | null = null;
  readonly closeFrames: PerDir<Ev<WsFrameEvent> | null> = { c2s: null, s2c: null };
  readonly goaway: PerDir<Ev<SpdyFrameEvent> | null> = { c2s: null, s2c: null };
  spdyServerEnd: Ev<SpdyFrameEvent> | null = null;
  readonly wsPings = { c2s: 0, s2c: 0 };
  readonly wsPongs = { c2s: 0, s2c: 0 };
  readonly spdyPings = { c2s: 0, s2c: 0 };
  readonly unansweredPings: { count: number; first: Ev<WsFrameEvent> | null; last: Ev<WsFrameEvent> | null } = { count: 0, first: null, last: null };
  lastPong: Ev<WsFrameEvent> | null = null;
  lastClientPing: Ev<WsFrameEvent | SpdyFrameEvent> | null = null;
  lastPingAnswer: Ev<WsFrameEvent | SpdyFrameEvent> | null = null;
  readonly afterStatus: { frames: number; keepalive: number; first: KubewireEvent | null } = { frames: 0, keepalive: 0, first: null };
  readonly unrepliedStreams = new Map<number, Ev<SpdyFrameEvent>>();
  spdyStreamsOpened = 0;
  readonly errorStream: { syn: Ev<SpdyFrameEvent> | null; replied: boolean } = { syn: null, replied: false };
  lastData: KubewireEvent | null = null;
  readonly oversizeFrames: PerDir<Ev<WsFrameEvent> | null> = { c2s: null, s2c: null };
  firstEvent: KubewireEvent | null = null;
  lastEvent: KubewireEvent | null = null;

  constructor(readonly conn: string) {}

  /** Updates the summary fields; `store` says whether the event is kept in `events`. */
  add(e: KubewireEvent, store: boolean): void {
    this.firstEvent ??= e;
    this.lastEvent = e;
    if (store) this.events.push(e);
    else this.omitted++;
    switch (e.type) {
      case 'conn.open':
        this.open ??= e;
        return;
      case 'http.request':
      case 'upgrade.request':
        this.request ??= e;
        return;
      case 'http.response':
      case 'upgrade.response':
        if (this.response === null && (e.status >= 200 || e.status === 101)) this.response = e;
        return;
      case 'http.body':
        if (e.dir === 's2c') this.body ??= e;
        return;
      case 'decode.stack':
        this.stack ??= e;
        return;
      case 'k8s.status':
        this.status ??= e;
        return;
      case 'k8s.data':
        if (e.dir === 's2c' && e.stream === 'error' && e.size > 0) {
          this.statusData = e;
          this.afterStatus.frames = 0;
          this.afterStatus.keepalive = 0;
          this.afterStatus.first = null;
        }
        if (e.size > 0) this.lastData = e;
        return;
      case 'pf.data':
      case 'ws.data':
        if (e.size > 0) this.lastData = e;
        return;
      case 'conn.close':
        this.close ??= e;
        return;
      case 'conn.end':
        this.ends[e.dir] ??= e;
        return;
      case 'proxy.error':
        if (this.proxyErrors.length < MAX_LISTED) this.proxyErrors.push(e);
        return;
      case 'decode.anomaly':
        this.anomalyCount++;
        if (this.anomalies.length < MAX_LISTED) this.anomalies.push(e);
        return;
      case 'pf.error':
        if (this.pfErrors.length < MAX_LISTED) this.pfErrors.push(e);
        return;
      case 'ws.frame':
        this.wsFrame(e);
        return;
      case 'spdy.frame':
        this.spdyFrame(e);
        return;
      default:
        return;
    }
  }

  private serverFrame(e: Ev<WsFrameEvent | SpdyFrameEvent>, keepalive: boolean): void {
    this.firstServerFrame ??= e;
    if (this.statusData === null) return;
    this.afterStatus.frames++;
    if (keepalive) this.afterStatus.keepalive++;
    this.afterStatus.first ??= e;
  }

  private wsFrame(e: Ev<WsFrameEvent>): void {
    this.frames[e.dir]++;
    if (e.length > MAX_SERVER_FRAME_BYTES) this.oversizeFrames[e.dir] ??= e;
    switch (e.kind) {
      case 'close':
        this.closeFrames[e.dir] ??= e;
        break;
      case 'ping':
        this.wsPings[e.dir]++;
        if (e.dir === 'c2s') {
          this.lastClientPing = e;
          this.unansweredPings.count++;
          this.unansweredPings.first ??= e;
          this.unansweredPings.last = e;
        }
        break;
      case 'pong':
        this.wsPongs[e.dir]++;
        if (e.dir === 's2c') {
          this.lastPong = e;
          this.lastPingAnswer = e;
          this.unansweredPings.count = 0;
          this.unansweredPings.first = null;
          this.unansweredPings.last = null;
        }
        break;
      default:
        if (e.length > 0) this.lastData = e;
    }
    if (e.dir === 's2c') this.serverFrame(e, e.kind === 'ping' || e.kind === 'pong');
  }

  private spdyFrame(e: Ev<SpdyFrameEvent>): void {
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
        if (e.dir === 'c2s') this.lastClientPing = e;
        else this.lastPingAnswer = e;
        break;
      case 'DATA':
        if (e.length > 0) this.lastData = e;
        if (e.dir === 's2c' && e.fin && !e.tunnel && id !== undefined && id === this.errorStream.syn?.streamId) this.spdyServerEnd ??= e;
        break;
      default:
        break;
    }
    if (e.dir === 's2c') this.serverFrame(e, e.frame === 'PING');
  }
}

export interface SessionBounds {
  /** Events stored per session; past it, bulk events are counted but not kept. */
  maxEvents: number;
}

/** One session's events and trackers; `view()` gives the rules a read-only face of it. */
export class SessionTracker {
  readonly events: KubewireEvent[] = [];
  readonly conns = new Map<string, ConnTracker>();
  readonly upgrades: ConnTracker[] = [];
  omitted = 0;
  /** The last event's `ts`, parsed only when asked (a busy stream makes many). */
  private lastTs: string | undefined;
  /** rule|conn keys already reported. */
  readonly fired = new Set<string>();

  constructor(readonly session: string, private readonly bounds: SessionBounds) {}

  add(e: KubewireEvent): void {
    const stored = withoutPayload(e);
    // Past the bound, bulk events are counted only; past twice the bound, everything is.
    const store = this.events.length < this.bounds.maxEvents || (!isBulk(e) && this.events.length < 2 * this.bounds.maxEvents);
    if (store) this.events.push(stored);
    else this.omitted++;
    const key = e.conn ?? '';
    let c = this.conns.get(key);
    if (!c) {
      c = new ConnTracker(key);
      this.conns.set(key, c);
    }
    const hadRequest = c.request !== null;
    c.add(stored, store);
    if (!hadRequest && c.request?.type === 'upgrade.request') this.upgrades.push(c);
    if (e.ts !== undefined) this.lastTs = e.ts;
  }

  /** Milliseconds of the last event with a clock; NaN without one. */
  get lastActivity(): number {
    return tsOf({ ts: this.lastTs }) ?? Number.NaN;
  }

  /** True when every connection of the session has ended. */
  allEnded(): boolean {
    for (const c of this.conns.values()) if (!connEnded(c)) return false;
    return true;
  }

  view(now: number, ended: boolean): SessionView {
    return { session: this.session, events: this.events, conns: [...this.conns.values()], byConn: this.conns, upgrades: this.upgrades, now, ended };
  }
}

/** A view over a whole list of events of one session (for tests and one-off evaluation). */
export function buildSessionView(events: readonly KubewireEvent[], options: { now?: number; ended?: boolean; session?: string } = {}): SessionView {
  const t = new SessionTracker(options.session ?? events.find((e) => e.session !== undefined)?.session ?? '', { maxEvents: Number.POSITIVE_INFINITY });
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) t.add(e);
  return t.view(options.now ?? t.lastActivity, options.ended ?? true);
}

/** Milliseconds since the epoch of an event's `ts`, or null without one. */
export function tsOf(e: { ts?: string } | null | undefined): number | null {
  if (!e?.ts) return null;
  const ms = Date.parse(e.ts);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * A connection is over: the proxy reported its close (a live connection, which began with
 * conn.open, always ends with conn.close, after both directions' conn.end), or both directions
 * of a capture ended.
 */
export function connEnded(c: ConnView): boolean {
  return c.close !== null || (c.open === null && c.ends.c2s !== null && c.ends.s2c !== null);
}
