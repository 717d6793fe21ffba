/**
 * SPDY/3.1 as Kubernetes uses it (protocol.md A §2, §3a), for both directions of one
 * connection, plain or inside the port-forward tunnel. The client opens every stream with a
 * SYN_STREAM whose header block (one zlib stream per direction, SPDY/3 §2.6.10) names its role:
 *   exec:         streamtype = error | stdin | stdout | stderr | resize
 *   port-forward: streamtype = error | data, port = 80, requestid = 0
 * DATA on those streams becomes `k8s.data` or `pf.data`; the error stream becomes `k8s.status`
 * or `pf.error` once the server ends it (FIN, reset, GOAWAY or the connection's end), because
 * kubectl reads it to EOF before decoding.
 */
import type { Direction, PfDataEvent, SpdyFrameEvent } from '../events/types.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { DecodeContext } from './decode-context.js';
import { channelOf, ResizeReader, StatusCollector, streamName } from './k8s-streams.js';
import { MAX_STATUS_BYTES } from './limits.js';
import {
  SPDY_GOAWAY_STATUS,
  SPDY_RST_STATUS,
  SpdyFrameDecoder,
  type SpdyControlFrame,
  type SpdyDataFrameHeader,
  type SpdyDataSegment,
} from './spdy-frame.js';
import { headerLookup, SpdyHeaderBlockInflater, type SpdyHeaders } from './spdy-header-block.js';
import { keep } from './lent-bytes.js';

export type SpdyMode = 'exec' | 'portforward' | 'frames';

const SPDY_FLAG_FIN = 0x01;

/** Ended streams kept for late frames (a RST after both FINs); older ones are forgotten. */
const MAX_ENDED_STREAMS = 1024;
/** Distinct unknown stream ids reported before going quiet about them. */
const MAX_UNKNOWN_REPORTS = 16;

interface StreamState {
  id: number;
  streamType: string | null;
  port: number | null;
  /** The requestid header, or the id the server would pair by when a client leaves it out. */
  requestId: string | null;
  fin: { c2s: boolean; s2c: boolean };
  ended: boolean;
  status?: StatusCollector;
  resize?: ResizeReader;
  pfError?: { chunks: Buffer[]; bytes: number; offset: number };
}

class SpdyDirection {
  readonly decoder: SpdyFrameDecoder;
  readonly inflater = new SpdyHeaderBlockInflater();
  opaque = false;
  lastStreamId = 0;

  constructor(layer: SpdyLayer, readonly dir: Direction, startOffset: number) {
    this.decoder = new SpdyFrameDecoder({
      control: (f) => { if (!this.opaque) layer.onControl(this, f); },
      dataFrame: (h) => { if (!this.opaque) layer.onDataFrame(this, h); },
      data: (s) => { if (!this.opaque) layer.onData(this, s); },
      dataEnd: (h) => { if (!this.opaque) layer.onDataEnd(this, h); },
      anomaly: (a) => layer.anomaly(this.dir, a.offset, 'spdy', a.code, a.message, a.opaque),
    }, { startOffset });
  }
}

export class SpdyLayer {
  private readonly streams = new Map<number, StreamState>();
  private readonly dirs: Record<Direction, SpdyDirection>;
  private readonly reportedUnknown = new Set<number>();
  private endedCount = 0;

  constructor(
    private readonly ctx: DecodeContext,
    private readonly mode: SpdyMode,
    private readonly jsonStatus: boolean,
    private readonly tunnel: boolean,
    startOffsets: Record<Direction, number>,
  ) {
    this.dirs = { c2s: new SpdyDirection(this, 'c2s', startOffsets.c2s), s2c: new SpdyDirection(this, 's2c', startOffsets.s2c) };
  }

  push(dir: Direction, chunk: Uint8Array): void {
    this.dirs[dir].decoder.push(chunk);
  }

  end(dir: Direction): void {
    this.dirs[dir].decoder.end();
    this.ctx.flushFrame();
    if (dir === 's2c') for (const s of this.streams.values()) this.finishErrorStream(s);
  }

  // -- frames -----------------------------------------------------------------------------

