/**
 * The per-connection summary (`kubewire decode --summary`, and the `conn.summary` event of a
 * live connection), built from the connection's events and the payload bytes that came with
 * them, so it does not depend on how much payload the log records. Its shape is defined in
 * `test/fixtures/vectors/README.md`.
 *
 * Byte counts come from each data event's `size`. The SHA-256 of each stream is optional: it
 * reads every payload byte (on its own it held the decoder to a fraction of memcpy speed), so
 * it is taken only when asked (`decode --summary`, the audit log's stream digests) and is
 * `sha256: null` otherwise, which says "not computed", never "empty".
 */
import { createHash, type Hash } from 'node:crypto';
import type { ByteDigest, ConnectionSummary, Direction } from '../events/types.js';
import type { FrameEvent } from '../events/frames.js';
import type { DecodedEvent } from './decode-context.js';

class Digest {
  private readonly hash: Hash | null;
  bytes = 0;

  constructor(hashed: boolean) {
    this.hash = hashed ? createHash('sha256') : null;
  }

  /** `raw` is read only when hashing: without a digest the size is all that counts. */
  add(size: number, raw: (() => Uint8Array | undefined)): void {
    this.bytes += size;
    if (this.hash === null || size === 0) return;
    const data = raw();
    if (data) this.hash.update(data);
  }

  result(): ByteDigest {
    return { bytes: this.bytes, sha256: this.hash === null ? null : this.hash.copy().digest('hex') };
  }
}

interface PortForwardEntry {
  port: number | null;
  c2s: Digest;
  s2c: Digest;
  error: string | null;
}

export class ConnectionSummaryBuilder {
  private request: ConnectionSummary['request'] = { method: null, path: null, operation: null, upgrade: null, offered: [], kubectlSession: null };
  private requestIsUpgrade = false;
  private response: ConnectionSummary['response'] = { status: null, protocol: null };
  private responseSeen = false;
  private upgradeAnswered = false;
  private transport: ConnectionSummary['transport'] = 'none';
  private readonly streams = new Map<string, Digest>();
  private status: { status: string | null; reason: string | null; exitCode: number | null } | null = null;
  private readonly resizes: [number, number][] = [];
  private stdinClosed = false;
  private readonly pings = { c2s: 0, s2c: 0 };
  private readonly closeCodes: Record<Direction, number | null> = { c2s: null, s2c: null };
  private readonly closeSeen = { c2s: false, s2c: false };
  private readonly portForward = new Map<string, PortForwardEntry>();
  private anomalies = 0;

  /** `digests`: take the SHA-256 of every stream (see the module note). */
  constructor(private readonly digests = true) {}

  observe(event: DecodedEvent): void {
    const ev = event.body;
    // A getter: the payload bytes are looked at only when a digest needs them.
    const raw = (): Buffer | undefined => event.raw;
    switch (ev.type) {
      case 'upgrade.request':
      case 'http.request':
        // The summary describes the upgrade; a plain connection is described by its first request.
        if (this.requestIsUpgrade || (ev.type === 'http.request' && this.request.method !== null)) return;
        this.requestIsUpgrade = ev.type === 'upgrade.request';
        this.request = { method: ev.method, path: ev.path, operation: ev.k8s?.operation ?? null, upgrade: ev.upgrade, offered: ev.offered, kubectlSession: ev.kubectlSession };
        return;
      case 'upgrade.response':
      case 'http.response':
        // Interim 1xx answers are not the answer; the upgrade's answer wins over a plain one.
        if (ev.status >= 100 && ev.status < 200 && ev.status !== 101) return;
        if (ev.type === 'upgrade.response' ? this.upgradeAnswered : this.upgradeAnswered || this.responseSeen) return;
        if (ev.type === 'upgrade.response') this.upgradeAnswered = true;
        this.responseSeen = true;
        this.response = { status: ev.status, protocol: ev.protocol };
        return;
      case 'decode.stack':
        this.transport = ev.transport;
        return;
      case 'k8s.data': {
        if (ev.size > 0) this.digest(this.streams, ev.stream).add(ev.size, raw);
        // A folded frame (schema version 2) is plain data: never a ping or a close, but a FIN.
        const f = ev.spdyFrame;
        if (f?.fin && ev.dir === 'c2s' && f.streamType?.toLowerCase() === 'stdin') this.stdinClosed = true;
        return;
      }
      case 'k8s.status':
        this.status = { status: ev.status, reason: ev.reason, exitCode: ev.exitCode };
        return;
      case 'k8s.resize':
        this.resizes.push([ev.width, ev.height]);
        return;
      case 'k8s.close':
        if (ev.channel === 0) this.stdinClosed = true;
        return;
      case 'ws.frame':
      case 'spdy.frame':
        this.observeFrame(ev);
        return;
      case 'spdy.stream':
        if (ev.requestId !== null && ev.state === 'open') this.entry(ev.requestId, ev.port);
        return;
      case 'pf.data': {
        const e = this.entry(ev.requestId ?? `port-${ev.port ?? '?'}`, ev.port);
        e[ev.dir].add(ev.size, raw);
        return;
      }
      case 'pf.error': {
        const e = this.entry(ev.requestId ?? `port-${ev.port ?? '?'}`, ev.port);
        e.error = e.error === null ? ev.message : e.error + ev.message;
        return;
      }
      case 'decode.anomaly':
        this.anomalies++;
        return;
      default:
        return;
    }
  }

  private observeFrame(ev: FrameEvent): void {
    if (ev.type === 'ws.frame') {
      if (ev.kind === 'ping') this.pings[ev.dir]++;
      else if (ev.kind === 'close' && !this.closeSeen[ev.dir]) {
        this.closeSeen[ev.dir] = true;
        this.closeCodes[ev.dir] = ev.closeCode ?? null;
      }
      return;
    }
    if (ev.frame === 'PING') this.pings[ev.dir]++;
    if (ev.fin && ev.dir === 'c2s' && ev.streamType?.toLowerCase() === 'stdin') this.stdinClosed = true;
  }

  result(): ConnectionSummary {
    const streams: Record<string, ByteDigest> = {};
    for (const [name, d] of this.streams) streams[name] = d.result();
    const portForward = [...this.portForward.entries()]
      .sort(([a], [b]) => compareRequestIds(a, b))
      .map(([requestId, e]) => ({ requestId, port: e.port, c2s: e.c2s.result(), s2c: e.s2c.result(), error: e.error }));
    return {
      request: this.request,
      response: this.response,
      transport: this.transport,
      streams,
      exitCode: this.status?.exitCode ?? null,
      status: this.status?.status ?? null,
      statusReason: this.status?.reason ?? null,
      resizes: [...this.resizes],
      stdinClosed: this.stdinClosed,
      pings: { ...this.pings },
      closeCodes: { ...this.closeCodes },
      portForward,
      anomalies: this.anomalies,
    };
  }

  private digest(map: Map<string, Digest>, key: string): Digest {
    let d = map.get(key);
    if (!d) map.set(key, (d = new Digest(this.digests)));
    return d;
  }

  private entry(requestId: string, port: number | null): PortForwardEntry {
    let e = this.portForward.get(requestId);
    if (!e) this.portForward.set(requestId, (e = { port, c2s: new Digest(this.digests), s2c: new Digest(this.digests), error: null }));
    else if (e.port === null) e.port = port;
    return e;
  }
}

function compareRequestIds(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}
