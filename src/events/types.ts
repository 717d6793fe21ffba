/**
 * The kubewire event schema, version 2: the one contract between the decoders, the proxy, the
 * TUI, the JSONL log, diagnosis, audit and the tests. Every event is a plain JSON object;
 * `event.schema.json` beside this file is the same schema for `jq` users and other tools, and a
 * test checks that every event the code emits validates against it.
 *
 * Envelope: `v` (schema version), `seq` (1, 2, … in emission order within one log), `type`
 * (dotted), `note` (a short human annotation that the TUI, the console and `jq` users all
 * read), and where they apply `dir` (`c2s` client→server, `s2c` server→client) and `offset`
 * (byte offset in that direction's stream where the thing starts). Live events also carry
 * `ts` (RFC 3339 with microseconds), `session` and `conn`; decoding captured files has no clock,
 * so they are absent there.
 *
 * Payload bytes travel as base64 in `payload`, with `size` the real byte count and `truncated`
 * set when the recording mode kept fewer bytes than `size` (`--payload head|none`).
 *
 * Version 2 differs from version 1 in two places, and readers take logs of either:
 * - a plain data frame (WebSocket: text or binary, FIN, no RSV bits, masked as its direction
 *   requires; SPDY: DATA with no flag but FIN) is no event of its own: its facts ride in
 *   `wsFrame` / `spdyFrame` of the first data event its payload yields (`k8s.data`, `pf.data`,
 *   `ws.data`). Every other frame, and a plain one that yields no data event, is still a
 *   `ws.frame` / `spdy.frame`. `frameOf` (frames.ts) gives the frame either way.
 * - a summary's stream digest may be `sha256: null`: not computed (the live proxy takes
 *   digests only for the audit log).
 *
 * Optional fields added within version 2 (older readers ignore nothing they need; a change a
 * reader must know about bumps the version):
 * - `conn.open.translated` and `audit.session.translated`: the legs of a `--translate` session;
 * - `conn.open.user` and `audit.session.user`: the user of a `kubewire gateway` session;
 * - `audit.start.previousRun`: a file store's run linked to the run of its replica before it
 *   (a reader that ignores it loses only that check; its absence marks a run written before).
 */
import type { AnomalyCode } from './anomaly-codes.js';

export const EVENT_SCHEMA_VERSION = 2 as const;

/** The versions a reader may meet: logs written before version 2 are still read. */
export type SchemaVersion = 1 | typeof EVENT_SCHEMA_VERSION;

export type Direction = 'c2s' | 's2c';

export interface Envelope {
  v: SchemaVersion;
  seq: number;
  ts?: string;
  session?: string;
  conn?: string;
  note: string;
  /** Audit logs only (`--audit`): the previous record's `hash` (64 zeros for the first). */
  prev?: string;
  /** Audit logs only: SHA-256 (or HMAC-SHA256 with a key) of the record's canonical JSON without `hash`. */
  hash?: string;
}

/** Raw header lines as they crossed the wire: name case and order kept; secrets redacted. */
export type HeaderLines = [name: string, value: string][];

/** What a Kubernetes pod subresource request asks for, read from its path and query. */
export interface K8sRequestInfo {
  operation: 'exec' | 'attach' | 'portforward' | 'log' | 'other';
  namespace: string | null;
  pod: string | null;
  container: string | null;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** `ports` query values (legacy WebSocket port-forward); empty otherwise. */
  ports: number[];
}

/** A decoded `metav1.Status` (from a refusal body or the status channel), or null fields. */
export interface K8sStatusInfo {
  status: string | null;
  reason: string | null;
  message: string | null;
  code: number | null;
}

export interface PayloadFields {
  size: number;
  /** Base64 of the recorded bytes; absent with `--payload none`. */
  payload?: string;
  /** True when `payload` holds fewer bytes than `size`. */
  truncated?: boolean;
}

/**
 * Rotating audit logs only: one piece of an event too long for a file, its bytes cut into
 * records of the same seq (src/audit/record-pieces.ts); readers join them back.
 */
