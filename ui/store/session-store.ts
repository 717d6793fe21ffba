/**
 * The TUI's store, outside React. It listens to a session observer (src/session/
 * session-observer.ts): a running proxy's, or one fed from a log (src/cli/tui-launch.ts). Every
 * event (up to ~10,000 a second) comes with the session model's facts of its session, and
 * `ingest` only keeps a reference to those, updates counters and pushes references into
 * bounded rings; rows and details read the facts' story when they are built. At most
 * `publishHz` times a second a timer builds a new immutable snapshot (rows rebuilt only for
 * sessions that changed) and notifies subscribers, which read it through
 * `useSyncExternalStore`. Between publishes `getSnapshot` returns the same object.
 *
 * Memory is bounded: each lane keeps `ringSize` messages (and at most `laneBytes` of recorded
 * payload), sessions beyond `maxSessions` are forgotten oldest-finished first. What falls out
 * is counted and shown, and is still in the JSONL log.
 */
import type { KubewireEvent } from '../../src/events/types.js';
import type { SessionFacts } from '../../src/session/session-facts.js';
import type { SessionListener } from '../../src/session/session-observer.js';
import { searchNeedle } from './lane.js';
import { filterRows, parseFilter } from './row-filter.js';
import { SessionState } from './session-state.js';
import type { Narration, SessionDetail, SessionRow, StoreMeta, StoreSnapshot, StoreStats } from './types.js';

export interface SessionStoreOptions {
  /** Messages kept per lane; default 500. */
  ringSize?: number;
  /** Sessions kept; default 2000. */
  maxSessions?: number;
  /** Most publishes per second; default 20. */
  publishHz?: number;
  now?: () => number;
  /** Recorded payload bytes kept per lane; default 1 MiB (matters with --payload full). */
  laneBytes?: number;
}

export const DEFAULT_RING_SIZE = 500;
export const DEFAULT_MAX_SESSIONS = 2000;
export const DEFAULT_PUBLISH_HZ = 20;
export const DEFAULT_LANE_BYTES = 1024 * 1024;
/** Narration lines a snapshot carries. */
export const NARRATION_LINES = 20;
/** The window of the event rate. */
const RATE_WINDOW_MS = 5000;
/** While someone listens, live durations and the rate are refreshed this often without events. */
const HEARTBEAT_MS = 1000;
/** How far the eviction looks for a finished session before it forgets the oldest live one. */
const EVICTION_SCAN = 64;

export class SessionStore implements SessionListener {
  private readonly ringSize: number;
  private readonly maxSessions: number;
  private readonly interval: number;
  private readonly laneBytes: number;
  private readonly now: () => number;
  private readonly sessions = new Map<string, SessionState>();
  private readonly listeners = new Set<() => void>();
  private readonly droppedBySink = new Map<string, number>();
  private readonly rateSamples: { t: number; total: number }[] = [];
  private meta: StoreMeta = { listen: null, kubeconfig: null, log: null, upstream: null, source: 'live', payloadMode: null, stopped: null };
  private narration: Narration | null = null;
  private snapshot: StoreSnapshot;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastPublishAt = -Infinity;
  private dirty = false;
  private eventsTotal = 0;
  private unknownEvents = 0;
  private evictedMessages = 0;
  private evictedSessions = 0;
  private backpressure = false;
  private eventRate = 0;
  private closed = false;
  private readonly details = new Map<string, { version: number; detail: SessionDetail }>();
  private filterCache: { version: number; key: string; rows: readonly SessionRow[] } | undefined;

  constructor(options: SessionStoreOptions = {}) {
    this.ringSize = Math.max(1, Math.floor(positive(options.ringSize, DEFAULT_RING_SIZE, 'ringSize')));
    this.maxSessions = Math.max(1, Math.floor(positive(options.maxSessions, DEFAULT_MAX_SESSIONS, 'maxSessions')));
    this.interval = 1000 / positive(options.publishHz, DEFAULT_PUBLISH_HZ, 'publishHz');
    this.laneBytes = positive(options.laneBytes, DEFAULT_LANE_BYTES, 'laneBytes');
    this.now = options.now ?? (() => Date.now());
    this.snapshot = this.build(0, 0, []);
  }

  /** An event of the wire or the relay, with its session (SessionListener). */
  primary(e: KubewireEvent, session: SessionFacts | null): void {
    this.ingest(e, session);
  }

  /** A finding, audit record, sink report or proxy.start/stop (SessionListener). */
  derived(e: KubewireEvent, session: SessionFacts | null): void {
    this.ingest(e, session);
  }

