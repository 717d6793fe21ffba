/**
 * One stream of a session as the detail view shows it (stdout, the status channel, port 80…):
 * the last messages in a ring, bounded by count and by recorded bytes, plus running totals
 * that never forget. A message is the event object itself; nothing is copied or decoded on
 * the way in.
 */
import type { Direction } from '../../src/events/types.js';
import { Ring } from './ring.js';
import type { LaneKind } from './types.js';

/** The fields lanes read from data-carrying events (k8s.data, pf.data, ws.frame, …). */
export interface LaneEvent {
  seq: number;
  ts?: string;
  conn?: string;
  type: string;
  note: string;
  dir?: Direction;
  size?: number;
  length?: number;
  payload?: string;
  truncated?: boolean;
}

export interface LaneLimits {
  /** Messages kept. */
  ringSize: number;
  /** Recorded payload bytes kept (base64 counted as 3/4 of its length). */
  laneBytes: number;
}

const LANE_ORDER: Record<LaneKind, number> = {
  stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 5, ping: 6, port: 7, data: 8, channel: 9, headers: 10,
};

export class Lane {
  readonly ring: Ring<LaneEvent>;
  /** Messages ever pushed. */
  total = 0;
  evicted = 0;
  bytes = { c2s: 0, s2c: 0 };
  /** Messages whose payload was cut short or absent. */
  truncated = 0;
  /** Bumped on every push; caches of derived text compare it. */
  version = 0;
  private recorded = 0;
  private search: { version: number; text: string } | undefined;

  constructor(
    readonly key: string,
    readonly label: string,
    readonly kind: LaneKind,
    readonly port: number | null,
    private readonly limits: LaneLimits,
  ) {
    this.ring = new Ring<LaneEvent>(limits.ringSize);
  }

  /** Sort key: stdio first, then control lanes, then ports in numeric order. */
  get order(): number {
    return LANE_ORDER[this.kind] * 100_000 + (this.port ?? 0);
  }

  /** Adds a message; returns how many older messages fell out. */
  push(e: LaneEvent): number {
    this.total++;
    this.version++;
    const size = e.size ?? 0;
    if (e.dir) this.bytes[e.dir] += size;
    if (size > 0 && (e.truncated || e.payload === undefined)) this.truncated++;
    this.recorded += recordedBytes(e);
    let out = 0;
    const old = this.ring.push(e);
    if (old) {
      this.recorded -= recordedBytes(old);
      out++;
    }
    while (this.recorded > this.limits.laneBytes && this.ring.length > 1) {
      this.recorded -= recordedBytes(this.ring.shift()!);
      out++;
    }
    this.evicted += out;
    return out;
  }

  /**
   * The recorded bytes of every kept message, each direction joined in order (so text typed
   * one key per message is still found), lower-cased, one char per byte. Built only when a
   * filter asks, and reused until the lane changes.
   */
  searchText(): string {
    if (this.search?.version === this.version) return this.search.text;
    const parts: Record<Direction, string[]> = { c2s: [], s2c: [] };
    for (const e of this.ring.toArray()) if (e.payload) parts[e.dir ?? 's2c'].push(decodedLower(e));
    const text = `${parts.c2s.join('')}\u0000${parts.s2c.join('')}`;
    this.search = { version: this.version, text };
    return text;
  }
}

export function recordedBytes(e: LaneEvent): number {
  return e.payload ? Math.floor((e.payload.length * 3) / 4) : 0;
}

const decodedCache = new WeakMap<object, string>();

function decodedLower(e: LaneEvent): string {
  let s = decodedCache.get(e);
  if (s === undefined) {
    s = Buffer.from(e.payload ?? '', 'base64').toString('latin1').toLowerCase();
    decodedCache.set(e, s);
  }
  return s;
}

/** The needle `searchText` is searched with: the query's UTF-8 bytes, one char per byte. */
export function searchNeedle(query: string): string {
  return Buffer.from(query, 'utf8').toString('latin1').toLowerCase();
}

