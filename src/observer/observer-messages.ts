/**
 * What the relay's thread and the observer's worker thread say to each other. All of it is
 * structured-cloned except the bytes: a batch's copies are a span of the shared ring
 * (copy-ring.ts), and only those that found no room there travel in ArrayBuffers of their own,
 * transferred, not copied.
 *
 * Order is the contract: the relay's events and its copies travel in one queue, so the worker
 * sees a connection's `conn.open`, its bytes, its ends and its `conn.close` in the order the
 * relay made them, exactly as when everything ran on one thread.
 */
import type { StoreBacklog } from '../audit/store-backlog.js';
import type { AuditSettings } from '../cli/audit-setup.js';
import type { PayloadMode } from '../codec/decode-context.js';
import type { GatewayReport } from '../gateway/session-report.js';
import type { AuditStartEvent, Direction, EventBody, KubewireEvent } from '../events/types.js';
import type { RingMemory } from './copy-ring.js';

/** Fixed at start (the Worker's workerData). */
export interface ObserverConfig {
  payload: PayloadMode;
  /** Never drop: hold the relay instead (`--payload full`, `--audit`). */
  lossless: boolean;
  /** Per-connection stream digests in `conn.summary` (the audit record lists them). */
  digests: boolean;
  logPath: string;
  /** With `--audit`: the hash-chained log instead of the plain JSONL. */
  audit: { settings: AuditSettings; key: Uint8Array | null; signingKey?: string | null } | null;
  /**
   * `kubewire gateway`: the JSON log is written here, to `fd` (stdout), with at most `limit`
   * bytes waiting (src/io/fd-line-writer.ts); the observer's own lines for the user go there too.
   */
  stdoutLog?: { fd: number; limit: number } | null;
  /** The ring the relay's copies come through (copy-ring.ts). */
  ring: RingMemory;
  /** The count of decoded bytes both threads share (in-flight.ts). */
  inFlight: SharedArrayBuffer;
}

/** The facts of `audit.start` that only the relay's side knows (its upstream, and who asked). */
export interface AuditStartFacts {
  identity: AuditStartEvent['identity'];
  cluster: AuditStartEvent['cluster'];
}

/**
 * One step of the relay, stamped with the relay's clock (`at`, wall-clock ms with a fraction):
 * an event of its own, the start of a connection's decoding, a copy of some of its bytes (a
 * slice of the batch's span of the ring, `buf` -1, or of one of its buffers), a direction's end,
 * or bytes the observer never got.
 */
export type RelayEntry =
  | { k: 'event'; at: number; body: EventBody; conn?: string; session?: string }
  | { k: 'tap'; at: number; conn: string; session: string }
  | { k: 'data'; at: number; conn: string; dir: Direction; buf: number; off: number; len: number }
  | { k: 'end'; at: number; conn: string; dir: Direction }
  | { k: 'skip'; at: number; conn: string; dir: Direction; bytes: number };

export type ToObserver =
  /** `ring`: where the batch's span of the ring starts, and its length. */
  | { t: 'batch'; entries: RelayEntry[]; ring: [number, number] | null; buffers: ArrayBuffer[]; bytes: number }
  | { t: 'console' }
  /** `kubewire gateway`: reports for its metrics (src/gateway/session-report.ts), and the store's backlog, from now on; with `stdoutLog` also its log lines. */
  | { t: 'reports' }
  | { t: 'mirror' }
  /** A finished line of the relay's thread for the stdout log (`stdoutLog`). */
  | { t: 'log'; line: string }
  | { t: 'audit-start'; facts: AuditStartFacts }
  | { t: 'shutdown'; reason: string; connections: number };

/** A mirrored step for the relay thread's copy of the session model (the live view). */
export type MirrorItem = { e: KubewireEvent } | { tick: number };

export type FromObserver =
  | { t: 'ready'; logPath: string }
  | { t: 'fatal'; code: `KW_ERR_${string}`; message: string; exitCode: number }
  /** More was decoded, and the held relay asked to hear of it (in-flight.ts). */
  | { t: 'decoded' }
  /** A lossless sink fell behind (true) or drained (false). */
  | { t: 'behind'; behind: boolean }
  /** A line for the user: an error (stderr) or a console line (where `console` sends them). */
  | { t: 'line'; to: 'error' | 'console'; text: string }
  /** The audit log cannot be written (reason), or takes writes again (null). */
  | { t: 'audit-failing'; reason: string | null }
  | { t: 'audit-started'; error: { code: `KW_ERR_${string}`; message: string; exitCode: number } | null }
  | { t: 'mirror'; items: MirrorItem[] }
  | { t: 'report'; report: GatewayReport }
  /** How far the audit store is behind, sent when it changed (at most every BACKLOG_INTERVAL_MS). */
  | { t: 'backlog'; backlog: StoreBacklog }
  /** Lines of the stdout log dropped since the start, sent when it changed (as often as `backlog`). */
  | { t: 'log-dropped'; lines: number }
  | { t: 'closed'; gap: string | null };
