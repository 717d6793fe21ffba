/**
 * The real-kubectl vectors as kubectl sessions: the `-cN` connections of one kubectl run (a
 * refused WebSocket attempt and its SPDY retry, the two execs of a `cp`) share the
 * Kubectl-Session header, so they are grouped by it, in connection order, and stamped as the
 * proxy would stamp them: a session id, a connection id per vector, seq numbers, and (for a
 * "live" log) timestamps and conn.open / conn.close around each connection.
 */
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import { frameBodyOf } from '../../src/events/frames.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody, KubewireEvent } from '../../src/events/types.js';
import { loadVector, vectorNames } from '../support/vectors.js';

export interface VectorSession {
  /** The Kubectl-Session of the run (or the vector's name when it has none). */
  session: string;
  /** Vector names in connection order. */
  vectors: string[];
}

/** `-c2` → 2; no suffix → 1. */
function connIndex(name: string): number {
  const m = /-c(\d+)$/.exec(name);
  return m ? Number(m[1]) : 1;
}

export function vectorSessions(): VectorSession[] {
  const groups = new Map<string, string[]>();
  for (const name of vectorNames()) {
    const session = loadVector(name).expectedSummary.request.kubectlSession ?? name;
    groups.set(session, [...(groups.get(session) ?? []), name]);
  }
  return [...groups].map(([session, vectors]) => ({ session, vectors: vectors.sort((a, b) => connIndex(a) - connIndex(b) || a.localeCompare(b)) }));
}

export interface StampOptions {
  /** Add ts (3 ms apart) and conn.open / conn.close (closed by `closedBy`), as a live proxy log has. */
  live?: boolean;
  closedBy?: 'client' | 'upstream';
  startMs?: number;
}

export function sessionEvents(s: VectorSession, options: StampOptions = {}): KubewireEvent[] {
  const stamper = new EventStamper();
  const out: KubewireEvent[] = [];
  let t = options.startMs ?? Date.UTC(2026, 10, 21, 10, 0, 0);
  const push = (body: EventBody, note: string, conn: string): void => {
    t += 3;
    out.push(stamper.stamp(body, note, { ...(options.live ? { ts: timestampMicros(t) } : {}), session: s.session, conn }));
  };
  s.vectors.forEach((name, i) => {
    const v = loadVector(name);
    const conn = `c${i + 1}`;
    const started = t;
    if (options.live) push({ type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:50000', upstream: 'https://127.0.0.1:6443' }, 'open', conn);
    const decoded: { body: EventBody; note: string }[] = [];
    decodeCaptureSync([v.c2s], [v.s2c], (e) => decoded.push(e));
    for (const e of options.live ? serverCloseFirst(decoded) : decoded) push(e.body, e.note, conn);
    if (options.live) {
      push({ type: 'conn.close', closedBy: options.closedBy ?? 'upstream', bytes: { c2s: v.c2s.length, s2c: v.s2c.length }, durationMs: t - started, error: null }, 'close', conn);
    }
  });
  return out;
}

/**
 * A capture decodes the client's side first, so kubectl's answer to the server's end of the
 * stream seems to come before it; a live log has them in the order they crossed the proxy. In
 * every exec and attach vector the server ended first and kubectl answered (a close frame echoes a close frame,
 * RFC 6455 §5.5.1; kubectl's SPDY GOAWAY follows the server's FIN, RST_STREAM or GOAWAY), so a
 * live log puts the client's close frame or GOAWAY right after the server's end.
 */
function serverCloseFirst<T extends { body: EventBody }>(events: T[]): T[] {
  // A port-forward ends when kubectl stops it: there the client does close first.
  if (events.some((e) => e.body.type === 'upgrade.request' && e.body.k8s?.operation === 'portforward')) return events;
  const server = events.findIndex((e) => endsStream(e.body, 's2c'));
  const client = events.findIndex((e) => endsStream(e.body, 'c2s'));
  if (server < 0 || client < 0 || client > server) return events;
  const out = events.filter((_, i) => i !== client);
  out.splice(server, 0, events[client]!);
  return out;
}

function endsStream(body: EventBody, dir: 'c2s' | 's2c'): boolean {
  // The frame may ride in a data event (schema version 2).
  const e = frameBodyOf(body);
  if (e === null) return false;
  if (e.type === 'ws.frame') return e.kind === 'close' && e.dir === dir && !e.tunnel;
  if (e.type !== 'spdy.frame' || e.dir !== dir || e.tunnel) return false;
  if (dir === 'c2s') return e.frame === 'GOAWAY';
  return e.frame === 'GOAWAY' || e.frame === 'RST_STREAM' || (e.frame === 'DATA' && e.fin && e.streamType === 'error');
}
