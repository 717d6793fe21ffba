/**
 * Stamping: the shell, not the decoder, gives each event its place in a log (`seq`), its time
 * and its session and connection ids. Key order is fixed so JSONL lines read alike.
 */
import { EVENT_SCHEMA_VERSION, type EventBody, type KubewireEvent } from './types.js';

export interface StampFields {
  ts?: string;
  session?: string;
  conn?: string;
}

export class EventStamper {
  private seq = 0;

  stamp(body: EventBody, note: string, fields: StampFields = {}): KubewireEvent {
    const ev: Record<string, unknown> = { v: EVENT_SCHEMA_VERSION, seq: ++this.seq };
    if (fields.ts !== undefined) ev['ts'] = fields.ts;
    if (fields.session !== undefined) ev['session'] = fields.session;
    if (fields.conn !== undefined) ev['conn'] = fields.conn;
    Object.assign(ev, body);
    ev['note'] = note;
    return ev as unknown as KubewireEvent;
  }

  get lastSeq(): number {
    return this.seq;
  }
}

/** RFC 3339 with microseconds, in UTC: 2026-11-21T10:57:03.123456Z. */
export function timestampMicros(epochMs: number, extraMicros = 0): string {
  // A busy stream stamps many events per millisecond: format the millisecond part once.
  const ms = Math.floor(epochMs);
  if (ms !== lastMs) {
    lastMs = ms;
    lastPrefix = new Date(ms).toISOString().slice(0, 23);
  }
  const micros = Math.floor(extraMicros) % 1000;
  return `${lastPrefix}${micros < 10 ? '00' : micros < 100 ? '0' : ''}${micros}Z`;
}

let lastMs = Number.NaN;
let lastPrefix = '';

/**
 * The inverse of timestampMicros: microseconds since the epoch of an RFC 3339 timestamp with up
 * to 6 fraction digits (more are cut), or null for anything else. Date.parse alone keeps
 * milliseconds only.
 */
export function parseTsMicros(ts: string | undefined): number | null {
  if (ts === undefined) return null;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(ts);
  if (!m) return null;
  const seconds = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(seconds)) return null;
  const fraction = Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
  return seconds * 1000 + fraction;
}

/** Milliseconds since the epoch (fractions keep the microseconds) of a `ts`, or null. */
export function parseTsMillis(ts: string | null | undefined): number | null {
  const us = parseTsMicros(ts ?? undefined);
  return us === null ? null : us / 1000;
}
