/**
 * What the TUI reads: immutable snapshots the store publishes at a fixed rate, and the detail
 * of one session built on demand. Views never see the store's mutable state, and nothing here
 * holds more than the rings hold.
 */
import type { Direction, K8sStatusInfo, Transport } from '../../src/events/types.js';
import type { ConnectionRole, ConnectionStory, SessionState as StoryState } from '../../src/session/session-facts.js';
import type { SessionVerb } from '../../src/session/verb.js';

/**
 * The words of the session model (src/session): what the kubectl command did (one per row),
 * where a connection stands in it, and how it ended.
 */
export type { ConnectionRole, SessionVerb };
export type RowState = StoryState;

/** One row per kubectl command (`Kubectl-Session`), or per request when kubectl sent none. */
export interface SessionRow {
  id: string;
  /** Changes whenever the session changed; rows are rebuilt only then. */
  version: number;
  /** Epoch ms of the first event, or null for events without a clock (decoded captures). */
  startedAt: number | null;
  /** Epoch ms of the end of the last connection, or null while live or without a clock. */
  endedAt: number | null;
  durationMs: number | null;
  verb: SessionVerb;
  /** Plain REST (get, apply, discovery): no upgrade, no logs, no watch; the list can hide these. */
  rest: boolean;
  namespace: string | null;
  pod: string | null;
  container: string | null;
  /** `namespace/pod[/container]`, or the request path for REST. */
  target: string;
  /** The command run in the pod, the forwarded ports, or the request line. */
  command: string;
  /** The `Kubectl-Command` header (`kubectl exec`), when kubectl sent one. */
  kubectlCommand: string | null;
  tty: boolean;
  /** The transport that carried the stream (the last accepted upgrade), or null. */
  transport: Transport | null;
  /** Its negotiated subprotocol. */
  protocol: string | null;
  /** A WebSocket attempt failed and kubectl retried the same command over SPDY (the story's fallback). */
  fellBack: boolean;
  /** Why kubectl gave up on the WebSocket attempt (`403 Forbidden`, `101 rejected: …`), when `fellBack`. */
  fallbackReason: string | null;
  /** `--translate`: the transport and protocol kubewire spoke upstream (`spdy v4.channel.k8s.io`), or null. */
  translatedTo: string | null;
  /** When no upgrade was accepted: what was tried and the answer (`websocket 403 Forbidden`). */
  refused: string | null;
  state: RowState;
  /** Why the session failed, in a few words, when `state` is `failed`. */
  failure: string | null;
  exitCode: number | null;
  statusReason: string | null;
  bytesUp: number;
  bytesDown: number;
  connections: number;
  /** `finding` events seen for this session. */
  findings: number;
  anomalies: number;
  /** Messages of this session that fell out of its rings (still in the JSONL log). */
  evicted: number;
  ports: number[];
}

export interface StoreStats {
  eventsTotal: number;
  /** Events per second over the last few seconds. */
  eventRate: number;
  /** Events the log sinks dropped, from `sink.dropped` (summed over sinks). */
  droppedEvents: number;
  /** Messages that fell out of the per-lane rings, all sessions. */
  evictedMessages: number;
  /** Whole sessions forgotten because there were more than `maxSessions`. */
  evictedSessions: number;
  sessions: number;
  liveSessions: number;
  /** Events of types this TUI does not know (counted, otherwise ignored). */
  unknownEvents: number;
  /** A log sink is holding the relay (lossless mode). */
  backpressure: boolean;
}

export interface StoreMeta {
  listen: string | null;
  /** The kubeconfig users export to go through kubewire. */
  kubeconfig: string | null;
  /** The JSONL log: everything, including what fell out of the rings. */
  log: string | null;
  upstream: string | null;
  /** `live` for a proxy, or the path of the log being viewed. */
  source: string;
  payloadMode: 'full' | 'head' | 'none' | null;
  /** The run's `proxy.stop`: a log that has it has ended and will not grow; null before one. */
  stopped: { ts: string | null; reason: string } | null;
}

/** What a guided run (the demo's tour) says while it drives kubectl, newest last. */
export interface Narration {
  /** The last lines said, at most NARRATION_LINES. */
  lines: readonly string[];
  /** Lines narrated in all (the closing line not counted). */
  count: number;
  /** The narration is over; the last line says how it ended. */
  done: boolean;
}

