/**
 * One kubectl command as the store aggregates it: its connections, one lane per stream, the
 * decoded status, the terminal sizes and the findings. `ingest` is O(1) per event and keeps
 * references, never copies; rows and details are derived from this state only when the store
 * publishes or a view asks.
 *
 * A kubectl command is every event with the same `session` id: the proxy uses the
 * `Kubectl-Session` header, which the pod GET, the WebSocket attempt and its SPDY fallback all
 * carry (src/session/connection-ids.ts).
 */
import type { KubewireEvent } from '../../src/events/types.js';
import {
  connectionBytes, connectionView, describeAnswer, fallbackOf, isDone, isFailedWebSocket, isUpgrade, newConnection, parseTs, rolesOf, upgradeKind,
  type ConnectionState,
} from './connection-state.js';
import { Lane, type LaneEvent, type LaneLimits } from './lane.js';
import { laneView } from './lane-view.js';
import { Ring } from './ring.js';
import type {
  DecodedStatus, FindingView, LaneKind, ResizeMark, SessionDetail, SessionRow, SessionVerb, TerminalSource,
} from './types.js';

/** Connections remembered per session; a kubectl command makes a handful. */
const MAX_CONNECTIONS = 256;

export interface RowContext {
  /** Clock for the duration of live sessions (null: use the last event's time). */
  now: number | null;
}

export class SessionState {
  /** Bumped by every event; the row is rebuilt when it moved. */
  version = 0;
  /** `version` at the last publish, for caching details per published version. */
  publishedVersion = -1;
  row: SessionRow | null = null;
  rowVersion = -1;
  readonly conns = new Map<string, ConnectionState>();
  readonly lanes = new Map<string, Lane>();
  readonly resizes: Ring<ResizeMark>;
  readonly findings: Ring<FindingView>;
  findingCount = 0;
  firstTs: string | null = null;
  lastTs: string | null = null;
  kubectlCommand: string | null = null;
  status: DecodedStatus | null = null;
  anomalies = 0;
  evicted = 0;
  private search: { version: number; needle: string; found: boolean } | undefined;

  constructor(readonly id: string, private readonly limits: LaneLimits) {
    this.resizes = new Ring<ResizeMark>(limits.ringSize);
    this.findings = new Ring<FindingView>(Math.min(limits.ringSize, 200));
  }

  /** Takes one event of this session; returns how many lane messages fell out of their rings. */
  ingest(e: KubewireEvent): number {
    this.version++;
    if (e.ts !== undefined) {
      this.firstTs ??= e.ts;
      this.lastTs = e.ts;
    }
    const type = (e as { type: string }).type;
    if (type === 'finding') {
      this.finding(e as unknown as FindingLike);
      return 0;
    }
    const c = this.conn(e.conn ?? '-');
    if (e.ts !== undefined) {
      c.firstTs ??= e.ts;
      c.lastTs = e.ts;
    }
    const at = e as { dir?: 'c2s' | 's2c'; offset?: number; size?: number; length?: number; tunnel?: boolean };
    if (at.dir !== undefined && typeof at.offset === 'number' && !at.tunnel) {
      // Tunnel offsets count the joined SPDY stream, not the connection's bytes.
      const end = at.offset + (at.size ?? at.length ?? 0);
      if (end > c.seen[at.dir]) c.seen[at.dir] = end;
    }
    switch (e.type) {
      case 'conn.open':
        c.kind = e.kind;
        return 0;
      case 'http.request':
      case 'upgrade.request':
        c.kind ??= e.type === 'upgrade.request' ? 'upgrade' : 'http';
        c.method = e.method;
        c.path = e.path;
        c.target = e.target;
        c.upgrade = e.upgrade;
        c.offered = e.offered;
        c.k8s = e.k8s;
        if (e.kubectlCommand) this.kubectlCommand = e.kubectlCommand;
        return 0;
      case 'http.response':
      case 'upgrade.response':
        if (c.status === null) {
          c.status = e.status;
          c.reason = e.reason;
          c.protocol = e.protocol;
        }
        return 0;
      case 'http.body':
        if (e.dir === 's2c' && e.k8sStatus) c.bodyStatus = e.k8sStatus;
        return 0;
      case 'decode.stack':
        c.transport = e.transport;
        return 0;
      case 'k8s.data':
        return this.lane(e.stream === 'error' ? 'status' : e.stream, e.stream).push(e);
      case 'k8s.status':
        c.exitCode = e.exitCode;
        this.status = { status: e.status, reason: e.reason, message: e.message, code: e.code, exitCode: e.exitCode, raw: e.raw, format: e.format };
        return 0;
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
      case 'decode.anomaly':
        c.anomalies++;
        this.anomalies++;
        return 0;
      case 'conn.end':
        c.ended[e.dir] = e.offset;
        return 0;
      case 'conn.close':
        c.closed = { bytes: e.bytes, durationMs: e.durationMs, closedBy: e.closedBy, error: e.error };
        return 0;
      case 'conn.summary':
        c.summarized = true;
        c.transport ??= e.summary.transport;
        return 0;
      case 'proxy.error':
        c.proxyError = e.message;
        return 0;
      default:
        return 0;
    }
  }