export interface PieceFields {
  piece?: { index: number; count: number };
}

export interface HttpRequestEvent {
  type: 'http.request' | 'upgrade.request';
  dir: 'c2s';
  offset: number;
  method: string;
  target: string;
  path: string;
  version: string;
  headers: HeaderLines;
  /** The Upgrade header as sent (`websocket`, `SPDY/3.1`), or null. */
  upgrade: string | null;
  /** Sec-WebSocket-Protocol values for WebSocket, X-Stream-Protocol-Version values for SPDY, in order. */
  offered: string[];
  kubectlSession: string | null;
  kubectlCommand: string | null;
  userAgent: string | null;
  k8s: K8sRequestInfo | null;
}

export interface HttpResponseEvent {
  type: 'http.response' | 'upgrade.response';
  dir: 's2c';
  offset: number;
  status: number;
  reason: string;
  version: string;
  headers: HeaderLines;
  /** Negotiated Sec-WebSocket-Protocol, or X-Stream-Protocol-Version for SPDY, or null. */
  protocol: string | null;
  /** `Audit-Id` (set by a real API server), else null. */
  auditId: string | null;
  server: string | null;
  contentType: string | null;
}

/** The body of a response (or request), once complete; bounded capture, full size. */
export interface HttpBodyEvent extends PayloadFields, PieceFields {
  type: 'http.body';
  dir: Direction;
  offset: number;
  contentType: string | null;
  /** Set when the body is a Kubernetes Status object. */
  k8sStatus: K8sStatusInfo | null;
  /** The body as text when it is text-like (first bytes only, for reading). */
  text: string | null;
}

export type Transport = 'websocket' | 'spdy' | 'websocket+spdy' | 'none';

/** Which decoder stack reads the upgraded bytes, and why. */
export interface DecodeStackEvent {
  type: 'decode.stack';
  transport: Transport;
  protocol: string | null;
  /** The channel semantics in force: v1..v5, portforward, tunnel, or opaque. */
  semantics: 'channel-v1' | 'base64-v1' | 'channel-v4' | 'base64-v4' | 'channel-v5' | 'spdy-v1' | 'spdy-v2' | 'spdy-v3' | 'spdy-v4' | 'spdy-v5'
    | 'portforward-spdy' | 'portforward-ws' | 'portforward-ws-base64' | 'portforward-tunnel' | 'opaque' | 'none';
  layers: string[];
  reason: string;
}

export interface WsFrameEvent {
  type: 'ws.frame';
  dir: Direction;
  offset: number;
  opcode: number;
  kind: 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong' | 'reserved';
  fin: boolean;
  rsv: number;
  masked: boolean;
  length: number;
  /** Control frames only: the payload (base64), the close code and reason. */
  payload?: string;
  closeCode?: number | null;
  closeReason?: string;
  tunnel?: boolean;
}

/**
 * A plain WebSocket data frame, folded into the data event its payload yields (version 2): FIN
 * set, no RSV bits, masked exactly when it travels c2s (RFC 6455 §5.1), so only these vary.
 */
export interface FoldedWsFrame {
  offset: number;
  opcode: 1 | 2;
  length: number;
}

/** A SPDY DATA frame whose only flag is FIN, folded into the data event it yields (version 2). */
export interface FoldedSpdyFrame {
  offset: number;
  length: number;
  fin: boolean;
  streamId: number;
  streamType: string | null;
}

/** The frame a data event's payload came in, when it was plain (see the module note). */
export interface FrameFold {
  wsFrame?: FoldedWsFrame;
  spdyFrame?: FoldedSpdyFrame;
}

/** WebSocket message bytes with no channel protocol above them (unknown subprotocol). */
export interface WsDataEvent extends PayloadFields, PieceFields, FrameFold {
  type: 'ws.data';
  dir: Direction;
  offset: number;
  messageType: 'text' | 'binary' | 'continuation';
}

export type K8sStreamName = 'stdin' | 'stdout' | 'stderr' | 'error' | 'resize' | `channel${number}`;

