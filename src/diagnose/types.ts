/**
 * The diagnosis contract: a rule is a small pure function over one kubectl session (every
 * connection sharing a `session` id: the pod GET, the WebSocket attempt, its SPDY fallback) that
 * returns findings. The engine feeds it a `SessionView`, keeps each rule/connection pair from
 * firing twice, and turns drafts into `finding` events.
 *
 * A view holds the session's events in seq order and, per connection, what the rules ask about
 * most (the request, the answer, the status, close frames, pings, SPDY stream replies), kept up
 * to date as events arrive, so a rule reads a few fields instead of scanning every frame, and
 * still sees them when bulk events were left out to bound memory.
 */
import type {
  ConnCloseEvent, ConnEndEvent, ConnOpenEvent, DecodeAnomalyEvent, DecodeStackEvent, Envelope, EventBody, FindingEvent,
  HttpBodyEvent, HttpRequestEvent, HttpResponseEvent, K8sDataEvent, K8sStatusEvent, KubewireEvent, PfErrorEvent, ProxyErrorEvent,
  SpdyFrameEvent, WsFrameEvent,
} from '../events/types.js';

/** A finding before it is published: the `finding` event body, and the connection it is about. */
export type FindingDraft = Omit<FindingEvent, 'type'> & { conn?: string };

/** A stamped event of one type. */
export type Ev<T extends EventBody> = Envelope & T;

/** What the rules read of one connection (`conn` id) of a session. */
export interface ConnView {
  readonly conn: string;
  /** This connection's stored events, in seq order (bulk data may be left out, see `omitted`). */
  readonly events: readonly KubewireEvent[];
  /** Events of this connection not stored (payload-bearing data past the session's bound). */
  readonly omitted: number;
  readonly open: Ev<ConnOpenEvent> | null;
  /** The first request (`upgrade.request` for an upgrade, `http.request` for plain HTTP). */
  readonly request: Ev<HttpRequestEvent> | null;
  /** The first final response (1xx other than 101 skipped). */
  readonly response: Ev<HttpResponseEvent> | null;
  /** The first server-to-client body (a refusal's body). */
  readonly body: Ev<HttpBodyEvent> | null;
  readonly stack: Ev<DecodeStackEvent> | null;
  /** The first decoded status (channel 3 / the SPDY error stream). */
  readonly status: Ev<K8sStatusEvent> | null;
  /** The last status payload seen from the server (the status bytes, before they are decoded). */
  readonly statusData: Ev<K8sDataEvent> | null;
  readonly close: Ev<ConnCloseEvent> | null;
  readonly ends: { readonly c2s: Ev<ConnEndEvent> | null; readonly s2c: Ev<ConnEndEvent> | null };
  readonly proxyErrors: readonly Ev<ProxyErrorEvent>[];
  /** The first anomalies (bounded) and how many there were. */
  readonly anomalies: readonly Ev<DecodeAnomalyEvent>[];
  readonly anomalyCount: number;
  readonly pfErrors: readonly Ev<PfErrorEvent>[];
  /** WebSocket frames (not the SPDY frames inside the tunnel) and SPDY frames, per direction. */
  readonly frames: { readonly c2s: number; readonly s2c: number };
  readonly firstServerFrame: Ev<WsFrameEvent | SpdyFrameEvent> | null;
  /** The first WebSocket close frame each way. */
  readonly closeFrames: { readonly c2s: Ev<WsFrameEvent> | null; readonly s2c: Ev<WsFrameEvent> | null };
  readonly goaway: { readonly c2s: Ev<SpdyFrameEvent> | null; readonly s2c: Ev<SpdyFrameEvent> | null };
  /** The first server frame that ends a SPDY exec: GOAWAY, RST_STREAM, or FIN on the error stream. */
  readonly spdyServerEnd: Ev<SpdyFrameEvent> | null;
  readonly wsPings: { readonly c2s: number; readonly s2c: number };
  readonly wsPongs: { readonly c2s: number; readonly s2c: number };
  readonly spdyPings: { readonly c2s: number; readonly s2c: number };
  /** Client WebSocket pings since the server's last pong. */
  readonly unansweredPings: { readonly count: number; readonly first: Ev<WsFrameEvent> | null; readonly last: Ev<WsFrameEvent> | null };
  readonly lastPong: Ev<WsFrameEvent> | null;
  /** The client's last keepalive (WebSocket ping or SPDY PING, tunnel included) and the server's last answer to one. */
  readonly lastClientPing: Ev<WsFrameEvent | SpdyFrameEvent> | null;
  readonly lastPingAnswer: Ev<WsFrameEvent | SpdyFrameEvent> | null;
  /** Server frames after the last status payload, and how many of them were pings or pongs. */
  readonly afterStatus: { readonly frames: number; readonly keepalive: number; readonly first: KubewireEvent | null };
  /** Client SYN_STREAMs with no SYN_REPLY (or RST_STREAM) from the server yet, by stream id. */
  readonly unrepliedStreams: ReadonlyMap<number, Ev<SpdyFrameEvent>>;
  readonly spdyStreamsOpened: number;
  /** The client's error stream (SPDY exec/attach) and whether the server replied to it. */
  readonly errorStream: { readonly syn: Ev<SpdyFrameEvent> | null; readonly replied: boolean };
  /** The last payload-bearing frame or message, either way. */
  readonly lastData: KubewireEvent | null;
  /** WebSocket frames larger than the Kubernetes servers accept (32 MiB), first one each way. */
  readonly oversizeFrames: { readonly c2s: Ev<WsFrameEvent> | null; readonly s2c: Ev<WsFrameEvent> | null };
  readonly firstEvent: KubewireEvent | null;
  readonly lastEvent: KubewireEvent | null;
}

export interface SessionView {
  /** The session id, or '' for events that carried none (a decoded capture). */
  readonly session: string;
  /** The session's stored events in seq order (bulk data may be left out past the bound). */
  readonly events: readonly KubewireEvent[];
  /** Connections in order of their first event. */
  readonly conns: readonly ConnView[];
  readonly byConn: ReadonlyMap<string, ConnView>;
  /** Connections that made an upgrade request (WebSocket or SPDY), in order. */
  readonly upgrades: readonly ConnView[];
  /** Milliseconds since the epoch; NaN when there is no clock (a capture without timestamps). */
  readonly now: number;
  /** True once no more events will come for this session (end of a log, end of a run). */
  readonly ended: boolean;
}

export interface Rule {
  /** Stable id (`websocket-fallback`, …): part of the interface. */
  readonly id: string;
  evaluate(view: SessionView): FindingDraft[];
}