  onControl(d: SpdyDirection, f: SpdyControlFrame): void {
    const base = { type: 'spdy.frame' as const, dir: d.dir, offset: f.offset, frame: f.type, flags: f.flags, length: f.length, version: f.version, ...this.tunnelFlag() };
    switch (f.type) {
      case 'SYN_STREAM': {
        const headers = this.inflate(d, f.offset, f.headerBlock);
        const state = headers ? this.openStream(d, f.streamId, headers, f.offset) : undefined;
        this.ctx.emit({
          ...base, fin: f.fin, streamId: f.streamId, streamType: state?.streamType ?? null, assocStreamId: f.assocStreamId,
          priority: f.priority, slot: f.slot, unidirectional: f.unidirectional, ...(headers ? { headers } : {}),
        });
        if (state) {
          this.ctx.emit({ type: 'spdy.stream', dir: d.dir, offset: f.offset, streamId: state.id, state: 'open', streamType: state.streamType, port: state.port, requestId: state.requestId, ...this.tunnelFlag() });
          if (f.fin) this.finish(state, d.dir, f.offset);
        }
        return;
      }
      case 'SYN_REPLY':
      case 'HEADERS': {
        const headers = this.inflate(d, f.offset, f.headerBlock);
        const state = this.streams.get(f.streamId);
        this.ctx.emit({ ...base, fin: f.fin, streamId: f.streamId, streamType: state?.streamType ?? null, ...(headers ? { headers } : {}) });
        if (state && f.fin) this.finish(state, d.dir, f.offset);
        return;
      }
      case 'RST_STREAM': {
        const state = this.streams.get(f.streamId);
        this.ctx.emit({ ...base, fin: false, streamId: f.streamId, streamType: state?.streamType ?? null, statusCode: f.statusCode, statusName: SPDY_RST_STATUS[f.statusCode] ?? `status ${f.statusCode}` });
        if (state && !state.ended) {
          if (d.dir === 's2c') this.finishErrorStream(state);
          this.markEnded(state);
          this.ctx.emit({ type: 'spdy.stream', dir: d.dir, offset: f.offset, streamId: state.id, state: 'reset', streamType: state.streamType, port: state.port, requestId: state.requestId, ...this.tunnelFlag() });
        }
        return;
      }
      case 'SETTINGS':
        this.ctx.emit({ ...base, fin: false, settings: f.entries.map((e) => ({ id: e.id, flags: e.flags, value: e.value })) });
        return;
      case 'PING':
        this.ctx.emit({ ...base, fin: false, pingId: f.pingId });
        return;
      case 'GOAWAY':
        this.ctx.emit({ ...base, fin: false, lastGoodStreamId: f.lastGoodStreamId, statusCode: f.statusCode, statusName: SPDY_GOAWAY_STATUS[f.statusCode] ?? `status ${f.statusCode}` });
        if (d.dir === 's2c') for (const s of this.streams.values()) this.finishErrorStream(s);
        return;
      case 'WINDOW_UPDATE':
        this.ctx.emit({ ...base, fin: false, streamId: f.streamId, deltaWindowSize: f.deltaWindowSize });
        return;
      case 'CREDENTIAL':
        this.ctx.emit({ ...base, fin: false });
        return;
      case 'UNKNOWN':
        this.ctx.emit({ ...base, fin: false, typeCode: f.typeCode });
        return;
    }
  }

  onDataFrame(d: SpdyDirection, h: SpdyDataFrameHeader): void {
    const state = this.streams.get(h.streamId);
    // Once per DATA frame: the flag is set, not spread in.
    const ev: SpdyFrameEvent = { type: 'spdy.frame', dir: d.dir, offset: h.offset, frame: 'DATA', flags: h.flags, fin: h.fin, length: h.length, streamId: h.streamId, streamType: state?.streamType ?? null };
    if (this.tunnel) ev.tunnel = true;
    // DATA with no flag but FIN (SPDY/3 §2.2.2) rides in the data event it yields (DecodeContext).
    if ((h.flags & ~SPDY_FLAG_FIN) === 0) this.ctx.holdFrame(ev);
    else this.ctx.emit(ev);
    // Ids at or below the highest opened one may be ended streams that were forgotten.
    const neverOpened = h.streamId > Math.max(this.dirs.c2s.lastStreamId, this.dirs.s2c.lastStreamId);
    if (!state && neverOpened && !this.reportedUnknown.has(h.streamId) && this.reportedUnknown.size < MAX_UNKNOWN_REPORTS) {
      this.reportedUnknown.add(h.streamId);
      const more = this.reportedUnknown.size === MAX_UNKNOWN_REPORTS ? '; further unknown streams are not reported' : '';
      this.anomaly(d.dir, h.offset, 'spdy', AnomalyCode.SpdyUnknownStream, `DATA for stream ${h.streamId}, which no SYN_STREAM opened${more}`, false);
    }
  }

  onData(d: SpdyDirection, s: SpdyDataSegment): void {
    const state = this.streams.get(s.frame.streamId);
    if (!state || this.mode === 'frames') return;
    const type = state.streamType?.toLowerCase() ?? null;
    if (this.mode === 'portforward') {
      if (type === 'error') {
        if (d.dir === 's2c') this.collectPfError(state, s);
        return;
      }
      const body: Omit<PfDataEvent, 'size'> = { type: 'pf.data', dir: d.dir, offset: s.offset, requestId: state.requestId, port: state.port, streamId: state.id };
      if (this.tunnel) body.tunnel = true;
      this.ctx.emit(this.ctx.withPayload(body, s.bytes), s.bytes);
      return;
    }
    const channel = channelOf(type);
    if (channel < 0) return;
    this.ctx.emit(this.ctx.withPayload({ type: 'k8s.data', dir: d.dir, offset: s.offset, channel, stream: streamName(channel) }, s.bytes), s.bytes);
    if (channel === 3 && d.dir === 's2c') (state.status ??= new StatusCollector(this.ctx, this.jsonStatus)).add(s.data, s.offset);
    else if (channel === 4 && d.dir === 'c2s') (state.resize ??= new ResizeReader(this.ctx, 'c2s')).push(s.data, s.offset);
  }