export interface K8sDataEvent extends PayloadFields, PieceFields, FrameFold {
  type: 'k8s.data';
  dir: Direction;
  offset: number;
  channel: number;
  stream: K8sStreamName;
  /** The empty message a server sends right after the 101 (protocol.md A §1.3). */
  initial?: boolean;
  /**
   * Audit logs with `--redact-stdin`: the payload was removed (`size` is still the real
   * length); `all` for every stdin byte, `echo-off` for input that never came back on stdout.
   */
  redacted?: 'all' | 'echo-off';
}

export interface K8sStatusEvent extends K8sStatusInfo {
  type: 'k8s.status';
  dir: 's2c';
  offset: number;
  format: 'json' | 'text';
  /** Exit code: 0 for Success, N for NonZeroExitCode with an ExitCode cause in 0..255, else null. */
  exitCode: number | null;
  /** The status bytes as text (bounded). */
  raw: string;
}

export interface K8sResizeEvent {
  type: 'k8s.resize';
  dir: 'c2s';
  offset: number;
  width: number;
  height: number;
}

/** The v5 close signal `[0xFF, channel]`: the client ended that channel's input. */
export interface K8sCloseEvent {
  type: 'k8s.close';
  dir: Direction;
  offset: number;
  channel: number;
  stream: K8sStreamName;
}

export interface SpdyFrameEvent {
  type: 'spdy.frame';
  dir: Direction;
  offset: number;
  frame: 'DATA' | 'SYN_STREAM' | 'SYN_REPLY' | 'RST_STREAM' | 'SETTINGS' | 'PING' | 'GOAWAY' | 'HEADERS' | 'WINDOW_UPDATE' | 'CREDENTIAL' | 'UNKNOWN';
  flags: number;
  fin: boolean;
  length: number;
  version?: number;
  streamId?: number;
  /** The stream's role once known: streamtype header (stdin, stdout, error, data, …). */
  streamType?: string | null;
  assocStreamId?: number;
  priority?: number;
  slot?: number;
  unidirectional?: boolean;
  headers?: [name: string, values: string[]][];
  statusCode?: number;
  statusName?: string;
  pingId?: number;
  lastGoodStreamId?: number;
  settings?: { id: number; flags: number; value: number }[];
  deltaWindowSize?: number;
  typeCode?: number;
  tunnel?: boolean;
}

/** A SPDY stream opened (SYN_STREAM) or finished (both sides done, or reset). */
export interface SpdyStreamEvent {
  type: 'spdy.stream';
  dir: Direction;
  offset: number;
  streamId: number;
  state: 'open' | 'closed' | 'reset';
  streamType: string | null;
  port: number | null;
  requestId: string | null;
  tunnel?: boolean;
}

/** Port-forward bytes, over SPDY, the tunnel, or legacy WebSocket channels. */
export interface PfDataEvent extends PayloadFields, PieceFields, FrameFold {
  type: 'pf.data';
  dir: Direction;
  offset: number;
  requestId: string | null;
  port: number | null;
  streamId?: number;
  channel?: number;
  tunnel?: boolean;
}

/** Text a server wrote on a port-forward error stream or channel. */
export interface PfErrorEvent {
  type: 'pf.error';
  dir: Direction;
  offset: number;
  requestId: string | null;
  port: number | null;
  message: string;
  tunnel?: boolean;
}

export interface DecodeAnomalyEvent {
  type: 'decode.anomaly';
  dir?: Direction;
  offset?: number;
  layer: 'http' | 'websocket' | 'channel' | 'spdy' | 'zlib' | 'portforward' | 'tunnel' | 'stack';
  code: AnomalyCode;
  message: string;
  opaque: boolean;
  tunnel?: boolean;
}

/** A direction ended (TCP FIN, or the end of a capture file). `offset` is its byte count. */
export interface ConnEndEvent {
  type: 'conn.end';
  dir: Direction;
  offset: number;
  /** Set when the bytes stopped inside a head, frame or message: where, and inside what. */
  cutOff?: { offset: number; layer: DecodeAnomalyEvent['layer']; message: string; tunnel?: boolean };
}

