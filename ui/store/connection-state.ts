/**
 * What the store remembers of one connection (an upgrade) or one plain HTTP request: the
 * request, the answer, the transport, the bytes each way and how it ended. Updated in place
 * by the session; read only when a row or a detail is built.
 */
import type { Direction, K8sRequestInfo, K8sStatusInfo, Transport } from '../../src/events/types.js';
import type { ConnectionRole, ConnectionView } from './types.js';

export interface ConnectionState {
  id: string;
  kind: 'http' | 'upgrade' | null;
  firstTs: string | null;
  lastTs: string | null;
  method: string | null;
  path: string | null;
  target: string | null;
  upgrade: string | null;
  offered: string[];
  k8s: K8sRequestInfo | null;
  status: number | null;
  reason: string | null;
  protocol: string | null;
  transport: Transport | null;
  /** Furthest byte offset seen per direction, while the connection is open. */
  seen: Record<Direction, number>;
  /** Byte count per direction from `conn.end`. */
  ended: Record<Direction, number | null>;
  closed: { bytes: Record<Direction, number>; durationMs: number; closedBy: string; error: string | null } | null;
  summarized: boolean;
  bodyStatus: K8sStatusInfo | null;
  exitCode: number | null;
  proxyError: string | null;
  anomalies: number;
}

export function newConnection(id: string): ConnectionState {
  return {
    id, kind: null, firstTs: null, lastTs: null, method: null, path: null, target: null, upgrade: null, offered: [], k8s: null,
    status: null, reason: null, protocol: null, transport: null, seen: { c2s: 0, s2c: 0 }, ended: { c2s: null, s2c: null },
    closed: null, summarized: false, bodyStatus: null, exitCode: null, proxyError: null, anomalies: 0,
  };
}

export function isDone(c: ConnectionState): boolean {
  return c.closed !== null || c.summarized;
}

export function isUpgrade(c: ConnectionState): boolean {
  return c.kind === 'upgrade' || c.upgrade !== null;
}

export function upgradeKind(upgrade: string | null): 'websocket' | 'spdy' | null {
  if (!upgrade) return null;
  const u = upgrade.trim().toLowerCase();
  if (u === 'websocket') return 'websocket';
  if (u.startsWith('spdy/')) return 'spdy';
  return null;
}

/**
 * A WebSocket attempt kubectl gives up on: refused, a 101 without a subprotocol (kubectl
 * cannot speak to it), or no answer at all.
 */
export function isFailedWebSocket(c: ConnectionState): boolean {
  if (upgradeKind(c.upgrade) !== 'websocket') return false;
  if (c.status !== null) return c.status !== 101 || c.protocol === null;
  return isDone(c) || c.proxyError !== null;
}

/** `403 Forbidden`, `101 without a subprotocol`, `no response`. */
export function describeAnswer(c: ConnectionState): string {
  if (c.status === null) return c.proxyError ?? 'no response';
  if (c.status === 101 && c.protocol === null && upgradeKind(c.upgrade) === 'websocket') return '101 without a subprotocol';
  return `${c.status}${c.reason ? ` ${c.reason}` : ''}`;
}

export function connectionBytes(c: ConnectionState): Record<Direction, number> {
  if (c.closed) return c.closed.bytes;
  return { c2s: c.ended.c2s ?? c.seen.c2s, s2c: c.ended.s2c ?? c.seen.s2c };
}

export function outcomeOf(c: ConnectionState): ConnectionView['outcome'] {
  if (c.proxyError !== null && c.status === null) return 'failed';
  if (c.status === null) return isDone(c) ? 'failed' : 'pending';
  if (isUpgrade(c)) {
    if (c.status !== 101) return 'refused';
    return upgradeKind(c.upgrade) === 'websocket' && c.protocol === null ? 'refused' : 'ok';
  }
  return c.status < 400 ? 'ok' : 'refused';
}

export function connectionView(c: ConnectionState, role: ConnectionRole): ConnectionView {
  const startedAt = parseTs(c.firstTs);
  const endedAt = isDone(c) ? parseTs(c.lastTs) : null;
  const bytes = connectionBytes(c);
  return {
    conn: c.id,
    kind: isUpgrade(c) ? 'upgrade' : 'http',
    role,
    method: c.method,
    path: c.path,
    operation: c.k8s?.operation && c.k8s.operation !== 'other' ? c.k8s.operation : null,
    upgrade: c.upgrade,
    offered: c.offered,
    status: c.status,
    reason: c.reason,
    protocol: c.protocol,
    transport: c.transport,
    startedAt,
    endedAt,
    durationMs: c.closed ? c.closed.durationMs : startedAt !== null && endedAt !== null ? endedAt - startedAt : null,
    bytesUp: bytes.c2s,
    bytesDown: bytes.s2c,
    done: isDone(c),
    outcome: outcomeOf(c),
    closedBy: c.closed?.closedBy ?? null,
    error: c.closed?.error ?? c.proxyError,
    bodyStatus: c.bodyStatus,
    exitCode: c.exitCode,
    anomalies: c.anomalies,
  };
}

export function parseTs(ts: string | null | undefined): number | null {
  if (!ts) return null;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : t;
}

/** Why the command's WebSocket attempt failed, when a SPDY connection followed it. */
export function fallbackOf(conns: ConnectionState[]): string | null {
  let failed: ConnectionState | null = null;
  for (const c of conns) {
    if (isFailedWebSocket(c)) failed = c;
    else if (failed && upgradeKind(c.upgrade) === 'spdy') return describeAnswer(failed);
  }
  return null;
}

export function rolesOf(conns: ConnectionState[]): ConnectionRole[] {
  const roles: ConnectionRole[] = conns.map((c) => (isUpgrade(c) ? 'stream' : 'request'));
  let failedAt = -1;
  conns.forEach((c, i) => {
    if (isFailedWebSocket(c)) failedAt = i;
    else if (failedAt >= 0 && upgradeKind(c.upgrade) === 'spdy') {
      roles[failedAt] = 'attempt';
      roles[i] = 'fallback';
      failedAt = -1;
    }
  });
  return roles;
}