  get live(): boolean {
    for (const c of this.conns.values()) if (!isDone(c)) return true;
    return false;
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

  buildRow(ctx: RowContext): SessionRow {
    const conns = [...this.conns.values()];
    const upgrades = conns.filter(isUpgrade);
    // A WebSocket 101 without a subprotocol is no stream to kubectl: it gives up on it.
    const accepted = upgrades.filter((c) => c.status === 101 && !isFailedWebSocket(c));
    const logs = conns.filter((c) => c.k8s?.operation === 'log');
    const primary = last(accepted) ?? last(upgrades) ?? last(logs) ?? last(conns.filter((c) => c.k8s !== null)) ?? last(conns) ?? null;
    const k8s = primary?.k8s ?? conns.find((c) => c.k8s !== null)?.k8s ?? null;
    const verb = this.verbOf(upgrades.length > 0, logs.length > 0, primary);
    const rest = verb === 'http' && upgrades.length === 0;
    const fallback = fallbackOf(conns);
    const live = conns.some((c) => !isDone(c));
    const failure = live ? null : this.failureOf(upgrades.length === 0, upgrades, accepted, conns);
    const startedAt = parseTs(this.firstTs);
    const lastAt = parseTs(this.lastTs);
    const endedAt = live ? null : lastAt;
    const clock = live ? (ctx.now ?? lastAt) : endedAt;
    let bytesUp = 0;
    let bytesDown = 0;
    for (const c of conns) {
      const b = connectionBytes(c);
      bytesUp += b.c2s;
      bytesDown += b.s2c;
    }
    const ports = this.ports(k8s?.ports ?? []);
    const streamConn = last(accepted);
    const row: SessionRow = {
      id: this.id,
      version: this.version,
      startedAt,
      endedAt,
      durationMs: startedAt !== null && clock !== null ? Math.max(0, clock - startedAt) : null,
      verb,
      rest,
      namespace: k8s?.namespace ?? null,
      pod: k8s?.pod ?? null,
      container: k8s?.container ?? null,
      target: k8s ? [k8s.namespace, k8s.pod, k8s.container].filter(Boolean).join('/') : resourceOf(primary?.path ?? ''),
      command: commandOf(verb, primary, conns, ports),
      kubectlCommand: this.kubectlCommand,
      tty: k8s?.tty ?? false,
      transport: streamConn ? streamConn.transport ?? upgradeKind(streamConn.upgrade) : null,
      protocol: streamConn?.protocol ?? null,
      fellBack: fallback !== null,
      fallbackReason: fallback,
      refused: !live && upgrades.length > 0 && accepted.length === 0
        ? `${upgradeKind(last(upgrades)!.upgrade) ?? 'upgrade'} ${describeAnswer(last(upgrades)!)}`
        : null,
      state: live ? 'live' : failure ? 'failed' : 'done',
      failure,
      exitCode: this.status?.exitCode ?? null,
      statusReason: this.status?.reason ?? null,
      bytesUp,
      bytesDown,
      connections: conns.length,
      findings: this.findingCount,
      anomalies: this.anomalies,
      evicted: this.evicted,
      ports,
    };
    return Object.freeze(row);
  }

  buildDetail(row: SessionRow, log: string | null): SessionDetail {
    const conns = [...this.conns.values()];
    const roles = rolesOf(conns);
    const lanes = [...this.lanes.values()].sort((a, b) => a.order - b.order).map(laneView);
    const stdout = lanes.find((l) => l.key === 'stdout');
    const terminal: TerminalSource = {
      sessionId: this.id,
      tty: row.tty,
      stdout: stdout?.messages ?? [],
      resizes: this.resizes.toArray(),
      evicted: stdout?.evicted ?? 0,
      truncated: (stdout?.messages ?? []).filter((m) => m.truncated).length,
      bytes: (stdout?.messages ?? []).reduce((n, m) => n + m.size, 0),
      recordedBytes: (stdout?.messages ?? []).reduce((n, m) => n + (m.payload ? Buffer.byteLength(m.payload, 'base64') : 0), 0),
    };
    return {
      row,
      connections: conns.map((c, i) => connectionView(c, roles[i]!)),
      lanes,
      status: this.status,
      terminal,
      findings: this.findings.toArray(),
      log,
      ringSize: this.limits.ringSize,
    };
  }

  private verbOf(upgraded: boolean, logs: boolean, primary: ConnectionState | null): SessionVerb {
    if (upgraded) {
      switch (primary?.k8s?.operation) {
        case 'exec': return this.isCopy(primary.k8s.command) ? 'cp' : 'exec';
        case 'attach': return 'attach';
        case 'portforward': return 'port-forward';
        default: return 'http';
      }
    }
    if (logs) return 'logs';
    // No stream yet (or never: the pod GET failed): kubectl still says what it was doing.
    return VERB_OF_COMMAND[this.kubectlCommand?.trim().split(/\s+/)[1] ?? ''] ?? 'http';
  }

  /**
   * kubectl cp runs `tar …` (and first `test -d` to probe the destination) through exec; it
   * says so in `Kubectl-Command`. Without that header (very old kubectl), the command decides.
   */
  private isCopy(command: string[]): boolean {
    if (this.kubectlCommand !== null) return /^kubectl cp\b/.test(this.kubectlCommand.trim());
    return command[0] === 'tar' || (command[0] === 'test' && command[1] === '-d');
  }

  private failureOf(plain: boolean, upgrades: ConnectionState[], accepted: ConnectionState[], conns: ConnectionState[]): string | null {
    const broken = conns.find((c) => c.proxyError !== null && c.status === null);
    if (broken) return broken.proxyError;
    if (plain) {
      const answered = last(conns.filter((c) => c.status !== null));
      if (!answered) return conns.length ? 'no response' : null;
      return answered.status! >= 400 ? describeAnswer(answered) : null;
    }
    if (accepted.length === 0) {
      const tried = last(upgrades)!;
      return `${upgrades.length > 1 ? 'every upgrade refused, last: ' : 'upgrade refused: '}${describeAnswer(tried)}`;
    }
    const s = this.status;
    if (s && s.exitCode === null && s.status !== null && s.status !== 'Success') {
      return `${s.status}${s.reason ? ` ${s.reason}` : ''}${s.message ? `: ${s.message}` : ''}`;
    }
    const closedInError = last(accepted)!.closed;
    if (closedInError?.closedBy === 'error') return closedInError.error ?? 'connection error';
    return null;
  }

  private ports(requested: number[]): number[] {
    const set = new Set<number>(requested);
    for (const l of this.lanes.values()) if (l.port !== null) set.add(l.port);
    return [...set].sort((a, b) => a - b);
  }

  private conn(id: string): ConnectionState {
    let c = this.conns.get(id);
    if (c) return c;
    if (this.conns.size >= MAX_CONNECTIONS) {
      for (const [key, old] of this.conns) {
        if (isDone(old)) {
          this.conns.delete(key);
          break;
        }
      }
    }
    c = newConnection(id);
    this.conns.set(id, c);
    return c;
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
    this.findingCount++;
    this.findings.push({
      seq: f.seq,
      rule: typeof f.rule === 'string' ? f.rule : '?',
      severity: typeof f.severity === 'string' ? f.severity : '?',
      title: typeof f.title === 'string' ? f.title : f.note ?? '',
      fix: typeof f.fix === 'string' ? f.fix : '',
      hop: f.hop && typeof f.hop === 'object' ? `${String(f.hop.where ?? '')}, ${String(f.hop.answeredBy ?? '')}` : '',
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
}

const VERB_OF_COMMAND: Record<string, SessionVerb> = { exec: 'exec', attach: 'attach', cp: 'cp', 'port-forward': 'port-forward', logs: 'logs' };

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

function last<T>(xs: T[]): T | undefined {
  return xs[xs.length - 1];
}

function commandOf(verb: SessionVerb, primary: ConnectionState | null, conns: ConnectionState[], ports: number[]): string {
  if (!primary) return '';
  switch (verb) {
    case 'exec':
    case 'cp':
    case 'attach':
      return primary.k8s?.command.join(' ') ?? '';
    case 'port-forward':
      return ports.length ? `ports ${ports.join(',')}` : '';
    case 'logs': {
      const q = primary.target?.indexOf('?') ?? -1;
      return q >= 0 ? decodeQuery(primary.target!.slice(q + 1)) : '';
    }
    default: {
      const line = `${primary.method ?? ''} ${primary.path ?? ''}`.trim();
      const more = conns.filter((c) => c.method !== null).length - 1;
      return more > 0 ? `${line} (+${more})` : line;
    }
  }
}

/** `/api/v1/namespaces/default/pods` → `default/pods`; `/apis/apps/v1/namespaces/x/deployments/web` → `x/deployments.apps/web`. */
function resourceOf(path: string): string {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?/.exec(path);
  if (!m || (m[2] === undefined && m[3] === 'namespaces' && m[4] !== undefined)) return path;
  const resource = `${m[3]}${m[1] ? `.${m[1]}` : ''}`;
  return [m[2], resource, m[4]].filter(Boolean).join('/');
}

function decodeQuery(q: string): string {
  try {
    return decodeURIComponent(q.replace(/\+/g, ' '));
  } catch {
    return q;
  }
}
