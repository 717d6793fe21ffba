/**
 * What the view keeps of one kubectl command beside the session model's facts of it: one lane
 * per stream with the messages its ring kept, the terminal sizes, the findings for the pane, a
 * search cache and the versions that say when to rebuild. Everything the row and the detail
 * say about the command itself (verb, target, transport, fallback, state, exit code, bytes,
 * connections) is read from the model's `SessionFacts` (src/session), never derived here.
 * `ingest` is O(1) per event and keeps references, never copies.
 */
import type { KubewireEvent } from '../../src/events/types.js';
import type { SessionFacts } from '../../src/session/session-facts.js';
import { connectionView } from './connection-view.js';
import { headersLane } from './headers-lane.js';
import { Lane, type LaneEvent, type LaneLimits } from './lane.js';
import { laneView } from './lane-view.js';
import { Ring } from './ring.js';
import { sessionRow } from './session-row.js';
import type { ConnectionView, DecodedStatus, FindingView, LaneKind, ResizeMark, SessionDetail, SessionRow, TerminalSource } from './types.js';

export class SessionState {
  /** Bumped by every event; the row is rebuilt when it moved. */
  version = 0;
  /** `version` at the last publish, for caching details per published version. */
  publishedVersion = -1;
  row: SessionRow | null = null;
  rowVersion = -1;
  readonly lanes = new Map<string, Lane>();
  readonly resizes: Ring<ResizeMark>;
  readonly findings: Ring<FindingView>;
  evicted = 0;
  private search: { version: number; needle: string; found: boolean } | undefined;

  /** `facts` may outlive the model's memory of them (it forgets the oldest settled sessions first). */
  constructor(public facts: SessionFacts, private readonly limits: LaneLimits) {
    this.resizes = new Ring<ResizeMark>(limits.ringSize);
    this.findings = new Ring<FindingView>(Math.min(limits.ringSize, 200));
  }

  get id(): string {
    return this.facts.id;
  }

  /** Takes one event of this session; returns how many lane messages fell out of their rings. */
  ingest(e: KubewireEvent, facts: SessionFacts): number {
    this.version++;
    // The model begins a session anew when an event comes after it forgot it.
    this.facts = facts;
    switch (e.type) {
      case 'finding':
        this.finding(e as unknown as FindingLike);
        return 0;
      case 'k8s.data':
        return this.lane(e.stream === 'error' ? 'status' : e.stream, e.stream).push(e);
      case 'k8s.resize':
        this.resizes.push({ seq: e.seq, width: e.width, height: e.height });
        return 0;
      case 'k8s.close':
        return this.lane('close', 'close').push(e);
      case 'ws.frame':
        if (e.kind === 'ping' || e.kind === 'pong') return this.lane('ping', 'ping').push(e);
        if (e.kind === 'close') return this.lane('close', 'close').push(e);
        return 0;
      case 'spdy.frame':
        if (e.frame === 'PING') return this.lane('ping', 'ping').push(e);
        if (e.frame === 'GOAWAY' || e.frame === 'RST_STREAM') return this.lane('close', 'close').push(e);
        return 0;
      case 'pf.data':
      case 'pf.error':
        return this.portLane(e.port).push(e);
      case 'ws.data':
        return this.lane('data', 'data').push(e);
      default:
        return 0;
    }
  }

  get live(): boolean {
    return this.facts.story().state === 'live';
  }

  /** True when some kept message of some lane contains `needle` (see `searchNeedle`). */
  payloadContains(needle: string): boolean {
    if (this.search && this.search.version === this.version && this.search.needle === needle) return this.search.found;
    let found = false;
    for (const lane of this.lanes.values()) {
      if (lane.searchText().includes(needle)) {
        found = true;
        break;
      }
    }
    this.search = { version: this.version, needle, found };
    return found;
  }

  buildRow(now: number | null): SessionRow {
    return sessionRow(this.facts, { now, version: this.version, evicted: this.evicted });
  }

