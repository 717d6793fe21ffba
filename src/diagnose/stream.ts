/**
 * What the stream rules share: whether kubewire could still read the server's side, and the
 * clock of a connection.
 */
import { parseTsMillis } from '../events/stamp.js';
import type { ConnView, SessionView } from './types.js';

/** Milliseconds since the epoch of an event's (or a mark's) `ts`, or null without one. */
export function tsOf(e: { ts?: string } | null | undefined): number | null {
  return parseTsMillis(e?.ts);
}

/** kubewire stopped decoding that direction (an opaque anomaly): silence there proves nothing. */
export function decoderBlind(c: ConnView, dir: 'c2s' | 's2c'): boolean {
  return c.anomalies.some((a) => a.opaque && a.dir === dir);
}

/** When the connection ended, or (live) the view's now; NaN without a clock. */
export function endOrNow(view: SessionView, c: ConnView): number {
  if (c.ended) return tsOf(c.close) ?? tsOf(c.lastEvent) ?? Number.NaN;
  return Number.isFinite(view.now) ? view.now : tsOf(c.lastEvent) ?? Number.NaN;
}

/** Known idle timeouts of common hops, for naming a likely culprit from a measured silence. */
const KNOWN_IDLE_TIMEOUTS: [seconds: number, who: string][] = [
  [30, 'a 30 s idle timeout (GCP load balancer backend timeout, many HAProxy configs `timeout client 30s`)'],
  [50, 'HAProxy\'s sample configuration (`timeout client 50s` / `timeout server 50s`)'],
  [60, 'a 60 s idle timeout: nginx `proxy_read_timeout` default, AWS ALB/CLB idle timeout default'],
  [100, 'Cloudflare\'s 100 s proxy read timeout'],
  [240, 'Azure Load Balancer\'s 4 min idle timeout'],
  [350, 'AWS NLB\'s 350 s idle timeout'],
  [3600, 'a 1 h idle timeout'],
];

export function likelyTimeout(idleMs: number): string | null {
  for (const [s, who] of KNOWN_IDLE_TIMEOUTS) if (Math.abs(idleMs / 1000 - s) <= Math.max(3, s * 0.05)) return who;
  return null;
}

/** Silence before the server side cut the connection with no close frame, GOAWAY or status: ms, or null. */
export function silentCut(c: ConnView): number | null {
  const close = c.close;
  if (!close || (close.closedBy !== 'upstream' && close.closedBy !== 'error')) return null;
  if (c.closeFrames.s2c || c.goaway.s2c || c.status || c.statusData || c.spdyServerEnd) return null;
  const closedAt = tsOf(close);
  const activeAt = tsOf(c.lastData ?? c.response);
  return closedAt === null || activeAt === null ? null : closedAt - activeAt;
}

/** Silence shorter than this before a cut is not called an idle timeout. */
export const MIN_IDLE_MS = 2_000;