  /** One event and the session model's facts of its session (null for events about none). */
  ingest(event: KubewireEvent, session: SessionFacts | null): void {
    if (this.closed) return;
    this.eventsTotal++;
    this.dirty = true;
    if (this.timer === undefined) this.schedule();
    const type = (event as { type: string }).type;
    // The audit chain's own records (session summaries, seals) belong to no connection row.
    if (type.startsWith('audit.')) return;
    switch (type) {
      case 'proxy.start': {
        const e = event as Extract<KubewireEvent, { type: 'proxy.start' }>;
        this.meta = {
          ...this.meta, listen: e.listen, upstream: e.upstream, kubeconfig: e.kubeconfig ?? this.meta.kubeconfig, log: e.log ?? this.meta.log, payloadMode: e.payloadMode,
          stopped: null,
        };
        return;
      }
      case 'sink.dropped': {
        const e = event as Extract<KubewireEvent, { type: 'sink.dropped' }>;
        this.droppedBySink.set(e.sink, e.total);
        return;
      }
      case 'sink.backpressure':
        this.backpressure = (event as Extract<KubewireEvent, { type: 'sink.backpressure' }>).state === 'paused';
        return;
      case 'proxy.stop': {
        const e = event as Extract<KubewireEvent, { type: 'proxy.stop' }>;
        this.meta = { ...this.meta, stopped: { ts: e.ts ?? null, reason: e.reason } };
        return;
      }
      case 'finding':
        // The model says which session a finding is about; one about none is not shown.
        if (session) this.sessionOf(session).ingest(event, session);
        return;
      default:
        if (!KNOWN_TYPES.has(type)) {
          this.unknownEvents++;
          return;
        }
        // A proxy error outside any connection (a failed listen) is about no session.
        if (session) this.evictedMessages += this.sessionOf(session).ingest(event, session);
    }
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.heartbeat === undefined && !this.closed) {
      this.heartbeat = setInterval(() => this.heartbeatTick(), HEARTBEAT_MS);
      this.heartbeat.unref?.();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.heartbeat !== undefined) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    };
  }

  getSnapshot = (): StoreSnapshot => this.snapshot;

  /** The session as of the last publish (built on first ask, then reused until the next). */
  getDetail(sessionId: string): SessionDetail | null {
    const s = this.sessions.get(sessionId);
    if (!s) return null;
    const cached = this.details.get(sessionId);
    if (cached && cached.version === s.publishedVersion) return cached.detail;
    const row = s.row ?? s.buildRow(this.clock());
    const detail = s.buildDetail(row, this.meta.log);
    this.details.set(sessionId, { version: s.publishedVersion, detail });
    if (this.details.size > 8) this.details.delete(this.details.keys().next().value!);
    return detail;
  }

  /**
   * The rows the list shows for a `/` filter (see row-filter.ts), REST rows only with
   * `showRest`, among the rows of `snapshot` (by default the latest; a paused view passes the
   * one it shows). Cached per snapshot and arguments; payload text is searched here.
   */
  filterRows(query: string, showRest: boolean, snapshot: StoreSnapshot = this.snapshot): readonly SessionRow[] {
    const snap = snapshot;
    const key = `${showRest ? 1 : 0}:${query}`;
    if (this.filterCache && this.filterCache.version === snap.version && this.filterCache.key === key) return this.filterCache.rows;
    const terms = parseFilter(query);
    const needles = new Map<string, string>();
    const rows = filterRows(snap.rows, terms, showRest, (id, value) => {
      let needle = needles.get(value);
      if (needle === undefined) needles.set(value, (needle = searchNeedle(value)));
      return this.sessions.get(id)?.payloadContains(needle) ?? false;
    });
    const frozen = Object.freeze(rows.length === snap.rows.length ? snap.rows : rows);
    this.filterCache = { version: snap.version, key, rows: frozen };
    return frozen;
  }

  /**
   * Where the view is (a proxy or a log, the kubeconfig, the log path). Published at once: it
   * changes what every line says, and the first frame must not speak of a proxy over a log.
   */
  setMeta(meta: Partial<StoreMeta>): void {
    const next = { ...this.meta };
    for (const [k, v] of Object.entries(meta) as [keyof StoreMeta, StoreMeta[keyof StoreMeta] | undefined][]) {
      if (v !== undefined) (next as Record<string, unknown>)[k] = v;
    }
    this.meta = next;
    this.flush();
  }

  /** A line of narration (the demo's tour says what it runs), shown in the status bar. */
  narrate(line: string): void {
    const lines = [...(this.narration?.lines ?? []), line].slice(-NARRATION_LINES);
    this.narration = { lines, count: (this.narration?.count ?? 0) + 1, done: false };
    this.changed();
  }

  /** The narration is over; `line` says how it ended, and stays in the status bar. */
  endNarration(line: string): void {
    const lines = [...(this.narration?.lines ?? []), line].slice(-NARRATION_LINES);
    this.narration = { lines, count: this.narration?.count ?? 0, done: true };
    this.changed();
  }

  private changed(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer === undefined) this.schedule();
  }

  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.publish();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.closed) return;
    const wait = Math.max(0, this.lastPublishAt + this.interval - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, wait);
    this.timer.unref?.();
  }

  private heartbeatTick(): void {
    if (this.timer !== undefined) return;
    // Without events, only what moves with the clock changes: the rate and live durations.
    if (this.dirty || this.eventRate > 0 || this.snapshot.stats.liveSessions > 0) {
      this.dirty = true;
      this.schedule();
    }
  }

  private publish(): void {
    const now = this.now();
    this.lastPublishAt = now;
    this.dirty = false;
    this.sampleRate(now);
    const rows: SessionRow[] = [];
    let live = 0;
    let rest = 0;
    const clock = this.clock();
    for (const s of this.sessions.values()) {
      if (s.row === null || s.rowVersion !== s.version || s.row.state === 'live') {
        s.row = s.buildRow(clock);
        s.rowVersion = s.version;
      }
      s.publishedVersion = s.version;
      rows.push(s.row);
      if (s.row.state === 'live') live++;
      if (s.row.rest) rest++;
    }
    this.snapshot = this.build(this.snapshot.version + 1, now, rows, live, rest);
    for (const l of [...this.listeners]) l();
  }

  private build(version: number, now: number, rows: SessionRow[], live = 0, rest = 0): StoreSnapshot {
    let dropped = 0;
    for (const n of this.droppedBySink.values()) dropped += n;
    const stats: StoreStats = Object.freeze({
      eventsTotal: this.eventsTotal,
      eventRate: this.eventRate,
      droppedEvents: dropped,
      evictedMessages: this.evictedMessages,
      evictedSessions: this.evictedSessions,
      sessions: rows.length,
      liveSessions: live,
      unknownEvents: this.unknownEvents,
      backpressure: this.backpressure,
    });
    return Object.freeze({
      version,
      publishedAt: now,
      rows: Object.freeze(rows),
      restCount: rest,
      stats,
      meta: Object.freeze({ ...this.meta }),
      ringSize: this.ringSize,
      narration: this.narration,
    });
  }

  private sampleRate(now: number): void {
    const samples = this.rateSamples;
    samples.push({ t: now, total: this.eventsTotal });
    while (samples.length > 2 && samples[1]!.t <= now - RATE_WINDOW_MS) samples.shift();
    const first = samples[0]!;
    const span = now - first.t;
    if (span >= 250) this.eventRate = ((this.eventsTotal - first.total) * 1000) / span;
    else if (samples.length === 1) this.eventRate = 0;
  }

  /** Live durations run on the wall clock for a proxy, not for a log being read back. */
  private clock(): number | null {
    return this.meta.source === 'live' ? this.now() : null;
  }

  private sessionOf(facts: SessionFacts): SessionState {
    let s = this.sessions.get(facts.id);
    if (s) return s;
    if (this.sessions.size >= this.maxSessions) this.evictOne();
    s = new SessionState(facts, { ringSize: this.ringSize, laneBytes: this.laneBytes });
    this.sessions.set(facts.id, s);
    return s;
  }

  private evictOne(): void {
    let victim: string | undefined;
    let scanned = 0;
    for (const [id, s] of this.sessions) {
      victim ??= id;
      if (!s.live) {
        victim = id;
        break;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    if (victim === undefined) return;
    this.sessions.delete(victim);
    this.details.delete(victim);
    this.evictedSessions++;
  }
}

const KNOWN_TYPES = new Set<string>([
  'http.request', 'upgrade.request', 'http.response', 'upgrade.response', 'http.body', 'decode.stack', 'ws.frame', 'ws.data',
  'k8s.data', 'k8s.status', 'k8s.resize', 'k8s.close', 'spdy.frame', 'spdy.stream', 'pf.data', 'pf.error', 'decode.anomaly',
  'conn.end', 'conn.summary', 'proxy.error', 'conn.open', 'conn.close',
]);

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`SessionStore: ${name} must be a positive number, got ${value}`);
  return value;
}