/** Per-connection summary: the exact object of `kubewire decode --summary`. */
export interface ConnSummaryEvent {
  type: 'conn.summary';
  summary: ConnectionSummary;
}

export interface ByteDigest {
  bytes: number;
  /** Hex; `redacted` where --redact-stdin removed stdin; null when not computed (version 2). */
  sha256: string | null;
}

/** See `test/fixtures/vectors/README.md`: every vector's `expectedSummary` has this shape. */
export interface ConnectionSummary {
  request: {
    method: string | null;
    path: string | null;
    operation: K8sRequestInfo['operation'] | null;
    upgrade: string | null;
    offered: string[];
    kubectlSession: string | null;
  };
  response: { status: number | null; protocol: string | null };
  transport: Transport;
  streams: Record<string, ByteDigest>;
  exitCode: number | null;
  status: string | null;
  statusReason: string | null;
  resizes: [number, number][];
  stdinClosed: boolean;
  pings: { c2s: number; s2c: number };
  closeCodes: { c2s: number | null; s2c: number | null };
  portForward: {
    requestId: string;
    port: number | null;
    c2s: ByteDigest;
    s2c: ByteDigest;
    error: string | null;
  }[];
  anomalies: number;
}

/** The proxy started: where it listens, what it forwards to, where it logs. */
export interface ProxyStartEvent {
  type: 'proxy.start';
  listen: string;
  upstream: string;
  context: string | null;
  /** The kubeconfig kubewire wrote for clients. */
  kubeconfig: string | null;
  payloadMode: 'full' | 'head' | 'none';
  log: string | null;
  version: string;
  pid: number;
}

export interface ProxyStopEvent {
  type: 'proxy.stop';
  reason: string;
  connections: number;
  dropped: number;
}

/** A fault of the proxy or the path to the upstream, with the answer kubectl got. */
export interface ProxyErrorEvent {
  type: 'proxy.error';
  code: string;
  message: string;
  upstream: string | null;
  /** The HTTP status kubewire answered with, if it answered. */
  status: number | null;
}

/** A client connection (upgrade) or request (plain HTTP) began. */
export interface ConnOpenEvent {
  type: 'conn.open';
  kind: 'http' | 'upgrade';
  client: string;
  upstream: string;
  /**
   * `--translate`: this connection is one leg of a translated upgrade (the client's, or the
   * one kubewire opened upstream); `peer` is the other leg's conn id, in the same session.
   */
  translated?: ConnTranslation;
  /**
   * `kubewire gateway`: who the client is, as the API server (or the gateway's client
   * certificate check) said before the request went upstream. Never a credential.
   */
  user?: SessionUser;
}

/** A Kubernetes user (authentication/v1 UserInfo): what `SelfSubjectReview` and `TokenReview` answer. */
export interface SessionUser {
  username: string;
  uid: string | null;
  groups: string[];
  extra: Record<string, string[]>;
  /** How kubewire learnt it: a SelfSubjectReview with the client's own token, a TokenReview, or the client certificate. */
  source: 'SelfSubjectReview' | 'TokenReview' | 'client-certificate';
}

export interface ConnTranslation {
  from: 'spdy' | 'websocket';
  to: 'spdy' | 'websocket';
  leg: 'client' | 'upstream';
  peer: string;
}

export interface ConnCloseEvent {
  type: 'conn.close';
  closedBy: 'client' | 'upstream' | 'error' | 'proxy';
  bytes: { c2s: number; s2c: number };
  durationMs: number;
  error: string | null;
}

/** A sink fell behind and events were dropped (never with --payload full or --audit). */
export interface SinkDroppedEvent {
  type: 'sink.dropped';
  sink: string;
  dropped: number;
  total: number;
}

/** A sink fell behind and the relay was paused to wait for it (--payload full, --audit). */
export interface SinkBackpressureEvent {
  type: 'sink.backpressure';
  sink: string;
  state: 'paused' | 'resumed';
  pausedMs: number | null;
}