export interface StoreSnapshot {
  /** Increases with every publish. */
  version: number;
  /** Epoch ms of the publish. */
  publishedAt: number;
  /** Every session, oldest first, REST ones included (see `rest`). */
  rows: readonly SessionRow[];
  /** How many rows are plain REST. */
  restCount: number;
  stats: StoreStats;
  meta: StoreMeta;
  ringSize: number;
  /** Null unless something narrates (store.narrate). */
  narration: Narration | null;
}

/** One connection (upgrade) or request (plain HTTP) of a session, for the timeline. */
export interface ConnectionView {
  conn: string;
  kind: 'http' | 'upgrade';
  role: ConnectionRole;
  method: string | null;
  path: string | null;
  /** `exec`, `attach`, `portforward`, `log`, or null for other paths. */
  operation: string | null;
  /** The Upgrade header (`websocket`, `SPDY/3.1`), or null. */
  upgrade: string | null;
  offered: string[];
  status: number | null;
  reason: string | null;
  protocol: string | null;
  transport: ConnectionStory['transport'];
  startedAt: number | null;
  endedAt: number | null;
  durationMs: number | null;
  bytesUp: number;
  bytesDown: number;
  /** Every fact of the connection is in (src/session/connection-facts.ts `ended`). */
  done: boolean;
  /** ok: kubectl took the answer; refused: it did not (the server said no, or a 101 it rejects); failed: no answer or a proxy error. */
  outcome: 'pending' | 'ok' | 'refused' | 'failed';
  closedBy: string | null;
  error: string | null;
  /** The Kubernetes Status in a refusal's body. */
  bodyStatus: K8sStatusInfo | null;
  exitCode: number | null;
  anomalies: number;
}

export type LaneKind = 'stdin' | 'stdout' | 'stderr' | 'status' | 'resize' | 'close' | 'ping' | 'port' | 'data' | 'channel' | 'headers';

/** One message as a lane shows it. Payload bytes stay base64 until a view formats them. */
export interface LaneMessage {
  seq: number;
  ts: string | null;
  dir: Direction | null;
  conn: string | null;
  /** Real byte count (`size`), or the frame length for control frames. */
  size: number;
  /** Base64 of the recorded bytes; absent when nothing was recorded. */
  payload: string | undefined;
  /** Fewer bytes recorded than `size` (`--payload head`, or none at all). */
  truncated: boolean;
  /** The event's note: the one-line summary every tool shows. */
  note: string;
  /** Extra tag: `req 0`, `ping`, `close 1000`, `initial`. */
  tag: string;
}

export interface LaneView {
  key: string;
  label: string;
  kind: LaneKind;
  messages: readonly LaneMessage[];
  /** Messages ever seen, including those that fell out of the ring. */
  total: number;
  evicted: number;
  bytesUp: number;
  bytesDown: number;
  /** Messages whose payload was cut short or not recorded. */
  truncated: number;
  port: number | null;
}

export interface DecodedStatus extends K8sStatusInfo {
  exitCode: number | null;
  raw: string;
  format: 'json' | 'text';
}

export interface ResizeMark {
  seq: number;
  width: number;
  height: number;
}

/** What the terminal view replays: stdout as recorded, and the sizes kubectl asked for. */
export interface TerminalSource {
  sessionId: string;
  tty: boolean;
  stdout: readonly LaneMessage[];
  resizes: readonly ResizeMark[];
  /** stdout messages that fell out of the ring before the first one kept. */
  evicted: number;
  /** stdout messages whose bytes were cut short or not recorded. */
  truncated: number;
  /** Bytes of the kept stdout messages as sent, and as recorded. */
  bytes: number;
  recordedBytes: number;
}

export interface FindingView {
  seq: number;
  rule: string;
  severity: string;
  title: string;
  /** What to change; empty for findings of an older log without one. */
  fix: string;
  /** `kubewire↔upstream, intermediary`: the hop and who answered there. */
  hop: string;
  /** Why it is a problem; empty when the event had none. */
  explanation: string;
  /** The facts the finding rests on, and the seqs of their events. */
  evidence: readonly string[];
  evidenceSeqs: readonly number[];
}

export interface SessionDetail {
  row: SessionRow;
  connections: readonly ConnectionView[];
  lanes: readonly LaneView[];
  status: DecodedStatus | null;
  terminal: TerminalSource;
  findings: readonly FindingView[];
  /** The JSONL log that holds everything the rings dropped. */
  log: string | null;
  ringSize: number;
}