  buildDetail(row: SessionRow, log: string | null): SessionDetail {
    const story = this.facts.story();
    const connections: ConnectionView[] = [];
    for (const c of story.connections) {
      const facts = this.facts.conns.get(c.id);
      if (facts) connections.push(connectionView(facts, c));
    }
    const lanes = [...this.lanes.values()].sort((a, b) => a.order - b.order).map(laneView);
    // The heads of every request and answer, after the streams (the only lane of a REST row).
    const headers = headersLane(this.facts);
    if (headers) lanes.push(headers);
    // The terminal is what kubectl showed: the stream's output only, never a rejected
    // attempt's (a 101 kubectl refused may still have carried frames).
    const shown = (lanes.find((l) => l.key === 'stdout')?.messages ?? []).filter((m) => story.stream === null || m.conn === null || m.conn === story.stream);
    const stdout = { messages: shown, evicted: lanes.find((l) => l.key === 'stdout')?.evicted ?? 0 };
    const terminal: TerminalSource = {
      sessionId: row.id,
      tty: row.tty,
      stdout: stdout.messages,
      resizes: this.resizes.toArray(),
      evicted: stdout.evicted,
      truncated: stdout.messages.filter((m) => m.truncated).length,
      bytes: stdout.messages.reduce((n, m) => n + m.size, 0),
      recordedBytes: stdout.messages.reduce((n, m) => n + (m.payload ? Buffer.byteLength(m.payload, 'base64') : 0), 0),
    };
    return {
      row,
      connections,
      lanes,
      status: this.streamStatus(story.stream),
      terminal,
      findings: this.findings.toArray(),
      log,
      ringSize: this.limits.ringSize,
    };
  }

  /** The status the stream connection reported: the one whose exit code counts (src/session/session-facts.ts). */
  private streamStatus(stream: string | null): DecodedStatus | null {
    const s = stream === null ? null : this.facts.conns.get(stream)?.status ?? null;
    if (!s) return null;
    return { status: s.status, reason: s.reason, message: s.message, code: s.code, exitCode: s.exitCode, raw: s.raw, format: s.format };
  }

  private lane(key: string, stream: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) {
      const kind: LaneKind = KNOWN_LANES.has(stream as LaneKind) ? (stream as LaneKind) : stream === 'error' ? 'status' : 'channel';
      lane = new CountingLane(key, stream === 'error' ? 'status' : stream, kind, null, this.limits, this);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private portLane(port: number | null): Lane {
    const key = `port:${port ?? '?'}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = new CountingLane(key, `port ${port ?? '?'}`, 'port', port ?? 0, this.limits, this);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private finding(f: FindingLike): void {
    this.findings.push({
      seq: f.seq,
      rule: typeof f.rule === 'string' ? f.rule : '?',
      severity: typeof f.severity === 'string' ? f.severity : '?',
      title: typeof f.title === 'string' ? f.title : f.note ?? '',
      fix: typeof f.fix === 'string' ? f.fix : '',
      hop: f.hop && typeof f.hop === 'object' ? `${String(f.hop.where ?? '')}, ${String(f.hop.answeredBy ?? '')}` : '',
      explanation: typeof f.explanation === 'string' ? f.explanation : '',
      evidence: Array.isArray(f.evidence?.facts) ? f.evidence.facts.filter((x): x is string => typeof x === 'string') : [],
      evidenceSeqs: Array.isArray(f.evidence?.seqs) ? f.evidence.seqs.filter((x): x is number => typeof x === 'number') : [],
    });
  }
}

interface FindingLike {
  seq: number;
  note?: string;
  rule?: unknown;
  severity?: unknown;
  title?: unknown;
  fix?: unknown;
  hop?: { where?: unknown; answeredBy?: unknown };
  explanation?: unknown;
  evidence?: { facts?: unknown; seqs?: unknown };
}

const KNOWN_LANES = new Set<LaneKind>(['stdin', 'stdout', 'stderr', 'resize', 'close', 'ping', 'data']);

/** A lane that adds what falls out of it to its session's count. */
class CountingLane extends Lane {
  constructor(key: string, label: string, kind: LaneKind, port: number | null, limits: LaneLimits, private readonly session: SessionState) {
    super(key, label, kind, port, limits);
  }

  override push(e: LaneEvent): number {
    const out = super.push(e);
    this.session.evicted += out;
    return out;
  }
}