/** Where a failure happened and who answered there. */
export interface FindingHop {
  where: 'client↔kubewire' | 'kubewire↔upstream';
  /** Who answered on that hop, as far as the answer tells (Audit-Id, Server, body type, …). */
  answeredBy: 'api-server' | 'kubelet' | 'intermediary' | 'kubewire' | 'unknown';
  why: string;
}

/** A diagnosis: why a stream failed or is at risk, on which hop, and what to change. */
export interface FindingEvent {
  type: 'finding';
  /** Stable rule id (`websocket-fallback`, `status-missing`, …); part of the interface. */
  rule: string;
  severity: 'error' | 'warn' | 'info';
  title: string;
  explanation: string;
  evidence: { facts: string[]; seqs: number[] };
  hop: FindingHop;
  fix: string;
}

export type ChainAlgorithm = 'sha256' | 'hmac-sha256';

/** How an audit chain's hashes are made; `keyId` names the HMAC key without revealing it. */
export interface ChainInfo {
  algorithm: ChainAlgorithm;
  keyId: string | null;
  /**
   * What a record's hash is taken over: 2 and 3, the record's line without its `hash` member
   * (3, what kubewire writes, adds rotations at an exact size and payload pieces); absent in logs
   * from before format 2, whose hashes are over the RFC 8785 canonical JSON of the record without
   * `hash`. See src/audit/chain.ts.
   */
  format?: 2 | 3;
  /**
   * `--audit-signing-key`: every seal carries `signature`, an Ed25519 signature (RFC 8032) over
   * the seal and the hash it follows (src/audit/seal-signature.ts), by the key with this id.
   */
  signature?: { algorithm: 'ed25519'; keyId: string };
}

/** Who the proxy acts as in the cluster, as far as the cluster or the kubeconfig tells. */
export interface AuditIdentity {
  /** `SelfSubjectReview` when the cluster answered; `kubeconfig` when it did not. */
  source: 'SelfSubjectReview' | 'kubeconfig';
  username: string | null;
  uid: string | null;
  groups: string[];
  extra: Record<string, string[]>;
  /** The kubeconfig user entry's name. */
  kubeconfigUser: string | null;
  /** The client certificate the upstream presents, if any. */
  clientCertificate: { subject: string; issuer: string; serialNumber: string; notAfter: string } | null;
  /** Why the SelfSubjectReview gave no answer, when it did not. */
  reviewError: string | null;
}

/** The first record of an audit chain: who, where, with what, and how the chain is made. */
export interface AuditStartEvent {
  type: 'audit.start';
  chain: ChainInfo;
  identity: AuditIdentity;
  os: { user: string; uid: number; host: string; platform: string };
  kubewire: { version: string; pid: number };
  cluster: { server: string; context: string | null; via: string };
  redactStdin: 'none' | 'echo-off' | 'all';
  failMode: 'closed' | 'open';
  /** Bytes per file before rotation, or null. */
  maxSize: number | null;
  /**
   * A file store's run (`--audit-store DIR`): the replica's run before this one, so that a run
   * removed from the store is noticed (`verify --store`, src/store/run-link.ts); null for the
   * replica's first run. Absent in other logs, and in runs written before runs were linked.
   */
  previousRun?: AuditRunLink | null;
}

/** The run of a file store's replica that a new run follows. */
export interface AuditRunLink {
  /** Its first file's name, `audit-<time>-<pid>.jsonl` (or `…-0001.jsonl` when it rotates). */
  file: string;
  /** The `hash` of its last complete record (its final seal, or where it stopped); null when it has none. */
  lastHash: string | null;
}

/** The first record of every rotated file after the first: links it to the file before. */
export interface AuditFileEvent {
  type: 'audit.file';
  part: number;
  chain: ChainInfo;
  previousFile: string;
  previousHash: string;
}

/** Where a session's command ran and how: from its upgrade request (K8sRequestInfo). */
export interface SessionTarget {
  namespace: string | null;
  pod: string | null;
  container: string | null;
  command: string[];
  tty: boolean;
  stdin: boolean;
}