  onDataEnd(d: SpdyDirection, h: SpdyDataFrameHeader): void {
    this.ctx.flushFrame();
    const state = this.streams.get(h.streamId);
    if (state && h.fin) this.finish(state, d.dir, h.offset + 8 + h.length);
  }

  anomaly(dir: Direction, offset: number, layer: 'spdy' | 'zlib', code: AnomalyCode, message: string, opaque: boolean): void {
    this.ctx.emit({ type: 'decode.anomaly', dir, offset, layer, code, message, opaque, ...this.tunnelFlag() });
  }

  // -- streams ----------------------------------------------------------------------------

  private inflate(d: SpdyDirection, offset: number, block: Buffer): SpdyHeaders | null {
    const result = d.inflater.inflate(block);
    if (result.ok) return result.headers;
    // Every later header block of this direction depends on this one (SPDY/3 §2.6.10.1), so
    // the direction can no longer be read; the relay is unaffected.
    d.opaque = true;
    this.anomaly(d.dir, offset, 'zlib', result.code, result.message, true);
    return null;
  }

  private openStream(d: SpdyDirection, id: number, headers: SpdyHeaders, offset: number): StreamState {
    const clientOpened = d.dir === 'c2s';
    if (id <= d.lastStreamId || (id % 2 === 1) !== clientOpened) {
      this.anomaly(d.dir, offset, 'spdy', AnomalyCode.SpdyBadStreamId, `SYN_STREAM ${id} after ${d.lastStreamId}: ids must increase and be ${clientOpened ? 'odd' : 'even'} from this side`, false);
    }
    d.lastStreamId = Math.max(d.lastStreamId, id);
    const streamType = headerLookup(headers, 'streamtype');
    const portText = headerLookup(headers, 'port');
    const port = portText !== null && /^[0-9]{1,5}$/.test(portText) && Number(portText) < 65536 ? Number(portText) : null;
    let requestId = headerLookup(headers, 'requestid');
    if (requestId === null && this.mode === 'portforward') {
      // kubelet httpstream.go pairs by the error stream's id, or the data stream's id - 2.
      requestId = String(streamType?.toLowerCase() === 'data' ? id - 2 : id);
    }
    const state: StreamState = { id, streamType, port, requestId, fin: { c2s: false, s2c: false }, ended: false };
    this.streams.set(id, state);
    return state;
  }

  private finish(state: StreamState, dir: Direction, offset: number): void {
    state.fin[dir] = true;
    if (dir === 's2c') this.finishErrorStream(state);
    if (state.fin.c2s && state.fin.s2c && !state.ended) {
      this.markEnded(state);
      state.resize?.finish(offset);
      this.ctx.emit({ type: 'spdy.stream', dir, offset, streamId: state.id, state: 'closed', streamType: state.streamType, port: state.port, requestId: state.requestId, ...this.tunnelFlag() });
    }
  }

  private markEnded(state: StreamState): void {
    state.ended = true;
    if (++this.endedCount <= MAX_ENDED_STREAMS) return;
    // Map order is opening order: forget the oldest ended stream.
    for (const [id, s] of this.streams) {
      if (s.ended) {
        this.streams.delete(id);
        this.endedCount--;
        break;
      }
    }
  }

  /** The server finished its side of an error stream: report what it wrote. */
  private finishErrorStream(state: StreamState): void {
    state.status?.flush();
    const err = state.pfError;
    if (err && err.bytes > 0) {
      this.ctx.emit({ type: 'pf.error', dir: 's2c', offset: err.offset, requestId: state.requestId, port: state.port, message: Buffer.concat(err.chunks).toString('utf8'), ...this.tunnelFlag() });
      state.pfError = { chunks: [], bytes: 0, offset: 0 };
    }
  }

  private collectPfError(state: StreamState, s: SpdyDataSegment): void {
    const err = (state.pfError ??= { chunks: [], bytes: 0, offset: s.offset });
    if (err.bytes === 0) err.offset = s.offset;
    const kept = s.data.subarray(0, Math.max(0, MAX_STATUS_BYTES - err.bytes));
    err.chunks.push(keep(kept));
    err.bytes += kept.length;
  }

  private tunnelFlag(): { tunnel?: true } {
    return this.tunnel ? { tunnel: true } : {};
  }
}