/** What one kubectl command did, written when its connections are done. */
export interface AuditSessionEvent extends SessionTarget {
  type: 'audit.session';
  kubectlVersion: string | null;
  userAgent: string | null;
  /** The `Kubectl-Command` header (`kubectl exec`), or null for other clients. */
  kubectlCommand: string | null;
  /**
   * What the command did (its verb, src/session/verb.ts): the subresource of its stream (`exec`,
   * `attach`, `portforward`, `log`), `cp` for an exec that is `kubectl cp`, `other` for an
   * upgrade of another kind, `rest` for plain requests only.
   */
  operation: K8sRequestInfo['operation'] | 'cp' | 'rest';
  start: string;
  end: string;
  durationMs: number;
  connections: string[];
  requests: number;
  transport: Transport | null;
  protocol: string | null;
  bytes: { c2s: number; s2c: number };
  streams: { stdin: number; stdout: number; stderr: number };
  exitCode: number | null;
  status: string | null;
  /** Rule ids of the findings about this session. */
  findings: string[];
  /** `idle`: its connections were done; `proxy-stop`: kubewire stopped first; `audit-failure`: ended because the log failed. */
  endedBy: 'idle' | 'proxy-stop' | 'audit-failure';
  /** `kubewire gateway`: the user the session's connections were made by (absent for `proxy` and `run`). */
  user?: SessionUser;
  /**
   * `--translate`: kubewire carried the session over another transport. The record's own
   * transport, protocol, bytes and streams are the client's leg (what the user typed and saw);
   * these are the upstream leg (what the cluster received). Absent when not translated.
   */
  translated?: AuditTranslation;
}

export interface AuditTranslation {
  from: 'spdy' | 'websocket';
  to: 'spdy' | 'websocket';
  /** The upstream leg's conn id (its bytes are in the log as that connection's events). */
  upstream: string;
  protocol: string | null;
  bytes: { c2s: number; s2c: number };
}

/**
 * Ends a session's records or a file: `count` records of that scope came before it, the last
 * of them with hash `last`. The chain fills both as it writes (null on the bus).
 */
export interface AuditSealEvent {
  type: 'audit.seal';
  scope: 'session' | 'file';
  count: number | null;
  last: string | null;
  /** Files: this file's part number (1, 2, …) and whether the chain ends here. */
  part?: number;
  final?: boolean;
  /** With `--audit-signing-key`: base64 Ed25519 signature (src/audit/seal-signature.ts). */
  signature?: string;
}

/** Records the log could not take (`--audit-fail open`, or while refusing in closed mode). */
export interface AuditGapEvent {
  type: 'audit.gap';
  reason: string;
  code: string | null;
  /** The seqs not written (filled in by the chain as it writes). */
  fromSeq: number | null;
  toSeq: number | null;
  records: number | null;
  since: string;
  failMode: 'closed' | 'open';
}

export type EventBody =
  | HttpRequestEvent
  | HttpResponseEvent
  | HttpBodyEvent
  | DecodeStackEvent
  | WsFrameEvent
  | WsDataEvent
  | K8sDataEvent
  | K8sStatusEvent
  | K8sResizeEvent
  | K8sCloseEvent
  | SpdyFrameEvent
  | SpdyStreamEvent
  | PfDataEvent
  | PfErrorEvent
  | DecodeAnomalyEvent
  | ConnEndEvent
  | ConnSummaryEvent
  | ProxyStartEvent
  | ProxyStopEvent
  | ProxyErrorEvent
  | ConnOpenEvent
  | ConnCloseEvent
  | SinkDroppedEvent
  | SinkBackpressureEvent
  | FindingEvent
  | AuditStartEvent
  | AuditFileEvent
  | AuditSessionEvent
  | AuditSealEvent
  | AuditGapEvent;

export type EventType = EventBody['type'];

/** A body before the shell stamps it: `note` is filled in by the emitter. */
export type UnstampedEvent = EventBody;

export type KubewireEvent = Envelope & EventBody;
